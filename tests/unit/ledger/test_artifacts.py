"""The committed contract artifacts are what the pinned compiler makes of the sources today."""

import json
import shutil
import subprocess
from pathlib import Path

from gridledger.ledger.artifacts import CONTRACT_NAMES, load_artifact

REPO = Path(__file__).resolve().parents[3]


def test_artifacts_are_not_stale(tmp_path):
    node = shutil.which("node")
    assert node, "Node.js is needed to recompile the contracts in the tests"
    assert (REPO / "contracts" / "node_modules" / "solc").exists(), "run `make test` (npm ci in contracts/)"
    subprocess.run([node, str(REPO / "contracts" / "compile.mjs"), str(tmp_path)], check=True,
                   capture_output=True, timeout=300)
    for name in CONTRACT_NAMES:
        fresh = json.loads((tmp_path / f"{name}.json").read_text())
        shipped = load_artifact(name)
        for key in ("abi", "bytecode", "deployedBytecode", "compiler", "settings", "sources"):
            assert fresh[key] == shipped[key], f"{name}.{key} is stale: run `node contracts/compile.mjs`"


def test_artifacts_pin_compiler_and_evm_version():
    for name in CONTRACT_NAMES:
        art = load_artifact(name)
        assert art["compiler"]["version"].startswith("0.8.37")
        assert art["settings"]["evmVersion"] == "cancun"
        assert art["bytecode"].startswith("0x") and len(art["bytecode"]) > 100
