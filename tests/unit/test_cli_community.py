import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


@pytest.mark.seed_sensitive
def test_community_run_json():
    res = runner.invoke(app, ["community", "run", "--prosumers", "12", "--seed", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["prosumers"] == 12 and data["loss_model"] == "distance"
    assert 0 <= data["savings_pct"] <= 100


@pytest.mark.seed_sensitive
def test_community_run_powerflow_and_ausgrid_profiles(tmp_path):
    res = runner.invoke(app, ["community", "run", "--profiles", "ausgrid", "--loss-model", "powerflow", "--json",
                              "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["loss_model"] == "powerflow"
    assert (tmp_path / "report.md").exists() and (tmp_path / "coalitions.png").exists()


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"edc": {"x_km": 0, "y_km": 0}, "prosumers": []}, "loss_per_km: is required"),
        ({"loss_per_km": 0.01, "edc": {"x_km": 0, "y_km": 0}, "prosumers": [
            {"id": 1, "x_km": 0, "y_km": 0, "production_kwh": 1, "consumption_kwh": 0},
            {"id": 1, "x_km": 1, "y_km": 0, "production_kwh": 0, "consumption_kwh": 1}]},
         "prosumers[1].id: duplicate id 1"),
        ({"loss_per_km": 0.01, "edc": {"x_km": 0, "y_km": 0}, "prosumers": [
            {"id": "a", "x_km": 0, "y_km": 0, "production_kwh": -1, "consumption_kwh": 0}]},
         "prosumers[0].production_kwh: must be >= 0"),
        ({"loss_per_km": 0.01, "edc": {"x_km": 0}, "prosumers": [
            {"id": "a", "x_km": 0, "y_km": 0, "production_kwh": 1, "consumption_kwh": 0}]}, "edc.y_km: is required"),
        ({"loss_per_km": 0.01, "edc": {"x_km": 0, "y_km": 0}, "prosumers": [
            {"id": "a", "x_km": 0, "production_kwh": 1, "consumption_kwh": 0}]}, "prosumers[0].y_km: is required"),
    ],
)
def test_community_optimize_errors(tmp_path, doc, needle):
    p = tmp_path / "in.json"
    p.write_text(json.dumps(doc))
    res = runner.invoke(app, ["community", "optimize", "--input", str(p)])
    assert res.exit_code == 2
    assert needle in res.stderr, res.stderr


def test_community_optimize_result(tmp_path):
    doc = {"loss_per_km": 0.002, "edc": {"x_km": 10, "y_km": 10}, "prosumers": [
        {"id": "a", "x_km": 1, "y_km": 1, "production_kwh": 10, "consumption_kwh": 2},
        {"id": "b", "x_km": 2, "y_km": 1, "production_kwh": 0, "consumption_kwh": 5}]}
    p = tmp_path / "in.json"
    p.write_text(json.dumps(doc))
    data = json.loads(runner.invoke(app, ["community", "optimize", "--input", str(p), "--json"]).stdout)
    by = {(t["from"], t["to"]): t for t in data["transactions"]}
    assert by[("a", "b")]["energy_kwh"] == pytest.approx(5.0)
    assert by[("a", "b")]["loss_kwh"] == pytest.approx(5 * 0.002 * 1.0)
    assert by[("a", "EDC")]["energy_kwh"] == pytest.approx(3.0)
    assert data["loss_kwh"] == pytest.approx(sum(t["loss_kwh"] for t in data["transactions"]))


def test_community_bad_option_exit_2():
    res = runner.invoke(app, ["community", "run", "--prosumers", "1"])
    assert res.exit_code == 2 and "prosumers: must be an integer in [2, 5000]" in res.stderr


@pytest.mark.seed_sensitive
@pytest.mark.slow
@pytest.mark.parametrize("name", ["thesis-table3.2", "thesis-fig3.9", "thesis-fig3.11"])
def test_reproduce_community_smoke(tmp_path, name):
    res = runner.invoke(app, ["reproduce", name, "--out", str(tmp_path), "--smoke"])
    assert res.exit_code == 0, res.output
    report = (tmp_path / "report.md").read_text()
    assert "thesis" in report.lower()
    assert (tmp_path / "results.json").exists()
    assert any(p.suffix == ".png" for p in tmp_path.iterdir())


@pytest.mark.seed_sensitive
def test_community_run_on_chain(tmp_path):
    home = tmp_path / "chain"
    res = runner.invoke(app, ["community", "run", "--chain", "--data-dir", str(home), "--json",
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    ledger = json.loads(res.stdout)["ledger"]
    assert ledger["round"] == 1
    # A miner is elected exactly when some prosumer has a proof score (nobody refuses here):
    # the validator of the winning coalition, whose members share the reward in UPOS.
    assert (ledger["miner"] is None) == all(x == 0 for x in ledger["epos_credited"])
    if ledger["miner"] is not None:
        won = next(v for v in ledger["validators"] if v["coalition"] == ledger["miner_coalition"])
        assert ledger["miner"] == won["validator"] and ledger["miner"] in ledger["accounts"]
    outside = [i for i in range(len(ledger["accounts"])) if i not in (ledger["miner_coalition"] or [])]
    assert all(ledger["upos_reward"][i] == 0 for i in outside)
    assert sum(ledger["upos_reward"]) == pytest.approx(ledger["reward_upos"])
    assert ledger["slashed_epos"] == 0 and ledger["epos_balance"] == ledger["epos_credited"]
    assert (tmp_path / "out" / "ledger.json").exists()
    assert "On chain (PoEG staking" in (tmp_path / "out" / "report.md").read_text()
    res = runner.invoke(app, ["community", "run", "--chain", "--data-dir", str(home), "--json"])
    assert json.loads(res.stdout)["ledger"]["round"] == 2


def test_community_run_on_chain_bad_slash_exit_2(tmp_path):
    res = runner.invoke(app, ["community", "run", "--chain", "--slash-bps", "20000", "--data-dir", str(tmp_path / "c")])
    assert res.exit_code == 2 and "slash_bps: must be an integer in [0, 10000]" in res.stderr, res.stderr
    assert not (tmp_path / "c").exists()
