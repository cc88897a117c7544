import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


@pytest.mark.seed_sensitive
def test_train_then_evaluate_gives_market_and_money_per_day_hour_and_ev(tmp_path):
    res = runner.invoke(app, ["v2v", "train", "--evs", "3", "--rounds", "3", "--set", "federation.worlds=4",
                              "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["learning_curve"]) == 3 and data["env_steps"] > 0 and "seconds" in data
    assert {"mlag", "rejected", "scores", "fees", "mining_reward", "model_hash", "v2v_kwh"} <= set(
        data["rounds_record"][0])
    assert len(data["fleet"]) == 3 and data["mode"] == "fedavg" and data["market"] == "site"
    res = runner.invoke(app, ["v2v", "evaluate", "--model", str(tmp_path), "--days", "3", "--json"])
    assert res.exit_code == 0, res.output
    ev = json.loads(res.stdout)
    assert ev["model_hash"] == data["model_hash"] and len(ev["days"]) == 3
    for day in ev["days"]:
        for h in day["hours"]:
            assert {"hour", "site", "v2v_kwh", "v2b_kwh", "grid_import_kwh", "grid_export_kwh"} <= set(h)
            assert 0 <= h["hour"] < 24
        assert len(day["evs"]) == 3
        for e in day["evs"]:
            assert {"cash", "departure_soc", "delta_return", "money", "net", "violation", "proof_score"} <= set(e)
            if e["came"]:
                assert e["money"] == pytest.approx(e["cash"] + e["energy_value"])
                assert e["violation"] == (e["departure_soc"] < 0.5 - 1e-9)
        rnd = day["round"]
        assert rnd["mlag"] is None or rnd["fees"][rnd["mlag"]] == 0.0
        assert rnd["mining_reward"] == pytest.approx(sum(rnd["fees"]))
        # One mLAG, drawn among the EVs with a positive proof score (eq. 4.18), or none if nobody has one.
        assert (rnd["mlag"] is None) == all(x <= 0 for x in rnd["proof_scores"])
        assert rnd["mlag"] is None or rnd["proof_scores"][rnd["mlag"]] > 0
        # Every other EV owes beta = 5% of its positive surplus (eq. 4.20).
        for k, (fee, surplus) in enumerate(zip(rnd["fees"], rnd["surplus_vs_grid"], strict=True)):
            if rnd["mlag"] is not None and k != rnd["mlag"]:
                assert fee == pytest.approx(0.05 * max(surplus, 0.0))
        # The V2V trades of the day add up to what each EV paid or received for V2V.
        paid = [0.0] * 3
        for t in rnd["trades"]:
            assert t["amount"] == pytest.approx(t["kwh"] * t["price_per_kwh"]) and t["buyer"] != t["seller"]
            paid[t["buyer"]] -= t["amount"]
            paid[t["seller"]] += t["amount"]
        assert paid == pytest.approx(rnd["v2v_payments"])
        # Hourly V2V energy equals the trades of that hour.
        by_hour = {}
        for t in rnd["trades"]:
            by_hour[t["hour"]] = by_hour.get(t["hour"], 0.0) + t["kwh"]
        for h in day["hours"]:
            assert by_hour.get(h["hour"], 0.0) == pytest.approx(h["v2v_kwh"], abs=1e-9)
    assert {"trained", "rule", "charge_only", "oracle"} <= set(ev["summary"])
    res = runner.invoke(app, ["v2v", "evaluate", "--model", str(tmp_path), "--days", "1", "--no-oracle", "--hourly"])
    assert res.exit_code == 0 and "rule" in res.stdout


@pytest.mark.parametrize("args", [["--mode", "central", "--algo", "td3"], ["--mode", "independent", "--algo", "a2c"],
                                  ["--no-delta", "--market", "grid", "--reward", "money", "--data", "ud"],
                                  ["--mining-reward", "--fleet", "iid", "--sites", "2"]])
@pytest.mark.seed_sensitive
def test_train_options(args):
    res = runner.invoke(app, ["v2v", "train", "--evs", "2", "--rounds", "2", "--set", "federation.worlds=2",
                              "--set", "offpolicy.learning_starts=5", *args, "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    if "--no-delta" in args:
        assert d["use_delta"] is False and d["market"] == "grid" and d["reward"] == "money" and d["data"] == "ud"


@pytest.mark.parametrize(("args", "needle"), [
    (["--evs", "0"], "evs: must be an integer in [1"),
    (["--sites", "5", "--evs", "2"], "federation.sites: must be an integer in [1, 2]"),
    (["--fleet", "nowhere"], "federation.fleet: must be one of thesis, iid, real, citylearn"),
    (["--set", "env.day_start_h=12"], "env.day_start_h: must be 0 for the 'thesis' fleet"),
    (["--set", "env.day_start_h=24"], "env.day_start_h: must be an integer in [0, 23]"),
    (["--set", "env.price_source=spot"], "env.price_source: must be one of tou, day-ahead, citylearn"),
    (["--fleet", "real", "--set", "env.real.site=garage"], "env.real.site: must be one of private, public, workplace"),
    (["--set", "env.soc_max=0.1"], "env.soc_max: must be > 0.2"),
    (["--set", "ppo.lr=2"], "ppo.lr: must be"),
    (["--algo", "td3", "--mining-reward"], "federation.mining_reward: is available with ppo and a2c only"),
])
def test_train_bad_input_exit_2(args, needle):
    res = runner.invoke(app, ["v2v", "train", "--rounds", "1", *args])
    assert res.exit_code == 2 and needle in res.stderr, res.stderr


def test_evaluate_missing_or_old_model(tmp_path):
    res = runner.invoke(app, ["v2v", "evaluate", "--model", str(tmp_path)])
    assert res.exit_code == 2 and "model.json missing" in res.stderr
    (tmp_path / "model.json").write_text(json.dumps({"format": "gridledger-v2v-1", "train": {}}))
    res = runner.invoke(app, ["v2v", "evaluate", "--model", str(tmp_path)])
    assert res.exit_code == 2 and "retrain the model" in res.stderr


@pytest.mark.seed_sensitive
@pytest.mark.slow
def test_reproduce_fig46_smoke(tmp_path):
    res = runner.invoke(app, ["reproduce", "thesis-fig4.6", "--out", str(tmp_path), "--smoke"])
    assert res.exit_code == 0, res.output
    for name in ("thesis_fig4_6.png", "thesis_fig4_7.png", "thesis_fig4_8.png", "thesis_fig4_9.png", "report.md"):
        assert (tmp_path / name).exists()


@pytest.mark.seed_sensitive
@pytest.mark.slow
@pytest.mark.parametrize(("name", "figure", "methods"), [("thesis-fig4.10", "thesis_fig4_10.png", 6),
                                                         ("thesis-fig4.11", "thesis_fig4_11_12.png", 12)])
def test_reproduce_studies_smoke(tmp_path, name, figure, methods):
    out = tmp_path / "r"
    res = runner.invoke(app, ["reproduce", name, "--out", str(out), "--smoke", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert (out / figure).exists() and (out / "report.md").exists()
    assert len(data["runs"]) == methods
    for runs in data["runs"].values():
        assert len(runs) == data["sizes"]["seeds"]
        # Equal environment-step budgets: every learned method saw the same EV-steps per seed.
    steps = {r["seed"]: set() for r in next(iter(data["runs"].values()))}
    for runs in data["runs"].values():
        for r in runs:
            if "env_steps" in r and r["method"] in ("fedavg", "central-ppo", "central-td3", "independent"):
                steps[r["seed"]].add(r["env_steps"])
    assert all(len(s) <= 1 for s in steps.values())
    # A rerun reuses the finished runs (the study resumes).
    cached = list(tmp_path.glob("r.runs-*"))
    assert cached and any(cached[0].iterdir())


@pytest.mark.seed_sensitive
def test_settle_on_chain_and_its_bad_input(tmp_path):
    model, home = tmp_path / "m", tmp_path / "chain"
    assert runner.invoke(app, ["v2v", "train", "--evs", "3", "--rounds", "2", "--set", "federation.worlds=2",
                               "--out", str(model)]).exit_code == 0
    res = runner.invoke(app, ["v2v", "settle", "--model", str(model), "--evs", "3", "--days", "1", "--selfish", "1",
                              "--data-dir", str(home), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["beta_bps"] == 500 and len(data["rounds"]) == 1 and data["evs"][1]["selfish"] is True
    assert data["contract_balance_wei"] == data["uncollected_wei"]  # the selfish EV never collected
    assert len(data["v2v_blocks"]) == 1 and {"trades", "model_hash", "fees", "mlag"} <= set(data["v2v_blocks"][0])
    # Bad input: one line naming the field and the range, exit 2, nothing changed on chain.
    res = runner.invoke(app, ["v2v", "settle", "--model", str(model), "--evs", "3", "--selfish", "5",
                              "--data-dir", str(home)])
    assert res.exit_code == 2 and "selfish[0]: must be an integer in [0, 2]" in res.stderr, res.stderr
    res = runner.invoke(app, ["v2v", "settle", "--model", str(model), "--evs", "4", "--data-dir",
                              str(tmp_path / "other")])
    assert res.exit_code == 2 and "evs: must equal the model's number of EVs, 3" in res.stderr, res.stderr
    assert not (tmp_path / "other").exists()
    res = runner.invoke(app, ["v2v", "settle", "--model", str(model), "--evs", "3", "--beta-bps", "300",
                              "--data-dir", str(home)])
    assert res.exit_code == 2 and "beta_bps" in res.stderr and "500" in res.stderr, res.stderr
    res = runner.invoke(app, ["v2v", "settle", "--model", str(model), "--evs", "3", "--beta-bps", "0",
                              "--data-dir", str(tmp_path / "other")])
    assert res.exit_code == 2 and "beta_bps: must be an integer in [1, 10000]" in res.stderr, res.stderr
    assert not (tmp_path / "other").exists()
