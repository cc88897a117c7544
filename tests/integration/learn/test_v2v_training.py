"""Training the fleet: what every round records, how each federation mode combines the local
models, the verified mLAG, the budgets, saving and loading; a learned fleet against random
trading; our PPO against stable-baselines3's on the same EV."""

import numpy as np
import pytest
import torch

from gridledger.data.fleet import synthetic_fleet
from gridledger.learn.fleet.env import V2VConfig
from gridledger.learn.fleet.evaluate import evaluate, held_out, random_policy
from gridledger.learn.fleet.federated import FederationConfig, _params_hash, mlag_aggregate, train_fleet
from gridledger.learn.fleet.offpolicy import OffPolicyConfig
from gridledger.learn.ppo import PPOConfig, model_hash

pytestmark = [pytest.mark.integration]

SMALL = {"worlds": 4}


def _same(net, a, b):
    return all(torch.equal(p[a], p[b]) for p in net.parameters())


@pytest.mark.seed_sensitive
def test_rounds_record_the_mlag_fees_and_the_global_model():
    m = train_fleet("ppo", V2VConfig(), FederationConfig(evs=4, rounds=4, beta=0.1, **SMALL), seed=0)
    assert len(m.records) == 4 and len({r.model_hash for r in m.records}) == 4
    for r in m.records:
        assert r.mlag is None or 0 <= r.mlag < 4
        if r.mlag is not None:
            assert r.scores[r.mlag] > 0 and r.fees[r.mlag] == 0.0
            assert r.mining_reward == pytest.approx(sum(r.fees))
        assert all(f >= 0 for f in r.fees)
    # After the aggregation every EV holds the global model, whose hash the round recorded.
    assert all(_same(m.net, 0, k) for k in range(1, 4))
    assert m.records[-1].model_hash == model_hash(m.net, 0)
    # Budgets: every valid step enters `epochs` gradients; counts only grow.
    last = m.records[-1]
    assert last.sample_gradients == PPOConfig().epochs * last.env_steps
    assert [r.episodes for r in m.records] == sorted(r.episodes for r in m.records)


@pytest.mark.seed_sensitive
def test_a_faulty_mlag_is_rejected_and_another_aggregates():
    faulty = (0, 1, 2)
    m = train_fleet("ppo", V2VConfig(), FederationConfig(evs=4, rounds=6, faulty_evs=faulty, **SMALL), seed=1)
    for r in m.records:
        assert r.mlag is None or r.mlag == 3
        assert set(r.rejected) <= set(faulty)
        if r.mlag is None:
            assert r.mining_reward == 0.0
    assert any(r.rejected for r in m.records)


@pytest.mark.seed_sensitive
def test_the_faulty_aggregate_differs_from_fedavg():
    from gridledger.learn.ppo import AgentStack

    stack = AgentStack(3, 8, 8, -1.0, torch.ones(8), seed=0)
    names = [k for k, _ in stack.named_parameters()]
    honest = _params_hash(mlag_aggregate(stack, 1, False), names)
    assert _params_hash(mlag_aggregate(stack, 2, False), names) == honest  # whoever aggregates honestly
    assert _params_hash(mlag_aggregate(stack, 1, True), names) != honest


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("mode", ["independent", "fedprox", "fedavg-ft", "central"])
def test_modes_combine_the_local_models_as_documented(mode):
    fed = FederationConfig(evs=3, rounds=4, mode=mode, finetune_rounds=2, **SMALL)
    m = train_fleet("ppo", V2VConfig(), fed, seed=0)
    if mode == "central":
        assert m.net.agents == 1
        assert all(r.mlag is None or 0 <= r.mlag < 3 for r in m.records)
    elif mode == "fedprox":
        assert all(_same(m.net, 0, k) for k in (1, 2))
    else:  # independent learners, or FedAvg followed by local fine-tuning: personal models
        assert not _same(m.net, 0, 1)


@pytest.mark.seed_sensitive
@pytest.mark.parametrize("algo", ["a2c", "td3", "ddpg", "sac"])
def test_other_learners_train_and_count_their_budget(algo):
    off = OffPolicyConfig(batch_size=32, learning_starts=50, updates_per_step=0.1)
    m = train_fleet(algo, V2VConfig(), FederationConfig(evs=2, rounds=3, **SMALL), seed=0, offpolicy=off)
    last = m.records[-1]
    assert last.env_steps > 0 and last.optimizer_steps > 0
    if algo == "a2c":
        assert last.sample_gradients == last.env_steps  # one pass
    else:
        assert last.sample_gradients == last.optimizer_steps * 32 * 2
    assert all(_same(m.net, 0, 1) for _ in [0])  # FedAvg of every network


