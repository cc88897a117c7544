"""The compiled DMA-UBRL kernels against the numpy reference implementation."""

import numpy as np
import pytest

from gridledger.games.stackelberg import ElecoinMarket
from gridledger.learn.elecoin.dma_ubrl import DMAUBRL, DMAUBRLConfig
from gridledger.learn.elecoin.dma_ubrl import _par as dma_par
from gridledger.learn.elecoin.kernels import (
    archive_add,
    archive_estimate,
    demand_window,
    fill_geometric,
    fill_linear,
    fill_toward_high,
    fill_toward_low,
    next_grid,
    play,
    wolf_act,
    wolf_update,
)
from gridledger.learn.wolf import WoLFConfig, WoLFPHC


def _par(cfg):
    return np.array([cfg.sigma, cfg.gamma, cfg.eps_win, cfg.eps_lose,
                     float(cfg.lr_schedule == "harmonic"), float(cfg.future == "shared"), cfg.tie])


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("cfg", [WoLFConfig(), WoLFConfig(future="per-action", gamma=0.7),
                                 WoLFConfig(lr_schedule="constant", sigma=0.3, gamma=0.2)])
def test_compiled_update_equals_numpy_reference(cfg):
    b, s, a = 3, 4, 5
    rng = np.random.default_rng(7)
    ref = WoLFPHC(b, s, a, cfg, np.random.default_rng(0))
    fast = WoLFPHC(b, s, a, cfg, np.random.default_rng(0))
    par = _par(cfg)
    for _ in range(400):
        states = rng.integers(s, size=b)
        actions = rng.integers(a, size=b)
        rewards = rng.normal(size=b)
        nxt = rng.integers(s, size=b)
        ref.update(states, actions, rewards, nxt)
        for i in range(b):
            wolf_update(fast.q, fast.pi, fast.pi_avg, fast.state_visits, fast.visits, fast.future_value,
                        i, states[i], actions[i], rewards[i], nxt[i], par)
    np.testing.assert_allclose(fast.q, ref.q, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.pi, ref.pi, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.pi_avg, ref.pi_avg, rtol=1e-12, atol=1e-12)


@pytest.mark.seed_sensitive
def test_compiled_action_sampling_follows_the_policy():
    pi = np.zeros((1, 1, 4))
    pi[0, 0] = [0.1, 0.2, 0.3, 0.4]
    rng = np.random.default_rng(0)
    draws = np.array([wolf_act(pi, 0, 0, 0.0, rng) for _ in range(20000)])
    freq = np.bincount(draws, minlength=4) / draws.size
    assert freq == pytest.approx(pi[0, 0], abs=0.015)
    explore = np.array([wolf_act(pi, 0, 0, 1.0, rng) for _ in range(20000)])
    assert np.bincount(explore, minlength=4) / explore.size == pytest.approx(np.full(4, 0.25), abs=0.015)


def test_ties_go_to_the_first_action_in_both_implementations():
    # Rewards equal to the last digits: the lowest action is greedy (the market's convention).
    cfg = WoLFConfig()
    ref = WoLFPHC(1, 1, 4, cfg, np.random.default_rng(0))
    fast = WoLFPHC(1, 1, 4, cfg, np.random.default_rng(0))
    rewards = [5.0, 5.0 * (1 + 1e-14), 5.0 * (1 + 1e-14), 1.0]
    for step in range(200):
        a = step % 4
        ref.update(np.array([0]), np.array([a]), np.array([rewards[a]]), np.array([0]))
        wolf_update(fast.q, fast.pi, fast.pi_avg, fast.state_visits, fast.visits, fast.future_value, 0, 0, a,
                    rewards[a], 0, _par(cfg))
    assert ref.greedy(np.array([0]))[0] == 0
    assert np.argmax(fast.pi[0, 0]) == 0
    np.testing.assert_allclose(fast.pi, ref.pi, rtol=1e-12, atol=1e-12)


# --- Action grids (trust-region refinement) ------------------------------------------------------

def _grid(fill, *args, k=9):
    out = np.zeros(k)
    fill(out, *args)
    return out


def test_grid_fillers_are_increasing_and_hit_their_ends():
    for levels in (_grid(fill_linear, 2.0, 5.0), _grid(fill_geometric, 20.0, 2000.0),
                   _grid(fill_toward_low, 0.0, 8.0, 1e-4), _grid(fill_toward_high, 3.0, 8.0, 1e-4)):
        assert np.all(np.diff(levels) > 0)
    assert _grid(fill_geometric, 20.0, 2000.0)[[0, 4, 8]] == pytest.approx([20.0, 200.0, 2000.0])
    low = _grid(fill_toward_low, 0.0, 8.0, 1e-4)
    assert (low[0], low[1], low[-1]) == pytest.approx((0.0, 8e-4, 8.0))
    high = _grid(fill_toward_high, 3.0, 8.0, 1e-4)
    assert (high[0], high[-2], high[-1]) == pytest.approx((3.0, 8.0 - 5e-4, 8.0))


