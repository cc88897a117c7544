"""The compiled DMA-UBRL kernels against the numpy reference implementation."""

import numpy as np
import pytest

from gridledger.learn.elecoin.kernels import wolf_act, wolf_update
from gridledger.learn.wolf import WoLFConfig, WoLFPHC


def _par(cfg):
    return np.array([cfg.sigma, cfg.gamma, cfg.eps_win, cfg.eps_lose,
                     float(cfg.lr_schedule == "harmonic"), float(cfg.future == "shared")])


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
