"""A durable key-value store for py-evm: SQLite under the embedded chain's data directory.

py-evm keeps chain and state data in a key-value database (``AtomicDatabaseAPI``) and ships
only an in-memory one (and LevelDB through an extra C dependency). :class:`SQLiteAtomicDB` is
a drop-in store on SQLite (standard library, WAL journal). All writes between two calls of
:meth:`SQLiteAtomicDB.commit` form one SQLite transaction; the embedded backend commits after
each mined block, so a crash (even ``kill -9``) loses at most the block being mined and
never leaves a half-written one. Keys are content hashes or fixed py-evm keys, so writes
rolled back with an unfinished block leave nothing dangling.

The connection is shared by threads (a server's requests, its indexer and warm-up): every
statement and :meth:`SQLiteAtomicDB.close` take one lock, so a close while another thread reads
waits for that read, and a read after the close raises :class:`StoreClosed` (Python's sqlite3
module does not make a close concurrent with a query safe: it can crash the process).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eth.abc import AtomicWriteBatchAPI
from eth.db.atomic import AtomicDBWriteBatch
from eth.db.backends.base import BaseAtomicDB

SYNC_MODES = ("NORMAL", "FULL")


class SQLiteAtomicDB(BaseAtomicDB):
    """py-evm database on one SQLite file.

    Parameters
    ----------
    path
        The database file (created if missing).
    synchronous
        SQLite's ``synchronous`` pragma: "NORMAL" survives a crash of the process (kill -9);
        "FULL" also survives a power loss, at the cost of an fsync per block.
    """

    def __init__(self, path: str | Path, synchronous: str = "NORMAL") -> None:
        if synchronous not in SYNC_MODES:
            raise ValueError(f"synchronous must be one of {SYNC_MODES}")
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(self.path, isolation_level=None,
                                                                check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
        self._conn.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        self._in_tx = False

    def _exec(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        """One statement under the lock (the caller holds it when it reads the cursor)."""
        if self._conn is None:
            raise StoreClosed(f"{self.path}: the chain's store is closed")
        return self._conn.execute(sql, params)

    # -- DatabaseAPI
    def __getitem__(self, key: bytes) -> bytes:
        with self._lock:
            row = self._exec("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with self._lock:
            self._begin()
            self._exec("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        with self._lock:
            self._begin()
            if self._exec("DELETE FROM kv WHERE k = ?", (key,)).rowcount == 0:
                raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        with self._lock:
            return self._exec("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        with AtomicDBWriteBatch._commit_unless_raises(self) as batch:
            yield batch

    # -- durability
    def _begin(self) -> None:
        with self._lock:
            if not self._in_tx:
                self._exec("BEGIN")
                self._in_tx = True

    def commit(self) -> None:
        """Make every write since the last commit durable, atomically."""
        with self._lock:
            if self._in_tx:
                self._exec("COMMIT")
                self._in_tx = False

    def rollback(self) -> None:
        """Drop every write since the last commit."""
        with self._lock:
            if self._in_tx:
                self._exec("ROLLBACK")
                self._in_tx = False

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._exec("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._begin()
            self._exec("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        """Roll back what was not committed and close; waits for a statement another thread runs.
        Closing twice is harmless."""
        with self._lock:
            if self._conn is None:
                return
            self.rollback()
            self._conn.close()
            self._conn = None


class StoreClosed(sqlite3.ProgrammingError):
    """The store was used after :meth:`SQLiteAtomicDB.close` (a thread still reading a closed chain)."""
