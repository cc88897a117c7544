import dataclasses

import numpy as np
import pytest

from gridledger.errors import ConfigError
from gridledger.games.stackelberg import (
    ElecoinMarket,
    MarketDistribution,
    best_response,
    default_intentions,
    draw_market,
    interior_unified_price,
    market_demands,
    maximise_margin,
    maximise_margin_each,
    prosumer_utility,
    ration,
    server_utility,
    solve,
    supply_clearing_price,
)


def test_defaults_are_the_papers_values():
    m = ElecoinMarket()
    assert (m.n_prosumers, m.n_servers, m.lam, m.l, m.k, m.Q, m.eta) == (8, 1, 0.01, 1.0, 8.0, 0.6, 0.3)
    assert (m.R_f, m.r, m.s) == (200.0, 3.0, 200.0)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16, 32, 64])
@pytest.mark.parametrize("pricing", ["unified", "discriminated"])
def test_default_equilibrium_is_interior(n, pricing):
    m = ElecoinMarket(n_prosumers=n)
    eq = solve(m, pricing)
    assert np.all(eq.prices > m.p_min) and np.all(eq.prices < m.p_max)
    assert np.all(eq.demands > m.x_min) and np.all(eq.demands < m.x_max)


def test_unified_interior_price_matches_closed_form_of_eq6():
    m = ElecoinMarket()
    assert solve(m, "unified").price == pytest.approx(interior_unified_price(m), rel=1e-12)


def test_discriminated_interior_prices_match_closed_form():
    m = ElecoinMarket(n_prosumers=5)
    expected = np.sqrt(m.k * m.theta * m.intentions / m.eta) / m.Q
    assert solve(m, "discriminated").prices == pytest.approx(expected, rel=1e-12)


def test_best_response_is_eq4_inside_bounds_and_clipped_outside():
    m = ElecoinMarket(n_prosumers=2, w=(1.0, 2.0))
    p = 80.0
    assert best_response(m, p) == pytest.approx(m.theta / (m.eta * p) - m.Q / np.array([1.0, 2.0]))
    assert np.all(best_response(m, m.p_min / 100 + 1e-9 + 0.01) <= m.x_max)
    low_price = ElecoinMarket(p_min=1.0)
    assert np.all(best_response(low_price, 1.0) == low_price.x_max)
    high_floor = ElecoinMarket(x_min=5.0, x_max=8.0)
    assert np.all(best_response(high_floor, 100.0) == 5.0)


def test_utilities_follow_eq2_and_eq3():
    m = ElecoinMarket(n_prosumers=2, w=(0.5, 1.5), e_c=3.0)
    x = np.array([1.0, 2.0])
    u = prosumer_utility(m, x, 50.0)
    assert u == pytest.approx(m.theta * np.log(x * np.array([0.5, 1.5]) / m.Q + 1) - m.eta * x * 50.0)
    expected = m.leader_mining_utility() + 50.0 * 3.0 - m.k * (3.0 / m.Q + 3.0)
    assert server_utility(m, 50.0, x) == pytest.approx(expected)


def test_leader_facing_clipped_demands_can_prefer_the_price_cap():
    # With x_min > 0 every prosumer keeps buying x_min at any price: the leader's utility
    # keeps rising with p once all demands sit on x_min, so the optimum is p_max (a
    # boundary case that substituting the unclipped eq. 4 into eq. 2 misses).
    m = ElecoinMarket(x_min=3.5, x_max=8.0)
    eq = solve(m, "unified")
    grid = np.linspace(m.p_min, m.p_max, 20001)
    values = [server_utility(m, p, best_response(m, p)) for p in grid]
    assert eq.server_utility >= max(values) - 1e-9
    assert eq.price == pytest.approx(m.p_max)


def test_margin_maximiser_handles_all_demands_at_upper_bound():
    # Every demand on x_max throughout: margin (p - c) * N * x_max increases, optimum p_max.
    assert maximise_margin(a=1e6, b=np.ones(3), lo=0.0, hi=1.0, c=1.0, p_min=2.0, p_max=5.0) == pytest.approx(5.0)


