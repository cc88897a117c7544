"""Where the tests find the full real datasets (``../shared/data`` of the project, see its README).

``$GRIDLEDGER_DATA`` wins; otherwise the first ``shared/data`` folder found beside the checkout or
one of its parents (a worktree sits one level deeper than the main checkout). Tests that need
the full files fail, saying where they looked, when neither exists (CI always has ../shared beside
the clone, so a missing dataset is a broken setup, not a reason to pass); the shipped subsets need
nothing.
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
        pytest.fail(f"the full real datasets are not on this machine: set $GRIDLEDGER_DATA or put the project's "
                    f"shared/ folder beside {ROOT} (or one of its parents)", pytrace=False)
    return found
