"""Explorer index: blocks, transactions, logs, token transfers and holders, value moved inside
calls, contracts and labels, in SQLite, filled incrementally from the chain so that no request
scans the chain.

What each block adds (see :mod:`gridledger.web.blocksource` for where it is read):

- **blocks** and **txs**: timestamp, sender, recipient, value, nonce, gas limit and used, the
  effective gas price and the fee, status and, for a failed transaction, its decoded revert
  reason (the transaction replayed on its parent block's state), the decoded call (or the decoded
  constructor when the creation code is one of our contracts);
- **events**: every log with the *emitting contract* (its type when it is ours) and, when the
  topic is one of our ABIs' events, the decoded arguments;
- **contracts**: every contract created, named by its creation code (ETSC, ProofStaking, ...),
  and the contracts their constructors create (ETSC's Elecoin, ProofStaking's EPOS, at the
  creator's nonces 1, 2, ...);
- **transfers**, **holders** and **tokens**: every ERC-20 ``Transfer`` (any token), balances per
  holder kept by adding the transfers up, supply = minted - burned, name, symbol and decimals
  read once;
- **moves**: native coin moved by calls inside a transaction (e.g. ``withdrawProceeds``): from
  the node's call tracer when it has one (``debug_traceTransaction``), else from balance
  differences across the transaction's block (only when the block holds that one transaction,
  as on the embedded chain and anvil's automine; a contract that forwards exactly what it
  received shows no move that way);
- **labels**: names the chain itself gives accounts: users' names (``UserEmpowered``), their
  smart meters, the fleet's EVs (``Subscribed``, numbered in order) and the community's members
  (``ScoreCredited``, P0, P1, ... in the order they were first credited);
- **cache**: values that never change once computed (closed PoEG/PoSOC rounds of the dashboard).

The index is derived data: a file of an older schema is dropped and rebuilt from the chain.
Chain reorganisations are not followed (development chains do not reorganise).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from decimal import Context, Decimal, localcontext
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from gridledger.ledger.chain import Chain, EmbeddedChain
from gridledger.ledger.errors import decode_revert
from gridledger.web.blocksource import BlockData, BlockSource, PyEVMSource, RPCSource, TxData, ValueMove
from gridledger.web.decoding import (
    CHILDREN,
    SELECTORS,
    VIEW_TOKENS,
    decode_input,
    decode_log,
    erc20_transfer,
    jsonable,
    match_creation,
    read_string,
    read_uint,
)

SCHEMA_VERSION = "3"
ZERO = "0x" + "0" * 40
CHUNK = 64
"""Blocks read and written per step of a sync (one SQLite transaction each)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT UNIQUE, parent TEXT, timestamp INTEGER,
                                   tx_count INTEGER, gas_used INTEGER, gas_limit INTEGER, base_fee TEXT, miner TEXT);
CREATE TABLE IF NOT EXISTS txs (hash TEXT PRIMARY KEY, block INTEGER, idx INTEGER, timestamp INTEGER, sender TEXT,
                                recipient TEXT, value TEXT, nonce INTEGER, gas_limit INTEGER, gas_used INTEGER,
                                gas_price TEXT, fee TEXT, status INTEGER, contract TEXT, method TEXT, args TEXT,
                                created TEXT, error TEXT, input_size INTEGER);
CREATE INDEX IF NOT EXISTS txs_block ON txs(block, idx);
CREATE TABLE IF NOT EXISTS events (tx TEXT, block INTEGER, idx INTEGER, log_index INTEGER, address TEXT,
                                   contract TEXT, name TEXT, args TEXT, topics TEXT, data TEXT,
                                   PRIMARY KEY (tx, log_index));
CREATE INDEX IF NOT EXISTS events_emitter ON events(address, name, block);
CREATE INDEX IF NOT EXISTS events_name ON events(name, block);
CREATE TABLE IF NOT EXISTS addr_tx (address TEXT, tx TEXT, block INTEGER, idx INTEGER, PRIMARY KEY (address, tx));
CREATE INDEX IF NOT EXISTS addr_tx_order ON addr_tx(address, block DESC, idx DESC);
CREATE INDEX IF NOT EXISTS addr_tx_block ON addr_tx(block);
CREATE TABLE IF NOT EXISTS contracts (address TEXT PRIMARY KEY, name TEXT, creator TEXT, tx TEXT, block INTEGER);
CREATE TABLE IF NOT EXISTS tokens (address TEXT PRIMARY KEY, name TEXT, symbol TEXT, decimals INTEGER, supply TEXT,
                                   transfers INTEGER, first_block INTEGER);
