"""Properties of the site market and the fleet environment on random fleets.

The conservation test is the one the fleet's design rests on: every hour, at every site, the
energy discharged equals V2V matched + V2B + grid export, the energy charged equals V2V matched
+ grid import, the buyers pay for V2V what the sellers receive, and the EVs' cash adds up to what
the grid and the building paid and were paid.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gridledger.data.fleet import (
    CommutePattern,
    EVModel,
    EVProfile,
    PriceDays,
    sample_fleet_days,
    synthetic_fleet,
    tou_period,
    tou_price_days,
)
from gridledger.learn.fleet.env import FleetMarketEnv, V2VConfig, price_factors
from gridledger.learn.fleet.market import check_conservation
from gridledger.learn.ppo import AgentStack, fedavg


def random_fleet(rng: np.random.Generator, n: int, sites: int) -> tuple[EVProfile, ...]:
    """EVs of random models (battery, powers, efficiencies), patterns and sites."""
    out = []
    for i in range(n):
        model = EVModel(name=f"m{i}", battery_kwh=float(rng.uniform(10, 100)), charge_kw=float(rng.uniform(2, 22)),
                        discharge_kw=float(rng.uniform(2, 22)), charge_efficiency=float(rng.uniform(0.8, 1.0)),
                        discharge_efficiency=float(rng.uniform(0.8, 1.0)))
        a = float(rng.uniform(0, 20))
        pattern = CommutePattern(arrival_mean_h=a, arrival_sd_h=float(rng.uniform(0, 3)),
                                 departure_mean_h=float(rng.uniform(a, 24)), departure_sd_h=float(rng.uniform(0, 3)),
                                 soc_mean=float(rng.uniform(0, 1)), soc_sd=0.2, arrival_range_h=(0, 23),
                                 departure_range_h=(1, 24), soc_range=(0.0, 1.0),
                                 presence=float(rng.uniform(0.5, 1.0)))
        out.append(EVProfile(ev_id=f"ev{i}", model=model, pattern=pattern, site=int(rng.integers(sites)),
                             soc_required=float(rng.uniform(0, 1))))
    return tuple(out)


def _site_sum(x: torch.Tensor, env: FleetMarketEnv) -> np.ndarray:
    return torch.zeros(env.groups, dtype=x.dtype).index_add_(0, env.group.reshape(-1), x.reshape(-1)).numpy()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.integers(1, 4), st.integers(1, 5),
       st.sampled_from(["site", "grid"]), st.sampled_from([0.0, 3.0]), st.booleans(),
       st.sampled_from(["tou", "day-ahead"]))
def test_energy_and_money_balance_every_hour_at_every_site(seed, n, sites, worlds, market, v2b, assisted, prices):
    rng = np.random.default_rng(seed)
    fleet = random_fleet(rng, n, sites)
    cfg = V2VConfig(market=market, v2b_kwh=v2b, assisted=assisted, price_source=prices)
    env = FleetMarketEnv(fleet, cfg, worlds, seed=rng)
    env.start_day()
    while not env.day_over:
        r = env.step(torch.from_numpy(rng.uniform(-1.5, 1.5, (n, worlds))))
        c = r.clearing
        e = r.energy_kwh
        discharged = _site_sum(torch.clamp(-e, min=0), env)
        charged = _site_sum(torch.clamp(e, min=0), env)
        matched = c.site_matched.numpy()
        assert np.allclose(discharged, matched + c.site_v2b.numpy() + c.site_export.numpy(), atol=1e-9)
        assert np.allclose(charged, matched + c.site_import.numpy(), atol=1e-9)
        assert np.allclose(_site_sum(c.sold_v2v, env), matched, atol=1e-9)
        assert np.allclose(_site_sum(c.bought_v2v, env), matched, atol=1e-9)
        assert np.all(matched <= np.minimum(discharged, charged) + 1e-9)
        if market == "site":  # nobody trades with the grid while a counterpart at the site is unmatched
            assert np.allclose(matched, np.minimum(discharged, charged), atol=1e-9)
        else:
            assert np.all(matched == 0)
        assert np.all(c.site_v2b.numpy() <= v2b + 1e-9)
        # Money: V2V payments move from buyers to sellers; the EVs' cash is what the outside paid them.
        p = r.p_v2v
        assert np.allclose(_site_sum(c.bought_v2v * p, env), _site_sum(c.sold_v2v * p, env), atol=1e-9)
        outside = (_site_sum(c.grid_export * r.p_grid_buy, env) + _site_sum(c.sold_v2b * p, env)
                   - _site_sum(c.grid_import * r.p_grid_sell, env) - cfg.omega * matched)
        assert np.allclose(_site_sum(c.cash, env), outside, atol=1e-9)
        check_conservation(c, e, env.group, env.groups, r.p_v2v, r.p_grid_buy, r.p_grid_sell, cfg.omega, market)
        # Absent EVs do nothing.
        assert torch.all(torch.where(r.present, 0.0, e.abs()) == 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 10))
def test_power_and_soc_limits(seed, n):
    rng = np.random.default_rng(seed)
    fleet = random_fleet(rng, n, 2)
    cfg = V2VConfig()
    env = FleetMarketEnv(fleet, cfg, 3, seed=rng)
    env.start_day()
    cap = env.capacity
    while not env.day_over:
        before = env.soc.clone()
        r = env.step(torch.from_numpy(rng.uniform(-3, 3, (n, 3))))  # beyond the action box on purpose
        e = r.energy_kwh
        assert torch.all(e <= env.charge_kw + 1e-9) and torch.all(e >= -env.discharge_kw - 1e-9)
        battery = torch.where(e > 0, e * env.eff_ch, e / env.eff_dis)
        assert torch.allclose(r.soc, before + battery / cap)
        inside = (before >= cfg.soc_min - 1e-9) & (before <= cfg.soc_max + 1e-9)
        # An EV inside the band stays inside it (eq. 4.13); one outside moves towards it.
        assert torch.all(torch.where(inside & r.present, (r.soc >= cfg.soc_min - 1e-9) & (r.soc <= cfg.soc_max + 1e-9),
                                     True))
        above = r.present & (before > cfg.soc_max + 1e-9)
        below = r.present & (before < cfg.soc_min - 1e-9)
        assert torch.all(torch.where(above, r.soc < before, True))
        assert torch.all(torch.where(below, r.soc > before, True))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_proof_score_and_rewards_follow_the_equations(seed):
    rng = np.random.default_rng(seed)
    fleet = synthetic_fleet(6, 2, rng)
    cfg = V2VConfig()
    env = FleetMarketEnv(fleet, cfg, 2, seed=rng)
    env.start_day()
    while not env.day_over:
        r = env.step(torch.from_numpy(rng.uniform(-1, 1, (6, 2))))
        e = r.energy_kwh
        dep = r.departing
        # eq. (4.1): delta (D - C), plus SOC_max - SOC at departure.
        expected = r.delta * (torch.clamp(-e, min=0) - torch.clamp(e, min=0)) + torch.where(dep, cfg.soc_max - r.soc, 0)
        assert torch.allclose(r.proof_score, expected)
        # eq. (4.14)-(4.15) with the cleared cash.
        assert torch.allclose(r.reward_delta, r.delta * r.clearing.cash + torch.where(dep, cfg.eta * (r.soc - 0.8) ** 2,
                                                                                       0))
        assert torch.all(torch.where(dep, True, r.energy_value == 0))
        assert torch.all(r.shortfall_kwh >= 0)


def test_price_factors_eqs_4_3_4_4():
    p = np.zeros((1, 24))
    period = tou_period(np.arange(24))
    p[0] = np.choose(period, [6.8, 10.0, 12.9])
    d = price_factors(p, V2VConfig(price_scale="table-4.1"))[0]
    assert d[3] == 0.0 and d[12] == pytest.approx((10 - 6.8) / 6.8) and d[8] == pytest.approx((12.9 - 6.8) / 6.8)
    p[0] = np.choose(period, [0.82, 1.13, 1.7])
    assert price_factors(p, V2VConfig())[0, 8] == pytest.approx(0.999)  # capped below 1 (eq. 4.2)
    assert np.all(price_factors(p, V2VConfig(use_delta=False)) == 1.0)


def test_tou_schedule_is_ontarios():
    hours = np.arange(24)
    p = tou_period(hours)
    assert list(hours[p == 2]) == [7, 8, 9, 10, 17, 18]
    assert list(hours[p == 1]) == [11, 12, 13, 14, 15, 16]


@pytest.mark.seed_sensitive
def test_synthetic_fleet_keeps_table_4_1_pooled_and_gives_identities():
    rng = np.random.default_rng(0)
    fleet = synthetic_fleet(400, 4, rng)
    days = sample_fleet_days(fleet, 200, rng)
    a, d, s = days.arrival_h, days.departure_h, days.soc0
    assert a.min() >= 4 and a.max() <= 10 and d.min() >= 8 and d.max() <= 22 and np.all(d > a)
    assert s.min() >= 0.4 and s.max() <= 0.9
    assert abs(a.mean() - 7) < 0.1 and abs(d.mean() - 18) < 0.1 and abs(s.mean() - 0.5) < 0.01
    assert abs(a.std() - 1.0) < 0.15 and abs(s.std() - 0.1) < 0.02
    # Identity: a large share of the variance is between EVs (iid EVs have none).
    between = a.mean(axis=1).var() / a.var()
    assert between > 0.4
    iid = sample_fleet_days(synthetic_fleet(400, 4, rng, between_share=0.0), 200, rng).arrival_h
    assert iid.mean(axis=1).var() / iid.var() < 0.05
    prices = tou_price_days(5000, rng)
    assert np.all(prices.grid_sell > 0) and isinstance(prices, PriceDays)
    assert abs(prices.grid_sell[:, 8].mean() - 1.7) < 0.01 and abs(prices.off_peak.mean() - 0.82) < 0.01


@pytest.mark.seed_sensitive
def test_fedavg_of_identical_models_is_the_identity():
    stack = AgentStack(4, 8, 16, -0.5, torch.ones(8), seed=0)
    with torch.no_grad():
        for p in stack.parameters():
            p.copy_(p[:1].expand_as(p))
    before = {k: v.clone() for k, v in stack.state_dict().items()}
    fedavg(stack)
    for k, v in stack.state_dict().items():
        assert torch.equal(v, before[k])


@pytest.mark.seed_sensitive
def test_fedavg_is_the_mean():
    stack = AgentStack(3, 8, 8, -0.5, torch.ones(8), seed=1)
    w = stack.a1w.detach().clone()
    fedavg(stack)
    assert torch.allclose(stack.a1w[0], w.mean(0)) and torch.allclose(stack.a1w[2], w.mean(0))
