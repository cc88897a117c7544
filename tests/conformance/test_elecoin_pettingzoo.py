"""PettingZoo conformance of the elecoin game and agreement with the market's utilities."""

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from gridledger.games.stackelberg import ElecoinMarket, prosumer_utility, server_utility
from gridledger.learn.elecoin.env import ElecoinParallelEnv


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("pricing", ["unified", "discriminated"])
def test_parallel_api(pricing):
    parallel_api_test(ElecoinParallelEnv(ElecoinMarket(n_prosumers=3), pricing, max_slots=20), num_cycles=100)


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("pricing", ["unified", "discriminated"])
def test_rewards_are_the_market_utilities_and_phases_alternate(pricing):
    m = ElecoinMarket(n_prosumers=3)
    env = ElecoinParallelEnv(m, pricing, max_slots=2)
    obs, _ = env.reset(seed=1)
    assert obs["server"][0] == 0 and obs["prosumer_0"].tolist() == [0.0, 0.0]
    prices = np.array([70.0]) if pricing == "unified" else np.array([60.0, 70.0, 80.0])
    acts = {a: env.action_space(a).sample() for a in env.agents}
    acts["server"] = prices.astype(np.float32)
    obs, rew, *_ = env.step(acts)
    assert all(v == 0.0 for v in rew.values())
    offered = np.broadcast_to(prices, (3,))
    assert [obs[f"prosumer_{i}"][1] for i in range(3)] == pytest.approx(offered)
    x = np.array([1.0, 2.5, 4.0])
    acts = {a: env.action_space(a).sample() for a in env.agents}
    acts.update({f"prosumer_{i}": np.array([x[i]], dtype=np.float32) for i in range(3)})
    obs, rew, _term, trunc, info = env.step(acts)
    assert [rew[f"prosumer_{i}"] for i in range(3)] == pytest.approx(prosumer_utility(m, x, offered))
    assert rew["server"] == pytest.approx(server_utility(m, offered, x))
    assert sum(info["server"]["learner_rewards"]) == pytest.approx(rew["server"])
    assert obs["server"][1:].tolist() == pytest.approx(x)
    assert not any(trunc.values())


@pytest.mark.seed_sensitive
def test_episode_truncates_after_max_slots():
    env = ElecoinParallelEnv(ElecoinMarket(n_prosumers=2), max_slots=3)
    env.reset(seed=0)
    steps = 0
    while env.agents:
        env.step({a: env.action_space(a).sample() for a in env.agents})
        steps += 1
    assert steps == 6
