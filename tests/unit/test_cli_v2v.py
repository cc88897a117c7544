import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


def test_train_then_evaluate(tmp_path):
    res = runner.invoke(app, ["v2v", "train", "--evs", "3", "--rounds", "8", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["learning_curve"]) == 8 and data["env_steps"] > 0 and "seconds" in data
    assert {"mlag", "scores", "mining_reward", "model_hash"} <= set(data["rounds_record"][0])
    res = runner.invoke(app, ["v2v", "evaluate", "--model", str(tmp_path), "--evs", "4", "--json"])
    assert res.exit_code == 0, res.output
    ev = json.loads(res.stdout)
    assert len(ev["evs"]) == 4
    for e in ev["evs"]:
        assert {"energy_kwh", "soc", "profit_vs_grid", "proof_score", "payoff", "miner"} <= set(e)
    assert sum(e["miner"] for e in ev["evs"]) <= 1
    # Payoffs redistribute profits: the miner's reward is paid out of the others' shares.
    profits = sum(max(e["profit_vs_grid"], 0) for e in ev["evs"])
    if ev["miner"] is not None:
        assert ev["mining_reward"] == pytest.approx(0.05 * profits)


def test_baseline_flags(tmp_path):
    res = runner.invoke(app, ["v2v", "train", "--evs", "2", "--rounds", "2", "--no-federation", "--no-delta",
                              "--data", "ud", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["federated"] is False and d["use_delta"] is False and d["data"] == "ud"


@pytest.mark.parametrize(("args", "needle"), [
    (["--evs", "0"], "evs: must be an integer in [1"),
    (["--set", "env.soc_max=0.1"], "env.soc_max: must be > 0.2"),
    (["--set", "ppo.lr=2"], "ppo.lr: must be"),
])
def test_train_bad_input_exit_2(args, needle):
    res = runner.invoke(app, ["v2v", "train", "--rounds", "1", *args])
    assert res.exit_code == 2 and needle in res.stderr, res.stderr


def test_evaluate_missing_model(tmp_path):
    res = runner.invoke(app, ["v2v", "evaluate", "--model", str(tmp_path)])
    assert res.exit_code == 2 and "model.json missing" in res.stderr


@pytest.mark.slow
def test_reproduce_fig46_smoke(tmp_path):
    res = runner.invoke(app, ["reproduce", "thesis-fig4.6", "--out", str(tmp_path), "--smoke"])
    assert res.exit_code == 0, res.output
    for name in ("thesis_fig4_6.png", "thesis_fig4_7.png", "thesis_fig4_8.png", "thesis_fig4_9.png", "report.md"):
        assert (tmp_path / name).exists()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "figure"), [("thesis-fig4.10", "thesis_fig4_10.png"),
                                              ("thesis-fig4.11", "thesis_fig4_11_12.png")])
def test_reproduce_comparisons_smoke(tmp_path, name, figure):
    res = runner.invoke(app, ["reproduce", name, "--out", str(tmp_path), "--smoke", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert (tmp_path / figure).exists() and (tmp_path / "report.md").exists()
    runs = data["runs"]
    assert len(runs) in (3, 6)
    for run in runs.values():
        assert run["records"] and "seconds" in run
