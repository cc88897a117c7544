import numpy as np
import pytest

from gridledger.errors import ConfigError
from gridledger.learn.wolf import WoLFConfig, WoLFPHC


def _bandit(rewards, steps, cfg=None, seed=0, explore=0.2):
    """Independent learners, each facing a deterministic bandit row of ``rewards``."""
    rewards = np.asarray(rewards, dtype=float)
    learner = WoLFPHC(rewards.shape[0], 1, rewards.shape[1], cfg or WoLFConfig(), np.random.default_rng(seed))
    s = np.zeros(rewards.shape[0], dtype=np.int64)
    for _ in range(steps):
        a = learner.act(s, explore)
        learner.update(s, a, rewards[np.arange(len(a)), a], s)
    return learner


@pytest.mark.seed_sensitive
def test_policies_remain_distributions():
    learner = _bandit(np.random.default_rng(1).normal(size=(5, 7)), 300)
    assert np.all(learner.pi >= 0)
    assert learner.pi.sum(axis=2) == pytest.approx(np.ones((5, 1)))
    assert learner.pi_avg.sum(axis=2) == pytest.approx(np.ones((5, 1)))


@pytest.mark.seed_sensitive
def test_each_learner_converges_to_its_own_best_action():
    rewards = np.array([[0.0, 1.0, 0.5], [3.0, 1.0, 2.0], [0.1, 0.2, 0.3]])
    learner = _bandit(rewards, 3000)
    assert learner.greedy(np.zeros(3, dtype=np.int64)).tolist() == [1, 0, 2]
    assert learner.pi[:, 0].max(axis=1).min() > 0.95


@pytest.mark.seed_sensitive
def test_learners_do_not_read_each_others_rows():
    rewards = np.array([[0.0, 1.0, 0.5], [3.0, 1.0, 2.0]])
    both = _bandit(rewards, 500, seed=3)
    alone = WoLFPHC(1, 1, 3, WoLFConfig(), np.random.default_rng(0))
    # Learner 1 alone, fed the same actions as in the batch, ends with the same tables.
    replay = WoLFPHC(2, 1, 3, WoLFConfig(), np.random.default_rng(3))
    s2 = np.zeros(2, dtype=np.int64)
    s1 = np.zeros(1, dtype=np.int64)
    for _ in range(500):
        a = replay.act(s2, 0.2)
        replay.update(s2, a, rewards[[0, 1], a], s2)
        alone.update(s1, a[1:], rewards[[1], a[1:]], s1)
    assert alone.q[0] == pytest.approx(replay.q[1])
    assert alone.pi[0] == pytest.approx(replay.pi[1])
    assert replay.q == pytest.approx(both.q)


def test_losing_learner_steps_faster_than_winning():
    cfg = WoLFConfig(eps_win=0.001, eps_lose=0.1, lr_schedule="constant", sigma=1.0)
    learner = WoLFPHC(1, 1, 2, cfg, np.random.default_rng(0))
    s = np.zeros(1, dtype=np.int64)
    # First update: pi == pi_avg, so not winning: step eps_lose towards the greedy action 1.
    learner.update(s, np.array([1]), np.array([1.0]), s)
    assert learner.pi[0, 0] == pytest.approx([0.5 - 0.1, 0.5 + 0.1])
    # Now pi beats its average: winning, step eps_win.
    learner.update(s, np.array([1]), np.array([1.0]), s)
    assert learner.pi[0, 0, 1] == pytest.approx(0.6 + 0.001)


def test_shared_future_leaves_action_ranking_of_immediate_rewards():
    # Next states alternate with values that differ a lot; per-action Q-learning mixes that
    # noise into the comparison of actions, the shared form does not.
    rng = np.random.default_rng(0)
    cfg = WoLFConfig(gamma=0.9, future="shared")
    learner = WoLFPHC(1, 2, 3, cfg, rng)
    learner.q[0, 1] = [100.0, 0.0, -50.0]
    r = np.array([0.0, 0.01, 0.005])
    for t in range(400):
        a = np.array([t % 3])
        learner.update(np.array([0]), a, r[a], np.array([1 if t % 2 else 0]))
    q = learner.q[0, 0]
    assert np.argmax(q) == 1
    assert (q - q.mean()) == pytest.approx(r - r.mean(), abs=1e-9)


@pytest.mark.parametrize(("field", "value"), [("sigma", 0.0), ("gamma", 1.5), ("eps_win", -0.1),
                                              ("lr_schedule", "cosine"), ("future", "none")])
def test_config_validation(field, value):
    with pytest.raises(ConfigError) as info:
        WoLFConfig(**{field: value})
    assert info.value.field == field
