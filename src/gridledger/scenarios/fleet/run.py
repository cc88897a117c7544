"""EV fleet V2V trading (thesis chapter 4): training, saving, loading and evaluating fleets.

A fleet is a set of EVs with identities (``gridledger.data.fleet``) trading at their sites'
markets; ``algo`` chooses the local learners (our batched PPO, A2C, TD3, DDPG or SAC) and
``federation.mode`` how they are combined (FedAvg with a PoSOC-drawn mLAG, FedProx, FedAvg with
local fine-tuning, independent learners, or one central learner).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gridledger.data.fleet import fleet_from_mappings
from gridledger.errors import ConfigError, InputFileError
from gridledger.learn.fleet.env import V2VConfig
from gridledger.learn.fleet.evaluate import (
    EvalResult,
    day_rounds,
    evaluate,
    grid_charge_policy,
    held_out,
    oracle_policy,
    oracle_schedule,
    rule_policy,
)
from gridledger.learn.fleet.federated import (
    ALGOS,
    FederationConfig,
    FleetModel,
    RoundRecord,
    records_json,
    train_fleet,
)
from gridledger.learn.fleet.offpolicy import OffPolicyAgents, OffPolicyConfig
from gridledger.learn.ppo import AgentStack, PPOConfig
from gridledger.params import check_choice, check_int, from_mapping, to_mapping

__all__ = ["FleetModel", "V2VTrainConfig", "convergence_point", "evaluate_fleet", "load_fleet", "records_json",
           "save_fleet", "train", "train_config"]


@dataclass(frozen=True)
class V2VTrainConfig:
    """Everything a fleet's training needs (tables ``env``, ``ppo``, ``offpolicy``, ``federation``)."""

    algo: str = "ppo"
    """Local learner: ppo, a2c, td3, ddpg or sac (all batched over EVs, gridledger's own)."""
    env: V2VConfig = field(default_factory=V2VConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    offpolicy: OffPolicyConfig = field(default_factory=OffPolicyConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)

    def __post_init__(self) -> None:
        check_choice("algo", self.algo, ALGOS)
        if self.federation.fleet in ("thesis", "iid") and self.env.day_start_h != 0:
            raise ConfigError("env.day_start_h", f"must be 0 for the {self.federation.fleet!r} fleet (Table 4.1 gives "
                              f"clock hours of a daytime parking lot; got {self.env.day_start_h})")


def train_config(mapping: dict[str, Any]) -> V2VTrainConfig:
    return from_mapping(V2VTrainConfig, mapping)


def train(cfg: V2VTrainConfig, seed: int, progress: Any = None) -> FleetModel:
    """Train a fleet (Algorithm 4 with the chosen learners and federation mode)."""
    return train_fleet(cfg.algo, cfg.env, cfg.federation, seed, cfg.ppo, cfg.offpolicy, progress=progress)


def convergence_point(records: list[RoundRecord], fraction: float = 0.95, window: int = 10) -> dict[str, Any]:
    """First round whose trailing-mean return reaches ``fraction`` of the way from the first to the
    final trailing mean (the learner's own reward)."""
    ret = np.array([r.mean_return for r in records], dtype=float)
    k = max(1, min(window, len(ret)))
    c = np.cumsum(np.concatenate([[0.0], ret]))
    idx = np.arange(1, len(ret) + 1)
    lo = np.maximum(0, idx - k)
    run = (c[idx] - c[lo]) / (idx - lo)
    start, final = run[0], run[-1]
    target = start + fraction * (final - start)
    hit = np.flatnonzero(run >= target) if final >= start else np.flatnonzero(run <= target)
    i = int(hit[0]) if len(hit) else len(ret) - 1
    r = records[i]
    return {"round": r.round, "episodes": r.episodes, "env_steps": r.env_steps, "seconds": r.seconds,
            "final_return": float(final), "total_episodes": records[-1].episodes,
            "total_seconds": records[-1].seconds}


def save_fleet(fleet: FleetModel, cfg: V2VTrainConfig, directory: Path) -> None:
    """``agents.pt`` (the networks) and ``model.json`` (configuration and the EVs' identities)."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    meta = {"format": "gridledger-v2v-2",
            "train": {"algo": cfg.algo, "env": to_mapping(cfg.env), "ppo": to_mapping(cfg.ppo),
                      "offpolicy": to_mapping(cfg.offpolicy), "federation": to_mapping(cfg.federation)},
            "fleet": [e.to_mapping() for e in fleet.fleet], "model_hash": fleet.model_hash()}
    torch.save(fleet.net.state_dict(), directory / "agents.pt")
    (directory / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def load_fleet(directory: Path) -> tuple[FleetModel, V2VTrainConfig]:
    import torch

    from gridledger.learn.fleet.env import obs_scale

    meta_path = Path(directory) / "model.json"
    if not meta_path.exists():
        raise InputFileError(str(meta_path), "not a gridledger V2V model directory (model.json missing)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != "gridledger-v2v-2":
            raise ValueError(f"format {meta.get('format')!r} (expected gridledger-v2v-2; retrain the model)")
        cfg = train_config(meta["train"])
        fleet = fleet_from_mappings(meta["fleet"])
    except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
        raise InputFileError(str(meta_path), f"malformed model description ({exc})") from None
    agents = 1 if cfg.federation.mode == "central" else len(fleet)
    d = cfg.env.obs_dim
    if cfg.algo in ("ppo", "a2c"):
        net: Any = AgentStack(agents, d, cfg.ppo.hidden, cfg.ppo.init_log_std, obs_scale(cfg.env), 0)
    else:
        net = OffPolicyAgents(cfg.algo, agents, d, cfg.offpolicy, obs_scale(cfg.env), 0)
    try:
        net.load_state_dict(torch.load(Path(directory) / "agents.pt", weights_only=True))
    except (OSError, RuntimeError) as exc:
        raise InputFileError(str(Path(directory) / "agents.pt"), f"cannot load the networks ({exc})") from None
    return FleetModel(cfg.algo, net, fleet, cfg.env, cfg.federation, cfg.ppo, cfg.offpolicy), cfg


def _ev_day(res: EvalResult, i: int, d: int, arrival: int, departure: int) -> dict[str, Any]:
    return {"ev": i, "ev_id": res.ev_ids[i], "came": bool(res.came[i, d]), "arrival_h": arrival,
            "departure_h": departure, "cash": float(res.cash[i, d]), "energy_value": float(res.energy_value[i, d]),
            "money": float(res.money[i, d]), "shortfall_cost": float(res.shortfall_cost[i, d]),
            "net": float(res.net[i, d]), "arrival_soc": float(res.arrival_soc[i, d]),
            "departure_soc": None if not res.came[i, d] else float(res.departure_soc[i, d]),
            "violation": bool(res.violation[i, d]), "delta_return": float(res.delta_return[i, d]),
            "proof_score": float(res.proof_score[i, d]), "surplus_vs_grid": float(res.surplus_vs_grid[i, d]),
            "discharged_kwh": float(res.discharged_kwh[i, d]), "charged_kwh": float(res.charged_kwh[i, d])}


def evaluate_fleet(model: FleetModel, days: int = 1, seed: int = 0, beta: float | None = None,
                   oracle: bool = True, hourly_ev: bool = False) -> dict[str, Any]:
    """The trained fleet on ``days`` held-out days: per day and hour the site market's matched V2V
    energy, V2B, grid import and export; per EV and day cash, energy value, money, shortfall,
    departure SOC, violation, delta-weighted return and proof score; per day the round the chain
    records (mLAG, fees, trades); summaries of the trained fleet beside the rule-based,
    charge-only and perfect-foresight policies on the same days."""
    check_int("days", days, ge=1, le=100_000)
    env, fleet = model.env_config, model.fleet
    beta = model.federation.beta if beta is None else beta
    fd, pd = held_out(fleet, env, days, seed)
    res = evaluate(model.policy(), fleet, env, fd, pd, trades=True, hourly_ev=hourly_ev)
    summaries = {"trained": res.summary(), "rule": evaluate(rule_policy(), fleet, env, fd, pd).summary(),
                 "charge_only": evaluate(grid_charge_policy(), fleet, env, fd, pd).summary()}
    if oracle:
        summaries["oracle"] = evaluate(oracle_policy(oracle_schedule(fleet, env, fd, pd)), fleet, env, fd,
                                       pd).summary()
    digest = model.model_hash()
    rounds = day_rounds(res, fleet, digest, beta, seed)
    out_days = []
    for d in range(days):
        hours = []
        for si, site in enumerate(res.site_ids):
            for h in range(24):
                row = (res.v2v_kwh[d, si, h], res.v2b_kwh[d, si, h], res.grid_import_kwh[d, si, h],
                       res.grid_export_kwh[d, si, h])
                if any(x > 0 for x in row):
                    hours.append({"hour": h, "site": site, "v2v_kwh": float(row[0]), "v2b_kwh": float(row[1]),
                                  "grid_import_kwh": float(row[2]), "grid_export_kwh": float(row[3])})
        evs = [_ev_day(res, i, d, int(fd.arrival_h[i, d]), int(fd.departure_h[i, d])) for i in range(len(fleet))]
        day: dict[str, Any] = {"day": d, "date": pd.dates[d] if pd.dates else None,
                               "grid_price_per_kwh": pd.grid_sell[d].tolist(), "hours": hours, "evs": evs,
                               "round": rounds[d]}
        if hourly_ev:
            hv = res.hourly_ev[d]
            for i, e in enumerate(evs):
                e["energy_kwh_by_hour"] = hv["energy_kwh"][i].tolist()
                e["soc_by_hour"] = [None if np.isnan(x) else float(x) for x in hv["soc"][i]]
        out_days.append(day)
    return {"algo": model.algo, "mode": model.federation.mode, "reward": env.reward, "market": env.market,
            "model_hash": digest, "beta": beta, "seed": seed, "price_source": env.price_source,
            "currency": pd.currency or None, "day_start_h": env.day_start_h,
            "fleet": [{"ev": i, "ev_id": e.ev_id, "model": e.model.name, "battery_kwh": e.model.battery_kwh,
                       "charge_kw": e.model.charge_kw, "discharge_kw": e.model.discharge_kw, "site": e.site,
                       "soc_required": e.soc_required, "source": e.source} for i, e in enumerate(fleet)],
            "days": out_days, "summary": summaries}
