"""The fleet's federated RL on Flower (``flwr``, the optional extra ``gridledger[flower]``).

Each EV is trained by a Flower ``ClientApp`` on the SuperNode that hosts it (a SuperNode hosts a
group of EVs: ``partition-id`` p of ``num-partitions`` P in its node config hosts the p-th of P
contiguous groups); it replays its site's days with the global model, keeps its own transitions
and updates its own policy (:mod:`gridledger.learn.fleet.distributed`). The ``ServerApp`` runs
:class:`PoSOCFedAvg`, a Flower ``Strategy`` that draws the round's mLAG by PoSOC (eq. 4.18) from the
scores the EVs report, aggregates by FedAvg (eq. 4.19) and records the round with the batched
backend's code.

Faults: a node that does not answer (disconnected, killed; Flower reports it unavailable after
its heartbeat lapses) or answers with an error, and any EV update that is malformed (missing or
extra tensors, wrong shapes or types, values that are not finite, metrics missing or out of
range, an EV that is not the node's, a second update for the same EV) is dropped from the round
and logged (``PoSOCFedAvg.refusals``); the round completes with the others and is recorded once.

Two ways to run: :func:`simulate` (Flower's simulation engine, Ray) and separate processes
(``gridledger v2v federate``: a SuperLink, SuperNodes and ``flwr run``; ``client_app`` and
``server_app`` below are the app's components and read the configuration from the run config
key ``gridledger``).

Test hooks (node config, as ``faulty_evs`` is for the batched backend): ``fault = "malformed"``
makes the node send a malformed update for its first EV every round; ``fault = "stall"`` with
``fault-round = R`` and ``fault-marker = PATH`` makes it write PATH and wait at round R (so that a
test can kill it mid-round).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import Strategy

from gridledger.learn.fleet.distributed import (
    EVUpdate,
    LearnerState,
    RoundTotals,
    SiteState,
    check_flower_config,
    close_round,
    fleet_of,
    initial_global,
    initial_site,
    replay_round,
    train_ev,
)
from gridledger.learn.fleet.federated import RoundRecord

log = logging.getLogger("gridledger.flower")

UPDATE_FIELDS = ("ev", "score", "surplus", "ret_sum", "money_sum", "days", "steps", "optimizer_steps",
                 "sample_gradients", "v2v_kwh", "grid_import_kwh", "grid_export_kwh")


def run_config_value(cfg: Any, seed: int, out: str = "", round_timeout: float = 600.0) -> dict[str, Any]:
    """The run config (``[tool.flwr.app.config]``) that carries a training configuration."""
    from gridledger.params import to_mapping

    return {"gridledger": json.dumps({"train": to_mapping(cfg), "seed": seed}), "out": out,
            "round-timeout": float(round_timeout)}


def _from_run_config(run_config: dict[str, Any]) -> tuple[Any, int]:
    from gridledger.scenarios.fleet.run import train_config

    spec = json.loads(str(run_config["gridledger"]))
    return train_config(spec["train"]), int(spec["seed"])


def hosted_evs(n: int, node_config: dict[str, Any]) -> list[int]:
    """The EVs a node hosts: the ``partition-id``-th of ``num-partitions`` contiguous groups."""
    part = int(node_config.get("partition-id", 0))
    parts = int(node_config.get("num-partitions", 1))
    if not 1 <= parts <= n or not 0 <= part < parts:
        raise ValueError(f"node config: partition-id {part} of num-partitions {parts} (1..{n} groups of EVs)")
    return [int(k) for k in np.array_split(np.arange(n), parts)[part]]


def _arrays(rec: ArrayRecord) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in rec.items()}


def _array_record(arrays: dict[str, np.ndarray]) -> ArrayRecord:
    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})


# ----------------------------------------------------------------------------------------- client


def client_train(msg: Message, context: Context, cfg: Any, seed: int) -> Message:
    """A node's round: replay the site's days with the global model, update each hosted EV."""
    n = cfg.federation.evs
    evs = hosted_evs(n, dict(context.node_config))
    r = int(msg.content["config"]["round"])
    state = context.state
    if "site" in state.config_records:
        at = int(state.config_records["site"]["round"])
        if at != r:
            raise RuntimeError(f"this node's site state is at round {at}, the server's at {r}")
        site = SiteState(json.loads(str(state.config_records["site"]["env"])),
                         torch.from_numpy(state.array_records["site-gen"]["gen"].numpy().copy()))
    elif r == 0:
        site = initial_site(seed)
    else:
        raise RuntimeError(f"this node has no site state and cannot join at round {r}")
    fault = str(context.node_config.get("fault", ""))
    if fault == "stall" and int(context.node_config.get("fault-round", -1)) == r:
        Path(str(context.node_config["fault-marker"])).write_text(f"{r}\n", encoding="utf-8")
        time.sleep(3600)
    fleet = fleet_of(cfg, seed)
    g = _arrays(msg.content["arrays"])
    replay = replay_round(cfg, fleet, g, site, seed)
    reply = RecordDict()
    gen_after = replay.gen_after
    for k in evs:
        ls = None
        if f"ev.{k}.learner" in state.config_records:
            c = state.config_records[f"ev.{k}.learner"]
            adam = _arrays(state.array_records[f"ev.{k}.adam"]) if f"ev.{k}.adam" in state.array_records else {}
            ls = LearnerState(adam, float(c["step"]), float(c["count"]), float(c["mean"]), float(c["m2"]))
        upd, ls, gen_after = train_ev(cfg, k, replay, g, ls)
        if ls.adam:
            state[f"ev.{k}.adam"] = _array_record(ls.adam)
        state[f"ev.{k}.learner"] = ConfigRecord({"step": ls.step, "count": ls.count, "mean": ls.mean, "m2": ls.m2})
        arrays = upd.arrays
        if fault == "malformed" and k == evs[0]:
            arrays = {**arrays, "a1w": arrays["a1w"][:, :-1]}  # a tensor of the wrong shape
        reply[f"ev.{k}.arrays"] = _array_record(arrays)
        reply[f"ev.{k}.metrics"] = MetricRecord(upd.metrics())
    state["site"] = ConfigRecord({"round": r + 1, "env": json.dumps(replay.site_after.env)})
    state["site-gen"] = ArrayRecord({"gen": Array(gen_after.numpy().copy())})
    return Message(content=reply, reply_to=msg)


def make_client_app(cfg: Any = None, seed: int = 0) -> ClientApp:
    """A ClientApp for ``cfg`` (simulation), or one that reads the run config (deployment)."""
    app = ClientApp()

    @app.train()
    def _train(msg: Message, context: Context) -> Message:
        c, s = (cfg, seed) if cfg is not None else _from_run_config(dict(context.run_config))
        return client_train(msg, context, c, s)

    return app


# ----------------------------------------------------------------------------------------- server


class PoSOCFedAvg(Strategy):
    """Every connected node trains its EVs; the aggregator draws the mLAG by PoSOC (eq. 4.18) from the
    reported scores, averages the accepted local models (FedAvg, eq. 4.19, verified by hash) and
    records the round (``records``) with the batched backend's code; refused updates and silent
    nodes are logged (``refusals``) and listed in the record's ``dropped``."""

    def __init__(self, cfg: Any, seed: int, initial: dict[str, np.ndarray]) -> None:
        check_flower_config(cfg)
        self.cfg, self.seed, self.n = cfg, seed, cfg.federation.evs
        self.shapes = {k: tuple(v.shape) for k, v in initial.items()}
        self.rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
        self.totals = RoundTotals()
        self.records: list[RoundRecord] = []
        self.refusals: list[dict[str, Any]] = []
        self.owner: dict[int, int] = {}
        self.start_time = time.perf_counter()

    def summary(self) -> None:
        log.info("PoSOC-FedAvg over %d EVs (%s, %s)", self.n, self.cfg.algo, self.cfg.federation.mode)

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> list[Message]:
        content = RecordDict({"arrays": arrays, "config": ConfigRecord({"round": server_round - 1})})
        return [Message(content=content, message_type="train", dst_node_id=nid) for nid in sorted(grid.get_node_ids())]

    def _refuse(self, r: int, node: int, ev: int | None, reason: str) -> None:
        self.refusals.append({"round": r, "node": node, "ev": ev, "reason": reason})
        log.warning("round %d: %s from node %d refused: %s", r, "update" if ev is None else f"EV {ev}'s update",
                    node, reason)

    def parse_update(self, content: RecordDict, ev: int) -> EVUpdate:
        """EV ``ev``'s update from a reply, or ValueError naming what is wrong."""
        a_key, m_key = f"ev.{ev}.arrays", f"ev.{ev}.metrics"
        if a_key not in content.array_records or m_key not in content.metric_records:
            raise ValueError("arrays or metrics missing")
        rec = content.array_records[a_key]
        if set(rec.keys()) != set(self.shapes):
            raise ValueError(f"tensors {sorted(rec.keys())}, expected {sorted(self.shapes)}")
        arrays = {}
        for k, v in rec.items():
            x = v.numpy()
            if x.dtype != np.float32 or tuple(x.shape) != self.shapes[k]:
                raise ValueError(f"tensor {k}: {x.dtype} {tuple(x.shape)}, expected float32 {self.shapes[k]}")
            if not np.isfinite(x).all():
                raise ValueError(f"tensor {k}: values that are not finite")
            arrays[k] = x
        m = content.metric_records[m_key]
        vals = {}
        for f in UPDATE_FIELDS:
            if f not in m or isinstance(m[f], list) or not math.isfinite(float(m[f])):  # type: ignore[arg-type]
                raise ValueError(f"metric {f} missing or not a finite number")
            vals[f] = float(m[f])  # type: ignore[arg-type]
        if int(vals["ev"]) != ev:
            raise ValueError(f"metric ev {vals['ev']} under EV {ev}'s key")
        for f in ("days", "steps", "optimizer_steps", "sample_gradients", "v2v_kwh", "grid_import_kwh",
                  "grid_export_kwh"):
            if vals[f] < 0:
                raise ValueError(f"metric {f} = {vals[f]} (must be >= 0)")
        return EVUpdate(ev, arrays, vals["score"], vals["surplus"], vals["ret_sum"], vals["money_sum"], vals["days"],
                        int(vals["steps"]), int(vals["optimizer_steps"]), int(vals["sample_gradients"]),
                        vals["v2v_kwh"], vals["grid_import_kwh"], vals["grid_export_kwh"])

    def collect(self, r: int, replies: list[Message]) -> dict[int, EVUpdate]:
        """The round's accepted updates by EV (every refusal logged)."""
        updates: dict[int, EVUpdate] = {}
        for msg in replies:
            node = int(msg.metadata.src_node_id)
            if msg.has_error():
                self._refuse(r, node, None, f"node error {msg.error.code}: {msg.error.reason}")
                continue
            content = msg.content
            keys = list(content.keys())
            evs = set()
            for key in keys:
                parts = key.split(".")
                if len(parts) != 3 or parts[0] != "ev" or not parts[1].isdigit() or parts[2] not in ("arrays",
                                                                                                      "metrics"):
                    self._refuse(r, node, None, f"unknown record {key!r}")
                    continue
                evs.add(int(parts[1]))
            for ev in sorted(evs):
                if not 0 <= ev < self.n:
                    self._refuse(r, node, ev, f"no EV {ev} in a fleet of {self.n}")
                    continue
                if self.owner.setdefault(ev, node) != node:
                    self._refuse(r, node, ev, f"EV {ev} is hosted by node {self.owner[ev]}")
                    continue
                if ev in updates:
                    self._refuse(r, node, ev, "a second update for the same EV in this round")
                    continue
                try:
                    updates[ev] = self.parse_update(content, ev)
                except (ValueError, TypeError, KeyError) as exc:
                    self._refuse(r, node, ev, str(exc))
        return updates

    def aggregate_train(self, server_round: int, replies: Any) -> tuple[ArrayRecord | None, MetricRecord | None]:
        r = server_round - 1
        if any(rec.round == r for rec in self.records):
            raise RuntimeError(f"round {r} is already recorded")
        updates = self.collect(r, list(replies))
        dropped = [k for k in range(self.n) if k not in updates]
        if dropped:
            log.warning("round %d: EVs %s dropped (no valid update)", r, dropped)
        if not updates:
            log.warning("round %d: no valid update; the global model is kept and nothing is recorded", r)
            return None, None
        g, rec = close_round(self.cfg, r, self.n, list(updates.values()), dropped, self.rng, self.totals,
                             time.perf_counter() - self.start_time)
        self.records.append(rec)
        return _array_record(g), MetricRecord({"mean_return": rec.mean_return, "evs": len(updates)})

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                           grid: Grid) -> list[Message]:
        return []

    def aggregate_evaluate(self, server_round: int, replies: Any) -> MetricRecord | None:
        return None


