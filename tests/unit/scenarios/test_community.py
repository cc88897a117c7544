"""A community day end to end: invariants, keys, determinism, Lemma 2 rewards, penalties, the three
loss readings and the power-flow model, and a series of days."""

import dataclasses
import itertools

import numpy as np
import pytest
from situations import positive_coalitions, two_neighbourhoods

from gridledger.grid.losses import LossConfig
from gridledger.scenarios.community.run import (
    CommunityConfig,
    check_invariants,
    run_community_day,
    run_community_days,
    synthetic_input,
)


def _day(**kw):
    seed = kw.pop("seed", 0)
    cfg = CommunityConfig(**kw)
    rng = np.random.default_rng(seed)
    return run_community_day(cfg, synthetic_input(cfg, rng), rng)


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("loss", [LossConfig(reading="linear"), LossConfig(reading="clipped"),
                                  LossConfig(reading="affine"), LossConfig(model="powerflow")])
@pytest.mark.parametrize("dist", ["nde", "lde"])
def test_invariants_hold(loss, dist):
    day = _day(prosumers=15, distribution=dist, loss=loss, seed=3)
    assert check_invariants(day) == []
    assert day.optimum_kwh <= day.loss_coalition_kwh + 1e-9 <= day.baseline_loss_kwh + 2e-6
    assert day.loss_coalition_kwh <= day.loss_alone_kwh + 1e-9
    assert np.all(day.member_scores >= day.singleton_scores - 1e-9)
    assert day.stability is not None and day.stability.stable


def test_the_readings_price_a_transfer_as_documented():
    from gridledger.grid.losses import loss_fractions
    from gridledger.grid.network import community_grid

    grid = community_grid(np.array([[10.0, 11.0], [10.0, 20.0]]))  # 1 km and 10 km from the EDC (10, 10)
    c = 0.056 / (20 * np.sqrt(2))
    lin = loss_fractions(grid, LossConfig(reading="linear"))
    clip = loss_fractions(grid, LossConfig(reading="clipped"))
    aff = loss_fractions(grid, LossConfig(reading="affine"))
    assert lin[0, 2] == pytest.approx(c * 1.0)                      # eq. (3.11): no floor
    assert clip[0, 2] == pytest.approx(0.018)                       # clipped to the floor
    assert clip[1, 2] == pytest.approx(max(c * 10, 0.018))
    assert aff[0, 2] == pytest.approx(0.018 + 0.038 * 1 / (20 * np.sqrt(2)))


@pytest.mark.seed_sensitive
def test_json_has_the_stable_keys():
    data = _day(prosumers=12, seed=1).to_json()
    for key in ("partition", "iterations", "singleton_proof_scores", "proof_scores", "transactions",
                "loss_alone_kwh", "loss_coalition_kwh", "optimum_kwh", "loss_over_optimum", "savings_pct",
                "optimum_savings_pct", "p2p_share_of_energy_pct", "p2p_share_per_prosumer_pct",
                "baseline_noncooperative", "stability", "miner", "mining_reward", "reward", "reward_shares",
                "payoffs", "seconds", "network", "profiles_source", "labels", "feeder", "loss_reading", "operator"):
        assert key in data
    for t in data["transactions"]:
        assert set(t) == {"from", "to", "energy_kwh", "loss_kwh"}
    it = data["iterations"][0]
    assert set(it) >= {"partition", "coalition_proof_scores", "prosumer_proof_scores"}
    assert set(data["reward"]) >= {"delta", "pool_kwh", "fees_kwh", "shares_kwh", "transfers"}
    assert data["network"] == "ieee14" and data["profiles_source"] == "synthetic draws" and data["feeder"] is None


@pytest.mark.seed_sensitive
def test_both_p2p_shares_follow_from_the_transactions():
    day = _day(prosumers=12, seed=1)
    p2p, edc = day.p2p_kwh, day.edc_kwh
    assert day.p2p_share_of_energy_pct == pytest.approx(100 * p2p / (p2p + edc))
    assert day.p2p_share_per_prosumer_pct == pytest.approx(100 * 2 * p2p / (2 * p2p + edc))


@pytest.mark.seed_sensitive
def test_same_seed_same_day():
    a, b = _day(prosumers=12, seed=5).to_json(), _day(prosumers=12, seed=5).to_json()
    for d in (a, b):
        d.pop("seconds"), d.pop("formation_seconds")
    assert a == b


