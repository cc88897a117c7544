"""Compiled contract artifacts shipped with gridledger (no Node.js needed at run time).

``contracts/compile.mjs`` writes them with the pinned solc-js; ``tests/unit/ledger/
test_artifacts.py`` recompiles and fails if they are stale.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

CONTRACT_NAMES = ("Elecoin", "ETSC", "EPOS", "UPOS", "ProofStaking", "V2VSettlement")


@functools.cache
def load_artifact(name: str) -> dict[str, Any]:
    """The artifact (ABI, bytecode, compiler, EVM version, source hashes) of contract ``name``."""
    if name not in CONTRACT_NAMES:
        raise KeyError(f"unknown contract {name!r} (known: {', '.join(CONTRACT_NAMES)})")
    path = resources.files("gridledger.ledger").joinpath("artifacts").joinpath(f"{name}.json")
    text = path.read_text(encoding="utf-8")
    return json.loads(text)


def abi(name: str) -> list[dict[str, Any]]:
    return load_artifact(name)["abi"]


def artifacts_dir() -> str:
    return str(resources.files("gridledger.ledger").joinpath("artifacts"))
