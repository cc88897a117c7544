"""Shared fixtures and invariant checks."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    """A real anvil node on 127.0.0.1 and a free port, stopped by PID at the end."""
    from gridledger.ledger.chain import RPCChain

    assert ANVIL.exists(), f"anvil is not installed at {ANVIL} (run `make test`, which runs npm ci in contracts/)"
    port = _free_port()
    proc = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent",
                             "--balance", "1000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
