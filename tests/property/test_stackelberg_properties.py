"""Property tests of the elecoin Stackelberg game (paper eqs. 3-7)."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridledger.games.stackelberg import (
    ElecoinMarket,
    best_response,
    prosumer_utility,
    server_utility,
    solve,
)

positive = st.floats(min_value=0.05, max_value=5.0, allow_nan=False)


@st.composite
def markets(draw, max_n=6):
    n = draw(st.integers(1, max_n))
    w = tuple(draw(st.lists(positive, min_size=n, max_size=n)))
    p_min = draw(st.floats(1.0, 60.0))
    p_max = p_min + draw(st.floats(1.0, 150.0))
    x_min = draw(st.floats(0.0, 3.0))
    x_max = x_min + draw(st.floats(0.1, 12.0))
    return ElecoinMarket(
        n_prosumers=n, w=w, theta=draw(st.floats(1.0, 300.0)), eta=draw(st.floats(0.05, 2.0)),
        k=draw(st.floats(0.0, 20.0)), Q=draw(st.floats(0.1, 2.0)), e_c=draw(st.floats(0.0, 20.0)),
        p_min=p_min, p_max=p_max, x_min=x_min, x_max=x_max,
    )


@settings(max_examples=200, deadline=None)
@given(markets(), st.floats(0.0, 1.0))
def test_best_response_maximises_prosumer_utility_over_the_bounds(m, t):
    price = m.p_min + t * (m.p_max - m.p_min)
    x_star = best_response(m, price)
    grid = np.linspace(m.x_min, m.x_max, 2001)[:, None]
    u_grid = prosumer_utility(m, grid, price)
    u_star = prosumer_utility(m, x_star, price)
    assert np.all(u_star >= u_grid.max(axis=0) - 1e-9 * (1 + np.abs(u_star)))
    assert np.all((x_star >= m.x_min) & (x_star <= m.x_max))


def _leader_value(m, prices):
    return np.asarray(server_utility(m, prices, best_response(m, prices)))


@settings(max_examples=150, deadline=None)
@given(markets())
def test_no_unified_price_beats_the_returned_one(m):
    eq = solve(m, "unified")
    grid = np.linspace(m.p_min, m.p_max, 4001)
    values = _leader_value(m, np.repeat(grid[:, None], m.n_prosumers, axis=1))
    tol = 1e-9 * (1 + abs(eq.server_utility))
    assert eq.server_utility >= values.max() - tol
    assert m.p_min <= eq.price <= m.p_max


@settings(max_examples=100, deadline=None)
@given(markets(max_n=4), st.data())
def test_no_discriminated_price_vector_beats_the_returned_one(m, data):
    eq = solve(m, "discriminated")
    tol = 1e-9 * (1 + abs(eq.server_utility))
    # Random price vectors and one-coordinate deviations on a fine grid.
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    trials = rng.uniform(m.p_min, m.p_max, size=(2000, m.n_prosumers))
    assert eq.server_utility >= _leader_value(m, trials).max() - tol
    grid = np.linspace(m.p_min, m.p_max, 801)
    for i in range(m.n_prosumers):
        prices = np.repeat(eq.prices[None, :], grid.size, axis=0)
        prices[:, i] = grid
        assert eq.server_utility >= _leader_value(m, prices).max() - tol


@settings(max_examples=100, deadline=None)
@given(markets())
def test_discriminated_pricing_never_earns_the_leader_less_than_unified(m):
    # A unified price is a special discriminated price vector.
    assert solve(m, "discriminated").server_utility >= solve(m, "unified").server_utility - 1e-9 * (
        1 + abs(solve(m, "unified").server_utility))


# --- Supply-limited market: the leader's problem subject to sum_i x_i <= S ---------------------------

@st.composite
def supplied_markets(draw, max_n=6):
    m = draw(markets(max_n=max_n))
    n = m.n_prosumers
    # Supplies from "binds even at p_max" to "never binds".
    asked_max = float(best_response(m, m.p_min).sum())
    supply = draw(st.floats(0.02, 1.5)) * max(asked_max, 0.1)
    return dataclasses.replace(m, x_min=0.0, supply=supply, w=tuple(m.intentions), n_prosumers=n)


def _feasible(m, demands):
    return demands.sum(axis=-1) <= m.supply * (1 + 1e-12)


@settings(max_examples=150, deadline=None)
@given(supplied_markets())
def test_supply_limited_unified_respects_s_and_no_feasible_price_does_better(m):
    eq = solve(m, "unified")
    assert eq.demands.sum() <= m.supply * (1 + 1e-12)
    assert m.p_min <= eq.price <= m.p_max
    grid = np.linspace(m.p_min, m.p_max, 4001)
    asked = best_response(m, np.repeat(grid[:, None], m.n_prosumers, axis=1))
    ok = _feasible(m, asked)
    tol = 1e-9 * (1 + abs(eq.server_utility))
    if ok.any():
        values = np.asarray(server_utility(m, grid[ok][:, None], asked[ok]))
        assert eq.server_utility >= values.max() - tol
    else:
        # Even p_max leaves more than S asked for: p_max, and S shared pro rata.
        assert eq.price == m.p_max
        assert eq.demands.sum() == pytest.approx(m.supply, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(supplied_markets(max_n=4), st.data())
def test_supply_limited_discriminated_respects_s_and_no_feasible_prices_do_better(m, data):
    eq = solve(m, "discriminated")
    assert eq.demands.sum() <= m.supply * (1 + 1e-12)
    assert np.all((eq.prices >= m.p_min) & (eq.prices <= m.p_max))
    tol = 1e-7 * (1 + abs(eq.server_utility))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    trials = rng.uniform(m.p_min, m.p_max, size=(4000, m.n_prosumers))
    asked = best_response(m, trials)
    ok = _feasible(m, asked)
    if ok.any():
        assert eq.server_utility >= np.asarray(server_utility(m, trials[ok], asked[ok])).max() - tol
    if not _feasible(m, best_response(m, np.full(m.n_prosumers, m.p_max))):
        assert np.all(eq.prices == m.p_max)
        assert eq.demands.sum() == pytest.approx(m.supply, rel=1e-12)
    else:
        # One-price deviations that stay feasible do not help either.
        grid = np.linspace(m.p_min, m.p_max, 401)
        for i in range(m.n_prosumers):
            prices = np.repeat(eq.prices[None, :], grid.size, axis=0)
            prices[:, i] = grid
            asked = best_response(m, prices)
            ok = _feasible(m, asked)
            if ok.any():
                assert eq.server_utility >= np.asarray(server_utility(m, prices[ok], asked[ok])).max() - tol
