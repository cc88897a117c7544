import numpy as np
import pytest

from gridledger.games.elecoin_baselines import GAConfig, RandomConfig, solve_ga, solve_random
from gridledger.games.stackelberg import ElecoinMarket, solve

FAST_GA = GAConfig(pop_size=40, generations=80)


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("pricing", ["unified", "discriminated"])
def test_ga_for_prosumers_only_favours_prosumers_and_hurts_the_server(pricing):
    m = ElecoinMarket(n_prosumers=4)
    ga = solve_ga(m, pricing, "prosumers", FAST_GA, np.random.default_rng(0))
    eq = solve(m, pricing)
    assert ga.total_prosumer_utility > eq.total_prosumer_utility
    assert ga.server_utility < eq.server_utility
    # Optimum of sum U_i over the box: lowest price and each prosumer's eq. (4) demand there.
    assert np.all(ga.prices == pytest.approx(m.p_min, rel=0.02))


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("pricing", ["unified", "discriminated"])
def test_ga_for_server_only_favours_server_and_hurts_prosumers(pricing):
    m = ElecoinMarket(n_prosumers=4)
    ga = solve_ga(m, pricing, "server", FAST_GA, np.random.default_rng(0))
    eq = solve(m, pricing)
    assert ga.server_utility > eq.server_utility
    assert ga.total_prosumer_utility < eq.total_prosumer_utility
    assert np.all(ga.prices <= m.p_max) and np.all(ga.demands <= m.x_max)


@pytest.mark.seed_sensitive
def test_ga_is_reproducible_under_a_seed():
    m = ElecoinMarket(n_prosumers=3)
    a = solve_ga(m, "unified", "server", FAST_GA, np.random.default_rng(4))
    b = solve_ga(m, "unified", "server", FAST_GA, np.random.default_rng(4))
    np.testing.assert_array_equal(a.demands, b.demands)


@pytest.mark.seed_sensitive
def test_random_policies_average_within_bounds_and_match_expectation():
    m = ElecoinMarket(n_prosumers=3)
    out = solve_random(m, "unified", RandomConfig(samples=200_000), np.random.default_rng(0)).outcome
    assert out.price == pytest.approx((m.p_min + m.p_max) / 2, rel=0.01)
    assert out.demands == pytest.approx(np.full(3, (m.x_min + m.x_max) / 2), rel=0.01)
    # E[U^e] is linear in p x with independent uniforms: U^m + N E[p] E[x] - k (N E[x] / Q + e_c).
    ep, ex = (m.p_min + m.p_max) / 2, (m.x_min + m.x_max) / 2
    expected = m.leader_mining_utility() + 3 * ep * ex - m.k * (3 * ex / m.Q + m.e_c)
    assert out.server_utility == pytest.approx(expected, rel=0.01)
