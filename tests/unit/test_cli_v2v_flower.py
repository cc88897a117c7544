"""`gridledger v2v train --backend flower` and `v2v federate`: what they refuse, before any process starts."""

import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


@pytest.mark.parametrize("command", [["train", "--backend", "flower"], ["federate"]])
@pytest.mark.parametrize(("args", "needle"), [
    (["--mode", "independent"], "federation.mode"),
    (["--algo", "td3"], "algo"),
    (["--evs", "4", "--nodes", "5"], "nodes"),
    (["--set", "federation.mining_reward=true"], "federation.mining_reward"),
])
def test_what_the_flower_backend_refuses_exit_2(command, args, needle):
    res = runner.invoke(app, ["v2v", *command, *args, "--rounds", "1"])
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output


def test_federate_round_timeout_must_be_positive():
    res = runner.invoke(app, ["v2v", "federate", "--round-timeout", "0", "--rounds", "1"])
    assert res.exit_code == 2 and "round_timeout" in res.output


@pytest.mark.parametrize("command", [["train", "--backend", "flower"], ["federate"]])
def test_without_the_extra_the_flower_backend_says_how_to_install_it(command, monkeypatch):
    from gridledger.scenarios.fleet import federate

    monkeypatch.setattr(federate, "flower_available", lambda: False)  # as where the extra is not installed
    res = runner.invoke(app, ["v2v", *command, "--rounds", "1"])
    assert res.exit_code == 2 and "gridledger[flower]" in res.output and "Traceback" not in res.output


@pytest.mark.flower
def test_write_app_writes_a_flower_app(tmp_path):
    import tomllib

    res = runner.invoke(app, ["v2v", "federate", "--evs", "4", "--rounds", "2", "--write-app", str(tmp_path / "app")])
    assert res.exit_code == 0, res.output
    conf = tomllib.loads((tmp_path / "app" / "pyproject.toml").read_text())
    flwr = conf["tool"]["flwr"]["app"]
    assert flwr["components"] == {"serverapp": "gridledger_fleet_app:server_app",
                                  "clientapp": "gridledger_fleet_app:client_app"}
    assert '"evs": 4' in flwr["config"]["gridledger"] and '"rounds": 2' in flwr["config"]["gridledger"]


@pytest.mark.flower
@pytest.mark.slow
def test_train_on_flowers_simulation_engine_writes_one_record_per_round(tmp_path):
    res = runner.invoke(app, ["v2v", "train", "--backend", "flower", "--evs", "2", "--rounds", "2", "--json",
                              "--out", str(tmp_path / "model")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)  # exactly one JSON document on stdout
    assert data["backend"] == "flower-simulation" and data["rounds"] == 2
    rounds = [r["round"] for r in data["learning_curve"]]
    assert len(rounds) == 2 and len(set(rounds)) == 2
