"""Shared fixtures and invariant checks."""

from __future__ import annotations

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


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