CREATE TABLE IF NOT EXISTS transfers (tx TEXT, block INTEGER, idx INTEGER, log_index INTEGER, token TEXT,
                                      sender TEXT, recipient TEXT, value TEXT, PRIMARY KEY (tx, log_index));
CREATE INDEX IF NOT EXISTS transfers_token ON transfers(token, block DESC, log_index DESC);
CREATE INDEX IF NOT EXISTS transfers_sender ON transfers(sender, block DESC);
CREATE INDEX IF NOT EXISTS transfers_recipient ON transfers(recipient, block DESC);
CREATE TABLE IF NOT EXISTS holders (token TEXT, holder TEXT, balance TEXT, balance_f REAL, PRIMARY KEY (token, holder));
CREATE INDEX IF NOT EXISTS holders_rank ON holders(token, balance_f DESC);
CREATE INDEX IF NOT EXISTS holders_holder ON holders(holder);
CREATE TABLE IF NOT EXISTS moves (tx TEXT, seq INTEGER, block INTEGER, sender TEXT, recipient TEXT, value TEXT,
                                  source TEXT, PRIMARY KEY (tx, seq));
CREATE TABLE IF NOT EXISTS labels (address TEXT, label TEXT, kind TEXT, ref TEXT, block INTEGER,
                                   PRIMARY KEY (address, ref));
CREATE TABLE IF NOT EXISTS cache (k TEXT PRIMARY KEY, v TEXT);
"""
TABLES = ("meta", "blocks", "txs", "events", "addr_tx", "contracts", "tokens", "transfers", "holders", "moves",
          "labels", "cache")


def _json(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"))


def default_source(chain: Chain, lock: threading.RLock) -> BlockSource:
    """The embedded chain's own file (read-only) or the node."""
    if isinstance(chain, EmbeddedChain):
        path = chain.data_dir / "chain.sqlite" if chain.data_dir is not None else None
        return PyEVMSource(chain, path, lock)
    return RPCSource(chain.w3)


