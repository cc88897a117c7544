"""A community day end to end: invariants, keys, determinism, penalties, both loss models."""

import dataclasses

import numpy as np
import pytest

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


@pytest.mark.parametrize("model", ["distance", "powerflow"])
@pytest.mark.parametrize("dist", ["nde", "ude", "lde"])
def test_invariants_hold(model, dist):
    day = _day(prosumers=15, distribution=dist, loss=LossConfig(model=model), seed=3)
    assert check_invariants(day) == []
    assert day.loss_coalition_kwh <= day.loss_alone_kwh + 1e-9
    assert np.all(day.member_scores >= day.singleton_scores - 1e-9)


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


def test_same_seed_same_day():
    a, b = _day(prosumers=12, seed=5).to_json(), _day(prosumers=12, seed=5).to_json()
    for d in (a, b):
        d.pop("seconds"), d.pop("formation_seconds")
    assert a == b


def test_reward_is_delta_times_savings_and_shared_in_the_winning_coalition():
    day = _day(prosumers=12, seed=2)
    assert day.mining_reward_kwh == pytest.approx(0.1 * day.savings_kwh.sum())
    outside = [i for i in range(12) if day.miner is None or i not in day.miner]
    assert np.all(day.reward_shares_kwh[outside] == 0)
    assert day.payoffs.sum() == pytest.approx(0.1 * (day.savings_kwh.sum() + day.mining_reward_kwh))


def test_malicious_miner_is_slashed_and_another_coalition_mines():
    base = _day(prosumers=20, seed=4)
    assert base.miner is not None and len(base.formation.partition) > 1
    bad = _day(prosumers=20, seed=4, malicious=tuple(base.miner))
    data = bad.to_json()
    assert sorted(base.miner) in data["slashed"]
    assert bad.miner is None or set(bad.miner).isdisjoint(base.miner)
    assert np.all(bad.reward_shares_kwh[list(base.miner)] == 0)


def test_large_winning_coalition_gets_sampled_shares_with_errors():
    day = _day(prosumers=30, seed=0, shapley_exact_max=2)
    if day.miner is not None and len(day.miner) > 2:
        assert day.shapley_stderr_kwh is not None
        assert day.reward_shares_kwh.sum() == pytest.approx(day.mining_reward_kwh)


def test_bad_config_names_the_field():
    from gridledger.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        CommunityConfig(delta=0)
    assert info.value.field == "delta"
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(CommunityConfig(), malicious=(99,))
    assert info.value.field == "malicious[0]"
