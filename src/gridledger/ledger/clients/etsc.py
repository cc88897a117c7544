"""The electricity trading smart contract ETSC (paper Algorithm 2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_utils import to_checksum_address

from gridledger.ledger.chain import Chain, Signer
from gridledger.ledger.clients.base import ZERO_ADDRESS, ContractClient, TxResult
from gridledger.ledger.clients.elecoin import ElecoinClient


class Qualification(IntEnum):
    """Result of ETSC.checkQualification (same order as the Solidity enum)."""

    QUALIFIED = 0
    ZERO_AMOUNT = 1
    BUYER_NOT_REGISTERED = 2
    BUYER_NO_TRANS_RIGHT = 3
    SELF_TRADE = 4
    RETAILER_NOT_REGISTERED = 5
    RETAILER_NO_GEN_RIGHT = 6
    INSUFFICIENT_POWER = 7
    INSUFFICIENT_ELECOINS = 8


@dataclass(frozen=True)
class AccountState:
    """ETSC.account(): the query module's view of one address."""

    address: str
    name: str
    registered: bool
    gen_right: bool
    trans_right: bool
    edge_server: bool
    meter_of: str | None
    avail_power_wh: int
    elecoins: int
    total_gen_wh: int
    total_use_wh: int
    proceeds_wei: int


@dataclass(frozen=True)
class Totals:
    users: int
    avail_power_wh: int
    gen_power_wh: int
    use_power_wh: int
    elecoin_reserve: int
    elecoin_supply: int


class ETSCClient(ContractClient):
    """The electricity trading smart contract (paper Algorithm 2)."""

    contract_name = "ETSC"

    def __init__(self, chain: Chain, address: str) -> None:
        super().__init__(chain, address)
        self.elecoin = ElecoinClient(chain, self.contract.functions.elecoin().call())

    # -- registration
    def empower(self, admin: Signer, name: str, user: str, gen_right: bool, trans_right: bool) -> TxResult:
        return self._send(admin, "empower", name, to_checksum_address(user), gen_right, trans_right)

    def set_rights(self, admin: Signer, user: str, gen_right: bool, trans_right: bool) -> TxResult:
        return self._send(admin, "setRights", to_checksum_address(user), gen_right, trans_right)

    def register_meter(self, admin: Signer, meter: str, user: str) -> TxResult:
        return self._send(admin, "registerMeter", to_checksum_address(meter), to_checksum_address(user))

    # -- pricing
    def declare_price(self, server: Signer, wei_per_elecoin: int) -> TxResult:
        return self._send(server, "declarePrice", wei_per_elecoin)

    def declare_price_for(self, server: Signer, prosumer: str, wei_per_elecoin: int) -> TxResult:
        return self._send(server, "declarePriceFor", to_checksum_address(prosumer), wei_per_elecoin)

    def price_for(self, server: str, prosumer: str) -> int:
        return int(self.contract.functions.priceFor(to_checksum_address(server), to_checksum_address(prosumer)).call())

    def quote(self, server: str, prosumer: str, amount: int) -> int:
        return int(self.contract.functions.quote(to_checksum_address(server), to_checksum_address(prosumer),
                                                 amount).call())

    # -- transactions
    def buy_token(self, prosumer: Signer, server: str, amount: int, value: int | None = None) -> TxResult:
        """Buy ``amount`` elecoin units; pays the quote unless ``value`` is given."""
        pay = self.quote(server, prosumer.address, amount) if value is None else value
        return self._send(prosumer, "buyToken", to_checksum_address(server), amount, value=pay)

    def check_qualification(self, prosumer: str, retailer: str, energy_wh: int) -> Qualification:
        return Qualification(self.contract.functions.checkQualification(
            to_checksum_address(prosumer), to_checksum_address(retailer), energy_wh).call())

    def trade(self, prosumer: Signer, retailer: str, energy_wh: int) -> TxResult:
        return self._send(prosumer, "trade", to_checksum_address(retailer), energy_wh)

    def withdraw_proceeds(self, server: Signer) -> TxResult:
        return self._send(server, "withdrawProceeds")

    # -- electricity clearing
    def generation(self, meter: Signer, energy_wh: int) -> TxResult:
        return self._send(meter, "generation", energy_wh)

    def consumption(self, meter: Signer, energy_wh: int) -> TxResult:
        return self._send(meter, "consumption", energy_wh)

    # -- queries
    def administrator(self) -> str:
        return str(self.contract.functions.administrator().call())

    def unit_power_price(self) -> int:
        return int(self.contract.functions.unitPowerPrice().call())

    def edge_servers(self) -> list[str]:
        return [to_checksum_address(a) for a in self.contract.functions.edgeServers().call()]

    def users(self) -> list[str]:
        n = int(self.contract.functions.userCount().call())
        return [to_checksum_address(self.contract.functions.userAt(i).call()) for i in range(n)]

    def account(self, address: str) -> AccountState:
        a = self.contract.functions.account(to_checksum_address(address)).call()
        return AccountState(address=to_checksum_address(address), name=a[0], registered=a[1], gen_right=a[2],
                            trans_right=a[3], edge_server=a[4],
                            meter_of=None if a[5] == ZERO_ADDRESS else to_checksum_address(a[5]),
                            avail_power_wh=int(a[6]), elecoins=int(a[7]), total_gen_wh=int(a[8]),
                            total_use_wh=int(a[9]), proceeds_wei=int(a[10]))

    def totals(self) -> Totals:
        t = self.contract.functions.totals().call()
        return Totals(*(int(v) for v in t))
