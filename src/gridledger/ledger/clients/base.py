"""What every contract client shares: sending transactions, mined results, decoded events."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import to_checksum_address
from web3.types import TxReceipt

from gridledger.ledger.chain import Chain, Signer


@dataclass(frozen=True)
class Event:
    name: str
    address: str
    args: dict[str, Any]


class TxResult:
    """A mined transaction: its hash, block, gas used and decoded events.

    Events are decoded when first read (a batched transaction can carry a thousand logs, and
    decoding one costs about a millisecond); :attr:`event_names` reads only the logs' topics."""

    __slots__ = ("_chain", "_events", "_receipt", "block_number", "gas_used", "tx_hash")

    def __init__(self, tx_hash: str, block_number: int, gas_used: int, chain: Chain, receipt: TxReceipt) -> None:
        self.tx_hash = tx_hash
        self.block_number = block_number
        self.gas_used = gas_used
        self._chain = chain
        self._receipt = receipt
        self._events: tuple[Event, ...] | None = None

    @property
    def events(self) -> tuple[Event, ...]:
        if self._events is None:
            self._events = tuple(decode_events(self._chain, self._receipt))
        return self._events

    @property
    def event_names(self) -> tuple[str, ...]:
        """Names of our contracts' events in the transaction, in log order, without decoding them."""
        table = _event_topics()
        names = []
        for log in sorted(self._receipt["logs"], key=lambda lg: int(lg["logIndex"])):
            found = table.get(bytes(log["topics"][0])) if log["topics"] else None
            if found is not None:
                names.append(found[1])
        return tuple(names)

    def __repr__(self) -> str:
        return f"TxResult(tx_hash={self.tx_hash!r}, block_number={self.block_number}, gas_used={self.gas_used})"

    def event(self, name: str) -> Event:
        for e in self.events:
            if e.name == name:
                return e
        raise KeyError(f"no {name} event in transaction {self.tx_hash}")


ZERO_ADDRESS = "0x" + "0" * 40


class ContractClient:
    """A deployed contract of ours at ``address`` on ``chain``; subclasses name the contract."""

    contract_name = ""
    preflight_batches = True
    """False: batches this program built itself are sent without the eth_call preflight (they
    execute once instead of twice); a batch that fails is then decoded by replaying it."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self.contract = chain.contract(self.contract_name, self.address)

    def _encode(self, fn: str, args: list[Any]) -> str:
        """Calldata of ``fn(*args)``: eth_abi directly (web3's generic encoder walks every element of
        a batch and costs seconds for a thousand entries); overloaded names go through web3."""
        spec = _function_spec(self.contract_name, fn)
        if spec is None:
            return self.contract.encode_abi(fn, args=args)
        selector, types = spec
        return "0x" + (selector + abi_encode(types, args)).hex()

    def _send(self, signer: Signer, fn: str, *args: Any, value: int = 0, gas: int | str | None = None,
              batch: bool = False) -> TxResult:
        """Send ``fn(*args)``; ``gas``: a limit, None for the default, "estimate" to ask the node.

        A node's gas estimate executes the call and reports a revert like the preflight does, so
        the preflight is skipped after one; so it is for a ``batch`` when :attr:`preflight_batches`
        is off."""
        data = self._encode(fn, list(args))
        kwargs: dict[str, Any] = {"value": value}
        executed = False
        if gas == "estimate":
            kwargs["gas"] = self.chain.estimate_gas(signer, self.address, data, value)
            executed = self.chain.backend == "rpc"
        elif gas is not None:
            kwargs["gas"] = gas
        preflight = not (executed or (batch and not self.preflight_batches))
        receipt = self.chain.transact(signer, self.address, data, preflight=preflight, **kwargs)
        return self._result(receipt)

    def _result(self, receipt: TxReceipt) -> TxResult:
        return TxResult(tx_hash=receipt["transactionHash"].to_0x_hex(), block_number=int(receipt["blockNumber"]),
                        gas_used=int(receipt["gasUsed"]), chain=self.chain, receipt=receipt)


def address_bytes(address: str) -> bytes:
    """A 0x-prefixed hex address as 20 bytes, for batches (no checksum recomputed per entry)."""
    raw = bytes.fromhex(address[2:] if address[:2] in ("0x", "0X") else address)
    if len(raw) != 20:
        raise ValueError(f"not an address: {address!r}")
    return raw


def _abi_type(item: dict[str, Any]) -> str:
    t = item["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + t[len("tuple"):]
    return t


@functools.cache
def _function_spec(contract: str, fn: str) -> tuple[bytes, list[str]] | None:
    """(selector, input types) of a function of one of our contracts; None if the name is overloaded."""
    from eth_utils import function_signature_to_4byte_selector

    from gridledger.ledger.artifacts import abi

    items = [i for i in abi(contract) if i.get("type") == "function" and i["name"] == fn]
    if len(items) != 1:
        return None
    types = [_abi_type(i) for i in items[0]["inputs"]]
    return function_signature_to_4byte_selector(f"{fn}({','.join(types)})"), types


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

    # One web3 contract object per contract and chain: building one costs tens of milliseconds,
    # and a batched transaction can carry hundreds of logs.
    decoders: dict[str, Any] = chain.__dict__.setdefault("_event_decoders", {})
    out: list[Event] = []
    for log in sorted(receipt["logs"], key=lambda lg: int(lg["logIndex"])):
        if not log["topics"]:
            continue
        found = _event_topics().get(bytes(log["topics"][0]))
        if found is None:
            continue
        contract, name = found
        if contract not in decoders:
            decoders[contract] = chain.w3.eth.contract(abi=abi(contract))
        decoded = decoders[contract].events[name]().process_log(log)
        out.append(Event(name, to_checksum_address(log["address"]), dict(decoded["args"])))
    return out
