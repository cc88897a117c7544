"""EVM executions for the /rpc relay in worker processes (embedded chain).

``eth_call`` and ``eth_estimateGas`` run arbitrary code for anonymous clients. In a worker
*process* they cannot hold the web server's interpreter lock (an EVM loop in a thread would
slow every request through the GIL's convoy effect), and a call that outlives its timeout is
really stopped: the worker is killed and replaced. Each worker reads the chain's SQLite file
through its own read-only connection (a committed snapshot, see :mod:`gridledger.web.reader`).

Workers come from a ``forkserver`` that has already imported py-evm, so a replacement starts in
well under a second; they run at a lower CPU priority than the server (``nice``), and exit when
the server's end of their pipe closes (also after a kill -9 of the server).
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


class EVMError(Exception):
    """The execution failed in the EVM (revert, out of gas, invalid opcode, bad transaction)."""

    def __init__(self, name: str, message: str, revert: str | None) -> None:
        super().__init__(message)
        self.name = name
        self.revert = revert
        """Revert data (0x...) when the code reverted."""


# ---------------------------------------------------------------- the executions (any process)
def prepare(chain: Any, call: dict[str, Any], block: str | int) -> tuple[Any, Any]:
    """The header to run at and the unsigned, spoofed transaction of a call object."""
    from eth.vm.spoof import SpoofTransaction
    from eth_utils import to_bytes

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
    return header, SpoofTransaction(unsigned, from_=sender)


def evm_call(chain: Any, call: dict[str, Any], block: str | int) -> bytes:
    """``eth_call`` as a node runs it (no gas fee, no balance needed for gas); raises the VM's error."""
    header, tx = prepare(chain, call, block)
    return bytes(chain.get_transaction_result(tx, header))


def evm_estimate(chain: Any, call: dict[str, Any], block: str | int, tolerance: int = 1000) -> int:
    """``eth_estimateGas`` within ``call["gas"]`` (the cap): it must succeed there first (bounded
    work), then a binary search below it, to ``tolerance`` gas."""
    header, tx = prepare(chain, call, block)
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


def describe(exc: BaseException) -> tuple[str, str, str | None]:
    """(name, message, revert data) of an execution's failure, in plain types."""
    from eth.exceptions import Revert

    revert = None
    if isinstance(exc, Revert) and exc.args and isinstance(exc.args[0], (bytes, bytearray)):
        revert = "0x" + bytes(exc.args[0]).hex()
    return type(exc).__name__, " ".join(str(exc).split())[:300], revert


# ---------------------------------------------------------------- the worker process
def _serve(conn: Connection, db_path: str, chain_id: int) -> None:
    import os

    from eth_tester.backends.pyevm.main import setup_tester_chain

    os.nice(10)  # the web server's own process comes first when the CPUs are short

    from gridledger.web.reader import _ReadOnlyDB

    db = _ReadOnlyDB(Path(db_path))
    _, template = setup_tester_chain()
    chain_class = type(template).configure(chain_id=chain_id)
    while True:
        try:
            kind, call, block = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        try:
            chain = chain_class(db)  # at the current head
            value: Any = evm_call(chain, call, block) if kind == "call" else evm_estimate(chain, call, block)
            reply: tuple[Any, ...] = ("ok", value)
        except Exception as exc:
            reply = ("error", *describe(exc))
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return


_CONTEXT_LOCK = threading.Lock()
_CONTEXT: Any = None


def _context() -> Any:
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["gridledger.web.evm_worker", "eth_tester.backends.pyevm.main",
                                        "gridledger.web.reader"])
            _CONTEXT = ctx
        return _CONTEXT


class EVMWorker:
    """One worker process (started on first use, replaced after a kill)."""

    def __init__(self, db_path: Path, chain_id: int) -> None:
        self.db_path = str(db_path)
        self.chain_id = chain_id
        self._proc: Any = None
        self._conn: Connection | None = None

    def _start(self) -> None:
        ctx = _context()
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(theirs, self.db_path, self.chain_id), daemon=True,
                           name="gridledger-evm")
        proc.start()
        theirs.close()
        self._proc, self._conn = proc, mine

    def start(self) -> None:
        """Start the process now (otherwise the first execution does)."""
        if self._proc is None or not self._proc.is_alive():
            self.stop()
            self._start()

    def run(self, kind: str, call: dict[str, Any], block: str | int, timeout: float) -> Any:
        """Run one execution; :class:`TimeoutError` (and the worker killed) after ``timeout`` seconds."""
        self.start()
        assert self._conn is not None
        self._conn.send((kind, call, block))
        if not self._conn.poll(timeout):
            self.stop()
            raise TimeoutError(f"execution stopped after {timeout:g} s")
        try:
            reply = self._conn.recv()
        except (EOFError, OSError):
            self.stop()
            raise EVMError("WorkerDied", "the execution's worker process died", None) from None
        if reply[0] == "ok":
            return reply[1]
        raise EVMError(reply[1], reply[2], reply[3])

    def stop(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(timeout=10)
            self._proc = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
