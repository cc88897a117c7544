"""A durable key-value store for py-evm: SQLite under the embedded chain's data directory.

py-evm keeps chain and state data in a key-value database (``AtomicDatabaseAPI``) and ships
only an in-memory one (and LevelDB through an extra C dependency). :class:`SQLiteAtomicDB` is
a drop-in store on SQLite (standard library, WAL journal). All writes between two calls of
:meth:`SQLiteAtomicDB.commit` form one SQLite transaction; the embedded backend commits after
each mined block, so a crash (even ``kill -9``) loses at most the block being mined and
never leaves a half-written one. Keys are content hashes or fixed py-evm keys, so writes
rolled back with an unfinished block leave nothing dangling.
"""

from __future__ import annotations

import sqlite3
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
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={synchronous}")
        self._conn.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
        self._conn.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        self._in_tx = False

    # -- DatabaseAPI
    def __getitem__(self, key: bytes) -> bytes:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._begin()
        self._conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        self._begin()
        if self._conn.execute("DELETE FROM kv WHERE k = ?", (key,)).rowcount == 0:
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        return self._conn.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        with AtomicDBWriteBatch._commit_unless_raises(self) as batch:
            yield batch

    # -- durability
    def _begin(self) -> None:
        if not self._in_tx:
            self._conn.execute("BEGIN")
            self._in_tx = True

    def commit(self) -> None:
        """Make every write since the last commit durable, atomically."""
        if self._in_tx:
            self._conn.execute("COMMIT")
            self._in_tx = False

    def rollback(self) -> None:
        """Drop every write since the last commit."""
        if self._in_tx:
            self._conn.execute("ROLLBACK")
            self._in_tx = False

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._begin()
        self._conn.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self.rollback()
        self._conn.close()