def test_margin_maximiser_zero_cost_all_zero_demand_returns_lowest_price():
    # Demand zero everywhere: every price ties; ties go to the lowest price.
    assert maximise_margin(a=1.0, b=np.full(2, 10.0), lo=0.0, hi=1.0, c=0.0, p_min=1.0, p_max=3.0) == 1.0


def test_default_intentions_are_cell_midpoints():
    assert default_intentions(4) == pytest.approx((0.625, 0.875, 1.125, 1.375))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"theta": 0.0}, "theta"),
        ({"Q": -1.0}, "Q"),
        ({"n_prosumers": 0}, "n_prosumers"),
        ({"p_min": 50.0, "p_max": 40.0}, "p_max"),
        ({"x_min": 5.0, "x_max": 5.0}, "x_max"),
        ({"w": (1.0, 2.0)}, "w"),
        ({"w": (1.0,) * 7 + (0.0,)}, "w[7]"),
        ({"alpha": (1.0, 1.0)}, "alpha"),
        ({"lam": float("nan")}, "lam"),
    ],
)
def test_invalid_parameters_name_the_field(changes, field):
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(ElecoinMarket(), **changes)
    assert info.value.field == field


def test_market_is_immutable():
    m = ElecoinMarket()
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.theta = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        m.intentions[0] = 3.0


# --- Supply-limited market (docs/decisions.md, "Supply-limited market") ---------------------------

def test_without_supply_the_market_is_the_papers():
    m = ElecoinMarket()
    assert m.supply is None
    limited_far_above = dataclasses.replace(m, supply=1e9)
    for pricing in ("unified", "discriminated"):
        assert solve(limited_far_above, pricing).prices == pytest.approx(solve(m, pricing).prices, rel=1e-12)


@pytest.mark.parametrize(("n", "price"), [(4, 82.446), (16, 154.405), (64, 324.475)])
def test_binding_supply_raises_the_unified_price_until_demand_fits(n, price):
    # S = 24 with p_max lifted: below N ~ 8 the supply does not bind (p* of eq. 6); above, the
    # price is the one at which the eq. (4) demands add up to S.
    m = ElecoinMarket(n_prosumers=n, supply=24.0, p_max=1000.0)
    eq = solve(m, "unified")
    assert eq.price == pytest.approx(price, abs=1e-3)
    assert eq.demands.sum() <= 24.0 * (1 + 1e-12)
    if n > 4:
        assert eq.demands.sum() == pytest.approx(24.0, rel=1e-9)
        assert eq.price == pytest.approx(supply_clearing_price(m), rel=1e-12)


def test_supply_clearing_price_solves_sum_of_demands_equal_to_supply():
    m = ElecoinMarket(n_prosumers=16, supply=24.0, p_max=1000.0)
    p = supply_clearing_price(m)
    assert best_response(m, p).sum() == pytest.approx(24.0, rel=1e-12)
    assert best_response(m, p * (1 - 1e-6)).sum() > 24.0


def test_when_p_max_binds_the_supply_is_rationed_pro_rata():
    m = ElecoinMarket(n_prosumers=16, supply=24.0)  # p_max = 110 leaves ~40 elecoins asked for
    asked = best_response(m, m.p_max)
    assert asked.sum() > 24.0
    for pricing in ("unified", "discriminated"):
        eq = solve(m, pricing)
        assert np.all(eq.prices == m.p_max)
        assert eq.demands.sum() == pytest.approx(24.0, rel=1e-12)
        assert eq.demands == pytest.approx(asked * 24.0 / asked.sum(), rel=1e-12)


def test_discriminated_supply_prices_every_prosumer_at_the_same_shadow_cost():
    # Interior demands: p_i = sqrt((k/Q + mu) theta w_i / (eta Q)) (the discriminated optimum of
    # eq. 6 with the unit cost raised by the multiplier mu), so p_i^2 eta Q / (theta w_i) = k/Q + mu
    # is the same for every prosumer.
    m = ElecoinMarket(n_prosumers=6, supply=10.0, p_max=1000.0, x_max=50.0)
    eq = solve(m, "discriminated")
    assert eq.demands.sum() == pytest.approx(10.0, rel=1e-9)
    assert np.all((eq.demands > 0) & (eq.demands < m.x_max))
    shadow = eq.prices**2 * m.eta * m.Q / (m.theta * m.intentions)
    assert shadow == pytest.approx(np.full(6, shadow[0]), rel=1e-9)
    assert shadow[0] > m.unit_cost


