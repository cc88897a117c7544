"""The site market's clearing on hand-computed cases, the bilateral decomposition, the
perfect-foresight LP on a case solved by hand, and the reference policies."""

import numpy as np
import pytest
import torch

from gridledger.data.fleet import CommutePattern, EVModel, EVProfile, FleetDays, PriceDays, synthetic_fleet
from gridledger.learn.fleet.env import FleetMarketEnv, V2VConfig
from gridledger.learn.fleet.evaluate import (
    evaluate,
    held_out,
    oracle_policy,
    oracle_schedule,
    random_policy,
    rule_policy,
)
from gridledger.learn.fleet.market import bilateral_trades, clear


def _t(*x):
    return torch.tensor(x, dtype=torch.float64)


def test_pro_rata_at_the_posted_price():
    # Two sellers (6 and 2 kWh) and one buyer (4 kWh) at one site: M = 4; sellers sell 3 and 1.
    e = _t(-6.0, -2.0, 4.0)
    g = torch.zeros(3, dtype=torch.int64)
    p_v2v, p_buy, p_sell = (torch.full((3,), x, dtype=torch.float64) for x in (0.9, 0.7, 1.0))
    c = clear(e, g, 1, p_v2v, p_buy, p_sell)
    assert c.sold_v2v.tolist() == pytest.approx([3.0, 1.0, 0.0])
    assert c.bought_v2v.tolist() == pytest.approx([0.0, 0.0, 4.0])
    assert c.grid_export.tolist() == pytest.approx([3.0, 1.0, 0.0])
    assert c.grid_import.tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert c.cash.tolist() == pytest.approx([3 * 0.9 + 3 * 0.7, 0.9 + 0.7, -4 * 0.9])
    assert c.surplus_vs_grid.tolist() == pytest.approx([3 * 0.2, 0.2, 4 * 0.1])
    assert float(c.site_matched[0]) == pytest.approx(4.0) and float(c.site_export[0]) == pytest.approx(4.0)


def test_sites_do_not_trade_with_each_other_and_grid_market_matches_nothing():
    e = _t(-5.0, 5.0)
    p = torch.ones(2, dtype=torch.float64)
    c = clear(e, torch.tensor([0, 1]), 2, 0.9 * p, 0.7 * p, p)
    assert float(c.site_matched.sum()) == 0.0 and c.grid_export.tolist() == [5.0, 0.0]
    c = clear(e, torch.tensor([0, 0]), 1, 0.9 * p, 0.7 * p, p, market="grid")
    assert float(c.site_matched.sum()) == 0.0 and c.cash.tolist() == pytest.approx([3.5, -5.0])


def test_v2b_takes_the_remainder_and_assisted_v2v_costs_the_buyer():
    e = _t(-6.0, 2.0)
    p = torch.ones(2, dtype=torch.float64)
    c = clear(e, torch.zeros(2, dtype=torch.int64), 1, 0.9 * p, 0.7 * p, p, omega=0.05, building_kwh=3.0)
    assert c.sold_v2v.tolist() == pytest.approx([2.0, 0.0]) and c.sold_v2b.tolist() == pytest.approx([3.0, 0.0])
    assert c.grid_export.tolist() == pytest.approx([1.0, 0.0])
    assert c.cash.tolist() == pytest.approx([5 * 0.9 + 0.7, -2 * 0.95])


def test_pool_is_eq_4_14_as_printed():
    e = _t(-6.0, 2.0)
    p = torch.ones(2, dtype=torch.float64)
    c = clear(e, torch.zeros(2, dtype=torch.int64), 1, 0.9 * p, 0.7 * p, p, market="pool")
    assert c.cash.tolist() == pytest.approx([6 * 0.9, -2 * 0.9])


