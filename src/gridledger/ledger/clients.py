"""Typed Python clients for the contracts: callers never build transactions or decode hex.

Units on chain: energy in Wh (int), elecoins in the token's smallest unit (int, 18 decimals),
edge-server prices in wei per whole elecoin, the unit power price Q in elecoin units per Wh.
:mod:`gridledger.ledger.units` converts from the market's floats.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils import to_checksum_address
from web3.types import TxReceipt

from gridledger.ledger.chain import Chain, Signer


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


@dataclass(frozen=True)
class Event:
    name: str
    address: str
    args: dict[str, Any]


@dataclass(frozen=True)
class TxResult:
    """A mined transaction: its hash, block, gas used and decoded events."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: tuple[Event, ...]

    def event(self, name: str) -> Event:
        for e in self.events:
            if e.name == name:
                return e
        raise KeyError(f"no {name} event in transaction {self.tx_hash}")


_ZERO = "0x" + "0" * 40


class _Client:
    contract_name = ""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self.contract = chain.contract(self.contract_name, self.address)

    def _send(self, signer: Signer, fn: str, *args: Any, value: int = 0, gas: int | str | None = None) -> TxResult:
        """Send ``fn(*args)``; ``gas``: a limit, None for the default, "estimate" to ask the node."""
        data = self.contract.encode_abi(fn, args=list(args))
        kwargs: dict[str, Any] = {"value": value}
        if gas == "estimate":
            kwargs["gas"] = self.chain.estimate_gas(signer, self.address, data, value)
        elif gas is not None:
            kwargs["gas"] = gas
        receipt = self.chain.transact(signer, self.address, data, **kwargs)
        return self._result(receipt)

    def _result(self, receipt: TxReceipt) -> TxResult:
        return TxResult(tx_hash=receipt["transactionHash"].to_0x_hex(), block_number=int(receipt["blockNumber"]),
                        gas_used=int(receipt["gasUsed"]), events=tuple(decode_events(self.chain, receipt)))


@functools.cache
def _event_topics() -> dict[bytes, tuple[str, str]]:
    """topic0 -> (contract name, event name) for every event of our contracts."""
    from eth_utils import event_abi_to_log_topic

    from gridledger.ledger.artifacts import CONTRACT_NAMES, abi

    table: dict[bytes, tuple[str, str]] = {}
    for contract in CONTRACT_NAMES:
        for item in abi(contract):
            if item.get("type") == "event":
                table[event_abi_to_log_topic(item)] = (contract, item["name"])
    return table


def decode_events(chain: Chain, receipt: TxReceipt) -> list[Event]:
    """Events of our contracts found in a receipt, in log order (other logs are skipped)."""
    from gridledger.ledger.artifacts import abi

    out: list[Event] = []
    for log in sorted(receipt["logs"], key=lambda lg: int(lg["logIndex"])):
        if not log["topics"]:
            continue
        found = _event_topics().get(bytes(log["topics"][0]))
        if found is None:
            continue
        contract, name = found
        decoded = chain.w3.eth.contract(abi=abi(contract)).events[name]().process_log(log)
        out.append(Event(name, to_checksum_address(log["address"]), dict(decoded["args"])))
    return out


class ERC20Client(_Client):
    """Any of our ERC-20 tokens (Elecoin, EPOS, UPOS)."""

    def name(self) -> str:
        return str(self.contract.functions.name().call())

    def symbol(self) -> str:
        return str(self.contract.functions.symbol().call())

    def decimals(self) -> int:
        return int(self.contract.functions.decimals().call())

    def total_supply(self) -> int:
        return int(self.contract.functions.totalSupply().call())

    def balance_of(self, owner: str) -> int:
        return int(self.contract.functions.balanceOf(to_checksum_address(owner)).call())

    def allowance(self, owner: str, spender: str) -> int:
        return int(self.contract.functions.allowance(to_checksum_address(owner), to_checksum_address(spender)).call())

    def transfer(self, signer: Signer, to: str, amount: int) -> TxResult:
        return self._send(signer, "transfer", to_checksum_address(to), amount)

    def approve(self, signer: Signer, spender: str, amount: int) -> TxResult:
        return self._send(signer, "approve", to_checksum_address(spender), amount)

    def transfer_from(self, signer: Signer, owner: str, to: str, amount: int) -> TxResult:
        return self._send(signer, "transferFrom", to_checksum_address(owner), to_checksum_address(to), amount)


class ElecoinClient(ERC20Client):
    """The Elecoin ERC-20."""

    contract_name = "Elecoin"

    def market(self) -> str:
        return str(self.contract.functions.market().call())

    def market_transfer(self, signer: Signer, owner: str, to: str, amount: int) -> TxResult:
        return self._send(signer, "marketTransfer", to_checksum_address(owner), to_checksum_address(to), amount)


