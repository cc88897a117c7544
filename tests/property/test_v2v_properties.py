"""Properties of the V2V environment and of federated averaging."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gridledger.learn.fleet.env import V2VBatchEnv, V2VConfig, price_factors, sample_days, tou_period
from gridledger.learn.ppo import AgentStack, fedavg


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["nd", "ud"]))
def test_actions_clipped_and_soc_kept_in_limits(seed, data):
    cfg = V2VConfig(data=data)
    env = V2VBatchEnv(64, cfg, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(30):
        soc_before = env.soc.copy()
        a = rng.uniform(-3, 3, 64)  # beyond the action box on purpose
        _, _, _, info = env.step(a)
        e = info["energy_kwh"]
        assert np.all(e <= cfg.charge_kw + 1e-9) and np.all(e >= -cfg.discharge_kw - 1e-9)
        # Within the SOC limits after the step (a start above SOC_max is forced down at once).
        assert np.all(info["soc"] >= cfg.soc_min - 1e-9) and np.all(info["soc"] <= cfg.soc_max + 1e-9)
        assert np.allclose(info["soc"], soc_before + e / cfg.capacity_kwh)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_proof_score_follows_eq_4_1(seed):
    cfg = V2VConfig()
    env = V2VBatchEnv(32, cfg, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        _, _, _, info = env.step(rng.uniform(-1, 1, 32))
        discharged = np.maximum(-info["energy_kwh"], 0)
        charged = np.maximum(info["energy_kwh"], 0)
        expected = info["delta"] * (discharged - charged) + np.where(info["departing"], cfg.soc_max - info["soc"], 0)
        assert np.allclose(info["proof_score"], expected)


def test_price_factors_eqs_4_3_4_4():
    cfg = V2VConfig(price_scale="table-4.1")
    prices = np.array([[6.8, 10.0, 12.9]])
    d = price_factors(prices, cfg)
    assert d[0] == pytest.approx([0.0, (10 - 6.8) / 6.8, (12.9 - 6.8) / 6.8])
    assert d[0, 2] > d[0, 1] > d[0, 0]  # eq. (4.2): delta_on > delta_mid > delta_off
    capped = price_factors(np.array([[0.82, 1.13, 1.7]]), V2VConfig())
    assert capped[0, 2] == pytest.approx(0.999)
    assert np.all(price_factors(prices, V2VConfig(use_delta=False)) == 1.0)


def test_tou_schedule_is_ontarios():
    hours = np.arange(24)
    p = tou_period(hours)
    assert list(hours[p == 2]) == [7, 8, 9, 10, 17, 18]
    assert list(hours[p == 1]) == [11, 12, 13, 14, 15, 16]


@pytest.mark.seed_sensitive
def test_days_respect_table_4_1_bounds():
    d = sample_days(np.random.default_rng(0), 20_000, V2VConfig())
    assert d.arrival.min() >= 4 and d.arrival.max() <= 10
    assert d.departure.min() >= 8 and d.departure.max() <= 22 and np.all(d.departure > d.arrival)
    assert d.soc0.min() >= 0.4 and d.soc0.max() <= 0.9
    assert abs(d.arrival.mean() - 7) < 0.05 and abs(d.departure.mean() - 18) < 0.05
    u = sample_days(np.random.default_rng(0), 20_000, V2VConfig(data="ud"))
    assert abs(u.soc0.std() - d.soc0.std()) < 0.01  # same spread, other shape
    assert np.all(d.prices[:, 2] > 0)


@pytest.mark.seed_sensitive
def test_fedavg_of_identical_models_is_the_identity():
    stack = AgentStack(4, 6, 16, -0.5, torch.ones(6), seed=0)
    with torch.no_grad():
        for p in stack.parameters():
            p.copy_(p[:1].expand_as(p))
    before = {k: v.clone() for k, v in stack.state_dict().items()}
    fedavg(stack)
    for k, v in stack.state_dict().items():
        assert torch.equal(v, before[k])


@pytest.mark.seed_sensitive
def test_fedavg_is_the_mean():
    stack = AgentStack(3, 6, 8, -0.5, torch.ones(6), seed=1)
    w = stack.a1w.detach().clone()
    fedavg(stack)
    assert torch.allclose(stack.a1w[0], w.mean(0)) and torch.allclose(stack.a1w[2], w.mean(0))