def test_bilateral_trades_add_up():
    sold, bought = _t(3.0, 1.0, 0.0, 0.0), _t(0.0, 0.0, 2.5, 1.5)
    m = bilateral_trades(sold, bought)
    assert m.sum(dim=1).tolist() == pytest.approx(bought.tolist())
    assert m.sum(dim=0).tolist() == pytest.approx(sold.tolist())
    assert float(bilateral_trades(_t(0.0), _t(0.0)).sum()) == 0.0


def _one_ev(arrival, departure, soc0, required):
    ev = EVProfile("a", EVModel(battery_kwh=42.0, charge_kw=7.2, discharge_kw=7.2), CommutePattern(),
                   soc_required=required)
    days = FleetDays(np.array([[arrival]]), np.array([[departure]]), np.array([[soc0]]))
    return (ev,), days


def test_oracle_solves_a_case_by_hand():
    # Present 6:00-8:00: hour 6 off-peak at 0.8, hour 7 on-peak at 1.7 (grid buys at 0.7 x 1.7).
    (ev,), days = _one_ev(6, 8, 0.5, 0.5)
    p = np.full((1, 24), 0.8)
    p[0, 7:11] = 1.7
    p[0, 17:19] = 1.7
    p[0, 11:17] = 1.1
    prices = PriceDays(p)
    cfg = V2VConfig()
    sched = oracle_schedule((ev,), cfg, days, prices)
    # Charge 7.2 off-peak (cost = value), sell 7.2 on-peak to the grid: net 7.2 (0.7 x 1.7 - 0.8).
    assert sched[0, 0, 6] == pytest.approx(7.2) and sched[0, 0, 7] == pytest.approx(-7.2)
    res = evaluate(oracle_policy(sched), (ev,), cfg, days, prices)
    assert float(res.net[0, 0]) == pytest.approx(7.2 * (0.7 * 1.7 - 0.8))
    assert float(res.departure_soc[0, 0]) == pytest.approx(0.5)


@pytest.mark.seed_sensitive
def test_oracle_bounds_every_policy_on_the_same_days():
    fleet = synthetic_fleet(6, 2, np.random.default_rng(3))
    cfg = V2VConfig()
    days, prices = held_out(fleet, cfg, 8, seed=1)
    best = evaluate(oracle_policy(oracle_schedule(fleet, cfg, days, prices)), fleet, cfg, days, prices)
    for pol in (rule_policy(), random_policy(0), random_policy(1)):
        other = evaluate(pol, fleet, cfg, days, prices)
        # Per site and day the LP maximises the EVs' total net money.
        for d in range(8):
            for s in (0, 1):
                members = [i for i, e in enumerate(fleet) if e.site == s]
                assert other.net[members, d].sum() <= best.net[members, d].sum() + 1e-6


@pytest.mark.seed_sensitive
def test_rule_policy_keeps_the_required_soc_when_it_can():
    fleet = synthetic_fleet(10, 1, np.random.default_rng(0))
    cfg = V2VConfig()
    days, prices = held_out(fleet, cfg, 20, seed=0)
    res = evaluate(rule_policy(), fleet, cfg, days, prices)
    assert not res.violation.any()


@pytest.mark.seed_sensitive
def test_worlds_are_independent():
    fleet = synthetic_fleet(5, 1, np.random.default_rng(2))
    cfg = V2VConfig()
    days, prices = held_out(fleet, cfg, 3, seed=4)
    together = evaluate(rule_policy(), fleet, cfg, days, prices)
    for d in range(3):
        alone = evaluate(rule_policy(), fleet, cfg, days.columns(np.array([d])), prices.rows(np.array([d])))
        assert np.allclose(alone.cash[:, 0], together.cash[:, d])


@pytest.mark.seed_sensitive
def test_step_after_the_day_is_refused():
    fleet = synthetic_fleet(2, 1, np.random.default_rng(0))
    env = FleetMarketEnv(fleet, V2VConfig(), 1, seed=0)
    env.start_day()
    while not env.day_over:
        env.step(torch.zeros(2, 1))
    with pytest.raises(RuntimeError, match="start_day"):
        env.step(torch.zeros(2, 1))
