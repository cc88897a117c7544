"""EV-days from real data, and the V2V env running them (battery, powers and prices per day)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from gridledger.data.ev_nl import EV_SPECS_V2G, load_ev_models
from gridledger.data.fleet import RealFleetConfig, _elaad, draw_days, fleet_models, model_of_ev
from gridledger.data.sources import EV_NL, shipped
from gridledger.errors import ConfigError
from gridledger.learn.fleet.env import OFF, ON, Days, V2VBatchEnv, V2VConfig, sample_days, tou_period

CFG = RealFleetConfig()


def test_an_ev_keeps_its_model():
    models = load_ev_models(shipped(EV_NL) / EV_SPECS_V2G)
    a = model_of_ev(models, np.arange(20), 0)
    assert np.array_equal(a, model_of_ev(models, np.arange(20), 0))
    assert np.array_equal(a[[3, 7]], model_of_ev(models, np.array([3, 7]), 0))
    assert fleet_models(CFG, 5) == [models.models[j].name for j in a[:5]]


def test_models_follow_registrations():
    """10,000 EVs drawn with a fixed numpy seed (numpy's generators give the same numbers on every CPU)."""
    models = load_ev_models(shipped(EV_NL) / EV_SPECS_V2G)
    drawn = np.bincount(model_of_ev(models, np.arange(10_000), 3), minlength=len(models.models)) / 10_000
    np.testing.assert_allclose(drawn, models.shares(), atol=0.02)


def test_drawn_days_are_consistent_with_the_sources():
    rng = np.random.default_rng(0)
    d = draw_days(rng, 400, CFG, 0.2, 0.8, np.repeat(np.arange(4), 100))
    src = _elaad("", "", "")
    by_name = {m.name: m for m in src.models.models}
    assert all(by_name[e].battery_kwh == c for e, c in zip(d.ev, d.capacity_kwh, strict=True))
    assert all(by_name[e].ac_charge_kw == p for e, p in zip(d.ev, d.charge_kw, strict=True))
    assert len(set(d.ev[:100])) == 1  # EV 0 keeps its model
    assert np.all((d.arrival_h >= 0) & (d.arrival_h <= 23))
    stay = d.departure_h - d.arrival_h
    assert np.all((stay >= 1) & (stay <= CFG.max_stay_h))
    assert np.all((d.soc0_frac >= 0.2) & (d.soc0_frac <= 0.8))
    assert all(day.weekday() < 5 for day in d.dates)  # workplace: weekdays only
    for k in (0, 17, 399):
        np.testing.assert_array_equal(d.hourly_price_per_kwh[k], src.prices.day_vector(d.dates[k], 48))
    assert d.currency == "EUR" and "shipped subset" in d.source


def test_date_window_and_bad_dates():
    cfg = RealFleetConfig(first_day="2024-06-03", last_day="2024-06-07", site="private")
    d = draw_days(np.random.default_rng(1), 50, cfg, 0.2, 0.8)
    assert {x for x in d.dates} <= {dt.date(2024, 6, k) for k in range(3, 8)}
    with pytest.raises(ConfigError, match="first_day"):
        RealFleetConfig(first_day="3 June")
    with pytest.raises(ConfigError, match="site"):
        RealFleetConfig(site="garage")


def test_citylearn_schedules_keep_ev_identities():
    cfg = RealFleetConfig(source="citylearn")
    d = draw_days(np.random.default_rng(2), 30, cfg, 0.2, 0.8, np.arange(30) % 5)
    evs = fleet_models(cfg, 5)
    assert list(d.ev[:5]) == evs and d.currency == "USD"
    assert set(np.unique(d.hourly_price_per_kwh)) <= {0.21, 0.22, 0.4, 0.5, 0.54}


def _real_days(capacity, charge, discharge, hourly):
    k = len(capacity)
    prices = np.stack([hourly[:, :24][:, tou_period(np.arange(24)) == p].mean(axis=1) for p in range(3)], axis=1)
    return Days(np.full(k, 8), np.full(k, 12), np.full(k, 0.5), prices, np.asarray(capacity, float),
                np.asarray(charge, float), np.asarray(discharge, float), hourly)


def test_env_uses_each_days_battery_powers_and_hourly_price():
    hourly = np.tile(np.linspace(0.05, 0.28, 48), (2, 1))
    days = _real_days([40.0, 80.0], [11.0, 3.7], [11.0, 3.7], hourly)
    env = V2VBatchEnv(2, V2VConfig(fleet="real"), auto_reset=False)
    env.reset(days)
    _, _, _, info = env.step(np.array([1.0, 1.0]))
    # SOC 0.5 -> 0.8 leaves 12 kWh of room on 40 kWh (charger 11 kW) and 24 kWh on 80 kWh (3.7 kW).
    np.testing.assert_allclose(info["energy_kwh"], [11.0, 3.7])
    np.testing.assert_allclose(info["soc"], [0.5 + 11 / 40, 0.5 + 3.7 / 80])
    np.testing.assert_allclose(info["p_grid_sell"], hourly[:, 8])  # the hour's own price
    _, _, _, info = env.step(np.array([1.0, -1.0]))
    np.testing.assert_allclose(info["energy_kwh"], [40 * (0.8 - 0.775), -3.7])
    np.testing.assert_allclose(info["p_grid_sell"], hourly[:, 9])
    assert env.delta[0, OFF] == 0.0 and env.delta[0, ON] > 0


def test_sample_days_real_rows_follow_their_evs():
    cfg = V2VConfig(fleet="real")
    a = sample_days(np.random.default_rng(0), 6, cfg, np.array([0, 0, 0, 1, 1, 1]))
    assert a.capacity_kwh is not None and a.hourly_prices is not None and a.hourly_prices.shape == (6, 48)
    assert len(set(a.capacity_kwh[:3])) == 1 and len(set(a.capacity_kwh[3:])) == 1
    env = V2VBatchEnv(8, cfg, seed=0, evs=2)
    assert list(env.ev_of_row) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert len(set(env.capacity[:4])) == 1
    assert cfg.price_obs_scale == 0.1 and V2VConfig().price_obs_scale == 1.7


def test_thesis_fleet_is_unchanged_by_ev_ids():
    cfg = V2VConfig()
    a = sample_days(np.random.default_rng(5), 10, cfg)
    b = sample_days(np.random.default_rng(5), 10, cfg, np.arange(10))
    np.testing.assert_array_equal(a.prices, b.prices)
    assert a.capacity_kwh is None and a.hourly_prices is None


def test_gymnasium_env_on_real_days_passes_the_checker():
    from gymnasium.utils.env_checker import check_env

    from gridledger.learn.fleet.env import V2VEnv

    env = V2VEnv(V2VConfig(fleet="real"))
    check_env(env, skip_render_check=True)
    assert env.observation_space.low[2] < 0  # negative day-ahead prices are observations too
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs) and 0 <= info["arrival"] <= 23