def server_run(grid: Grid, cfg: Any, seed: int, out: str, round_timeout: float, nodes: int = 0) -> PoSOCFedAvg:
    """The ServerApp's work: waits for ``nodes`` SuperNodes (0: none), then the strategy over
    ``cfg.federation.rounds`` rounds; writes ``out`` (records, refusals, the global model) when given."""
    deadline = time.monotonic() + round_timeout
    while len(list(grid.get_node_ids())) < nodes:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(list(grid.get_node_ids()))} of {nodes} SuperNodes connected")
        time.sleep(0.5)
    fleet = fleet_of(cfg, seed)
    initial = initial_global(cfg, fleet, seed)
    strategy = PoSOCFedAvg(cfg, seed, initial)
    result = strategy.start(grid, _array_record(initial), num_rounds=cfg.federation.rounds, timeout=round_timeout)
    final = _arrays(result.arrays) if result.arrays is not None and len(result.arrays) else initial
    if out:
        write_result(Path(out), strategy, final)
    strategy.final = final  # type: ignore[attr-defined]
    return strategy


def write_result(path: Path, strategy: PoSOCFedAvg, final: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path.with_suffix(".npz"), **final)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"records": [r.__dict__ for r in strategy.records], "refusals": strategy.refusals,
                               "seconds": time.perf_counter() - strategy.start_time}), encoding="utf-8")
    tmp.replace(path)


