"""The Flower strategy (PoSOC draw, FedAvg, record, refusals) on real Flower messages, in process.

Needs the optional extra ``gridledger[flower]``."""

from __future__ import annotations

import flwr  # noqa: F401  (the optional extra; tests/conftest.py collects this module only where it is installed)
import numpy as np
import pytest
import torch
from flwr.app import Array, ArrayRecord, Error, Message, MetricRecord, RecordDict
from flwr.supercore.task_identity import TaskIdentity

from gridledger.learn.fleet import distributed as dist
from gridledger.learn.fleet.flower import PoSOCFedAvg, hosted_evs
from gridledger.scenarios.fleet.run import train_config

pytestmark = pytest.mark.flower

SEED = 3


@pytest.fixture(autouse=True)
def _identity():
    """Messages are made outside a running Flower task here: give them a task identity."""
    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id = 1
    TaskIdentity.task_id = 1
    yield
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


def _reply(node: int, content: RecordDict | Error) -> Message:
    TaskIdentity.node_id = 0
    sent = Message(content=RecordDict(), dst_node_id=node, message_type="train")
    TaskIdentity.node_id = node
    return Message(content, reply_to=sent)


def _updates(cfg):
    """Real EV updates of one round (replayed site, local PPO)."""
    fleet = dist.fleet_of(cfg, SEED)
    g = dist.initial_global(cfg, fleet, SEED)
    rep = dist.replay_round(cfg, fleet, g, dist.initial_site(SEED), SEED)
    return g, [dist.train_ev(cfg, k, rep, g, None)[0] for k in range(cfg.federation.evs)]


def _content(ups, arrays=None):
    rd = RecordDict()
    for u in ups:
        a = arrays if arrays is not None else u.arrays
        rd[f"ev.{u.ev}.arrays"] = ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in a.items()})
        rd[f"ev.{u.ev}.metrics"] = MetricRecord(u.metrics())
    return rd


def _global(arrays: ArrayRecord) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in arrays.items()}


@pytest.fixture(scope="module")
def round0():
    cfg = train_config({"algo": "ppo", "federation": {"evs": 4, "rounds": 2, "worlds": 2}})
    g, ups = _updates(cfg)
    return cfg, g, ups


def test_fedavg_over_flower_equals_the_batched_mean_of_the_same_updates(round0):
    cfg, g, ups = round0
    st = PoSOCFedAvg(cfg, SEED, g)
    replies = [_reply(11, _content(ups[:2])), _reply(12, _content(ups[2:]))]
    arrays, _ = st.aggregate_train(1, replies)
    got = _global(arrays)
    # The batched backend's aggregate (verified_aggregate over the stack of local models), same updates.
    names = sorted(g)
    stack = [torch.from_numpy(np.concatenate([u.arrays[k] for u in ups])) for k in names]
    for name, p in zip(names, stack, strict=True):
        assert np.array_equal(got[name], p.mean(dim=0, keepdim=True).numpy())
    rec = st.records[0]
    _, ref = dist.close_round(cfg, 0, 4, ups, [], np.random.default_rng(np.random.SeedSequence(SEED).spawn(4)[3]),
                               dist.RoundTotals(), 0.0)
    assert rec.model_hash == ref.model_hash and rec.mlag == ref.mlag and rec.scores == ref.scores
    assert rec.fees == ref.fees and rec.dropped == [] and st.refusals == []


@pytest.mark.parametrize("defect", ["shape", "nan", "dtype", "extra", "metric", "wrong-ev", "negative"])
def test_a_malformed_update_is_refused_and_the_round_completes(round0, defect):
    cfg, g, ups = round0
    bad = dict(ups[1].arrays)
    metrics = ups[1].metrics()
    if defect == "shape":
        bad["a1w"] = bad["a1w"][:, :-1]
    elif defect == "nan":
        bad["c2b"] = np.full_like(bad["c2b"], np.nan)
    elif defect == "dtype":
        bad["log_std"] = bad["log_std"].astype(np.float64)
    elif defect == "extra":
        bad["x"] = np.zeros((1, 1), dtype=np.float32)
    rd = _content([ups[0]])
    rd["ev.1.arrays"] = ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in bad.items()})
    if defect == "metric":
        del metrics["score"]
    elif defect == "wrong-ev":
        metrics["ev"] = 2
    elif defect == "negative":
        metrics["steps"] = -1
    rd["ev.1.metrics"] = MetricRecord(metrics)
    st = PoSOCFedAvg(cfg, SEED, g)
    arrays, _ = st.aggregate_train(1, [_reply(11, rd), _reply(12, _content(ups[2:]))])
    assert [(x["ev"], x["node"]) for x in st.refusals] == [(1, 11)]
    rec = st.records[0]
    assert rec.dropped == [1] and rec.mlag != 1 and rec.scores[1] == 0.0
    got = _global(arrays)
    kept = [ups[0], ups[2], ups[3]]
    for name in g:
        assert np.array_equal(got[name], torch.from_numpy(np.concatenate([u.arrays[name] for u in kept]))
                              .mean(dim=0, keepdim=True).numpy())


def test_a_node_error_a_duplicate_and_a_stolen_ev_are_dropped_and_logged(round0):
    cfg, g, ups = round0
    st = PoSOCFedAvg(cfg, SEED, g)
    st.aggregate_train(1, [_reply(11, _content(ups[:2])), _reply(12, _content(ups[2:]))])
    replies = [_reply(11, _content(ups[:2])), _reply(12, Error(code=3, reason="node unavailable")),
               _reply(13, _content([ups[0]]))]  # node 13 claims EV 0, which node 11 hosts
    st.aggregate_train(2, replies)
    reasons = [x["reason"] for x in st.refusals]
    assert any("node unavailable" in r for r in reasons) and any("hosted by node 11" in r for r in reasons)
    assert st.records[1].dropped == [2, 3]
    dup = PoSOCFedAvg(cfg, SEED, g)
    dup.aggregate_train(1, [_reply(11, _content(ups)), _reply(11, _content(ups[:1]))])
    assert [x["reason"] for x in dup.refusals] == ["a second update for the same EV in this round"]
    assert dup.records[0].dropped == []


def test_a_round_is_recorded_once(round0):
    cfg, g, ups = round0
    st = PoSOCFedAvg(cfg, SEED, g)
    st.aggregate_train(1, [_reply(11, _content(ups))])
    with pytest.raises(RuntimeError, match="already recorded"):
        st.aggregate_train(1, [_reply(11, _content(ups))])
    assert len(st.records) == 1
    arrays, metrics = st.aggregate_train(2, [_reply(11, Error(code=3, reason="gone"))])
    assert arrays is None and metrics is None and len(st.records) == 1  # nothing received: nothing recorded


@pytest.mark.parametrize(("part", "parts", "evs"), [(0, 3, [0, 1]), (1, 3, [2]), (2, 3, [3]), (0, 1, [0, 1, 2, 3])])
def test_groups_of_evs(part, parts, evs):
    assert hosted_evs(4, {"partition-id": part, "num-partitions": parts}) == evs


def test_a_bad_group_is_refused():
    with pytest.raises(ValueError, match="partition-id 3 of num-partitions 3"):
        hosted_evs(4, {"partition-id": 3, "num-partitions": 3})
