"""The batched environment steps exactly like the single-EV environment."""

import numpy as np
import pytest

from gridledger.learn.fleet.env import V2VBatchEnv, V2VConfig, V2VEnv


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("cfg", [V2VConfig(), V2VConfig(extended_obs=True, data="ud", assisted=True)])
def test_batch_matches_single_env_step_for_step(cfg):
    n = 12
    batch = V2VBatchEnv(n, cfg, seed=5, auto_reset=False)
    obs_b = batch.reset()
    days = batch.days_seen[0]
    singles = [V2VEnv(cfg) for _ in range(n)]
    obs_s = [env.reset(options={"day": days.pick(i)})[0] for i, env in enumerate(singles)]
    assert np.allclose(np.stack(obs_s), obs_b)
    rng = np.random.default_rng(0)
    active = np.ones(n, dtype=bool)
    while active.any():
        a = rng.uniform(-1, 1, n).astype(np.float32)  # the single env takes float32 actions
        obs_b, rew_b, done_b, info_b = batch.step(a)
        for i in np.flatnonzero(active):
            o, r, d, _, info = singles[i].step(np.array([a[i]], dtype=np.float32))
            assert np.allclose(o, obs_b[i], atol=1e-6)
            assert r == pytest.approx(rew_b[i])
            assert d == done_b[i]
            assert info["energy_kwh"] == pytest.approx(info_b["energy_kwh"][i])
            assert info["proof_score"] == pytest.approx(info_b["proof_score"][i])
        active &= ~done_b


@pytest.mark.seed_sensitive
def test_auto_reset_starts_new_days():
    env = V2VBatchEnv(8, seed=1)
    days = 0
    for _ in range(60):
        _, _, done, _ = env.step(np.zeros(8))
        days += int(done.sum())
    assert days >= 8 * 3
    assert len(env.days_seen) > 1
