"""A community day end to end: invariants, keys, determinism, penalties, both loss models."""

import dataclasses

import numpy as np
import pytest
from situations import positive_coalitions, two_neighbourhoods

from gridledger.grid.losses import LossConfig
from gridledger.scenarios.community.run import (
    CommunityConfig,
    check_invariants,
    run_community_day,
    synthetic_input,
)


def _day(**kw):
    seed = kw.pop("seed", 0)
    cfg = CommunityConfig(**kw)
    rng = np.random.default_rng(seed)
    return run_community_day(cfg, synthetic_input(cfg, rng), rng)


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("model", ["distance", "powerflow"])
@pytest.mark.parametrize("dist", ["nde", "ude", "lde"])
def test_invariants_hold(model, dist):
    day = _day(prosumers=15, distribution=dist, loss=LossConfig(model=model), seed=3)
    assert check_invariants(day) == []
    assert day.loss_coalition_kwh <= day.loss_alone_kwh + 1e-9
    assert np.all(day.member_scores >= day.singleton_scores - 1e-9)


@pytest.mark.seed_sensitive
def test_json_has_the_stable_keys():
    data = _day(prosumers=12, seed=1).to_json()
    for key in ("partition", "iterations", "singleton_proof_scores", "proof_scores", "transactions",
                "loss_alone_kwh", "loss_coalition_kwh", "savings_pct", "traded_in_coalitions_pct", "miner",
                "mining_reward", "reward_shares", "payoffs", "seconds"):
        assert key in data
    for t in data["transactions"]:
        assert set(t) == {"from", "to", "energy_kwh", "loss_kwh"}
    it = data["iterations"][0]
    assert set(it) >= {"partition", "coalition_proof_scores", "prosumer_proof_scores"}


@pytest.mark.seed_sensitive
def test_same_seed_same_day():
    a, b = _day(prosumers=12, seed=5).to_json(), _day(prosumers=12, seed=5).to_json()
    for d in (a, b):
        d.pop("seconds"), d.pop("formation_seconds")
    assert a == b


@pytest.mark.seed_sensitive
def test_reward_is_delta_times_savings_and_shared_in_the_winning_coalition():
    day = _day(prosumers=12, seed=2)
    assert day.mining_reward_kwh == pytest.approx(0.1 * day.savings_kwh.sum())
    outside = [i for i in range(12) if day.miner is None or i not in day.miner]
    assert np.all(day.reward_shares_kwh[outside] == 0)
    assert day.payoffs.sum() == pytest.approx(0.1 * (day.savings_kwh.sum() + day.mining_reward_kwh))


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("seed", range(4))
def test_malicious_miner_is_slashed_and_another_coalition_mines(seed):
    # Two neighbourhoods with sellers: at least two coalitions have a positive proof score, so
    # whichever the draw elects first, another one is left to mine once it is slashed.
    cfg = CommunityConfig(prosumers=8)
    base = run_community_day(cfg, two_neighbourhoods(), np.random.default_rng(seed))
    assert base.miner is not None and len(positive_coalitions(base)) >= 2
    bad = run_community_day(dataclasses.replace(cfg, malicious=base.miner), two_neighbourhoods(),
                            np.random.default_rng(seed))
    data = bad.to_json()
    # Same scores, same draw: the first candidate is the malicious coalition, which refuses.
    assert data["election"][0] == {"coalition": list(base.miner), "probability": pytest.approx(
        base.election.attempts[0].probability), "refused": True}
    assert data["slashed"] == [list(base.miner)]
    assert bad.miner is not None and set(bad.miner).isdisjoint(base.miner)
    assert np.all(bad.reward_shares_kwh[list(base.miner)] == 0)
    assert bad.reward_shares_kwh.sum() == pytest.approx(bad.mining_reward_kwh)


@pytest.mark.seed_sensitive
def test_large_winning_coalition_gets_sampled_shares_with_errors():
    # Exact Shapley values only for coalitions of one: every coalition that can win here has
    # more members (the singletons refuse to mine), so the winner's shares are sampled.
    cfg = CommunityConfig(prosumers=8, shapley_exact_max=1)
    first = run_community_day(cfg, two_neighbourhoods(), np.random.default_rng(0))
    singles = tuple(i for c in first.formation.partition if len(c) == 1 for i in c)
    day = run_community_day(dataclasses.replace(cfg, malicious=singles), two_neighbourhoods(),
                            np.random.default_rng(0))
    assert day.miner is not None and len(day.miner) > cfg.shapley_exact_max
    assert day.shapley_stderr_kwh is not None
    assert day.reward_shares_kwh.sum() == pytest.approx(day.mining_reward_kwh) and day.mining_reward_kwh > 0
    outside = [i for i in range(8) if i not in day.miner]
    assert np.all(day.shapley_stderr_kwh[outside] == 0) and np.all(day.shapley_stderr_kwh >= 0)
    assert np.all(day.reward_shares_kwh[outside] == 0)


def test_bad_config_names_the_field():
    from gridledger.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        CommunityConfig(delta=0)
    assert info.value.field == "delta"
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(CommunityConfig(), malicious=(99,))
    assert info.value.field == "malicious[0]"
