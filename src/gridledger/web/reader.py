"""Read-only views of the chain, so that reads never wait for (or hold) the write lock.

On the embedded chain a reader is a second py-evm chain object over its own *read-only* SQLite
connection to the same file: SQLite's write-ahead log gives every read a committed snapshot,
and py-evm's state is content-addressed, so an ``eth_call`` on a reader sees the last mined
block, whatever the writer is doing meanwhile. There are a few readers: one *light* reader for
cheap lookups (``/api/health``, block numbers, balances) and ``executors`` readers for EVM
executions (``eth_call``, ``eth_estimateGas``); when all are busy the caller gets :class:`Busy`
at once instead of waiting. On an rpc chain the node answers reads concurrently itself; the
same slots bound how many executions the relay forwards at once.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eth.db.backends.base import BaseAtomicDB
from web3 import Web3

from gridledger.ledger.chain import Chain, EmbeddedChain


class Busy(Exception):
    """Every reader is busy executing; the caller should retry later."""


class ReadOnlyError(Exception):
    """A reader tried to write to the chain's database."""


class _ReadOnlyDB(BaseAtomicDB):
    """py-evm database over a read-only SQLite connection (``mode=ro``) to the writer's file."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def __getitem__(self, key: bytes) -> bytes:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        raise ReadOnlyError("the chain reader is read-only")

    def __delitem__(self, key: bytes) -> None:
        raise ReadOnlyError("the chain reader is read-only")

    def _exists(self, key: bytes) -> bool:
        return self._conn.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None

    def atomic_batch(self) -> Any:
        raise ReadOnlyError("the chain reader is read-only")

    def close(self) -> None:
        self._conn.close()


class _Replica:
    """A web3 connection to a read-only py-evm chain over the embedded chain's file."""

    def __init__(self, writer: EmbeddedChain) -> None:
        from eth_tester import EthereumTester
        from eth_tester.backends.pyevm.main import PyEVMBackend
        from web3.providers.eth_tester import EthereumTesterProvider

        assert writer.data_dir is not None
        db = _ReadOnlyDB(writer.data_dir / "chain.sqlite")
        chain_class = type(writer.tester_backend.chain)

        class ReplicaBackend(PyEVMBackend):
            def reset_to_genesis(self, *args: Any, **kwargs: Any) -> None:
                self.account_keys = ()
                self.chain = chain_class(db)

        self.db = db
        self.chain_class = chain_class
        self.backend = ReplicaBackend()
        self.w3 = Web3(EthereumTesterProvider(EthereumTester(backend=self.backend, auto_mine_transactions=False)))

    def refresh(self) -> Web3:
        """Move to the chain's current head (a py-evm chain object keeps the head it was built on)."""
        self.backend.chain = self.chain_class(self.db)
        return self.w3


class ChainReader:
    """Light and executing readers of ``chain`` (see the module docstring)."""

    def __init__(self, chain: Chain, executors: int) -> None:
        self.chain = chain
        self._lock = threading.Lock()
        self._light_lock = threading.Lock()
        self._replicas = isinstance(chain, EmbeddedChain) and chain.data_dir is not None
        if self._replicas:
            self._light: _Replica | None = _Replica(chain)  # type: ignore[arg-type]
            self._free: list[Any] = [_Replica(chain) for _ in range(executors)]  # type: ignore[arg-type]
        else:
            self._light = None
            self._free = [None] * executors

    @contextlib.contextmanager
    def light(self) -> Iterator[Web3]:
        """A web3 for cheap reads at the current head (serialised on the embedded chain)."""
        if self._light is None:
            yield self.chain.w3
            return
        with self._light_lock:
            yield self._light.refresh()

    def acquire(self) -> Any:
        """Take an executor slot for one EVM execution; :class:`Busy` at once when every slot is taken."""
        with self._lock:
            if not self._free:
                raise Busy
            return self._free.pop()

    def open(self, slot: Any) -> Web3:
        """The web3 of an acquired slot, moved to the current head."""
        return slot.refresh() if slot is not None else self.chain.w3

    def release(self, slot: Any) -> None:
        with self._lock:
            self._free.append(slot)

    @contextlib.contextmanager
    def executor(self) -> Iterator[Web3]:
        """``acquire``, ``open`` and ``release`` around one block of reads."""
        slot = self.acquire()
        try:
            yield self.open(slot)
        finally:
            self.release(slot)

    # -- EVM executions on a replica (node-like: no gas fee, no balance needed for gas)
    def call(self, slot: Any, call: dict[str, Any], block: str | int) -> bytes:
        """``eth_call`` on the replica ``slot`` (embedded chain): the output, or the VM's error raised."""
        chain, header, tx = self._prepare(slot, call, block)
        return bytes(chain.get_transaction_result(tx, header))

    def estimate(self, slot: Any, call: dict[str, Any], block: str | int, tolerance: int = 1000) -> int:
        """``eth_estimateGas`` within ``call["gas"]`` (the cap): it must succeed there first (bounded work),
        then a binary search below it, to ``tolerance`` gas."""
        chain, header, tx = self._prepare(slot, call, block)
        vm = chain.get_vm(header)

        def error(gas: int) -> BaseException | None:
            with vm.in_costless_state() as state:
                computation = state.costless_execute_transaction(tx.copy(gas=gas))
            return computation.error if computation.is_error else None

        top = int(call["gas"])
        failure = error(top)
        if failure is not None:
            raise failure
        low, high = 21_000 - 1, top
        while high - low > tolerance:
            mid = (low + high) // 2
            if error(mid) is None:
                high = mid
            else:
                low = mid
        return high

    @staticmethod
    def _prepare(slot: Any, call: dict[str, Any], block: str | int) -> tuple[Any, Any, Any]:
        from eth.vm.spoof import SpoofTransaction
        from eth_utils import to_bytes

        chain = slot.backend.chain
        if block == "earliest":
            header = chain.get_canonical_block_header_by_number(0)
        elif isinstance(block, int):
            header = chain.get_canonical_block_header_by_number(block)
        else:
            header = chain.get_canonical_head()
        sender = to_bytes(hexstr=call["from"])
        vm = chain.get_vm(header)
        unsigned = vm.create_unsigned_transaction(
            nonce=vm.state.get_nonce(sender), gas_price=0, gas=int(call["gas"]),
            to=to_bytes(hexstr=call["to"]) if call.get("to") else b"", value=int(call.get("value", 0)),
            data=to_bytes(hexstr=call.get("data", "0x")))
        return chain, header, SpoofTransaction(unsigned, from_=sender)

    def block_number(self) -> int:
        with self.light() as w3:
            return int(w3.eth.block_number)
