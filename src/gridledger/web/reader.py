"""Read-only views of the chain, so that reads never wait for (or hold) the write lock.

On the embedded chain a reader is a second py-evm chain object over its own *read-only* SQLite
connection to the same file: SQLite's write-ahead log gives every read a committed snapshot,
and py-evm's state is content-addressed, so a read sees the last mined block, whatever the
writer is doing meanwhile. :meth:`ChainReader.head` reads the head's number straight from the
file (for ``/api/health`` and the caches); one *light* replica answers the relay's cheap reads
(balances, blocks, receipts); ``executors`` worker processes (:mod:`gridledger.web.evm_worker`)
run ``eth_call`` and ``eth_estimateGas``, and when all are busy the caller gets :class:`Busy` at
once instead of waiting. On an rpc chain the node answers reads concurrently itself; the same
slots bound how many executions the relay forwards at once.
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
from gridledger.ledger.kvstore import StoreClosed


class Busy(Exception):
    """Every reader is busy executing; the caller should retry later."""


class ReadOnlyError(Exception):
    """A reader tried to write to the chain's database."""


class _ReadOnlyDB(BaseAtomicDB):
    """py-evm database over a read-only SQLite connection (``mode=ro``) to the writer's file.
    Statements and :meth:`close` take one lock (a close concurrent with a query could crash the
    process); a read after the close raises :class:`StoreClosed`."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                                                check_same_thread=False)

    def _one(self, sql: str, key: bytes) -> Any:
        with self._lock:
            if self._conn is None:
                raise StoreClosed(f"{self._path}: the chain reader is closed")
            return self._conn.execute(sql, (key,)).fetchone()

    def __getitem__(self, key: bytes) -> bytes:
        row = self._one("SELECT v FROM kv WHERE k = ?", key)
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        raise ReadOnlyError("the chain reader is read-only")

    def __delitem__(self, key: bytes) -> None:
        raise ReadOnlyError("the chain reader is read-only")

    def _exists(self, key: bytes) -> bool:
        return self._one("SELECT 1 FROM kv WHERE k = ?", key) is not None

    def atomic_batch(self) -> Any:
        raise ReadOnlyError("the chain reader is read-only")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


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
        self._head_db: _ReadOnlyDB | None = None
        self._head_cache: tuple[bytes, int] | None = None
        if self._replicas:
            from eth.db.header import HeaderDB

            from gridledger.web.evm_worker import EVMWorker

            path = chain.data_dir / "chain.sqlite"  # type: ignore[union-attr]
            self._head_db = _ReadOnlyDB(path)
            self._headers = HeaderDB(self._head_db)
            self._light: _Replica | None = _Replica(chain)  # type: ignore[arg-type]
            self._free: list[Any] = [EVMWorker(path, chain.chain_id) for _ in range(executors)]
            self._workers = list(self._free)
        else:
            self._light = None
            self._free = [None] * executors
            self._workers = []

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

    def release(self, slot: Any) -> None:
        with self._lock:
            self._free.append(slot)

    def execute(self, slot: Any, kind: str, call: dict[str, Any], block: str | int, timeout: float) -> Any:
        """Run ``eth_call`` (kind "call") or ``eth_estimateGas`` ("estimate") on an acquired
        embedded-chain slot (a worker process, killed after ``timeout``)."""
        if slot is None:  # an in-memory embedded chain has no file a worker could read
            raise RuntimeError("EVM executions need an embedded chain kept in a data dir")
        return slot.run(kind, call, block, timeout)

    def start(self) -> None:
        """Start the worker processes now (``gridledger serve`` does, in the background)."""
        for worker in self._workers:
            worker.start()

    def close(self) -> None:
        """Stop the worker processes."""
        for worker in self._workers:
            worker.stop()

    @property
    def local(self) -> bool:
        """True when :meth:`head` reads a local file (cheap enough for the event loop)."""
        return self._head_db is not None

    def head(self) -> int:
        """The number of the chain's last block: on the embedded chain two key lookups in the file
        (no web3, no lock, ~0.1 ms); on an rpc chain one eth_blockNumber."""
        if self._head_db is None:
            return self.chain.block_number()
        from eth.db.schema import SchemaV1

        head_hash = self._head_db[SchemaV1.make_canonical_head_hash_lookup_key()]
        cached = self._head_cache
        if cached is not None and cached[0] == head_hash:
            return cached[1]
        number = int(self._headers.get_block_header_by_hash(head_hash).block_number)  # type: ignore[arg-type]
        self._head_cache = (head_hash, number)
        return number

    def block_number(self) -> int:
        return self.head()
