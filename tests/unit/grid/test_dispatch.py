"""The coalition dispatch LP (eqs. 3.11-3.15) against an independent formulation and against
every feasible plan we can draw."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from gridledger.grid.dispatch import (
    EDC,
    IncrementalDispatch,
    alone_losses,
    attributed_losses,
    proportional_split,
    solve_dispatch,
)
from gridledger.grid.losses import distance_loss_fractions
from gridledger.grid.network import community_grid


def _instance(seed, n):
    rng = np.random.default_rng(seed)
    grid = community_grid(rng.uniform(0, 20, size=(n, 2)))
    f = distance_loss_fractions(grid.dist_km, 0.002, 0.018, 0.056)
    b = rng.normal(-3, 8, n)
    return b, f


def _independent_min_loss(b, f):
    """Same problem as a min-cost flow on the complete graph over prosumers and the EDC (scipy)."""
    n = len(b)
    m = n + 1
    cost = f.ravel()
    # Node balance: out - in = b_i for prosumers, arbitrary for the EDC; only sellers ship,
    # only buyers receive (3.12-3.13): forbid other arcs by bounds.
    a_eq = np.zeros((n, m * m))
    for i in range(n):
        for j in range(m):
            a_eq[i, i * m + j] += 1
            a_eq[i, j * m + i] -= 1
    bounds = []
    for i in range(m):
        for j in range(m):
            ok = i != j and (i == n or b[i] > 0) and (j == n or b[j] < 0)
            bounds.append((0, None) if ok else (0, 0))
    res = linprog(cost, A_eq=a_eq, b_eq=b, bounds=bounds, method="highs")
    assert res.status == 0
    return res.fun


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [2, 5, 12])
def test_optimum_equals_independent_formulation(seed, n):
    b, f = _instance(seed, n)
    res = solve_dispatch(np.arange(n), b, f)
    assert res.loss_kwh == pytest.approx(_independent_min_loss(b, f), rel=1e-7, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 8), st.integers(0, 10_000))
def test_no_feasible_transport_plan_beats_the_optimum(seed, n, plan_seed):
    b, f = _instance(seed, n)
    opt = solve_dispatch(np.arange(n), b, f)
    # A random feasible plan: sellers split their surplus at random among buyers and the EDC,
    # buyers take what they get and the rest from the EDC.
    rng = np.random.default_rng(plan_seed)
    flows = np.zeros((n + 1, n + 1))
    need = np.where(b < 0, -b, 0.0)
    for s in rng.permutation(np.flatnonzero(b > 0)):
        left = b[s]
        for j in rng.permutation(np.flatnonzero(need > 0)):
            x = min(left, need[j]) * rng.uniform()
            flows[s, j] += x
            need[j] -= x
            left -= x
        flows[s, n] += left
    flows[n, :n] += need
    assert (flows * f).sum() >= opt.loss_kwh - 1e-9


@pytest.mark.seed_sensitive
def test_flows_meet_every_balance_and_losses_add_up():
    b, f = _instance(1, 10)
    res = solve_dispatch(np.arange(10), b, f)
    out = res.flows[:10].sum(axis=1) - res.flows[:, :10].sum(axis=0)
    assert out == pytest.approx(b, abs=1e-9)
    assert np.all(res.flows >= 0)
    assert res.member_loss_kwh.sum() == pytest.approx(res.loss_kwh)
    assert res.loss_kwh == pytest.approx((res.flows * f).sum())


@pytest.mark.seed_sensitive
def test_individual_rationality_caps_hold():
    b, f = _instance(3, 10)
    alone = alone_losses(b, f[:10, 10], f[10, :10])
    share = proportional_split(f)
    res = solve_dispatch(np.arange(10), b, f, caps_kwh=alone, seller_share=share)
    assert np.all(res.member_loss_kwh <= alone + 1e-9)
    assert res.loss_kwh <= alone.sum() + 1e-12
    # Impossible caps are reported as infeasible, not violated.
    assert solve_dispatch(np.arange(10), b, f, caps_kwh=np.zeros(10)) is None


def test_proportional_split_benefits_both_sides_of_a_useful_transfer():
    f = np.array([[0.0, 0.03, 0.02], [0.03, 0.0, 0.04], [0.02, 0.04, 0.0]])  # node 2 = EDC
    share = proportional_split(f)
    assert share[0, 1] == pytest.approx(0.02 / (0.02 + 0.04))
    flows = np.zeros((3, 3))
    flows[0, 1] = 1.0
    losses = attributed_losses(flows, f, share)
    assert losses[0] < 0.02 and losses[1] < 0.04  # each side loses less than via the EDC


def test_variables_and_constraints_are_named():
    b = np.array([5.0, -3.0])
    f = np.array([[0, 0.02, 0.03], [0.02, 0, 0.03], [0.03, 0.03, 0]])
    res = solve_dispatch(np.array([7, 9]), b, f)
    tx = res.transactions(f)
    assert {"from": 7, "to": 9, "energy_kwh": pytest.approx(3.0), "loss_kwh": pytest.approx(0.06)} in tx
    assert any(t["to"] == EDC for t in tx)


@pytest.mark.seed_sensitive
def test_incremental_dispatch_matches_fresh_solves():
    b, f = _instance(5, 15)
    inc = IncrementalDispatch(b, f)
    order = np.random.default_rng(0).permutation(15)
    for k, i in enumerate(order, start=1):
        total = inc.add(int(i))
        members = np.sort(order[:k])
        idx = np.append(members, 15)
        fresh = solve_dispatch(members, b[members], f[np.ix_(idx, idx)], named=False)
        assert total == pytest.approx(fresh.loss_kwh, rel=1e-9, abs=1e-12)