def make_server_app(cfg: Any = None, seed: int = 0, sink: list[PoSOCFedAvg] | None = None) -> ServerApp:
    app = ServerApp()

    @app.main()
    def _main(grid: Grid, context: Context) -> None:
        rc = dict(context.run_config)
        c, s = (cfg, seed) if cfg is not None else _from_run_config(rc)
        strategy = server_run(grid, c, s, str(rc.get("out", "")), float(rc.get("round-timeout", 600.0)),
                              int(rc.get("nodes", 0)))
        if sink is not None:
            sink.append(strategy)

    return app


client_app = make_client_app()
server_app = make_server_app()


# ----------------------------------------------------------------------------------------- simulation


def simulate(cfg: Any, seed: int, nodes: int | None = None, cpus_per_node: float = 1.0) -> tuple[
        dict[str, np.ndarray], list[RoundRecord], list[dict[str, Any]], float]:
    """Flower's simulation engine (Ray) in this process: ``nodes`` virtual SuperNodes (default one
    per EV) train their EVs; returns (global model, records, refusals, seconds)."""
    import importlib.util

    from flwr.simulation import run_simulation

    from gridledger.errors import ConfigError

    check_flower_config(cfg)
    if importlib.util.find_spec("ray") is None:
        raise ConfigError("backend", "Flower's simulation engine needs Ray: pip install "
                                     "'gridledger[flower-simulation]' (or run separate processes: v2v federate)")
    nodes = nodes or cfg.federation.evs
    sink: list[PoSOCFedAvg] = []
    start = time.perf_counter()
    run_simulation(make_server_app(cfg, seed, sink), make_client_app(cfg, seed), num_supernodes=nodes,
                   backend_config={"client_resources": {"num_cpus": cpus_per_node},
                                   "init_args": {"logging_level": logging.ERROR, "log_to_driver": False,
                                                 "include_dashboard": False}})
    if not sink:
        raise RuntimeError("the Flower simulation ended without a result (see its log)")
    st = sink[0]
    return st.final, st.records, st.refusals, time.perf_counter() - start  # type: ignore[attr-defined]
