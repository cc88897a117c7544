"""Fleets and prices from real data: EV identity records built from the Dutch EV models and
ElaadNL's statistics or CityLearn's schedules, day-ahead prices and CityLearn's tariff, and the
fleet env running them (each EV's battery, powers, the hour's own price)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import torch

from gridledger.data.ev_nl import EV_SPECS_V2G, load_ev_models
from gridledger.data.fleet import (
    FLEET_SOURCES,
    CommutePattern,
    EVModel,
    EVProfile,
    FleetDays,
    PriceDays,
    RealDataConfig,
    _day_ahead,
    _ev_data,
    citylearn_fleet,
    citylearn_price_days,
    day_ahead_price_days,
    elaad_sessions,
    real_fleet,
    sample_fleet_days,
    synthetic_fleet,
)
from gridledger.data.sources import EV_NL, shipped
from gridledger.errors import ConfigError
from gridledger.learn.fleet.env import ON, FleetMarketEnv, V2VConfig, market_prices, price_factors

SPECS = load_ev_models(shipped(EV_NL) / EV_SPECS_V2G).bidirectional()
BY_NAME = {m.name: m for m in SPECS.models}


def test_real_evs_are_real_models_and_keep_them():
    fleet = real_fleet(20, 2, np.random.default_rng(0))
    assert fleet == real_fleet(20, 2, np.random.default_rng(0))  # the same seed, the same EVs
    assert [e.site for e in fleet[:4]] == [0, 1, 0, 1] and len({e.ev_id for e in fleet}) == 20
    for e in fleet:
        spec = BY_NAME[e.model.name]
        assert (e.model.battery_kwh, e.model.charge_kw, e.model.discharge_kw) == (
            spec.battery_kwh, spec.ac_charge_kw, spec.ac_discharge_kw)
        assert "ElaadNL" in e.source and "shipped subset" in e.source
    # An EV keeps its model whatever days are drawn: the env's battery of EV i is its record's.
    env = FleetMarketEnv(fleet, V2VConfig(price_source="day-ahead"), 3, seed=1)
    assert env.capacity.ravel().tolist() == [e.model.battery_kwh for e in fleet]
    capped = real_fleet(5, 1, np.random.default_rng(0), real=RealDataConfig(charger_kw=3.7))
    assert all(e.model.charge_kw <= 3.7 and e.model.discharge_kw <= 3.7 for e in capped)


@pytest.mark.seed_sensitive
def test_models_follow_registrations():
    """10,000 EVs drawn with a fixed numpy seed (numpy's generators give the same numbers on every CPU)."""
    fleet = real_fleet(10_000, 1, np.random.default_rng(3))
    names = [m.name for m in SPECS.models]
    drawn = np.bincount([names.index(e.model.name) for e in fleet], minlength=len(names)) / 10_000
    np.testing.assert_allclose(drawn, SPECS.shares(), atol=0.02)


@pytest.mark.seed_sensitive
def test_real_days_keep_elaads_pooled_moments_and_give_identities():
    fleet = real_fleet(2000, 1, np.random.default_rng(0))
    days = sample_fleet_days(fleet, 20, np.random.default_rng(1))
    a, d, s = days.arrival_h, days.departure_h, days.soc0
    assert a.min() >= 0 and a.max() <= 23 and np.all(d > a) and d.max() <= 24
    assert s.min() >= 0.2 and s.max() <= 0.8
    arr, _stay, _energy = elaad_sessions(np.random.default_rng(2), 40_000, _ev_data("").stats, "workplace", 24)
    # Pooled over EVs and days the arrivals keep ElaadNL's workplace mean and spread.
    assert abs(a.mean() - arr.mean()) < 0.2 and abs(a.std() - arr.std()) < 0.2
    # Identity: about 64% of the variance lies between EVs (ElaadNL publishes no per-driver data).
    assert 0.5 < a.mean(axis=1).var() / a.var() < 0.8
    assert 0.5 < s.mean(axis=1).var() / s.var() < 0.8


@pytest.mark.seed_sensitive
def test_day_ahead_price_days_are_real_weekdays():
    prices = day_ahead_price_days(30, np.random.default_rng(0))
    src = _day_ahead("", "", "")
    assert prices.currency == "EUR" and "shipped subset" in prices.source and prices.start_h == 0
    for k in (0, 17, 29):
        day = dt.date.fromisoformat(prices.dates[k])
        assert day.weekday() < 5
        np.testing.assert_array_equal(prices.grid_sell[k], src.prices.day_vector(day, 48)[:24])
    noon = day_ahead_price_days(3, np.random.default_rng(0), day_start_h=12)
    day = dt.date.fromisoformat(noon.dates[0])
    np.testing.assert_array_equal(noon.grid_sell[0], src.prices.day_vector(day, 48)[12:36])
    assert noon.periods[0] == 1 and list(noon.periods[5:7]) == [ON, ON]  # noon is mid-peak, 17-19 on-peak


def test_date_window_and_bad_dates():
    real = RealDataConfig(first_day="2024-06-03", last_day="2024-06-09")
    prices = day_ahead_price_days(50, np.random.default_rng(1), real=real)
    assert set(prices.dates) <= {f"2024-06-0{k}" for k in range(3, 8)}  # the weekdays of the window
    with pytest.raises(ConfigError, match="first_day"):
        RealDataConfig(first_day="3 June")
    with pytest.raises(ConfigError, match="site"):
        RealDataConfig(site="garage")
    with pytest.raises(ConfigError, match="first_day"):
        day_ahead_price_days(1, np.random.default_rng(0), real=RealDataConfig(first_day="2024-06-08",
                                                                              last_day="2024-06-09"))


def test_citylearn_evs_keep_their_identities_and_schedules():
    fleet = citylearn_fleet(7, 1, np.random.default_rng(0), day_start_h=12)
    from gridledger.data.fleet import _citylearn

    sch = _citylearn("").schedules
    names = sch.evs()
    assert [e.model.name.split(" ")[0] for e in fleet] == [names[i % len(names)] for i in range(7)]
    assert fleet[5].model == fleet[0].model and fleet[5].pattern == fleet[0].pattern and fleet[5].ev_id != "ev0"
    for e in fleet[:5]:
        ev = e.model.name.split(" ")[0]
        own = [s for s in sch.sessions if s.ev == ev]
        assert e.model.battery_kwh == sch.capacity_kwh[ev]
        assert (e.model.charge_kw, e.model.discharge_kw) == sch.charger_kw[own[0].charger]
        assert e.pattern.schedule and 0 < e.pattern.presence <= 1
        # Required SOC: the schedule's own (about 0.83 in the files), within [SOC_min, SOC_max].
        assert e.soc_required == pytest.approx(min(0.8, np.nanmean([s.soc_departure_frac for s in own])))
        # Hours count from noon: arrival hours of the schedule are clock hours - 12.
        clocks = {(sch.start + dt.timedelta(hours=s.arrival_step)).hour for s in own if s.arrival_step > 0}
        assert {(a + 12) % 24 for a, _, _ in e.pattern.schedule} <= clocks
    prices = citylearn_price_days(30, np.random.default_rng(2), day_start_h=12)
    assert prices.currency == "USD" and set(np.unique(prices.grid_sell)) <= {0.21, 0.22, 0.4, 0.5, 0.54}


def test_sources_are_registered():
    assert set(FLEET_SOURCES) == {"thesis", "iid", "real", "citylearn"}
    with pytest.raises(ConfigError, match="day_start_h: must be 0 for the thesis's fleet"):
        synthetic_fleet(3, 1, np.random.default_rng(0), day_start_h=12)


def test_env_uses_each_evs_battery_powers_and_the_hours_own_price():
    # Two EVs at two sites (no V2V between them): 40 kWh / 11 kW and 80 kWh / 3.7 kW.
    fleet = (EVProfile("a", EVModel("A", 40.0, 11.0, 11.0), CommutePattern(), site=0),
             EVProfile("b", EVModel("B", 80.0, 3.7, 3.7), CommutePattern(), site=1))
    hourly = (0.05 + 0.001 * np.arange(24) + 0.1 * np.isin(np.arange(24), [7, 8, 9, 10, 17, 18]))[None, :]
    days = FleetDays(np.array([[8], [8]]), np.array([[12], [12]]), np.array([[0.5], [0.5]]))
    env = FleetMarketEnv(fleet, V2VConfig(price_source="day-ahead"), 1)
    env.start_day(days, PriceDays(hourly, currency="EUR"))
    r = env.step(torch.tensor([[1.0], [1.0]], dtype=torch.float64))
    # SOC 0.5 -> 0.8 leaves 12 kWh of room on 40 kWh (charger 11 kW) and 24 kWh on 80 kWh (3.7 kW).
    np.testing.assert_allclose(r.energy_kwh.ravel(), [11.0, 3.7])
    np.testing.assert_allclose(r.soc.ravel(), [0.5 + 11 / 40, 0.5 + 3.7 / 80])
    np.testing.assert_allclose(r.p_grid_sell.ravel(), [hourly[0, 8]] * 2)  # the hour's own price
    r = env.step(torch.tensor([[1.0], [-1.0]], dtype=torch.float64))
    np.testing.assert_allclose(r.energy_kwh.ravel(), [40 * (0.8 - 0.775), -3.7])
    np.testing.assert_allclose(r.p_grid_sell.ravel(), [hourly[0, 9]] * 2)
    assert env.delta_tab[0, 0] == 0.0 and env.delta_tab[0, 8] > 0  # off-peak 0 (eq. 4.4), on-peak above


def test_negative_and_tiny_prices_keep_the_market_ordered():
    cfg = V2VConfig()
    p = np.array([0.1, 0.0, -0.05])
    p_v2v, p_buy = market_prices(p, cfg)
    assert np.all(p_v2v[[0, 2]] < p[[0, 2]]) and np.all(p_buy[[0, 2]] < p_v2v[[0, 2]])  # eq. (4.10) either sign
    np.testing.assert_allclose(p_v2v[0], 0.9 * 0.1)
    grid = np.where(np.isin(np.arange(24), [7, 8, 9, 10, 17, 18]), 0.05, -0.01)[None, :]
    delta = price_factors(grid, cfg)
    assert np.all(np.isfinite(delta)) and delta[0, 8] == pytest.approx(cfg.delta_cap) and delta[0, 0] == 0.0
    assert cfg.price_unit == 1.7 and V2VConfig(price_source="day-ahead").price_unit == 0.1


@pytest.mark.seed_sensitive
def test_gymnasium_env_on_real_data_passes_the_checker():
    from gymnasium.utils.env_checker import check_env

    from gridledger.learn.fleet.env import V2VEnv

    env = V2VEnv(V2VConfig(price_source="day-ahead"), fleet_source="real")
    check_env(env, skip_render_check=True)
    assert env.observation_space.low[2] < 0  # negative day-ahead prices are observations too
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs) and 0 <= info["arrival"] <= 23
    assert env.fleet[env.ev].model.name in BY_NAME
    home = V2VEnv(V2VConfig(price_source="citylearn", day_start_h=12), fleet_source="citylearn")
    check_env(home, skip_render_check=True)


@pytest.mark.seed_sensitive
@pytest.mark.parametrize(("source", "env"), [("real", {"price_source": "day-ahead"}),
                                             ("citylearn", {"price_source": "citylearn", "day_start_h": 12})])
def test_on_real_data_the_oracle_bounds_every_policy(source, env):
    from gridledger.learn.fleet.env import make_fleet
    from gridledger.learn.fleet.evaluate import (
        evaluate,
        held_out,
        oracle_policy,
        oracle_schedule,
        random_policy,
        rule_policy,
    )

    cfg = V2VConfig(**env)
    fleet = make_fleet(source, 6, 2, np.random.default_rng(0), cfg)
    days, prices = held_out(fleet, cfg, 4, seed=1)
    assert prices.dates and prices.start_h == cfg.day_start_h
    best = evaluate(oracle_policy(oracle_schedule(fleet, cfg, days, prices)), fleet, cfg, days, prices)
    for pol in (rule_policy(), random_policy(0)):
        other = evaluate(pol, fleet, cfg, days, prices)
        for d in range(4):
            for s in (0, 1):
                members = [i for i, e in enumerate(fleet) if e.site == s]
                assert other.net[members, d].sum() <= best.net[members, d].sum() + 1e-6
