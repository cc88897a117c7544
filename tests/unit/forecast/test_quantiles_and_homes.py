"""Quantile forecasts and calibration; forecasting hourly measured homes (CityLearn subset)."""

from __future__ import annotations

import numpy as np
import pytest

from gridledger.data.citylearn import load_citylearn
from gridledger.data.sources import CITYLEARN, shipped
from gridledger.forecast.dataset import Normaliser, calendar, from_homes, split_by_date, windows
from gridledger.forecast.model import ForecastConfig, load, save, train_forecaster
from gridledger.forecast.quantiles import ResidualQuantiles, calibration, pinball


def test_pinball_loss_by_hand():
    actual = np.array([1.0, 1.0])
    assert pinball(np.array([0.0, 2.0]), actual, 0.9).tolist() == pytest.approx([0.9, 0.1])
    assert pinball(np.array([0.0, 2.0]), actual, 0.1).tolist() == pytest.approx([0.1, 0.9])


def test_residual_quantiles_are_monotone_and_non_negative():
    rng = np.random.default_rng(0)
    rq = ResidualQuantiles.fit(rng.normal(0, 1, size=(500, 24, 2)))
    assert rq.q.shape == (3, 24, 2) and np.all(np.diff(rq.q, axis=0) >= 0)
    q = rq.apply(np.full((4, 24, 2), 0.1), np.ones((4, 2)))
    assert np.all(q >= 0) and np.all(np.diff(q, axis=0) >= 0)
    back = ResidualQuantiles.from_json(rq.to_json())
    np.testing.assert_allclose(back.q, rq.q, atol=1e-6)


def test_calibration_of_quantiles_from_the_true_distribution():
    """Actual = point + N(0, s^2) with s = scale x 0.5; quantiles fitted on an independent sample."""
    rng = np.random.default_rng(1)
    n, slots = 4000, 24
    scale = rng.uniform(0.5, 2.0, size=(n, 2))
    point = np.full((n, slots, 2), 5.0)
    rq = ResidualQuantiles.fit(rng.normal(0, 0.5, size=(n, slots, 2)))
    actual = point + rng.normal(0, 0.5, size=(n, slots, 2)) * scale[:, None, :]
    cal = calibration(rq.apply(point, scale), actual)
    for series in ("consumption", "generation"):
        c = cal[series]
        assert c["hit_rate"]["p10"] == pytest.approx(0.1, abs=0.01)
        assert c["hit_rate"]["p50"] == pytest.approx(0.5, abs=0.01)
        assert c["hit_rate"]["p90"] == pytest.approx(0.9, abs=0.01)
        assert c["coverage"] == pytest.approx(0.8, abs=0.015) and c["excluded_zero_points"] == 0
    # Too narrow quantiles cover less than nominal.
    narrow = calibration(ResidualQuantiles(rq.levels, rq.q / 3).apply(point, scale), actual)
    assert narrow["consumption"]["coverage"] < 0.5


def test_quantiles_at_the_zero_floor_are_not_judged_by_hits():
    """Generation with a mass at zero: a calibrated forecast still scores its nominal levels on
    the points where its quantile is above zero (the selection depends on the forecast only)."""
    rng = np.random.default_rng(2)
    n = 20000
    mu = rng.uniform(-1.0, 3.0, size=n)  # latent level; generation = max(0, mu + N(0, 1))
    actual = np.zeros((n, 1, 2))
    actual[:, 0, 1] = np.maximum(0.0, mu + rng.normal(size=n))
    actual[:, 0, 0] = 1.0
    from scipy.stats import norm

    q = np.zeros((3, n, 1, 2))
    for j, t in enumerate((0.1, 0.5, 0.9)):
        q[j, :, 0, 1] = np.maximum(0.0, mu + norm.ppf(t))  # the true quantiles
        q[j, :, 0, 0] = 1.0
    cal = calibration(q, actual)["generation"]
    for level, t in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9)):
        assert cal["hit_rate"][level] == pytest.approx(t, abs=0.015)
    assert cal["coverage"] == pytest.approx(0.8, abs=0.015)
    assert cal["excluded_zero_points"] == int((q[0, :, 0, 1] == 0).sum()) > 0
    # Counting every tie at zero as a hit would have inflated the P10 hit rate.
    assert float((actual[:, 0, 1] <= q[0, :, 0, 1]).mean()) > 0.2


@pytest.fixture(scope="module")
def homes():
    return from_homes(load_citylearn(shipped(CITYLEARN)).homes)


def test_hourly_windows_from_measured_homes(homes):
    assert homes.slots == 24 and homes.values.shape == (10, 42, 24, 2) and not homes.synthetic
    split = split_by_date(homes.n_days, 7)
    norm = Normaliser.fit(homes, split, "customer").apply(homes.values)
    x, y, cust, tday = windows(norm, calendar(homes.dates), split.test, 7, "daily")
    assert x.shape[1:] == (7, 24 * 2 + 8) and y.shape[1] == 48
    assert np.allclose(y[3].reshape(24, 2), norm[cust[3], tday[3]])


@pytest.mark.seed_sensitive
def test_lstm_on_measured_homes_reports_quantiles_and_round_trips(homes, tmp_path):
    m = train_forecaster(homes, ForecastConfig(epochs=3, lr=3e-3, threads=1), seed=0)
    assert m.slots == 24 and m.quantiles is not None
    metrics = m.metrics
    assert metrics["slots_per_day"] == 24
    for name in ("lstm", "linear", "naive_yesterday", "naive_last_week"):
        for series in ("consumption", "generation"):
            c = metrics["quantiles"][name][series]
            assert 0 <= c["hit_rate"]["p10"] <= c["hit_rate"]["p50"] <= c["hit_rate"]["p90"] <= 1
            assert c["mean_width_kwh"] >= 0 and c["points"] > 0
    assert set(metrics["reliability"]) == {"lstm", "linear"}
    save(m, tmp_path / "model")
    back = load(tmp_path / "model")
    assert back.slots == 24 and back.customers == homes.customers
    np.testing.assert_allclose(back.quantiles.q, m.quantiles.q, atol=1e-6)
    hist = homes.values[:2, -7:]
    np.testing.assert_allclose(back.forecast(hist, np.arange(2), list(homes.dates[-7:]), 1),
                               m.forecast(hist, np.arange(2), list(homes.dates[-7:]), 1), rtol=1e-5)
