"""The fleet study behind thesis Figs. 4.10-4.12: several seeds, held-out EV-days, equal budgets.

For every seed: a fleet of EVs with identities is drawn; every learned method trains on the same
days (same environment seed, rounds and worlds: equal environment steps) and is scored on the
same held-out days (a separate seed stream) in money and on the thesis's delta-weighted return;
the rule-based policy and the perfect-foresight optimum are scored on the same days. Confidence
intervals (95%) are over seeds (Student t on the per-seed means over all held-out EV-days);
paired differences against the reference method use the same days.

Gradient budgets: PPO takes ``epochs`` passes over each round's samples; TD3/SAC take
``updates_per_step = epochs / batch_size`` optimizer steps per collected transition, so that both
spend the same number of sample-gradients (optimizer steps x minibatch size); A2C, by its
definition, one pass. The figures are reported per method.

Finished runs are kept in ``<out>.runs/`` (one JSON per method and seed), so that an interrupted
study resumes where it stopped when run again with the same arguments.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from gridledger.learn.fleet.env import V2VConfig
from gridledger.learn.fleet.evaluate import (
    evaluate,
    held_out,
    oracle_policy,
    oracle_schedule,
    rule_policy,
)
from gridledger.learn.fleet.federated import build_fleet, train_fleet
from gridledger.progress import SILENT, Reporter
from gridledger.scenarios.fleet.run import V2VTrainConfig


@dataclass(frozen=True)
class StudySizes:
    seeds: int
    evs: int
    rounds: int
    worlds: int
    test_days: int
    val_days: int
    td3_grid: tuple[tuple[float, int], ...]
    """(exploration noise, batch size) pairs tried for TD3 (update ratio = epochs / batch size)."""


FULL = StudySizes(seeds=5, evs=10, rounds=150, worlds=32, test_days=100, val_days=50,
                  td3_grid=((0.1, 256), (0.3, 256), (0.1, 128), (0.3, 128)))
SMOKE = StudySizes(seeds=2, evs=4, rounds=3, worlds=4, test_days=6, val_days=3, td3_grid=((0.1, 64),))


@dataclass(frozen=True)
class Method:
    """A row of the study."""

    key: str
    label: str
    kind: str = "learned"
    """learned, rule or oracle."""
    algo: str = "ppo"
    mode: str = "fedavg"
    env: dict[str, Any] = field(default_factory=dict)
    """Overrides of the environment used for training (and, for ``market``, for scoring)."""
    mining_reward: bool = False
    evs: int | None = None


FIG411_METHODS = (
    Method("fedavg", "ours: federated PPO (FedAvg, PoSOC mLAG)"),
    Method("fedavg-ft", "FedAvg + local fine-tuning", mode="fedavg-ft"),
    Method("fedprox", "FedProx", mode="fedprox"),
    Method("independent", "independent PPO learners", mode="independent"),
    Method("central-ppo", "central PPO", mode="central"),
    Method("central-td3", "central TD3 (tuned)", algo="td3", mode="central"),
    Method("baseline1", "baseline1: central PPO, grid-only trading", mode="central", env={"market": "grid"}),
    Method("baseline2", "baseline2: federated PPO without delta", env={"use_delta": False}),
    Method("fedavg-mining", "ours + mining reward (eq. 4.20) in training", mining_reward=True),
    Method("rule", "rule-based policy", kind="rule"),
    Method("oracle", "perfect-foresight optimum (LP)", kind="oracle"),
    Method("oracle-grid", "perfect-foresight optimum, grid-only trading", kind="oracle", env={"market": "grid"}),
)

FIG410_METHODS = tuple(
    Method(f"{algo}-{data}", f"{algo.upper()} ({data.upper()} data)", algo=algo, env={"data": data}, evs=5)
    for data in ("nd", "ud") for algo in ("sac", "ppo", "a2c"))


def _t95(n: int) -> float:
    return float(stats.t.ppf(0.975, n - 1)) if n > 1 else float("nan")


def ci(values: list[float]) -> dict[str, float]:
    """Mean and 95% half-width over seeds (Student t)."""
    v = np.asarray(values, dtype=float)
    half = _t95(len(v)) * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
    return {"mean": float(v.mean()), "ci95": float(half), "n": len(v)}


def _train_cfg(base: V2VTrainConfig, m: Method, sizes: StudySizes, offpolicy: Any = None) -> V2VTrainConfig:
    env = replace(base.env, **m.env)
    fed = replace(base.federation, evs=m.evs or sizes.evs, rounds=sizes.rounds, worlds=sizes.worlds, mode=m.mode,
                  mining_reward=m.mining_reward, fleet_seed=-1,
                  finetune_rounds=max(1, sizes.rounds // 5) if m.mode == "fedavg-ft" else 0)
    ppo = base.ppo
    off = offpolicy or replace(base.offpolicy, updates_per_step=ppo.epochs / base.offpolicy.batch_size,
                               learning_starts=min(base.offpolicy.learning_starts, sizes.worlds * sizes.rounds))
    return replace(base, algo=m.algo, env=env, federation=fed, offpolicy=off)


def _score_env(base: V2VTrainConfig, m: Method) -> V2VConfig:
    """Scoring: the study's environment (with delta) in the method's market."""
    return replace(base.env, market=m.env.get("market", base.env.market), data=m.env.get("data", base.env.data))


def _score(res: Any) -> dict[str, Any]:
    s = res.summary()
    keep = ("net", "money", "cash", "energy_value", "shortfall_cost", "delta_return", "proof_score",
            "surplus_vs_grid", "discharged_kwh", "charged_kwh", "violation_rate", "v2v_share_of_discharge",
            "v2v_kwh_per_day", "grid_import_kwh_per_day", "grid_export_kwh_per_day", "ev_days", "net_ci95",
            "delta_return_ci95")
    out = {k: s[k] for k in keep}
    out["departure_soc_median"] = s["departure_soc_quantiles"].get("0.5", float("nan"))
    out["departure_soc_quantiles"] = s["departure_soc_quantiles"]
    out["departure_soc_histogram"] = s["departure_soc_histogram"]
    out["net_by_ev"] = [float(x) for x in np.nanmean(np.where(res.came, res.net, np.nan), axis=1)]
    out["net_ev_days"] = res.net[res.came].tolist()
    return out


def tune_td3(base: V2VTrainConfig, sizes: StudySizes, seed: int, reporter: Reporter,
             cache: Path | None = None) -> dict[str, Any]:
    """Grid over exploration noise and batch size (update ratio) on a tuning seed, scored on
    validation days by the learner's own reward; returns the chosen configuration and the grid."""
    m = next(x for x in FIG411_METHODS if x.key == "central-td3")
    path = cache / "td3-tuning.json" if cache is not None else None
    if path is not None and path.exists():
        saved = json.loads(path.read_text(encoding="utf-8"))
        c = saved["chosen"]
        saved["offpolicy"] = replace(base.offpolicy, exploration_noise=c["exploration_noise"],
                                     batch_size=c["batch_size"], updates_per_step=c["updates_per_step"],
                                     learning_starts=min(base.offpolicy.learning_starts, sizes.worlds * sizes.rounds))
        return saved
    tune_seed = seed + 1000
    grid = []
    advance = reporter.task("TD3 tuning", len(sizes.td3_grid))
    best = None
    for noise, batch in sizes.td3_grid:
        off = replace(base.offpolicy, exploration_noise=noise, batch_size=batch,
                      updates_per_step=base.ppo.epochs / batch,
                      learning_starts=min(base.offpolicy.learning_starts, sizes.worlds * sizes.rounds))
        cfg = _train_cfg(base, m, sizes, off)
        fleet = build_fleet(cfg.federation, cfg.env, tune_seed)
        model = train_fleet(cfg.algo, cfg.env, cfg.federation, tune_seed, cfg.ppo, cfg.offpolicy, fleet=fleet)
        fd, pd = held_out(fleet, cfg.env, sizes.val_days, tune_seed, stream=7907)
        res = evaluate(model.policy(), fleet, cfg.env, fd, pd)
        own = res.ev_days(res.delta_return if cfg.env.reward == "delta" else res.net).mean()
        grid.append({"exploration_noise": noise, "batch_size": batch, "updates_per_step": off.updates_per_step,
                     "validation_return": float(own), "seconds": model.seconds})
        if best is None or own > best[0]:
            best = (float(own), off)
        advance(1)
    assert best is not None
    out = {"grid": grid, "chosen": {"exploration_noise": best[1].exploration_noise, "batch_size": best[1].batch_size,
                                    "updates_per_step": best[1].updates_per_step}}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out), encoding="utf-8")
    return {**out, "offpolicy": best[1]}


