"""Forecasting: dataset builder (split, no leakage, normalisation), the LSTM against the
baselines at smoke size, determinism, save/load, CLI."""

import datetime as dt
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gridledger.cli import app
from gridledger.data.synthetic import synthetic_ausgrid
from gridledger.forecast.dataset import Normaliser, calendar, from_ausgrid, split_by_date, windows
from gridledger.forecast.model import ForecastConfig, load, save, train_forecaster

SMOKE = ForecastConfig(epochs=20, lr=3e-3, patience=8)


@pytest.fixture(scope="module")
def series():
    return from_ausgrid(synthetic_ausgrid(20, 120, np.random.default_rng(0)))


def test_split_is_chronological_and_disjoint():
    s = split_by_date(100, 7)
    assert s.train[0] == 7 and s.train[1] == s.val[0] and s.val[1] == s.test[0] and s.test[1] == 100
    assert s.test[1] - s.test[0] == round(93 * 0.15)


@pytest.mark.seed_sensitive
def test_windows_use_only_earlier_days(series):
    split = split_by_date(series.n_days, 7)
    norm = Normaliser.fit(series, split, "customer").apply(series.values)
    x, y, cust, tday = windows(norm, calendar(series.dates), split.test, 7, "daily")
    k = 5
    inputs = x[k, :, :96].reshape(7, 48, 2)
    assert np.allclose(inputs, norm[cust[k], tday[k] - 7:tday[k]])
    assert np.allclose(y[k].reshape(48, 2), norm[cust[k], tday[k]])
    xh, yh, _, _ = windows(norm, calendar(series.dates), split.test, 7, "halfhourly")
    assert xh.shape[1] == 336 and np.allclose(yh, y)


@pytest.mark.seed_sensitive
def test_normaliser_is_fitted_on_the_train_period_only(series):
    split = split_by_date(series.n_days, 7)
    changed = series.values.copy()
    changed[:, split.val[0]:] *= 100.0  # later periods cannot move the scale
    from gridledger.forecast.dataset import SeriesData

    a = Normaliser.fit(series, split, "customer").scale
    b = Normaliser.fit(SeriesData(changed, series.dates, series.customers, True), split, "customer").scale
    assert np.allclose(a, b)
    g = Normaliser.fit(series, split, "global")
    assert g.scale.shape == (1, 2)


@pytest.mark.seed_sensitive
def test_lstm_beats_seasonal_naive_on_both_series(series):
    m = train_forecaster(series, SMOKE, seed=0)
    for s in ("consumption", "generation"):
        assert m.metrics["lstm"][s]["mae_kwh"] < m.metrics["naive_yesterday"][s]["mae_kwh"]
        assert m.metrics["lstm"][s]["mae_kwh"] < m.metrics["naive_last_week"][s]["mae_kwh"]
    assert set(m.metrics["lstm"]["overall"]) == {"mae_kwh", "rmse_kwh", "daily_energy_error_kwh"}


@pytest.mark.seed_sensitive
def test_training_is_deterministic_under_a_seed(series):
    cfg = ForecastConfig(epochs=3, lr=3e-3)
    a = train_forecaster(series, cfg, seed=4)
    b = train_forecaster(series, cfg, seed=4)
    assert a.metrics["lstm"] == b.metrics["lstm"]


@pytest.mark.seed_sensitive
def test_save_load_predict(series, tmp_path):
    m = train_forecaster(series, ForecastConfig(epochs=2), seed=0)
    save(m, tmp_path)
    back = load(tmp_path)
    hist = series.values[:3, -7:]
    dates = list(series.dates[-7:])
    a = m.forecast(hist, np.arange(3), dates, 3)
    b = back.forecast(hist, np.arange(3), dates, 3)
    assert a.shape == (3, 3, 48, 2) and np.allclose(a, b) and np.all(a >= 0)
    # Generation stays at zero at night.
    assert np.all(a[:, :, :10, 1] < 0.05)


@pytest.mark.seed_sensitive
def test_cli_train_predict_and_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["forecast", "train", "--synthetic", "--customers", "6", "--days", "60", "--epochs", "3",
                              "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["synthetic_data"] is True and {"lstm", "naive_yesterday", "linear"} <= set(data["metrics"])
    res = runner.invoke(app, ["forecast", "predict", "--model", str(tmp_path), "--history-days", "60", "--days", "2",
                              "--json"])
    assert res.exit_code == 0, res.output
    pred = json.loads(res.stdout)
    assert len(pred["dates"]) == 2 and len(pred["customers"]) == 6
    assert len(pred["customers"][0]["consumption_kwh"][0]) == 48
    res = runner.invoke(app, ["forecast", "train", "--epochs", "1"])
    assert res.exit_code == 2 and "give exactly one of --data" in res.stderr
    res = runner.invoke(app, ["forecast", "train", "--synthetic", "--set", "layers=0"])
    assert res.exit_code == 2 and "layers" in res.stderr


@pytest.mark.seed_sensitive
def test_community_runs_on_forecast_profiles(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["community", "run", "--profiles", "forecast", "--prosumers", "8", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["production_kwh"]) == 8 and min(data["production_kwh"]) >= 0


def test_calendar_features():
    cal = calendar([dt.date(2013, 1, 5), dt.date(2013, 1, 7)])  # Saturday, Monday
    assert cal[0, 2] == 1.0 and cal[1, 2] == 0.0
