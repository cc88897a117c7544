"""Shared fixtures and invariant checks."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# Keep numerical libraries to one thread per test worker (2 cores, xdist).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
# The explicit switch for label-derived (public) test keys: on for the test suite only.
os.environ.setdefault("GRIDLEDGER_TEST_KEYS", "1")
os.environ.setdefault("SB3_LOGDIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "gridledger-sb3-tests"))

# The optional Flower extra lives in its own virtualenv (make test-flower; its flwr pins clash with
# the main lock). Where it is not installed, its tests are not collected (not "skipped"): they run
# there, and the session's summary says so.
HAVE_FLOWER = importlib.util.find_spec("flwr") is not None
FLOWER_MODULES = ["integration/learn/test_flower_federation.py", "unit/learn/test_flower_strategy.py"]
collect_ignore = [] if HAVE_FLOWER else FLOWER_MODULES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAVE_FLOWER:
        return
    flower = [i for i in items if i.get_closest_marker("flower")]
    if flower:
        items[:] = [i for i in items if not i.get_closest_marker("flower")]
        config.hook.pytest_deselected(items=flower)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not HAVE_FLOWER:
        terminalreporter.write_line("Flower tests (marker flower, " + ", ".join(FLOWER_MODULES)
                                    + ") run in .venv-flower: make test-flower")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


# ---------------------------------------------------------------------------- chains
# The contract suites (tests/integration/ledger, tests/security) run unchanged on the embedded
# py-evm chain and on a real anvil node.

REPO = Path(__file__).resolve().parents[1]
ANVIL = REPO / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
ETHER = 10**18


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_states(tmp_path_factory) -> Path:
    """Where an anvil node of the tests persists old states (``--cache-path``): under pytest's
    temporary directory, not ~/.foundry/anvil/tmp, where every run would leave gigabytes."""
    return tmp_path_factory.mktemp("anvil-states")


@pytest.fixture(scope="session")
def anvil_url(tmp_path_factory) -> Iterator[str]:
    """A real anvil node on 127.0.0.1 and a free port, stopped by PID at the end."""
    from gridledger.ledger.chain import RPCChain

    assert ANVIL.exists(), f"anvil is not installed at {ANVIL} (run `make test`, which runs npm ci in contracts/)"
    port = _free_port()
    states = anvil_states(tmp_path_factory)
    proc = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent",
                             "--balance", "1000000", "--cache-path", str(states)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                RPCChain(url)
                break
            except Exception:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(states, ignore_errors=True)


@pytest.fixture(params=["embedded", "anvil"])
def chain(request) -> Iterator[Any]:
    """The embedded chain (in memory) or a connection to the session's anvil node."""
    from gridledger.ledger.chain import Chain, EmbeddedChain, RPCChain

    if request.param == "embedded":
        c: Chain = EmbeddedChain(None)
    else:
        c = RPCChain(request.getfixturevalue("anvil_url"))
    try:
        yield c
    finally:
        c.close()