def run_study(base: V2VTrainConfig, methods: tuple[Method, ...], sizes: StudySizes, seed: int, cache: Path | None,
              reporter: Reporter = SILENT, tuned_td3: Any = None,
              on_run: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Train and score every method for every seed; returns per-method per-seed results."""
    runs: dict[str, list[dict[str, Any]]] = {m.key: [] for m in methods}
    learned = [m for m in methods if m.kind == "learned"]
    advance = reporter.task("study runs", sizes.seeds * len(methods))
    for k in range(sizes.seeds):
        s = seed + k
        fleets: dict[tuple[int, str], Any] = {}
        for m in methods:
            path = cache / f"{m.key}-seed{s}.json" if cache is not None else None
            if path is not None and path.exists():
                runs[m.key].append(json.loads(path.read_text(encoding="utf-8")))
                advance(1)
                continue
            t0 = time.perf_counter()
            off = tuned_td3 if m.algo == "td3" and tuned_td3 is not None else None
            cfg = _train_cfg(base, m, sizes, off)
            key = (cfg.federation.evs, cfg.env.data)  # UD data: the EVs' patterns are uniform too
            if key not in fleets:
                fleets[key] = build_fleet(cfg.federation, cfg.env, s)
            fleet = fleets[key]
            score_env = _score_env(base, m)
            fd, pd = held_out(fleet, score_env, sizes.test_days, s)
            entry: dict[str, Any] = {"method": m.key, "seed": s}
            if m.kind == "learned":
                model = train_fleet(cfg.algo, cfg.env, cfg.federation, s, cfg.ppo, cfg.offpolicy, fleet=fleet)
                res = evaluate(model.policy(), fleet, score_env, fd, pd)
                last = model.records[-1]
                entry.update({"env_steps": last.env_steps, "episodes": last.episodes,
                              "optimizer_steps": last.optimizer_steps, "sample_gradients": last.sample_gradients,
                              "train_seconds": model.seconds,
                              "curve": [[r.episodes, r.mean_return, r.mean_money] for r in model.records],
                              "mlags": [r.mlag for r in model.records], "model_hash": model.model_hash()})
            elif m.kind == "rule":
                res = evaluate(rule_policy(), fleet, score_env, fd, pd)
            else:
                res = evaluate(oracle_policy(oracle_schedule(fleet, score_env, fd, pd)), fleet, score_env, fd, pd)
            entry.update(_score(res))
            entry["seconds"] = time.perf_counter() - t0
            runs[m.key].append(entry)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(entry), encoding="utf-8")
            if on_run is not None:
                on_run(m.key, s)
            advance(1)
    del learned
    return runs


METRICS = ("net", "money", "cash", "energy_value", "shortfall_cost", "violation_rate", "departure_soc_median",
           "delta_return", "proof_score", "discharged_kwh", "v2v_share_of_discharge")


def aggregate(runs: dict[str, list[dict[str, Any]]], reference: str) -> dict[str, Any]:
    """Per method: mean and 95% CI over seeds of each metric; paired difference against ``reference``."""
    out: dict[str, Any] = {}
    ref = {r["seed"]: r for r in runs.get(reference, [])}
    for key, rs in runs.items():
        if not rs:
            continue
        row: dict[str, Any] = {m: ci([r[m] for r in rs]) for m in METRICS}
        row["ev_days_per_seed"] = rs[0]["ev_days"]
        pooled = np.concatenate([np.asarray(r["net_ev_days"]) for r in rs])
        row["net_pooled"] = {"mean": float(pooled.mean()), "ci95": float(1.96 * pooled.std(ddof=1)
                                                                         / np.sqrt(len(pooled))),
                             "ev_days": len(pooled)}
        for budget in ("env_steps", "optimizer_steps", "sample_gradients", "train_seconds"):
            if budget in rs[0]:
                row[budget] = float(np.mean([r[budget] for r in rs]))
        if key != reference and ref:
            paired = [r for r in rs if r["seed"] in ref]
            if paired:
                row["net_minus_reference"] = ci([r["net"] - ref[r["seed"]]["net"] for r in paired])
                row["delta_return_minus_reference"] = ci([r["delta_return"] - ref[r["seed"]]["delta_return"]
                                                          for r in paired])
        out[key] = row
    return out
