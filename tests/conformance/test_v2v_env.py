"""The V2V environments against Gymnasium's and PettingZoo's checkers, seeding, rewards recomputed
from info, and the single-EV env stepping exactly like the batched market env."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

import gridledger  # noqa: F401  (registers the Gymnasium envs)
from gridledger.data.fleet import synthetic_fleet
from gridledger.learn.fleet.env import FleetMarketEnv, ThesisV2VEnv, V2VConfig, V2VEnv, V2VSiteParallelEnv

CONFIGS = [{}, {"state": "thesis"}, {"assisted": True}, {"data": "ud"}, {"price_scale": "table-4.1"},
           {"market": "grid"}, {"reward": "money"}, {"v2b_kwh": 5.0}, {"hourly_prices": True},
           {"price_source": "day-ahead"}, {"price_source": "citylearn"}]


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("kw", CONFIGS)
def test_check_env_passes_without_warnings(kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make("gridledger/V2VSite-v0", config=V2VConfig(**kw)).unwrapped)
        check_env(gym.make("gridledger/V2V-v0").unwrapped)


def test_thesis_env_is_the_printed_mdp():
    env = ThesisV2VEnv()
    assert env.config.state == "thesis" and env.config.market == "pool" and env.observation_space.shape == (6,)


def _trajectory(env_id, seed, actions_seed=1):
    env = gym.make(env_id)
    rng = np.random.default_rng(actions_seed)
    obs, _info = env.reset(seed=seed)
    out = [obs]
    done = False
    while not done:
        obs, r, done, _trunc, _inf = env.step(rng.uniform(-1, 1, 1).astype(np.float32))
        out += [obs, r]
    return out


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("env_id", ["gridledger/V2V-v0", "gridledger/V2VSite-v0"])
def test_seeding_twice_gives_identical_trajectories(env_id):
    a, b = _trajectory(env_id, 11), _trajectory(env_id, 11)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    c = _trajectory(env_id, 12)
    assert len(a) != len(c) or not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("reward", ["delta", "money"])
def test_reward_recomputed_from_info(reward):
    cfg = V2VConfig(assisted=True, reward=reward)
    env = V2VEnv(cfg)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    done = False
    while not done:
        _, r, done, _, info = env.step(rng.uniform(-1, 1, 1).astype(np.float32))
        expected = info["delta"] * info["cash"]
        if info["departing"]:
            expected += cfg.eta * (info["soc"] - cfg.soc_max) ** 2
        assert info["reward_delta"] == pytest.approx(expected)
        assert r == pytest.approx(info["reward_delta"] if reward == "delta" else info["reward_money"])
        # The cash is what the site market cleared.
        cash = ((info["sold_v2v_kwh"]) * info["p_v2v"] + info["grid_export_kwh"] * info["p_grid_buy"]
                - info["bought_v2v_kwh"] * (info["p_v2v"] + cfg.assisted_cost) - info["grid_import_kwh"]
                * info["p_grid_sell"])
        assert info["cash"] == pytest.approx(cash)


@pytest.mark.seed_sensitive
def test_step_after_the_day_ends_is_refused():
    env = V2VEnv()
    env.reset(seed=0)
    done = False
    while not done:
        _, _, done, _, _ = env.step(np.zeros(1, dtype=np.float32))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1, dtype=np.float32))


@pytest.mark.seed_sensitive
def test_single_ev_env_steps_like_the_batched_market():
    """V2VEnv = FleetMarketEnv with one controlled EV and the others acting by the rule."""
    fleet = synthetic_fleet(6, 1, np.random.default_rng(1))
    cfg = V2VConfig()
    single = V2VEnv(cfg, fleet=fleet, ev=2)
    obs, info = single.reset(seed=5)
    days, prices = single._env.days, single._env.prices
    ctrl = np.zeros(6, dtype=bool)
    ctrl[2] = True
    batch = FleetMarketEnv(fleet, cfg, 1, seed=0, controlled=ctrl)
    batch.start_day(days, prices)
    while not bool(batch.present[2, 0]):
        batch.step(torch.zeros(6, 1))
    assert np.allclose(batch.observe()[2, 0].numpy(), obs)
    rng = np.random.default_rng(0)
    done = False
    while not done:
        a = float(rng.uniform(-1, 1))
        obs, r, done, _, info = single.step(np.array([a], dtype=np.float32))
        act = torch.zeros(6, 1, dtype=torch.float64)
        act[2, 0] = a
        res = batch.step(act)
        assert r == pytest.approx(float(res.reward[2, 0]))
        assert info["energy_kwh"] == pytest.approx(float(res.energy_kwh[2, 0]))
        if not done:
            assert np.allclose(batch.observe()[2, 0].numpy(), obs)


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("kw", [{}, {"reward": "money"}, {"market": "grid", "state": "thesis"}])
def test_site_parallel_env_passes_pettingzoo_api_and_seed_tests(kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(V2VSiteParallelEnv(V2VConfig(**kw), evs=8), num_cycles=40)
    parallel_seed_test(lambda: V2VSiteParallelEnv(V2VConfig(**kw), evs=8))


@pytest.mark.seed_sensitive
def test_site_parallel_env_agents_come_and_go_and_trade():
    fleet = synthetic_fleet(10, 2, np.random.default_rng(0))
    env = V2VSiteParallelEnv(fleet=fleet, site=1)
    assert env.possible_agents == [e.ev_id for e in fleet if e.site == 1]
    env.reset(seed=0)
    seen, left = set(env.agents), set()
    while env.agents:
        acts = {a: np.array([1.0 if i % 2 else -1.0], dtype=np.float32) for i, a in enumerate(env.agents)}
        _obs, _rew, term, _trunc, info = env.step(acts)
        for a, done in term.items():
            if done:
                left.add(a)
        seen |= set(env.agents)
        assert not (set(env.agents) & left)
        sold = sum(i.get("sold_v2v_kwh", 0.0) for i in info.values())
        bought = sum(i.get("bought_v2v_kwh", 0.0) for i in info.values())
        assert sold == pytest.approx(bought)
    assert seen == left == set(env.possible_agents)
