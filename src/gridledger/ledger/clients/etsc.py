"""The electricity trading smart contract ETSC (paper Algorithm 2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_utils import keccak, to_checksum_address

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
    """ETSC.totals(): energy, elecoin and native-coin books of the whole market."""

    users: int
    avail_power_wh: int
    gen_power_wh: int
    use_power_wh: int
    elecoin_reserve: int
    elecoin_supply: int
    elecoin_allocated: int
    elecoins_redeemed: int
    redemption_backing_wei: int
    proceeds_owed_wei: int


@dataclass(frozen=True)
class MeterInfo:
    """ETSC.meterInfo(): one smart meter, its rating and its reports in its latest slot."""

    address: str
    user: str | None
    rated_w: int
    active: bool
    slot: int
    reported_wh: int
    remaining_wh: int


@dataclass(frozen=True)
class ETSCConfig:
    """Constructor parameters of the ETSC (on-chain units; see :mod:`gridledger.ledger.units`)."""

    administrator: str
    guardian: str
    total_elecoins: int
    unit_power_price: int
    min_price_wei: int
    max_price_wei: int
    redemption_price_wei: int = 0
    slot_seconds: int = 3600
    slot_supply: int | None = None
    admin_delay_s: int = 2 * 86400

    def as_tuple(self) -> tuple:
        supply = self.total_elecoins if self.slot_supply is None else self.slot_supply
        return (to_checksum_address(self.administrator), to_checksum_address(self.guardian), self.admin_delay_s,
                self.total_elecoins, self.unit_power_price, self.min_price_wei, self.max_price_wei,
                self.redemption_price_wei, self.slot_seconds, supply)


DEFAULT_RATED_W = 10_000
"""Rating given to a meter when none is named (10 kW, a large rooftop PV system)."""
GUARDIAN_ROLE = "0x" + keccak(b"GUARDIAN_ROLE").hex()
DEFAULT_ADMIN_ROLE = "0x" + "00" * 32


class ETSCClient(ContractClient):
    """The electricity trading smart contract (paper Algorithm 2)."""

    contract_name = "ETSC"

    def __init__(self, chain: Chain, address: str) -> None:
        super().__init__(chain, address)
        self.elecoin = ElecoinClient(chain, self.contract.functions.elecoin().call())

    @classmethod
    def deploy(cls, chain: Chain, deployer: Signer, config: ETSCConfig) -> ETSCClient:
        """Deploy an ETSC (which creates its Elecoin) from ``deployer``."""
        address, _ = chain.deploy("ETSC", deployer, config.as_tuple())
        return cls(chain, address)

    # -- registration
    def empower(self, admin: Signer, name: str, user: str, gen_right: bool, trans_right: bool) -> TxResult:
        return self._send(admin, "empower", name, to_checksum_address(user), gen_right, trans_right)

    def set_rights(self, admin: Signer, user: str, gen_right: bool, trans_right: bool) -> TxResult:
        return self._send(admin, "setRights", to_checksum_address(user), gen_right, trans_right)

    def register_meter(self, admin: Signer, meter: str, user: str, rated_w: int = DEFAULT_RATED_W) -> TxResult:
        """Register ``meter`` for ``user``, rated ``rated_w`` W (its reports per slot stay within
        rated_w x slot length)."""
        return self._send(admin, "registerMeter", to_checksum_address(meter), to_checksum_address(user), rated_w)

    def revoke_meter(self, admin: Signer, meter: str) -> TxResult:
        return self._send(admin, "revokeMeter", to_checksum_address(meter))

    # -- roles, servers, supply
    def add_edge_server(self, admin: Signer, server: str, allocation: int) -> TxResult:
        return self._send(admin, "addEdgeServer", to_checksum_address(server), allocation)

    def remove_edge_server(self, admin: Signer, server: str) -> TxResult:
        return self._send(admin, "removeEdgeServer", to_checksum_address(server))

    def set_allocation(self, admin: Signer, server: str, amount: int) -> TxResult:
        return self._send(admin, "setAllocation", to_checksum_address(server), amount)

    def set_price_bounds(self, admin: Signer, min_wei: int, max_wei: int) -> TxResult:
        return self._send(admin, "setPriceBounds", min_wei, max_wei)

    def set_slot_supply(self, admin: Signer, supply: int) -> TxResult:
        return self._send(admin, "setSlotSupply", supply)

    def pause(self, guardian: Signer) -> TxResult:
        return self._send(guardian, "pause")

    def unpause(self, admin: Signer) -> TxResult:
        return self._send(admin, "unpause")

    def grant_guardian(self, admin: Signer, account: str) -> TxResult:
        return self._send(admin, "grantRole", bytes.fromhex(GUARDIAN_ROLE[2:]), to_checksum_address(account))

    def revoke_guardian(self, admin: Signer, account: str) -> TxResult:
        return self._send(admin, "revokeRole", bytes.fromhex(GUARDIAN_ROLE[2:]), to_checksum_address(account))

    def begin_admin_transfer(self, admin: Signer, new_admin: str) -> TxResult:
        """Step 1 of the administrator's transfer (OpenZeppelin AccessControlDefaultAdminRules)."""
        return self._send(admin, "beginDefaultAdminTransfer", to_checksum_address(new_admin))

    def cancel_admin_transfer(self, admin: Signer) -> TxResult:
        return self._send(admin, "cancelDefaultAdminTransfer")

    def accept_admin_transfer(self, new_admin: Signer) -> TxResult:
        """Step 2, by the new administrator, once ``admin_delay_s`` has passed."""
        return self._send(new_admin, "acceptDefaultAdminTransfer")

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

    def redeem(self, retailer: Signer, amount: int) -> TxResult:
        """A retailer returns ``amount`` elecoin units to the reserve for amount x redemption price."""
        return self._send(retailer, "redeem", amount)

    # -- electricity clearing
    def generation(self, meter: Signer, energy_wh: int) -> TxResult:
        return self._send(meter, "generation", energy_wh)

    def consumption(self, meter: Signer, energy_wh: int) -> TxResult:
        return self._send(meter, "consumption", energy_wh)

    # -- queries
    def administrator(self) -> str:
        return str(self.contract.functions.administrator().call())

    def pending_administrator(self) -> tuple[str | None, int]:
        """(new administrator, time from which it may accept) or (None, 0)."""
        new, schedule = self.contract.functions.pendingDefaultAdmin().call()
        return (None if new == ZERO_ADDRESS else to_checksum_address(new)), int(schedule)

    def admin_delay_s(self) -> int:
        return int(self.contract.functions.defaultAdminDelay().call())

    def is_guardian(self, account: str) -> bool:
        return bool(self.contract.functions.hasRole(bytes.fromhex(GUARDIAN_ROLE[2:]),
                                                    to_checksum_address(account)).call())

    def paused(self) -> bool:
        return bool(self.contract.functions.paused().call())

    def price_bounds(self) -> tuple[int, int]:
        return int(self.contract.functions.minPrice().call()), int(self.contract.functions.maxPrice().call())

    def redemption_price(self) -> int:
        return int(self.contract.functions.redemptionPrice().call())

    def slot_seconds(self) -> int:
        return int(self.contract.functions.slotSeconds().call())

    def current_slot(self) -> int:
        return int(self.contract.functions.currentSlot().call())

    def slot_supply(self) -> int:
        return int(self.contract.functions.slotSupply().call())

    def slot_remaining(self) -> int:
        return int(self.contract.functions.slotRemaining().call())

    def sold_in_slot(self, slot: int) -> int:
        return int(self.contract.functions.soldInSlot(slot).call())

    def allocation(self, server: str) -> int:
        return int(self.contract.functions.allocation(to_checksum_address(server)).call())

    def unallocated(self) -> int:
        return int(self.contract.functions.unallocated().call())

    def meter_info(self, meter: str) -> MeterInfo:
        m = self.contract.functions.meterInfo(to_checksum_address(meter)).call()
        return MeterInfo(address=to_checksum_address(meter),
                         user=None if m[0] == ZERO_ADDRESS else to_checksum_address(m[0]), rated_w=int(m[1]),
                         active=bool(m[2]), slot=int(m[3]), reported_wh=int(m[4]), remaining_wh=int(m[5]))

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
