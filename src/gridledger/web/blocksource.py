"""Where the explorer index reads blocks: py-evm's database directly (embedded chain) or a node.

Reading blocks through web3 and eth-tester costs O(chain length) per receipt (eth-tester finds a
transaction by walking back from the head), ~0.13 s per block on a 200-block chain. The embedded
source reads py-evm's block, transaction and receipt records straight from a *read-only* view of
the chain's SQLite file (:mod:`gridledger.web.reader`): ~3 ms per block, and the index never takes
the chain's write lock. On an rpc chain the node answers (``eth_getBlockReceipts`` when it has it).

Each source also answers what the index needs beyond the block: balances at a block (value moved
inside a call, from balance differences), the replay of a failed transaction at its parent block
(its revert data), a call trace when the node has one (``debug_traceTransaction`` with the call
tracer: anvil, Hardhat, Geth), and read-only calls (token names and symbols).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

ZERO = "0x" + "0" * 40


@dataclass(frozen=True)
class LogData:
    index: int
    """Position of the log in its block (as nodes number logs)."""
    address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class TxData:
    hash: str
    index: int
    sender: str
    to: str | None
    value: int
    nonce: int
    gas: int
    gas_price: int
    """Effective price per gas paid (legacy: the gas price; EIP-1559: base fee + tip, capped)."""
    input: bytes
    status: int
    gas_used: int
    created: str | None
    logs: tuple[LogData, ...]


@dataclass(frozen=True)
class BlockData:
    number: int
    hash: str
    parent: str
    timestamp: int
    gas_used: int
    gas_limit: int
    base_fee: int | None
    miner: str
    txs: tuple[TxData, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ValueMove:
    sender: str
    recipient: str
    value: int


class BlockSource:
    """What the index reads; subclasses for the embedded chain and for a node."""

    def block(self, number: int) -> BlockData:
        raise NotImplementedError

    def balance_at(self, address: str, number: int) -> int:
        raise NotImplementedError

    def revert_data(self, tx: TxData, number: int) -> bytes | None:
        """The revert data of failed ``tx`` replayed on the state before block ``number``."""
        raise NotImplementedError

    def trace_moves(self, tx_hash: str) -> list[ValueMove] | None:
        """Native value moved by calls inside the transaction, or None when there is no tracer."""
        return None

    def call(self, to: str, data: bytes) -> bytes | None:
        """A read-only call at the head (None if it fails)."""
        raise NotImplementedError


METADATA_GAS = 100_000
"""Gas of the index's read-only calls (a token's name, symbol, decimals: a few thousand gas for an
honest token). A token whose ``name()`` loops forever costs the index this much, not a block's worth
(anybody can create tokens, and their first transfer is indexed inside a request)."""


# ---------------------------------------------------------------------------- embedded (py-evm)
def _hex(b: bytes) -> str:
    return "0x" + bytes(b).hex()


class PyEVMSource(BlockSource):
    """Blocks read straight from py-evm's database: a read-only replica of the embedded chain's
    file (``path``), or, for an in-memory chain, the chain object itself under the chain lock."""

    def __init__(self, chain: Any, path: Path | None, lock: threading.RLock) -> None:
        self._writer = chain
        self._lock = lock
        self._path = path
        self._chain: Any = None
        self._mine = threading.Lock()

    @contextlib.contextmanager
    def _evm(self) -> Iterator[Any]:
        if self._path is None:  # in memory: the writer's own chain object, under the chain lock
            with self._lock:
                yield self._writer.tester_backend.chain
            return
        with self._mine:
            if self._chain is None:
                from gridledger.web.reader import _ReadOnlyDB

                self._chain = type(self._writer.tester_backend.chain)(_ReadOnlyDB(self._path))
            yield self._chain

    def block(self, number: int) -> BlockData:
        from eth._utils.address import generate_contract_address

        with self._evm() as chain:
            blk = chain.get_canonical_block_by_number(number)
            receipts = blk.get_receipts(chain.chaindb)
            h = blk.header
            base_fee = getattr(h, "base_fee_per_gas", None)
            txs = []
            used_before = 0
            log_index = 0
            for i, (tx, r) in enumerate(zip(blk.transactions, receipts, strict=True)):
                sender = bytes(tx.sender)
                to = bytes(tx.to) if tx.to else None
                if hasattr(tx, "max_fee_per_gas"):
                    price = min(int(tx.max_fee_per_gas), int(base_fee or 0) + int(tx.max_priority_fee_per_gas))
                else:
                    price = int(tx.gas_price)
                logs = []
                for lg in r.logs:
                    logs.append(LogData(log_index, to_checksum_address(lg.address),
                                        tuple(int(t).to_bytes(32, "big") for t in lg.topics), bytes(lg.data)))
                    log_index += 1
                created = None if to is not None else to_checksum_address(
                    generate_contract_address(sender, int(tx.nonce)))
                txs.append(TxData(hash=_hex(tx.hash), index=i, sender=to_checksum_address(sender),
                                  to=to_checksum_address(to) if to else None, value=int(tx.value),
                                  nonce=int(tx.nonce), gas=int(tx.gas), gas_price=price, input=bytes(tx.data),
                                  status=1 if bytes(r.state_root) == b"\x01" else 0,
                                  gas_used=int(r.gas_used) - used_before, created=created, logs=tuple(logs)))
                used_before = int(r.gas_used)
            return BlockData(number=int(h.block_number), hash=_hex(h.hash), parent=_hex(h.parent_hash),
                             timestamp=int(h.timestamp), gas_used=int(h.gas_used), gas_limit=int(h.gas_limit),
                             base_fee=None if base_fee is None else int(base_fee),
                             miner=to_checksum_address(h.coinbase), txs=tuple(txs))

    def balance_at(self, address: str, number: int) -> int:
        from eth_utils import to_canonical_address

        with self._evm() as chain:
            header = chain.get_canonical_block_header_by_number(number)
            return int(chain.get_vm(header).state.get_balance(to_canonical_address(address)))

    def revert_data(self, tx: TxData, number: int) -> bytes | None:
        from eth.exceptions import Revert

        from gridledger.web.evm_worker import evm_call

        call = {"from": tx.sender, "to": tx.to, "value": tx.value, "gas": tx.gas, "data": _hex(tx.input)}
        with self._evm() as chain:
            try:
                evm_call(chain, call, max(number - 1, 0))
            except Revert as exc:
                return bytes(exc.args[0]) if exc.args and isinstance(exc.args[0], (bytes, bytearray)) else b""
            except Exception:
                return None
        return None

    def call(self, to: str, data: bytes) -> bytes | None:
        from gridledger.web.evm_worker import evm_call

        with self._evm() as chain:
            try:
                return evm_call(chain, {"from": ZERO, "to": to, "gas": METADATA_GAS, "data": _hex(data)}, "latest")
            except Exception:
                return None


# ---------------------------------------------------------------------------- a node
class RPCSource(BlockSource):
    """Blocks, receipts, balances and traces from a JSON-RPC node (the node serves reads
    concurrently; nothing here takes the chain lock)."""

    def __init__(self, w3: Any) -> None:
        self.w3 = w3
        self._block_receipts: bool | None = None
        self._tracer: bool | None = None

    def _request(self, method: str, params: list[Any]) -> Any:
        res = self.w3.provider.make_request(method, params)
        if "error" in res:
            raise RuntimeError(res["error"])
        return res["result"]

    def _receipts(self, number: int, hashes: list[str]) -> list[dict[str, Any]]:
        if self._block_receipts is not False:
            try:
                out = self._request("eth_getBlockReceipts", [hex(number)])
                self._block_receipts = True
                return list(out)
            except Exception:
                self._block_receipts = False
        return [self._request("eth_getTransactionReceipt", [h]) for h in hashes]

    def block(self, number: int) -> BlockData:
        blk = self._request("eth_getBlockByNumber", [hex(number), True])
        txs_raw = blk["transactions"]
        receipts = {r["transactionHash"].lower(): r for r in self._receipts(number, [t["hash"] for t in txs_raw])}
        base_fee = int(blk["baseFeePerGas"], 16) if blk.get("baseFeePerGas") else None
        txs = []
        for t in txs_raw:
            r = receipts[t["hash"].lower()]
            logs = tuple(LogData(int(lg["logIndex"], 16), to_checksum_address(lg["address"]),
                                 tuple(bytes.fromhex(x[2:]) for x in lg["topics"]), bytes.fromhex(lg["data"][2:]))
                         for lg in r["logs"])
            created = r.get("contractAddress")
            price = r.get("effectiveGasPrice") or t.get("gasPrice") or "0x0"
            txs.append(TxData(hash=t["hash"].lower(), index=int(t["transactionIndex"], 16),
                              sender=to_checksum_address(t["from"]),
                              to=to_checksum_address(t["to"]) if t.get("to") else None, value=int(t["value"], 16),
                              nonce=int(t["nonce"], 16), gas=int(t["gas"], 16), gas_price=int(price, 16),
                              input=bytes.fromhex(t["input"][2:]), status=int(r.get("status", "0x1"), 16),
                              gas_used=int(r["gasUsed"], 16),
                              created=to_checksum_address(created) if created else None, logs=logs))
        return BlockData(number=int(blk["number"], 16), hash=blk["hash"].lower(), parent=blk["parentHash"].lower(),
                         timestamp=int(blk["timestamp"], 16), gas_used=int(blk["gasUsed"], 16),
                         gas_limit=int(blk["gasLimit"], 16), base_fee=base_fee,
                         miner=to_checksum_address(blk.get("miner") or ZERO), txs=tuple(txs))

    def balance_at(self, address: str, number: int) -> int:
        return int(self._request("eth_getBalance", [address, hex(number)]), 16)

    def revert_data(self, tx: TxData, number: int) -> bytes | None:
        from gridledger.ledger.errors import revert_data

        call = {"from": tx.sender, "to": tx.to, "value": hex(tx.value), "gas": hex(tx.gas), "data": _hex(tx.input)}
        res = self.w3.provider.make_request("eth_call", [call, hex(max(number - 1, 0))])
        if "error" not in res:
            return None
        return revert_data(RuntimeError(res["error"])) or b""

    def trace_moves(self, tx_hash: str) -> list[ValueMove] | None:
        if self._tracer is False:
            return None
        try:
            root = self._request("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
            self._tracer = True
        except Exception:
            self._tracer = False
            return None
        moves: list[ValueMove] = []

        def walk(frame: dict[str, Any], depth: int) -> None:
            if frame.get("error"):
                return  # a reverted frame moved nothing
            value = int(frame.get("value") or "0x0", 16)
            if depth > 0 and value > 0 and frame.get("to"):
                moves.append(ValueMove(to_checksum_address(frame["from"]), to_checksum_address(frame["to"]), value))
            for sub in frame.get("calls") or []:
                walk(sub, depth + 1)

        walk(root, 0)
        return moves

    def call(self, to: str, data: bytes) -> bytes | None:
        try:
            out = self._request("eth_call", [{"to": to, "data": _hex(data), "gas": hex(METADATA_GAS)}, "latest"])
        except Exception:
            return None
        return bytes.fromhex(out[2:]) if isinstance(out, str) else None
