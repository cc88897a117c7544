import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


@pytest.mark.seed_sensitive
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
    # One miner, drawn among the EVs with a proof score (eq. 4.18), or none if nobody has one.
    assert [e["ev"] for e in ev["evs"] if e["miner"]] == ([] if ev["miner"] is None else [ev["miner"]])
    assert (ev["miner"] is None) == all(e["proof_score"] <= 0 for e in ev["evs"])
    # Payoffs redistribute profits: every EV pays beta = 5% of its profit, the miner receives the sum.
    profits = sum(max(e["profit_vs_grid"], 0) for e in ev["evs"])
    assert ev["mining_reward"] == pytest.approx(0.05 * profits)
    for e in ev["evs"]:
        fee = 0.05 * max(e["profit_vs_grid"], 0)
        reward = ev["mining_reward"] if e["miner"] else 0.0
        assert e["payoff"] == pytest.approx(e["profit_vs_grid"] - fee + reward)


@pytest.mark.seed_sensitive
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


@pytest.mark.seed_sensitive
@pytest.mark.slow
def test_reproduce_fig46_smoke(tmp_path):
    res = runner.invoke(app, ["reproduce", "thesis-fig4.6", "--out", str(tmp_path), "--smoke"])
    assert res.exit_code == 0, res.output
    for name in ("thesis_fig4_6.png", "thesis_fig4_7.png", "thesis_fig4_8.png", "thesis_fig4_9.png", "report.md"):
        assert (tmp_path / name).exists()


@pytest.mark.seed_sensitive
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


@pytest.mark.seed_sensitive
def test_settle_on_chain_and_its_bad_input(tmp_path):
    model, home = tmp_path / "m", tmp_path / "chain"
    assert runner.invoke(app, ["v2v", "train", "--evs", "3", "--rounds", "3", "--out", str(model)]).exit_code == 0
    res = runner.invoke(app, ["v2v", "settle", "--model", str(model), "--evs", "3", "--days", "1", "--selfish", "1",
                              "--data-dir", str(home), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["beta_bps"] == 500 and len(data["rounds"]) == 1 and data["evs"][1]["selfish"] is True
    assert data["contract_balance_wei"] == data["confiscated_wei"]
    # Bad input: one line naming the field and the range, exit 2, nothing changed on chain.
    res = runner.invoke(app, ["v2v", "settle", "--model", str(model), "--evs", "3", "--selfish", "5",
                              "--data-dir", str(home)])
    assert res.exit_code == 2 and "selfish[0]: must be an integer in [0, 2]" in res.stderr, res.stderr
    res = runner.invoke(app, ["v2v", "settle", "--model", str(model), "--evs", "3", "--beta-bps", "300",
                              "--data-dir", str(home)])
    assert res.exit_code == 2 and "beta_bps" in res.stderr and "500" in res.stderr, res.stderr
    res = runner.invoke(app, ["v2v", "settle", "--model", str(model), "--evs", "3", "--beta-bps", "0",
                              "--data-dir", str(tmp_path / "other")])
    assert res.exit_code == 2 and "beta_bps: must be an integer in [1, 10000]" in res.stderr, res.stderr
    assert not (tmp_path / "other").exists()