class ETSCClient(_Client):
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
                            meter_of=None if a[5] == _ZERO else to_checksum_address(a[5]),
                            avail_power_wh=int(a[6]), elecoins=int(a[7]), total_gen_wh=int(a[8]),
                            total_use_wh=int(a[9]), proceeds_wei=int(a[10]))

    def totals(self) -> Totals:
        t = self.contract.functions.totals().call()
        return Totals(*(int(v) for v in t))


class EPOSClient(ERC20Client):
    """EPOS, the energy proof score token of one staking contract."""

    contract_name = "EPOS"

    def staking(self) -> str:
        return str(self.contract.functions.staking().call())


class UPOSClient(ERC20Client):
    """UPOS, the ERC-20 energy credit (mining rewards)."""

    contract_name = "UPOS"

    def minter_role(self) -> bytes:
        return bytes(self.contract.functions.MINTER_ROLE().call())

    def is_minter(self, account: str) -> bool:
        return bool(self.contract.functions.hasRole(self.minter_role(), to_checksum_address(account)).call())

    def grant_minter(self, admin: Signer, account: str) -> TxResult:
        return self._send(admin, "grantRole", self.minter_role(), to_checksum_address(account))

    def mint(self, signer: Signer, to: str, amount: int) -> TxResult:
        return self._send(signer, "mint", to_checksum_address(to), amount)

    def burn(self, signer: Signer, amount: int) -> TxResult:
        return self._send(signer, "burn", amount)


class Phase(IntEnum):
    """ProofStaking.Phase (same order as the Solidity enum)."""

    NONE = 0
    STAKING = 1
    ELECTING = 2
    ELECTED = 3
    CLOSED = 4


@dataclass(frozen=True)
class RoundInfo:
    """ProofStaking.roundInfo(round)."""

    phase: Phase
    seed_commit: bytes
    miner: str | None
    attempts: int
    members: int
    validators: int
    credited: int
    staked: int
    slashed: int
    reward: int
    traded_wh: int


def seed_commitment(seed: bytes) -> bytes:
    """keccak256(abi.encode(seed)), what ProofStaking.openRound expects for a 32-byte seed."""
    from eth_abi import encode
    from eth_utils import keccak

    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    return keccak(encode(["bytes32"], [seed]))


class StakingClient(_Client):
    """ProofStaking: proof-score staking, miner election, slashing, rewards (PoEG or PoSOC)."""

    contract_name = "ProofStaking"
    BATCH = 40
    """Members credited per transaction."""

    def __init__(self, chain: Chain, address: str) -> None:
        super().__init__(chain, address)
        self.epos = EPOSClient(chain, self.contract.functions.epos().call())
        upos = self.contract.functions.upos().call()
        self.upos = None if int(upos, 16) == 0 else UPOSClient(chain, upos)

    # -- operator
    def open_round(self, operator: Signer, seed_commit: bytes) -> TxResult:
        return self._send(operator, "openRound", seed_commit)

    def credit(self, operator: Signer, members: list[str], scores: list[int]) -> list[TxResult]:
        """Credit scores in batches of :attr:`BATCH` members (one transaction each)."""
        out = []
        for k in range(0, max(len(members), 1), self.BATCH):
            chunk = [to_checksum_address(m) for m in members[k:k + self.BATCH]]
            out.append(self._send(operator, "credit", chunk, scores[k:k + self.BATCH],
                                  gas="estimate"))
        return out

    def elect(self, operator: Signer, seed: bytes) -> TxResult:
        return self._send(operator, "elect", seed, gas="estimate")

    def slash(self, operator: Signer) -> TxResult:
        return self._send(operator, "slash", gas="estimate")

    def pay_reward(self, operator: Signer, recipients: list[str], amounts: list[int]) -> TxResult:
        return self._send(operator, "payReward", [to_checksum_address(a) for a in recipients], amounts,
                          gas="estimate")

    def close_round(self, operator: Signer) -> TxResult:
        return self._send(operator, "closeRound")

    def record_trades(self, operator: Signer, trades: list[tuple[str | None, str | None, int, int]]
                      ) -> list[TxResult]:
        """Record (from, to, energy Wh, loss Wh) trades; None is the grid (the zero address)."""
        out = []
        for k in range(0, len(trades), self.BATCH):
            chunk = trades[k:k + self.BATCH]
            frm = [to_checksum_address(t[0]) if t[0] else _ZERO for t in chunk]
            to = [to_checksum_address(t[1]) if t[1] else _ZERO for t in chunk]
            out.append(self._send(operator, "recordTrades", frm, to, [int(t[2]) for t in chunk],
                                  [int(t[3]) for t in chunk], gas="estimate"))
        return out

    # -- members
    def stake(self, member: Signer, validator: str, amount: int) -> TxResult:
        return self._send(member, "stake", to_checksum_address(validator), amount, gas="estimate")

    def unstake(self, member: Signer, round_: int) -> TxResult:
        return self._send(member, "unstake", round_)

    # -- queries
    def operator(self) -> str:
        return str(self.contract.functions.operator().call())

    def kind(self) -> str:
        return str(self.contract.functions.kind().call())

    def slash_bps(self) -> int:
        return int(self.contract.functions.slashBps().call())

    def current_round(self) -> int:
        return int(self.contract.functions.currentRound().call())

    def round_info(self, round_: int) -> RoundInfo:
        t = self.contract.functions.roundInfo(round_).call()
        return RoundInfo(phase=Phase(t[0]), seed_commit=bytes(t[1]),
                         miner=None if t[2] == _ZERO else to_checksum_address(t[2]), attempts=int(t[3]),
                         members=int(t[4]), validators=int(t[5]), credited=int(t[6]), staked=int(t[7]),
                         slashed=int(t[8]), reward=int(t[9]), traded_wh=int(t[10]))

    def miner_of(self, round_: int) -> str | None:
        m = self.contract.functions.minerOf(round_).call()
        return None if m == _ZERO else to_checksum_address(m)

    def pick(self, round_: int, seed: bytes, attempt: int = 0) -> tuple[str | None, int, int]:
        m, w, t = self.contract.functions.pick(round_, seed, attempt).call()
        return (None if m == _ZERO else to_checksum_address(m)), int(w), int(t)

    def members(self, round_: int) -> list[str]:
        return [to_checksum_address(a) for a in self.contract.functions.members(round_).call()]

    def validators(self, round_: int) -> list[str]:
        return [to_checksum_address(a) for a in self.contract.functions.validators(round_).call()]

    def backers(self, round_: int, validator: str) -> list[str]:
        return [to_checksum_address(a) for a in
                self.contract.functions.backers(round_, to_checksum_address(validator)).call()]

    def score_of(self, round_: int, member: str) -> int:
        return int(self.contract.functions.scoreOf(round_, to_checksum_address(member)).call())

    def stake_of(self, round_: int, member: str) -> int:
        return int(self.contract.functions.stakeOf(round_, to_checksum_address(member)).call())

    def stake_behind(self, round_: int, validator: str) -> int:
        return int(self.contract.functions.stakeBehind(round_, to_checksum_address(validator)).call())

    def validator_of(self, round_: int, member: str) -> str | None:
        v = self.contract.functions.validatorOf(round_, to_checksum_address(member)).call()
        return None if v == _ZERO else to_checksum_address(v)

    def is_slashed(self, round_: int, validator: str) -> bool:
        return bool(self.contract.functions.slashed(round_, to_checksum_address(validator)).call())

    def reward_of(self, round_: int, member: str) -> int:
        return int(self.contract.functions.rewardOf(round_, to_checksum_address(member)).call())