def test_next_grid_brackets_an_interior_greedy_level():
    levels = _grid(fill_linear, 0.0, 8.0)
    out = np.zeros(9)
    assert not next_grid(levels, 3, 0.0, 8.0, 1e-4, 1e-6, 0.0, out)
    assert (out[0], out[-1]) == pytest.approx((levels[2], levels[4]))


def test_next_grid_approaches_a_bound_and_moves_off_an_edge_that_is_not_one():
    out = np.zeros(9)
    on_bound = _grid(fill_linear, 0.0, 8.0)
    assert not next_grid(on_bound, 0, 0.0, 8.0, 1e-4, 1e-6, 0.0, out)
    assert out[0] == 0.0 and out[1] == pytest.approx(1e-4) and out[-1] == pytest.approx(1.0)
    inside = _grid(fill_linear, 2.0, 4.0)
    assert not next_grid(inside, 8, 0.0, 8.0, 1e-4, 1e-6, 0.0, out)
    # Greedy on an edge that is not a bound: the grid moves past it and widens (never pinned).
    assert out[0] == pytest.approx(inside[7]) and out[-1] == pytest.approx(8.0)
    assert not next_grid(inside, 0, 0.0, 8.0, 1e-4, 1.0, 1.0, out)


def test_next_grid_pins_a_narrow_bracket():
    levels = _grid(fill_linear, 5.0, 5.0 + 1e-7)
    out = np.zeros(9)
    assert next_grid(levels, 4, 0.0, 8.0, 1e-4, 1e-6, 0.0, out)
    at_bound = _grid(fill_toward_high, 8.0 - 1e-9, 8.0, 1e-4)
    assert next_grid(at_bound, 8, 0.0, 8.0, 1e-4, 1e-6, 0.0, out)


def test_demand_windows_come_from_the_prosumers_own_archive():
    arch_p = np.zeros((1, 8))
    arch_x = np.zeros((1, 8))
    n_arch = np.zeros(1, dtype=np.int64)
    out = np.zeros(9)
    demand_window(arch_p, arch_x, n_arch, 0, 50.0, 0.0, 10.0, 1e-6, 1e-9, 1e-4, out)
    assert (out[0], out[-1]) == (0.0, 10.0)  # nothing known yet: the whole range, approaching 0
    archive_add(arch_p, arch_x, n_arch, 0, 40.0, 6.0)
    archive_add(arch_p, arch_x, n_arch, 0, 60.0, 2.0)
    demand_window(arch_p, arch_x, n_arch, 0, 50.0, 0.0, 10.0, 1e-6, 1e-9, 1e-4, out)
    # Demand falls with price: the settled demands at 40 and 60 bracket the one at 50 (plus a margin).
    assert out[0] == pytest.approx(2.0 - 1.0, abs=1e-4) and out[-1] == pytest.approx(6.0 + 1.0, abs=1e-4)
    assert archive_estimate(arch_p, arch_x, n_arch, 0, 50.0) == pytest.approx(4.0)
    assert archive_estimate(arch_p, arch_x, n_arch, 0, 70.0) == pytest.approx(2.0)


def test_grid_helpers_compiled_equal_python():
    rng = np.random.default_rng(4)
    for _ in range(200):
        levels = np.sort(rng.uniform(0, 10, size=9))
        g = int(rng.integers(9))
        a, b = np.zeros(9), np.zeros(9)
        args = (levels, g, 0.0, 10.0, 1e-4, 1e-6, 1e-9)
        assert next_grid(*args, a) == next_grid.py_func(*args, b)
        np.testing.assert_array_equal(a, b)


def _tiny_game(market, pricing):
    cfg = DMAUBRLConfig(price_levels=5, demand_levels=5, eval_every=50, explore_visits=10, stable_visits=3)
    return DMAUBRL(market, pricing, cfg, np.random.default_rng(11))


@pytest.mark.slow
@pytest.mark.parametrize(("market", "pricing"), [
    (ElecoinMarket(n_prosumers=2), "unified"),
    (ElecoinMarket(n_prosumers=2), "discriminated"),
    (ElecoinMarket(n_prosumers=3, supply=5.0, p_max=1000.0), "unified"),
])
def test_compiled_game_equals_its_python_source(market, pricing):
    # The same game played by the compiled kernel and by its Python source, from the same state
    # and generator, through several stages of every learner: identical tables afterwards.
    games = [_tiny_game(market, pricing) for _ in range(2)]
    outs = []
    for game, fn in zip(games, (play, play.py_func), strict=True):
        looks = (np.zeros((900, game.server.shape[0])), np.zeros((900, market.n_prosumers)), np.zeros(900, np.int64))
        outs.append(fn(game._leader(), game._follower(), game._learner_of, market.intentions, game._market,
                       game._sched, dma_par(game.config.server), dma_par(game.config.prosumer), pricing == "unified",
                       game.rng, 20_000, game._clock, *looks))
    assert outs[0] == outs[1]
    assert games[0]._lint[:, 2].min() >= 2  # stages ended by every price learner
    for a, b in zip(games[0]._leader() + games[0]._follower(), games[1]._leader() + games[1]._follower(), strict=True):
        np.testing.assert_array_equal(a, b)
