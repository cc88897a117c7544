"""Where the tests find the full real datasets (``../shared/data`` of the project, see its README).

``$GRIDLEDGER_DATA`` wins; otherwise the first ``shared/data`` folder found beside the checkout or
one of its parents (a worktree sits one level deeper than the main checkout). Tests that need
the full files skip, saying why, when neither exists; the shipped subsets need nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    env = os.environ.get("GRIDLEDGER_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    for parent in ROOT.parents:
        candidate = parent / "shared" / "data"
        if (candidate / "citylearn_2022").is_dir() and (candidate / "ev_nl").is_dir():
            return candidate
    return None


def require_shared_data() -> Path:
    found = shared_data()
    if found is None:
        pytest.skip("the full real datasets (../shared/data or $GRIDLEDGER_DATA) are not on this machine")
    return found
