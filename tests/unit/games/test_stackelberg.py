import dataclasses

import numpy as np
import pytest

from gridledger.errors import ConfigError
from gridledger.games.stackelberg import (
    ElecoinMarket,
    best_response,
    default_intentions,
    interior_unified_price,
    maximise_margin,
    prosumer_utility,
    server_utility,
    solve,
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