@pytest.mark.seed_sensitive
def test_reward_is_a_fee_on_savings_paid_to_the_winning_coalition():
    day = _day(prosumers=12, seed=2)
    assert day.miner is not None
    r = day.reward
    assert r.fees_kwh == pytest.approx(0.1 * day.savings_kwh)               # eq. (3.23) per prosumer (Lemma 2)
    assert r.pool_kwh == pytest.approx(0.1 * day.savings_kwh.sum())
    outside = [i for i in range(12) if i not in day.miner]
    assert np.all(r.shares_kwh[outside] == 0)
    assert r.shares_kwh.sum() == pytest.approx(r.pool_kwh)
    # No money is created: payoffs add up to the savings' value, and nobody ends below acting alone.
    assert day.payoffs.sum() == pytest.approx(0.1 * day.savings_kwh.sum())
    assert np.all(day.payoffs >= -1e-12)
    # The transfers move exactly the fees to the shares.
    paid = np.zeros(12)
    got = np.zeros(12)
    for t in r.transfers():
        paid[t["from"]] += t["amount_kwh"]
        got[t["to"]] += t["amount_kwh"]
    self_kept = np.array([r.fees_kwh[i] * r.shares_kwh[i] / r.pool_kwh for i in range(12)])
    assert paid + self_kept == pytest.approx(r.fees_kwh)
    assert got + self_kept == pytest.approx(r.shares_kwh)


def test_buyers_earn_reward_shares_for_what_they_save():
    # A seller and a buyer who save only together: in the savings game they are symmetric players.
    from gridledger.grid.dispatch import CoalitionLP, alone_losses
    from gridledger.scenarios.community.run import mining_reward

    f = np.array([[0.0, 0.01, 0.04], [0.01, 0.0, 0.04], [0.04, 0.04, 0.0]])
    b = np.array([5.0, -5.0])
    alone = alone_losses(b, f[:2, 2], f[2, :2])
    oracle = CoalitionLP(b, f)
    savings = alone - oracle((0, 1), alone).member_loss
    r = mining_reward(CommunityConfig(prosumers=2), savings, (0, 1), oracle, alone, np.array([4.8, 0.0]),
                      np.random.default_rng(0))
    assert r.worth_kwh[0] == pytest.approx(r.worth_kwh[1])
    assert r.shares_kwh[1] == pytest.approx(r.pool_kwh / 2)


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


@pytest.mark.seed_sensitive
def test_a_series_hands_the_formation_to_the_previous_miner_and_accumulates():
    cfg = CommunityConfig(prosumers=10)
    pos = np.random.default_rng(9).uniform(0, 20, size=(10, 2))
    series = run_community_days(cfg, lambda t, r: synthetic_input(cfg, r, pos), 4, np.random.default_rng(1))
    days = series.days
    assert len(days) == 4
    assert days[0].operator == int(np.argmax(days[0].singleton_scores))
    for prev, cur in itertools.pairwise(days):
        assert prev.miner is not None and cur.operator in prev.miner
        assert cur.operator == max(prev.miner, key=lambda i: (prev.member_scores[i], -i))
        assert np.array_equal(cur.inputs.positions_km, pos)
    assert series.payoffs == pytest.approx(np.sum([d.payoffs for d in days], axis=0))
    assert series.upos_kwh == pytest.approx(np.sum([d.savings_kwh - d.reward.fees_kwh + d.reward.shares_kwh
                                                    for d in days], axis=0))
    assert series.epos_kwh == pytest.approx(np.sum([np.clip(d.member_scores, 0, None) for d in days], axis=0))
    data = series.to_json(days_in_full=False)
    assert data["days"] == 4 and len(data["per_day"]) == 4 and data["day_results"] is None


def test_bad_config_names_the_field():
    from gridledger.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        CommunityConfig(delta=0)
    assert info.value.field == "delta"
    with pytest.raises(ConfigError) as info:
        dataclasses.replace(CommunityConfig(), malicious=(99,))
    assert info.value.field == "malicious[0]"
    with pytest.raises(ConfigError) as info:
        LossConfig(reading="quadratic")
    assert info.value.field == "reading"