class V2VSettlementClient(_Client):
    """V2VSettlement: round profits held until the miner's fee is paid (thesis Fig. 4.5)."""

    contract_name = "V2VSettlement"

    def __init__(self, chain: Chain, address: str) -> None:
        super().__init__(chain, address)
        self.staking = StakingClient(chain, self.contract.functions.staking().call())

    def subscribe(self, ev: Signer, beta_bps: int) -> TxResult:
        return self._send(ev, "subscribe", beta_bps)

    def settle(self, operator: Signer, round_: int, evs: list[str], profits_wei: list[int]) -> TxResult:
        return self._send(operator, "settle", round_, [to_checksum_address(a) for a in evs], profits_wei,
                          value=sum(profits_wei), gas="estimate")

    def pay_fees(self, ev: Signer, value: int | None = None) -> TxResult:
        return self._send(ev, "payFees", value=self.owed(ev.address) if value is None else value, gas="estimate")

    def pay_fees_from_profit(self, ev: Signer) -> TxResult:
        return self._send(ev, "payFeesFromProfit", gas="estimate")

    def withdraw_profit(self, ev: Signer) -> TxResult:
        return self._send(ev, "withdrawProfit")

    def withdraw_fees(self, miner: Signer) -> TxResult:
        return self._send(miner, "withdrawFees")

    def operator(self) -> str:
        return str(self.contract.functions.operator().call())

    def beta_bps(self) -> int:
        return int(self.contract.functions.betaBps().call())

    def subscribed(self, ev: str) -> bool:
        return bool(self.contract.functions.subscribed(to_checksum_address(ev)).call())

    def held(self, ev: str) -> int:
        return int(self.contract.functions.held(to_checksum_address(ev)).call())

    def owed(self, ev: str) -> int:
        return int(self.contract.functions.owed(to_checksum_address(ev)).call())

    def owed_to(self, ev: str, miner: str) -> int:
        return int(self.contract.functions.owedTo(to_checksum_address(ev), to_checksum_address(miner)).call())

    def miner_credit(self, miner: str) -> int:
        return int(self.contract.functions.minerCredit(to_checksum_address(miner)).call())

    def is_settled(self, round_: int) -> bool:
        return bool(self.contract.functions.settled(round_).call())

    def creditors(self, ev: str) -> list[str]:
        return [to_checksum_address(a) for a in self.contract.functions.creditors(to_checksum_address(ev)).call()]
