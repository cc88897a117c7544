"""CLI on real data: community days from measured homes and feeders, Fig. 3.4 on CityLearn,
forecasting and fleets from the shipped subsets; user mistakes end with one line and exit 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _shipped_subsets(monkeypatch):
    monkeypatch.delenv("GRIDLEDGER_DATA", raising=False)


def test_community_run_on_measured_homes(tmp_path):
    res = runner.invoke(app, ["community", "run", "--profiles", "citylearn", "--day", "3", "--json",
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["network"] == "ieee14" and "2017-03-23" in data["profiles_source"]
    assert "shipped subset" in data["profiles_source"] and data["labels"][0] == "Building_1, 2017-03-23"
    assert "CityLearn" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.integration
def test_community_run_on_a_feeder():
    res = runner.invoke(app, ["community", "run", "--profiles", "citylearn", "--network", "1-LV-rural1--0-sw",
                              "--loss-model", "powerflow", "--prosumers", "6", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["network"] == "1-LV-rural1--0-sw" and len(data["buses"]) == 6


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--profiles", "citylearn", "--day", "99"], "day: must be in [0, 41]"),
        (["--profiles", "citylearn", "--prosumers", "12"], "the data has 10 homes"),
        (["--profiles", "citylearn", "--network", "1-LV-nowhere"], "not a simbench LV grid code"),
        (["--profiles", "synthetic", "--network", "ieee-eu-lv"], "--profiles synthetic runs on ieee14 only"),
        (["--profiles", "simbench", "--network", "ieee-eu-lv"], "has no profiles"),
        (["--profiles", "citylearn", "--data", "/nonexistent/citylearn"], "not a directory"),
    ],
)
def test_community_run_mistakes(tmp_path, args, needle):
    out = tmp_path / "out"
    res = runner.invoke(app, ["community", "run", *args, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not out.exists()


@pytest.mark.seed_sensitive
def test_reproduce_fig34_on_citylearn(tmp_path):
    res = runner.invoke(app, ["reproduce", "thesis-fig3.4", "--data", "citylearn", "--smoke", "--set", "epochs=2",
                              "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["slots_per_day"] == 24 and not data["synthetic_data"] and "CityLearn" in data["data"]
    assert set(data["winners"]) == {"consumption", "generation"}
    report = (tmp_path / "report.md").read_text()
    assert "measured" in report and "P10-P90 coverage" in report and (tmp_path / "reliability.png").exists()


def test_data_option_only_for_fig34(tmp_path):
    res = runner.invoke(app, ["reproduce", "thesis-table3.2", "--data", "citylearn", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "only thesis-fig3.4 takes --data" in res.stderr


@pytest.mark.seed_sensitive
def test_forecast_train_on_citylearn():
    res = runner.invoke(app, ["forecast", "train", "--data", "citylearn", "--epochs", "1", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["slots_per_day"] == 24 and data["customers"] == 10 and "quantiles" in data["metrics"]


@pytest.mark.seed_sensitive
@pytest.mark.parametrize(("fleet", "kind"), [("real", "elaad"), ("citylearn", "citylearn")])
def test_v2v_train_real_fleets(fleet, kind):
    res = runner.invoke(app, ["v2v", "train", "--fleet", fleet, "--evs", "2", "--rounds", "1", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["fleet"]["kind"] == kind and len(data["fleet"]["ev_models"]) == 2


def test_v2v_fleet_data_must_exist():
    res = runner.invoke(app, ["v2v", "train", "--fleet", "real", "--fleet-data", "/nonexistent", "--evs", "2",
                              "--rounds", "1"])
    assert res.exit_code == 2 and "not a directory" in res.stderr


@pytest.mark.seed_sensitive
def test_community_run_on_lstm_forecasts_of_measured_homes():
    res = runner.invoke(app, ["community", "run", "--profiles", "forecast", "--data", "citylearn", "--prosumers", "3",
                              "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["profiles_source"].startswith("day-ahead LSTM forecast for 2017-05-01")
    assert len(data["production_kwh"]) == 3 and all(x >= 0 for x in data["consumption_kwh"])


def test_community_price_from_the_citylearn_tariff():
    import datetime as dt

    from gridledger.data.citylearn import load_citylearn
    from gridledger.data.sources import CITYLEARN, shipped

    res = runner.invoke(app, ["community", "run", "--profiles", "citylearn", "--day", "4", "--price", "data", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    tariff = load_citylearn(shipped(CITYLEARN)).tariff
    assert data["price_per_kwh"] == pytest.approx(tariff.day_vector(dt.date(2017, 3, 24)).mean())
    assert data["price_per_kwh"] != 0.10
    bad = runner.invoke(app, ["community", "run", "--price", "data"])
    assert bad.exit_code == 2 and "data prices come with --profiles citylearn" in bad.stderr