class Index:
    """Incremental explorer index for one chain (``path`` keyed by the chain id).

    ``contracts`` names the contracts gridledger deployed (keys ``Name`` or ``market:Name``, e.g.
    ``community:ProofStaking``): the market part labels them; the index also recognises our
    contracts by their creation code, whoever deployed them.
    """

    def __init__(self, chain: Chain, path: Path, contracts: dict[str, str], lock: threading.RLock,
                 source: BlockSource | None = None) -> None:
        self.chain = chain
        self.lock = lock
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self._upgrade()
        self.deployed = {to_checksum_address(a): n for n, a in contracts.items()}
        """Address -> deployment name ("ETSC", "community:ProofStaking", ...)."""
        self._types: dict[str, str] = {a: n.split(":")[-1] for a, n in self.deployed.items()}
        for row in self.db.execute("SELECT address, name FROM contracts WHERE name IS NOT NULL"):
            self._types.setdefault(row[0], row[1])
        self.source = source or default_source(chain, lock)
        self._db_lock = threading.Lock()
        self._counters: tuple[int, dict[str, int]] | None = None
        self._counters_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self.head: Callable[[], int] | None = None
        """A cheap, lock-free read of the chain's head: sync() returns at once when nothing is new."""
        self._last: int | None = None
        self.background = False
        """True while a background thread keeps the index up to date (requests then wait less)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- schema
    def _upgrade(self) -> None:
        try:
            row = self.db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None or row[0] != SCHEMA_VERSION:
            for t in TABLES:
                self.db.execute(f"DROP TABLE IF EXISTS {t}")
            self.db.executescript(SCHEMA)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            self.db.commit()
        else:
            self.db.executescript(SCHEMA)

    @property
    def contract_names(self) -> dict[str, str]:
        """Address -> contract type (ABI name) of every contract the index knows."""
        return dict(self._types)

    def contract_type(self, address: str) -> str | None:
        return self._types.get(to_checksum_address(address))

    def last_indexed(self) -> int:
        if self._last is None:
            with self._db_lock:
                row = self.db.execute("SELECT MAX(number) FROM blocks").fetchone()
            self._last = -1 if row[0] is None else int(row[0])
        return self._last

    def chain_head(self) -> int:
        if self.head is not None:
            return self.head()
        with self.lock:
            return self.chain.block_number()

    # -- syncing
    def sync(self, max_blocks: int | None = None, seconds: float | None = None) -> int:
        """Index new blocks: all of them, or at most ``max_blocks``, or for about ``seconds``
        (then whatever another thread is indexing meanwhile is not waited for); returns the last
        block indexed."""
        if self.head is not None and self.head() <= self.last_indexed():
            return self.last_indexed()
        if seconds is not None:
            if not self._sync_lock.acquire(timeout=seconds):
                return self.last_indexed()
        else:
            self._sync_lock.acquire()
        try:
            target = self.chain_head()
            start = time.perf_counter()
            done = 0
            while self.last_indexed() < target:
                first = self.last_indexed() + 1
                last = min(target, first + CHUNK - 1)
                if max_blocks is not None:
                    last = min(last, first + max_blocks - done - 1)
                self._index_range(first, last)
                done += last - first + 1
                if max_blocks is not None and done >= max_blocks:
                    break
                if seconds is not None and time.perf_counter() - start > seconds:
                    break
            return self.last_indexed()
        finally:
            self._sync_lock.release()

    def progress(self) -> dict[str, int]:
        return {"indexed": self.last_indexed(), "head": self.chain_head()}

    def start(self, interval: float = 0.5) -> None:
        """Keep the index up to date in a background thread (``gridledger serve`` does)."""
        if self._thread is not None:
            return
        self.background = True

        def run() -> None:
            while not self._stop.is_set():
                with contextlib.suppress(Exception):  # a transient read error: try again at the next tick
                    self.sync()
                self._stop.wait(interval)

        self._thread = threading.Thread(target=run, daemon=True, name="gridledger-index")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.background = False

    # -- reading blocks
    def _index_range(self, first: int, last: int) -> None:
        blocks = [self.source.block(n) for n in range(first, last + 1)]
        rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in ("blocks", "txs", "events", "addr_tx", "contracts",
                                                                 "transfers", "moves", "labels")}
        deltas: list[tuple[str, str, int]] = []
        new_tokens: dict[str, int] = {}
        counts = self._label_counts()
        for blk in blocks:
            rows["blocks"].append((blk.number, blk.hash, blk.parent, blk.timestamp, len(blk.txs), blk.gas_used,
                                   blk.gas_limit, None if blk.base_fee is None else str(blk.base_fee), blk.miner))
            for tx in blk.txs:
                self._index_tx(blk, tx, rows, deltas, new_tokens, counts)
        token_meta = {t: self._token_meta(t) for t in new_tokens if not self._known_token(t)}
        with self._db_lock, self.db:
            db = self.db
            db.executemany("INSERT OR IGNORE INTO blocks VALUES (?,?,?,?,?,?,?,?,?)", rows["blocks"])
            db.executemany("INSERT OR IGNORE INTO txs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows["txs"])
            db.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows["events"])
            db.executemany("INSERT OR IGNORE INTO addr_tx VALUES (?,?,?,?)", rows["addr_tx"])
            db.executemany("INSERT OR IGNORE INTO contracts VALUES (?,?,?,?,?)", rows["contracts"])
            db.executemany("INSERT OR IGNORE INTO transfers VALUES (?,?,?,?,?,?,?,?)", rows["transfers"])
            db.executemany("INSERT OR IGNORE INTO moves VALUES (?,?,?,?,?,?,?)", rows["moves"])
            db.executemany("INSERT OR IGNORE INTO labels VALUES (?,?,?,?,?)", rows["labels"])
            for token, (name, symbol, decimals) in token_meta.items():
                db.execute("INSERT OR IGNORE INTO tokens VALUES (?,?,?,?,?,?,?)",
                           (token, name, symbol, decimals, "0", 0, new_tokens[token]))
            self._apply_transfers(db, deltas)
        self._last = None

    def _label_counts(self) -> dict[str, int]:
        with self._db_lock:
            return {str(ref): int(c) for ref, c in self.db.execute(
                "SELECT ref, COUNT(*) FROM labels WHERE kind IN ('ev', 'member') GROUP BY ref")}

    def _index_tx(self, blk: BlockData, tx: TxData, rows: dict[str, list[tuple[Any, ...]]],
                  deltas: list[tuple[str, str, int]], new_tokens: dict[str, int], counts: dict[str, int]) -> None:
        n = blk.number
        involved = {tx.sender, tx.to, tx.created}
        if tx.to is None:
            contract, args = match_creation(tx.input)
            method = "constructor"
            if tx.created is not None and tx.status == 1:
                self._add_contract(rows, tx.created, contract, tx.sender, tx.hash, n)
                self._add_children(rows, tx.created, contract, args, tx.hash, n, involved, new_tokens)
        else:
            contract = self._types.get(tx.to)
            method, args = decode_input(contract, tx.input)
        error = None
        if tx.status == 0:
            data = self.source.revert_data(tx, n)
            if data is None:
                name, eargs = ("OutOfGas", {"gas": tx.gas}) if tx.gas_used >= tx.gas else ("Reverted", {})
            else:
                rev = decode_revert(data)
                name, eargs = rev.name, jsonable(dict(rev.args_dict))
            error = _json({"name": name, "args": eargs})
        fee = tx.gas_used * tx.gas_price
        rows["txs"].append((tx.hash, n, tx.index, blk.timestamp, tx.sender, tx.to, str(tx.value), tx.nonce, tx.gas,
                            tx.gas_used, str(tx.gas_price), str(fee), tx.status, contract, method,
                            _json(args), tx.created, error, len(tx.input)))
        emitters = set()
        for lg in tx.logs:
            emitters.add(lg.address)
            involved.add(lg.address)
            decoded = decode_log(lg.topics, lg.data, self._types.get(lg.address))
            ev_name, ev_args = (decoded[1], decoded[2]) if decoded else (None, None)
            rows["events"].append((tx.hash, n, tx.index, lg.index, lg.address, self._types.get(lg.address), ev_name,
                                   None if ev_args is None else _json(ev_args),
                                   _json(["0x" + t.hex() for t in lg.topics]), "0x" + lg.data.hex()))
            if ev_args:
                for v in ev_args.values():
                    if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
                        involved.add(v)
                self._labels_from(rows, lg.address, ev_name or "", ev_args, n, counts)
            transfer = erc20_transfer(lg.topics, lg.data)
            if transfer is not None:
                src, dst, value = transfer
                rows["transfers"].append((tx.hash, n, tx.index, lg.index, lg.address, src, dst, str(value)))
                deltas.append((lg.address, src, -value))
                deltas.append((lg.address, dst, value))
                new_tokens.setdefault(lg.address, n)
        if tx.status == 1 and (tx.to in self._types or tx.logs or tx.created):
            for k, mv in enumerate(self._moves(blk, tx, involved, emitters)):
                rows["moves"].append((tx.hash, k, n, mv.sender, mv.recipient, str(mv.value), mv_source(mv)))
                involved.update((mv.sender, mv.recipient))
        for a in involved:
            if a and a != ZERO:
                rows["addr_tx"].append((a, tx.hash, n, tx.index))

    def _add_contract(self, rows: dict[str, list[tuple[Any, ...]]], address: str, name: str | None, creator: str,
                      tx: str, n: int) -> None:
        rows["contracts"].append((address, name, creator, tx, n))
        if name is not None:
            self._types.setdefault(address, name)

    def _add_children(self, rows: dict[str, list[tuple[Any, ...]]], created: str, name: str | None,
                      args: dict[str, Any] | None, tx: str, n: int, involved: set[str | None],
                      new_tokens: dict[str, int]) -> None:
        from eth._utils.address import generate_contract_address
        from eth_utils import to_canonical_address

        nonce = 0
        for child, condition in CHILDREN.get(name or "", ()):
            if condition is not None and not (args or {}).get(condition):
                continue  # not created by this deployment
            nonce += 1
            address = to_checksum_address(generate_contract_address(to_canonical_address(created), nonce))
            self._add_contract(rows, address, child, created, tx, n)
            involved.add(address)
            if child in VIEW_TOKENS:
                new_tokens.setdefault(address, n)  # a token page although it never emits a Transfer

    def _labels_from(self, rows: dict[str, list[tuple[Any, ...]]], emitter: str, name: str, args: dict[str, Any],
                     n: int, counts: dict[str, int]) -> None:
        kind = self._types.get(emitter)
        if kind == "ETSC" and name == "UserEmpowered":
            rows["labels"].append((args["user"], str(args["name"]), "user", emitter, n))
        elif kind == "ETSC" and name == "MeterRegistered":
            rows["labels"].append((args["meter"], args["user"], "meter", emitter, n))
        elif kind == "V2VSettlement" and name == "Subscribed":
            k = counts.get(emitter, 0)
            counts[emitter] = k + 1
            rows["labels"].append((args["ev"], f"EV {k}", "ev", emitter, n))
        elif kind == "ProofStaking" and name == "ScoreCredited" and self.deployed.get(emitter, "").startswith(
                "community:"):
            member = args["member"]
            seen = {r[0] for r in rows["labels"]}
            if member in seen or self._has_label(member):
                return
            k = counts.get(emitter, 0)
            counts[emitter] = k + 1
            rows["labels"].append((member, f"community P{k}", "member", emitter, n))

    def _has_label(self, address: str) -> bool:
        with self._db_lock:
            return self.db.execute("SELECT 1 FROM labels WHERE address = ?", (address,)).fetchone() is not None

    def _moves(self, blk: BlockData, tx: TxData, involved: set[str | None], emitters: set[str]) -> list[ValueMove]:
        traced = self.source.trace_moves(tx.hash)
        if traced is not None:
            return [_Traced(m.sender, m.recipient, m.value) for m in traced]
        if len(blk.txs) != 1 or blk.number == 0:
            return []
        n = blk.number
        fee = tx.gas_used * tx.gas_price

        def expected(a: str) -> int:
            e = 0
            if a == tx.sender:
                e -= tx.value + fee
            if a == (tx.to or tx.created):
                e += tx.value
            return e

        def internal(a: str) -> int:
            return self.source.balance_at(a, n) - self.source.balance_at(a, n - 1) - expected(a)

        contracts = {a for a in ({tx.to, tx.created} | emitters) if a and (a in self._types or a in emitters)}
        delta = {a: internal(a) for a in contracts}
        if not any(delta.values()):
            return []
        for a in involved:
            if a and a not in delta and a != ZERO and a != blk.miner:
                delta[a] = internal(a)
        sources = [(a, -d) for a, d in delta.items() if d < 0]
        sinks = [(a, d) for a, d in delta.items() if d > 0]
        if len(sources) == 1:
            return [_Balance(sources[0][0], a, d) for a, d in sinks]
        if len(sinks) == 1:
            return [_Balance(a, sinks[0][0], d) for a, d in sources]
        return [_Balance(a, "", d) for a, d in sources] + [_Balance("", a, d) for a, d in sinks]

    # -- tokens
    def _known_token(self, token: str) -> bool:
        with self._db_lock:
            return self.db.execute("SELECT 1 FROM tokens WHERE address = ?", (token,)).fetchone() is not None

    def _token_meta(self, token: str) -> tuple[str | None, str | None, int]:
        name = read_string(self.source.call(token, SELECTORS["name"]))
        symbol = read_string(self.source.call(token, SELECTORS["symbol"]))
        decimals = read_uint(self.source.call(token, SELECTORS["decimals"]))
        return name, symbol, 18 if decimals is None or decimals > 77 else decimals

    def _apply_transfers(self, db: sqlite3.Connection, deltas: list[tuple[str, str, int]]) -> None:
        if not deltas:
            return
        balances: dict[tuple[str, str], int] = {}
        supply: dict[str, int] = {}
        count: dict[str, int] = {}
        for k, (token, holder, d) in enumerate(deltas):
            if k % 2 == 0:  # deltas come in pairs (sender, recipient): one transfer
                count[token] = count.get(token, 0) + 1
            if holder == ZERO:
                supply[token] = supply.get(token, 0) - d  # minted (from zero: -(-v)) or burned (to zero)
                continue
            key = (token, holder)
            if key not in balances:
                row = db.execute("SELECT balance FROM holders WHERE token = ? AND holder = ?", key).fetchone()
                balances[key] = int(row[0]) if row else 0
            balances[key] += d
        for (token, holder), bal in balances.items():
            if bal == 0:
                db.execute("DELETE FROM holders WHERE token = ? AND holder = ?", (token, holder))
            else:
                db.execute("INSERT OR REPLACE INTO holders VALUES (?,?,?,?)", (token, holder, str(bal), float(bal)))
        for token in set(supply) | set(count):
            row = db.execute("SELECT supply, transfers FROM tokens WHERE address = ?", (token,)).fetchone()
            if row is None:
                continue
            db.execute("UPDATE tokens SET supply = ?, transfers = ? WHERE address = ?",
                       (str(int(row[0]) + supply.get(token, 0)), int(row[1]) + count.get(token, 0), token))

    # -- queries
    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._db_lock:
            cur = self.db.execute(sql, args)
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def _event(self, r: dict[str, Any]) -> dict[str, Any]:
        out = dict(r)
        out["args"] = json.loads(r["args"]) if r.get("args") else None
        out["topics"] = json.loads(r["topics"]) if r.get("topics") else []
        return out

    def events_of(self, address: str, name: str, limit: int = 100_000) -> list[dict[str, Any]]:
        """The latest ``limit`` decoded events ``name`` emitted by the contract at ``address``, as
        far as the index has reached (oldest first; the routes sync before they read)."""
        return self.events_named((name,), limit, emitter=address)

    def events_named(self, names: tuple[str, ...], limit: int = 10_000, *, emitter: str) -> list[dict[str, Any]]:
        """The latest ``limit`` decoded events of these names emitted by the contract at ``emitter``,
        oldest first. Always by emitter: anybody can deploy a contract that emits an event with the
        same signature (a forged ``Traded`` naming somebody)."""
        marks = ",".join("?" * len(names))
        rows = self._q(f"SELECT e.*, b.timestamp FROM events e JOIN blocks b ON b.number = e.block "
                       f"WHERE e.address = ? AND e.name IN ({marks}) ORDER BY e.block DESC, e.log_index DESC LIMIT ?",
                       (to_checksum_address(emitter), *names, limit))
        return [self._event(r) for r in reversed(rows)]

    def blocks(self, before: int | None, limit: int) -> list[dict[str, Any]]:
        top = self.last_indexed() + 1 if before is None else before
        return self._q("SELECT * FROM blocks WHERE number < ? ORDER BY number DESC LIMIT ?", (top, limit))

    def block(self, number: int) -> dict[str, Any] | None:
        rows = self._q("SELECT * FROM blocks WHERE number = ?", (number,))
        if not rows:
            return None
        out = rows[0]
        out["transactions"] = [self._tx_row(r) for r in self._q("SELECT * FROM txs WHERE block = ? ORDER BY idx",
                                                                 (number,))]
        return out

    def block_by_hash(self, h: str) -> int | None:
        rows = self._q("SELECT number FROM blocks WHERE hash = ?", (h.lower(),))
        return int(rows[0]["number"]) if rows else None

    def _tx_row(self, d: dict[str, Any]) -> dict[str, Any]:
        d = dict(d)
        d["args"] = json.loads(d["args"]) if d.get("args") else None
        d["error"] = json.loads(d["error"]) if d.get("error") else None
        return d

    def latest_txs(self, limit: int) -> list[dict[str, Any]]:
        return [self._tx_row(r) for r in self._q("SELECT * FROM txs ORDER BY block DESC, idx DESC LIMIT ?", (limit,))]

    def tx(self, h: str) -> dict[str, Any] | None:
        rows = self._q("SELECT * FROM txs WHERE hash = ?", (h.lower(),))
        if not rows:
            return None
        out = self._tx_row(rows[0])
        out["events"] = [self._event(r) for r in self._q("SELECT * FROM events WHERE tx = ? ORDER BY log_index",
                                                          (h.lower(),))]
        out["transfers"] = self._q("SELECT t.*, k.symbol, k.decimals, k.name AS token_name FROM transfers t "
                                   "LEFT JOIN tokens k ON k.address = t.token WHERE t.tx = ? ORDER BY t.log_index",
                                   (h.lower(),))
        out["moves"] = self._q("SELECT sender, recipient, value, source FROM moves WHERE tx = ? ORDER BY seq",
                               (h.lower(),))
        out["contracts_created"] = self._q("SELECT address, name, creator FROM contracts WHERE tx = ? "
                                           "ORDER BY block, rowid", (h.lower(),))
        return out

    def address_txs(self, address: str, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        a = to_checksum_address(address)
        total = self._q("SELECT COUNT(*) AS c FROM addr_tx WHERE address = ?", (a,))[0]["c"]
        rows = self._q("SELECT t.* FROM addr_tx a JOIN txs t ON t.hash = a.tx WHERE a.address = ? "
                       "ORDER BY a.block DESC, a.idx DESC LIMIT ? OFFSET ?", (a, limit, page * limit))
        return [self._tx_row(r) for r in rows], int(total)

    def touched(self, after: int, upto: int) -> set[str]:
        """Every address a transaction of blocks ``after`` < n <= ``upto`` involved (sender,
        recipient, created contract, addresses in its events, value moved)."""
        return {r["address"] for r in self._q("SELECT DISTINCT address FROM addr_tx WHERE block > ? AND block <= ?",
                                              (after, upto))}

    def events_for(self, address: str, names: tuple[str, ...], limit: int = 200, *,
                   emitter: str) -> list[dict[str, Any]]:
        """Events ``names`` emitted by the contract at ``emitter`` naming ``address`` among their
        arguments (newest first)."""
        a = to_checksum_address(address)
        marks = ",".join("?" * len(names))
        rows = self._q(f"SELECT e.*, b.timestamp FROM addr_tx a JOIN events e ON e.tx = a.tx "
                       f"JOIN blocks b ON b.number = e.block WHERE a.address = ? AND e.address = ? "
                       f"AND e.name IN ({marks}) ORDER BY e.block DESC, e.log_index DESC LIMIT ?",
                       (a, to_checksum_address(emitter), *names, limit))
        out = []
        for r in rows:
            ev = self._event(r)
            if a in {v for v in (ev["args"] or {}).values() if isinstance(v, str)}:
                out.append(ev)
        return out

    # -- tokens
    def tokens(self) -> list[dict[str, Any]]:
        rows = self._q("SELECT k.*, (SELECT COUNT(*) FROM holders h WHERE h.token = k.address AND h.balance_f > 0) "
                       "AS holders "
                       "FROM tokens k ORDER BY k.first_block, k.address")
        return rows

    def token(self, address: str) -> dict[str, Any] | None:
        a = to_checksum_address(address)
        rows = self._q("SELECT k.*, (SELECT COUNT(*) FROM holders h WHERE h.token = k.address AND h.balance_f > 0) "
                       "AS holders "
                       "FROM tokens k WHERE k.address = ?", (a,))
        return rows[0] if rows else None

    def holders(self, token: str, page: int, limit: int) -> list[dict[str, Any]]:
        # A foreign token's Transfer events may be inconsistent (a negative sum): only positive
        # balances are holders.
        return self._q("SELECT holder, balance FROM holders WHERE token = ? AND balance_f > 0 "
                       "ORDER BY balance_f DESC, holder "
                       "LIMIT ? OFFSET ?", (to_checksum_address(token), limit, page * limit))

    def token_transfers(self, token: str, page: int, limit: int) -> list[dict[str, Any]]:
        return self._q("SELECT t.*, b.timestamp FROM transfers t JOIN blocks b ON b.number = t.block "
                       "WHERE t.token = ? ORDER BY t.block DESC, t.log_index DESC LIMIT ? OFFSET ?",
                       (to_checksum_address(token), limit, page * limit))

    def address_tokens(self, address: str) -> list[dict[str, Any]]:
        return self._q("SELECT h.token, h.balance, k.name, k.symbol, k.decimals FROM holders h "
                       "LEFT JOIN tokens k ON k.address = h.token WHERE h.holder = ? AND h.balance_f > 0 "
                       "ORDER BY k.first_block",
                       (to_checksum_address(address),))

    def address_transfers(self, address: str, limit: int) -> list[dict[str, Any]]:
        a = to_checksum_address(address)
        return self._q("SELECT t.*, b.timestamp, k.symbol, k.decimals FROM transfers t "
                       "JOIN blocks b ON b.number = t.block LEFT JOIN tokens k ON k.address = t.token "
                       "WHERE t.sender = ? OR t.recipient = ? ORDER BY t.block DESC, t.log_index DESC LIMIT ?",
                       (a, a, limit))

    def contract(self, address: str) -> dict[str, Any] | None:
        rows = self._q("SELECT * FROM contracts WHERE address = ?", (to_checksum_address(address),))
        if rows:
            return rows[0]
        a = to_checksum_address(address)
        if a in self._types:
            return {"address": a, "name": self._types[a], "creator": None, "tx": None, "block": None}
        return None

    # -- labels and counters
    def event_labels(self, emitters: set[str] | None = None) -> dict[str, dict[str, Any]]:
        """Labels the chain's events give accounts (users, meters, EVs, community members), only
        from the contracts in ``emitters`` when given: anybody can deploy a contract with our
        creation code and make its events name any account, so the pages pass the deployed
        contracts (each label is kept per emitting contract: a forged one never hides the real)."""
        rows = self._q("SELECT address, label, kind, ref FROM labels ORDER BY block")
        if emitters is not None:
            rows = [r for r in rows if r["ref"] in emitters]
        users = {r["address"]: r["label"] for r in rows if r["kind"] == "user"}
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            label = r["label"]
            if r["kind"] == "meter":
                label = f"meter of {users.get(r['label'], r['label'][:10] + '…')}"
            out[r["address"]] = {"label": label, "kind": r["kind"]}
        return out

    def counters(self) -> dict[str, int]:
        """Blocks, transactions, failed ones, addresses, contracts, tokens, token transfers, events and
        gas used: counted once per indexed block (full-table counts, one at a time)."""
        last = self.last_indexed()
        hit = self._counters
        if hit is not None and hit[0] == last:
            return dict(hit[1])
        with self._counters_lock:
            hit = self._counters
            if hit is None or hit[0] != last:
                self._counters = hit = (last, self._count())
        return dict(hit[1])

    def _count(self) -> dict[str, int]:
        q = self._q("SELECT (SELECT COUNT(*) FROM blocks) AS blocks, (SELECT COUNT(*) FROM txs) AS transactions, "
                    "(SELECT COUNT(*) FROM txs WHERE status = 0) AS failed, "
                    "(SELECT COUNT(DISTINCT address) FROM addr_tx) AS addresses, "
                    "(SELECT COUNT(*) FROM contracts) AS contracts, (SELECT COUNT(*) FROM tokens) AS tokens, "
                    "(SELECT COUNT(*) FROM transfers) AS token_transfers, (SELECT COUNT(*) FROM events) AS events, "
                    "(SELECT COALESCE(SUM(gas_used), 0) FROM txs) AS gas_used")[0]
        return {k: int(v) for k, v in q.items()}

    # -- a cache of values that never change once computed
    def cached(self, key: str) -> Any:
        rows = self._q("SELECT v FROM cache WHERE k = ?", (key,))
        return json.loads(rows[0]["v"]) if rows else None

    def keep(self, key: str, value: Any) -> None:
        with self._db_lock, self.db:
            self.db.execute("INSERT OR REPLACE INTO cache VALUES (?, ?)", (key, json.dumps(value)))


class _Traced(ValueMove):
    pass


class _Balance(ValueMove):
    pass


def mv_source(mv: ValueMove) -> str:
    return "trace" if isinstance(mv, _Traced) else "balance"


def decimal_units(value: int | str, decimals: int) -> str:
    """``value`` smallest units as an exact decimal string."""
    with localcontext(Context(prec=200)):  # exact for any uint256
        d = Decimal(int(value)).scaleb(-decimals)
        return f"{d.normalize():f}" if d != 0 else "0"


# Kept for callers of the first index (deps.tx_out).
_jsonable = jsonable
