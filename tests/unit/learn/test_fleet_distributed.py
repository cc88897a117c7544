"""The fleet's federated round split between EVs and an aggregator (learn.fleet.distributed): the
arithmetic the Flower backend runs, checked against the batched backend without Flower."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gridledger.errors import ConfigError
from gridledger.learn.fleet import distributed as dist
from gridledger.learn.fleet.federated import _params_hash, local_ppo_update
from gridledger.learn.ppo import ReturnScaler
from gridledger.scenarios.fleet.run import train, train_config

SEED = 5


def _cfg(**fed):
    return train_config({"algo": "ppo", "federation": {"evs": 4, "rounds": 3, "worlds": 2, **fed}})


def _flower_loop(cfg, seed, rounds):
    """The Flower backend's rounds without the transport: every EV alone, then the aggregator."""
    n = cfg.federation.evs
    fleet = dist.fleet_of(cfg, seed)
    g = dist.initial_global(cfg, fleet, seed)
    site = dist.initial_site(seed)
    states: list = [None] * n
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
    totals = dist.RoundTotals()
    recs = []
    for r in range(rounds):
        rep = dist.replay_round(cfg, fleet, g, site, seed)
        ups, gens = [], []
        for k in range(n):
            u, states[k], gen = dist.train_ev(cfg, k, rep, g, states[k])
            ups.append(u)
            gens.append(gen)
        assert all(torch.equal(gens[0], x) for x in gens)  # every EV leaves the minibatch stream in one state
        site = dist.SiteState(rep.site_after.env, gens[0])
        g, rec = dist.close_round(cfg, r, n, ups, [], rng, totals, 0.0)
        recs.append(rec)
    return g, recs


def test_an_ev_alone_updates_as_its_slice_of_the_batched_stack():
    cfg = _cfg()
    fleet = dist.fleet_of(cfg, SEED)
    g = dist.initial_global(cfg, fleet, SEED)
    rep = dist.replay_round(cfg, fleet, g, dist.initial_site(SEED), SEED)
    # The batched update of the whole stack on the same rollout, from the same minibatch stream.
    stack = dist._stack(cfg, 4, g)
    opt = torch.optim.Adam(stack.parameters(), lr=cfg.ppo.lr, eps=1e-5)
    gen = torch.Generator()
    gen.set_state(rep.gen_after)
    local_ppo_update(stack, opt, ReturnScaler(4, cfg.ppo.gamma), rep.rollout, rep.rollout["rew"], cfg.ppo, gen, 0.0,
                     None)
    for k in range(4):
        u, _, gen_k = dist.train_ev(cfg, k, rep, g, None)
        assert torch.equal(gen_k, gen.get_state())  # the same minibatches were drawn
        for name, p in stack.named_parameters():
            # Only the batched matrix products' rounding differs (a stack of 1 against one of 4).
            np.testing.assert_allclose(u.arrays[name], p[k:k + 1].detach().numpy(), rtol=0, atol=1e-6)


def test_the_aggregate_is_fedavg_of_the_updates_received_and_its_hash():
    cfg = _cfg()
    rng = np.random.default_rng(0)
    shapes = {"a": (1, 3, 2), "b": (1, 1, 2)}
    ups = [dist.EVUpdate(k, {n: rng.normal(size=s).astype(np.float32) for n, s in shapes.items()}, 1.0 + k, 2.0, 1.0,
                      1.0, 1.0, 5, 4, 10, 1.0, 2.0, 3.0) for k in (0, 1, 3)]
    g, rec = dist.close_round(cfg, 0, 4, ups, [2], np.random.default_rng(1), dist.RoundTotals(), 0.0)
    for name in shapes:
        expect = torch.from_numpy(np.concatenate([u.arrays[name] for u in ups])).mean(dim=0, keepdim=True)
        assert np.array_equal(g[name], expect.numpy())  # eq. (4.19) over the three EVs received
    assert rec.model_hash == _params_hash([torch.from_numpy(g[n]) for n in sorted(g)], sorted(g))
    assert rec.dropped == [2] and rec.scores[2] == 0.0 and rec.mlag in (0, 1, 3)
    assert rec.sample_gradients == 30 and rec.optimizer_steps == 4 and rec.env_steps == 15


def test_a_faulty_mlag_is_rejected_and_another_drawn():
    cfg = train_config({"algo": "ppo", "federation": {"evs": 3, "faulty_evs": [1]}})
    ups = [dist.EVUpdate(k, {"a": np.full((1, 2), float(k * k), dtype=np.float32)}, 0.0 if k != 1 else 5.0, 0.0,
                         0.0, 0.0, 1.0, 1, 1, 1, 0.0, 0.0, 0.0) for k in range(3)]
    ups[2].score = 1.0
    _, rec = dist.close_round(cfg, 0, 3, ups, [], np.random.default_rng(0), dist.RoundTotals(), 0.0)
    # EV 1 holds most of the score; whenever drawn it is rejected and EV 2 (the only other) is the mLAG.
    assert rec.mlag == 2 and rec.rejected in ([], [1])


def test_no_update_no_round():
    with pytest.raises(ValueError, match="no update"):
        dist.close_round(_cfg(), 0, 4, [], [0, 1, 2, 3], np.random.default_rng(0), dist.RoundTotals(), 0.0)


def test_the_replay_is_a_function_of_its_inputs():
    cfg = _cfg()
    fleet = dist.fleet_of(cfg, SEED)
    g = dist.initial_global(cfg, fleet, SEED)
    a = dist.replay_round(cfg, fleet, g, dist.initial_site(SEED), SEED)
    dist._REPLAY.clear()
    b = dist.replay_round(cfg, fleet, g, dist.initial_site(SEED), SEED)
    assert a is not b
    assert all(torch.equal(a.rollout[k], b.rollout[k]) for k in a.rollout)
    assert a.site_after.digest() == b.site_after.digest() != dist.initial_site(SEED).digest()


@pytest.mark.seed_sensitive
def test_flower_rounds_follow_the_batched_backend():
    """Same seed, same data: the split rounds give the batched backend's rounds up to the rounding
    of batched matrix products (the first round's rollout is the same computation)."""
    cfg = _cfg()
    _, recs = _flower_loop(cfg, SEED, 3)
    batched = train(cfg, SEED).records
    assert recs[0].scores == batched[0].scores and recs[0].mean_return == batched[0].mean_return
    for a, b in zip(recs, batched, strict=True):
        assert a.mlag == b.mlag and a.env_steps == b.env_steps and a.episodes == b.episodes
        assert a.optimizer_steps == b.optimizer_steps and a.sample_gradients == b.sample_gradients
        assert a.mean_return == pytest.approx(b.mean_return, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize(("change", "field"), [({"algo": "td3"}, "algo"),
                                               ({"federation": {"mode": "independent"}}, "federation.mode"),
                                               ({"federation": {"mode": "fedavg-ft"}}, "federation.mode"),
                                               ({"federation": {"mining_reward": True}}, "federation.mining_reward")])
def test_what_the_flower_backend_refuses(change, field):
    cfg = train_config({"algo": "ppo", **change})
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        dist.check_flower_config(cfg)
