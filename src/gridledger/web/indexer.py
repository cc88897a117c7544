"""Explorer index: blocks, transactions (with decoded contract calls), events and an address
index in SQLite, filled incrementally from the chain so that no request scans the chain."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from gridledger.ledger.artifacts import CONTRACT_NAMES, abi
from gridledger.ledger.chain import Chain
from gridledger.ledger.clients import decode_events

SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT UNIQUE, parent TEXT, timestamp INTEGER,
                                   tx_count INTEGER, gas_used INTEGER);
CREATE TABLE IF NOT EXISTS txs (hash TEXT PRIMARY KEY, block INTEGER, idx INTEGER, sender TEXT, recipient TEXT,
                                value TEXT, gas_used INTEGER, status INTEGER, contract TEXT, method TEXT, args TEXT,
                                created TEXT);
CREATE INDEX IF NOT EXISTS txs_block ON txs(block, idx);
CREATE TABLE IF NOT EXISTS events (tx TEXT, block INTEGER, log_index INTEGER, address TEXT, name TEXT, args TEXT,
                                   PRIMARY KEY (tx, log_index));
CREATE TABLE IF NOT EXISTS addr_tx (address TEXT, tx TEXT, block INTEGER, idx INTEGER, PRIMARY KEY (address, tx));
CREATE INDEX IF NOT EXISTS addr_tx_order ON addr_tx(address, block DESC, idx DESC);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
"""


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, int) and abs(v) > 2**53:
        return str(v)
    return v