def test_ration_shares_pro_rata_and_only_beyond_the_supply():
    m = ElecoinMarket(n_prosumers=3, supply=6.0)
    assert ration(m, [1.0, 2.0, 2.0]) == pytest.approx([1.0, 2.0, 2.0])
    assert ration(m, [2.0, 4.0, 6.0]) == pytest.approx([1.0, 2.0, 3.0])
    assert ration(ElecoinMarket(n_prosumers=3), [20.0, 40.0, 60.0]) == pytest.approx([20.0, 40.0, 60.0])
    assert market_demands(m, m.p_min).sum() == pytest.approx(6.0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"supply": 0.0}, "supply"), ({"supply": 5.0, "x_min": 1.0}, "x_min"), ({"rationing": "lottery"}, "rationing")],
)
def test_invalid_supply_settings_name_the_field(changes, field):
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(ElecoinMarket(), **changes)
    assert info.value.field == field


def test_vectorised_one_follower_margin_equals_the_general_maximiser():
    rng = np.random.default_rng(0)
    for _ in range(300):
        b = rng.uniform(0.01, 5.0, size=4)
        a, c = rng.uniform(1, 1000), rng.uniform(0, 30)
        lo, hi = 0.0, rng.uniform(0.1, 20)
        p_min = rng.uniform(1, 50)
        p_max = p_min + rng.uniform(1, 500)
        each = maximise_margin_each(a, b, lo, hi, c, p_min, p_max)
        one = np.array([maximise_margin(a, np.array([bi]), lo, hi, c, p_min, p_max) for bi in b])
        value = (each - c) * np.clip(a / each - b, lo, hi)
        assert value == pytest.approx((one - c) * np.clip(a / one - b, lo, hi), rel=1e-12, abs=1e-12)


# --- The random-market distribution of docs/elecoin.md ---------------------------------------------

def test_random_markets_respect_the_documented_ranges_and_have_trade():
    d = MarketDistribution()
    for seed in range(40):
        pricing = ("unified", "discriminated")[seed % 2]
        m = draw_market(d, np.random.default_rng(seed), pricing)
        assert d.n_min <= m.n_prosumers <= d.n_max
        assert d.theta_min <= m.theta <= d.theta_max
        assert np.all((m.intentions >= d.w_min) & (m.intentions <= d.w_max))
        assert d.x_max_min <= m.x_max <= d.x_max_max and m.x_min == 0
        assert m.unit_cost <= m.p_min <= d.p_min_cost_max * m.unit_cost * (1 + 1e-12)
        assert d.p_ratio_min <= m.p_max / m.p_min <= d.p_ratio_max * (1 + 1e-12)
        assert solve(m, pricing).demands.sum() > 0


def test_random_markets_are_reproducible_and_accept_fixed_fields():
    d = MarketDistribution()
    assert draw_market(d, np.random.default_rng(3)) == draw_market(d, np.random.default_rng(3))
    m = draw_market(d, np.random.default_rng(3), n_prosumers=5, supply=20.0)
    assert m.n_prosumers == 5 and m.supply == 20.0


def test_random_markets_cover_the_bounds():
    # The distribution is meant to put equilibria on p_max, near p_min and on x_max (docs/elecoin.md).
    d = MarketDistribution()
    on_p_max = near_p_min = on_x_max = 0
    for seed in range(200):
        m = draw_market(d, np.random.default_rng(seed))
        eq = solve(m, "unified")
        on_p_max += eq.price == m.p_max
        near_p_min += (eq.price - m.p_min) <= 0.02 * (m.p_max - m.p_min)
        on_x_max += bool(np.any(eq.demands == m.x_max))
    assert on_p_max >= 10 and near_p_min >= 10 and on_x_max >= 10


@pytest.mark.parametrize(("changes", "field"), [({"n_min": 0}, "n_min"), ({"n_max": 1}, "n_max"),
                                                ({"w_min": -1.0}, "w_min"), ({"p_ratio_min": 1.0}, "p_ratio_min")])
def test_invalid_distribution_names_the_field(changes, field):
    with pytest.raises(ConfigError) as info:
        MarketDistribution(**changes)
    assert info.value.field == field