def test_mining_reward_needs_an_on_policy_learner():
    from gridledger.errors import ConfigError

    with pytest.raises(ConfigError, match=r"federation\.mining_reward"):
        train_fleet("td3", V2VConfig(), FederationConfig(evs=2, rounds=1, mining_reward=True, **SMALL), seed=0)


@pytest.mark.seed_sensitive
def test_save_and_load_give_the_same_policy(tmp_path):
    from gridledger.scenarios.fleet.run import V2VTrainConfig, load_fleet, save_fleet, train

    for algo in ("ppo", "td3"):
        cfg = V2VTrainConfig(algo=algo, federation=FederationConfig(evs=3, rounds=2, **SMALL),
                             offpolicy=OffPolicyConfig(learning_starts=10, batch_size=16))
        m = train(cfg, 0)
        save_fleet(m, cfg, tmp_path / algo)
        back, cfg2 = load_fleet(tmp_path / algo)
        assert cfg2 == cfg and back.fleet == m.fleet and back.model_hash() == m.model_hash()
        days, prices = held_out(m.fleet, cfg.env, 3, seed=2)
        a = evaluate(m.policy(), m.fleet, cfg.env, days, prices)
        b = evaluate(back.policy(), back.fleet, cfg.env, days, prices)
        assert np.array_equal(a.cash, b.cash)


@pytest.mark.slow
@pytest.mark.seed_sensitive
def test_a_fleet_trained_on_money_beats_random_trading_on_held_out_days():
    cfg = V2VConfig(reward="money")
    m = train_fleet("ppo", cfg, FederationConfig(evs=4, rounds=60, worlds=16), seed=3)
    days, prices = held_out(m.fleet, cfg, 25, seed=99)
    trained = evaluate(m.policy(), m.fleet, cfg, days, prices).summary()["net"]
    rnd = evaluate(random_policy(0), m.fleet, cfg, days, prices).summary()["net"]
    assert trained > rnd + 5, (trained, rnd)


@pytest.mark.slow
@pytest.mark.seed_sensitive
def test_our_ppo_matches_stable_baselines3_ppo():
    """One EV alone at its site (its market is the grid), same hyper-parameters, budget and held-out
    days: both learn, and their mean returns over two seeds agree within 20% of what training
    gains over the untrained policy.

    (Two seeds' spread is too noisy a yardstick: the implementations differ in details that move
    the return by a few percent of the gain, and a pair of seeds can fall outside twice its spread.)"""
    from gridledger.learn.fleet.sb3 import sb3_policy, train_sb3

    torch.set_num_threads(1)
    cfg = V2VConfig()
    fleet = synthetic_fleet(1, 1, np.random.default_rng(0))
    days, prices = held_out(fleet, cfg, 200, seed=5)
    ppo = PPOConfig()
    rounds = 60
    ours, sb3 = [], []
    for seed in (0, 1):
        m = train_fleet("ppo", cfg, FederationConfig(evs=1, rounds=rounds, worlds=16), seed=seed, fleet=fleet)
        ours.append(evaluate(m.policy(), fleet, cfg, days, prices).summary()["delta_return"])
        budget = m.records[-1].env_steps
        model = train_sb3("ppo", cfg, fleet, 0, budget, seed, n_envs=16, n_steps=11, batch_size=44, n_epochs=4,
                          learning_rate=ppo.lr, gamma=ppo.gamma, gae_lambda=ppo.gae_lambda, clip_range=ppo.clip,
                          ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5,
                          policy_kwargs={"log_std_init": ppo.init_log_std,
                                         "net_arch": {"pi": [64, 64], "vf": [64, 64]}})
        sb3.append(evaluate(sb3_policy({0: model}, cfg), fleet, cfg, days, prices).summary()["delta_return"])
    untrained = evaluate(random_policy(0), fleet, cfg, days, prices).summary()["delta_return"]
    assert min(ours + sb3) > untrained + 2, (ours, sb3, untrained)  # both learned something
    gain = np.mean(sb3) - untrained
    assert abs(np.mean(ours) - np.mean(sb3)) <= 0.2 * gain, (ours, sb3, untrained)