class Index:
    """Incremental explorer index for one chain (``path`` keyed by the chain id)."""

    def __init__(self, chain: Chain, path: Path, contracts: dict[str, str], lock: threading.RLock) -> None:
        self.chain = chain
        self.lock = lock
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.db.execute("PRAGMA journal_mode=WAL")
        # Keys are contract names, optionally "market:Name" (the ABI is the part after the colon).
        self.contract_names = {to_checksum_address(a): n.split(":")[-1] for n, a in contracts.items()}
        self._fn_cache: dict[str, Any] = {n: chain.w3.eth.contract(abi=abi(n)) for n in CONTRACT_NAMES}
        self._db_lock = threading.Lock()
        self.head: Callable[[], int] | None = None
        """A cheap, lock-free read of the chain's head: sync() returns at once when nothing is new."""
        self._last: int | None = None

    def last_indexed(self) -> int:
        if self._last is None:
            with self._db_lock:
                row = self.db.execute("SELECT MAX(number) FROM blocks").fetchone()
            self._last = -1 if row[0] is None else int(row[0])
        return self._last

    def _decode_call(self, to: str | None, data: bytes) -> tuple[str | None, str | None, Any]:
        if to is None:
            return None, "constructor", None
        name = self.contract_names.get(to_checksum_address(to))
        if name is None or len(data) < 4:
            return name, None, None
        try:
            fn, args = self._fn_cache[name].decode_function_input(data)
        except Exception:
            return name, None, None
        return name, fn.fn_name, _jsonable(dict(args))

    def sync(self, max_blocks: int = 5000) -> int:
        """Index new blocks (at most ``max_blocks`` per call); returns the head indexed."""
        if self.head is not None and self.head() <= self.last_indexed():
            return self.last_indexed()
        with self.lock:
            head = self.chain.block_number()
            start = self.last_indexed() + 1
            rows_b, rows_t, rows_e, rows_a = [], [], [], []
            for n in range(start, min(head, start + max_blocks - 1) + 1):
                blk = self.chain.w3.eth.get_block(n, full_transactions=True)
                rows_b.append((n, blk["hash"].to_0x_hex(), blk["parentHash"].to_0x_hex(), int(blk["timestamp"]),
                               len(blk["transactions"]), int(blk["gasUsed"])))
                for i, tx in enumerate(blk["transactions"]):
                    receipt = self.chain.w3.eth.get_transaction_receipt(tx["hash"])
                    to = tx.get("to") or None
                    raw = tx.get("input", tx.get("data", b""))
                    data = bytes.fromhex(raw[2:]) if isinstance(raw, str) else bytes(raw)
                    contract, method, args = self._decode_call(to, data)
                    created = receipt.get("contractAddress")
                    h = tx["hash"].to_0x_hex()
                    rows_t.append((h, n, i, tx["from"], to, str(tx["value"]), int(receipt["gasUsed"]),
                                   int(receipt["status"]), contract, method, json.dumps(args), created))
                    involved = {tx["from"], to, created}
                    for ev in decode_events(self.chain, receipt):
                        args_j = _jsonable(ev.args)
                        rows_e.append((h, n, len(rows_e), ev.address, ev.name, json.dumps(args_j)))
                        for v in ev.args.values():
                            if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
                                involved.add(to_checksum_address(v))
                    for a in involved:
                        if a:
                            rows_a.append((to_checksum_address(a), h, n, i))
        with self._db_lock:
            self.db.executemany("INSERT OR IGNORE INTO blocks VALUES (?,?,?,?,?,?)", rows_b)
            self.db.executemany("INSERT OR IGNORE INTO txs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows_t)
            self.db.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?)", rows_e)
            self.db.executemany("INSERT OR IGNORE INTO addr_tx VALUES (?,?,?,?)", rows_a)
            self.db.commit()
            self._last = None
        return self.last_indexed()

    # -- queries
    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._db_lock:
            self.db.row_factory = sqlite3.Row
            return self.db.execute(sql, args).fetchall()

    def events_of(self, address: str, name: str, limit: int = 10_000) -> list[dict[str, Any]]:
        """Decoded events ``name`` emitted by the contract at ``address`` (oldest first)."""
        self.sync()
        rows = self._q("SELECT * FROM events WHERE address = ? AND name = ? ORDER BY block, log_index LIMIT ?",
                       (to_checksum_address(address), name, limit))
        return [{**dict(r), "args": json.loads(r["args"])} for r in rows]

    def blocks(self, before: int | None, limit: int) -> list[dict[str, Any]]:
        top = self.last_indexed() + 1 if before is None else before
        return [dict(r) for r in self._q("SELECT * FROM blocks WHERE number < ? ORDER BY number DESC LIMIT ?",
                                          (top, limit))]

    def block(self, number: int) -> dict[str, Any] | None:
        rows = self._q("SELECT * FROM blocks WHERE number = ?", (number,))
        if not rows:
            return None
        out = dict(rows[0])
        out["transactions"] = [self._tx_row(r) for r in self._q("SELECT * FROM txs WHERE block = ? ORDER BY idx",
                                                                 (number,))]
        return out

    def block_by_hash(self, h: str) -> int | None:
        rows = self._q("SELECT number FROM blocks WHERE hash = ?", (h.lower(),))
        return int(rows[0]["number"]) if rows else None

    def _tx_row(self, r: sqlite3.Row) -> dict[str, Any]:
        d = dict(r)
        d["args"] = json.loads(d["args"]) if d["args"] else None
        return d

    def latest_txs(self, limit: int) -> list[dict[str, Any]]:
        return [self._tx_row(r) for r in self._q("SELECT * FROM txs ORDER BY block DESC, idx DESC LIMIT ?", (limit,))]

    def tx(self, h: str) -> dict[str, Any] | None:
        rows = self._q("SELECT * FROM txs WHERE hash = ?", (h.lower(),))
        if not rows:
            return None
        out = self._tx_row(rows[0])
        out["events"] = [{**dict(r), "args": json.loads(r["args"])}
                         for r in self._q("SELECT * FROM events WHERE tx = ? ORDER BY log_index", (h.lower(),))]
        return out

    def address_txs(self, address: str, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        a = to_checksum_address(address)
        total = self._q("SELECT COUNT(*) AS c FROM addr_tx WHERE address = ?", (a,))[0]["c"]
        rows = self._q("SELECT t.* FROM addr_tx a JOIN txs t ON t.hash = a.tx WHERE a.address = ? "
                       "ORDER BY a.block DESC, a.idx DESC LIMIT ? OFFSET ?", (a, limit, page * limit))
        return [self._tx_row(r) for r in rows], int(total)

    def events_for(self, address: str, names: tuple[str, ...], limit: int = 200) -> list[dict[str, Any]]:
        a = to_checksum_address(address)
        marks = ",".join("?" * len(names))
        rows = self._q(f"SELECT e.* FROM addr_tx a JOIN events e ON e.tx = a.tx WHERE a.address = ? "
                       f"AND e.name IN ({marks}) ORDER BY e.block DESC, e.log_index DESC LIMIT ?",
                       (a, *names, limit))
        out = []
        for r in rows:
            args = json.loads(r["args"])
            if a in {v for v in args.values() if isinstance(v, str)}:
                out.append({**dict(r), "args": args})
        return out
