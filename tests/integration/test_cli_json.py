"""Every command with ``--json`` prints exactly one JSON document on stdout, in a real process.

The commands run as ``python -m gridledger`` subprocesses (smoke sizes), so that anything a
library writes to the process's file descriptor 1 (HiGHS's banner, a C-level printf, a
warning printed instead of logged) would break the parse here, as it would for a user piping
the output into ``python -m json.tool``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer

from gridledger.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "a long test password"

# (command path, arguments after it). ``{tmp}`` is the module's scratch directory.
INVOCATIONS: list[tuple[str, list[str]]] = [
    ("doctor", []),
    ("elecoin solve", ["--method", "analytic"]),
    ("elecoin solve", ["--method", "dma-ubrl", "--set", "n_prosumers=3", "--set", "dma_ubrl.stages=2"]),
    ("elecoin solve", ["--method", "ga-server", "--set", "n_prosumers=3", "--set", "ga.generations=5"]),
    ("chain account new", ["--name", "op", "--data-dir", "{tmp}/home"]),
    ("chain account list", ["--data-dir", "{tmp}/home"]),
    ("chain deploy", ["--data-dir", "{tmp}/home"]),
    ("chain status", ["--data-dir", "{tmp}/home"]),
    ("chain roles", ["--data-dir", "{tmp}/home"]),
    ("elecoin settle", ["--data-dir", "{tmp}/home", "--set", "n_prosumers=2"]),
    ("community run", ["--prosumers", "6"]),
    ("community run", ["--prosumers", "6", "--loss-model", "powerflow"]),
    ("community run", ["--prosumers", "5", "--chain", "--data-dir", "{tmp}/home"]),
    ("community optimize", ["--input", "{tmp}/coalition.json"]),
    ("v2v train", ["--evs", "2", "--rounds", "2", "--out", "{tmp}/fleet"]),
    ("v2v evaluate", ["--model", "{tmp}/fleet", "--evs", "2"]),
    ("v2v settle", ["--model", "{tmp}/fleet", "--evs", "2", "--days", "1", "--data-dir", "{tmp}/home"]),
    ("forecast train", ["--synthetic", "--customers", "3", "--days", "30", "--epochs", "1", "--out", "{tmp}/fc"]),
    ("forecast predict", ["--model", "{tmp}/fc", "--history-days", "30", "--days", "1"]),
    ("reproduce", ["paper-fig4", "--smoke", "--out", "{tmp}/r1"]),
    ("reproduce", ["thesis-table3.2", "--smoke", "--out", "{tmp}/r2"]),
    ("reproduce", ["thesis-fig4.6", "--smoke", "--out", "{tmp}/r3"]),
    # Real data (shipped subsets); simbench's import makes a HiGHS object: its banner must stay off stdout.
    ("community run", ["--profiles", "citylearn", "--network", "1-LV-rural1--0-sw", "--loss-model", "powerflow",
                       "--prosumers", "4"]),
    ("community run", ["--profiles", "simbench", "--prosumers", "4"]),
    ("v2v train", ["--fleet", "real", "--evs", "2", "--rounds", "1"]),
    ("forecast train", ["--data", "citylearn", "--epochs", "1"]),
    ("reproduce", ["thesis-fig3.4", "--data", "citylearn", "--smoke", "--set", "epochs=1", "--out", "{tmp}/r4"]),
]


def _json_commands(group, prefix: str = "") -> set[str]:
    out = set()
    for name, cmd in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(cmd, "commands"):  # a group (typer ships its own click)
            out |= _json_commands(cmd, path + " ")
        elif any("--json" in p.opts for p in cmd.params):
            out.add(path)
    return out


def test_every_json_command_is_covered():
    """A new command with ``--json`` must be added to INVOCATIONS."""
    commands = _json_commands(typer.main.get_command(app))
    assert commands, "no command has --json?"
    assert commands == {c for c, _ in INVOCATIONS}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("json")
    (tmp / "coalition.json").write_text(json.dumps({
        "loss_per_km": 0.002, "edc": {"x_km": 10, "y_km": 10}, "prosumers": [
            {"id": "a", "x_km": 1, "y_km": 1, "production_kwh": 10, "consumption_kwh": 2},
            {"id": "b", "x_km": 2, "y_km": 1, "production_kwh": 0, "consumption_kwh": 5}]}))
    return tmp


@pytest.mark.seed_sensitive
def test_stdout_is_exactly_one_json_document(scratch):
    """In order (later commands use what earlier ones wrote); stdout must parse, whatever stderr holds."""
    env = {**os.environ, "GRIDLEDGER_PASSWORD": PASSWORD}
    for command, args in INVOCATIONS:
        argv = [*command.split(), *(a.replace("{tmp}", str(scratch)) for a in args), "--json"]
        res = subprocess.run([sys.executable, "-m", "gridledger", *argv], capture_output=True, text=True, env=env,
                             timeout=900, check=False)
        assert res.returncode == 0, f"{argv}: exit {res.returncode}\n{res.stderr[-2000:]}"
        try:
            json.loads(res.stdout)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{argv}: stdout is not one JSON document ({exc}):\n{res.stdout[:500]}")
