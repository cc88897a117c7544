"""Shared fixtures and invariant checks."""

from __future__ import annotations

import importlib.util
import os

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
