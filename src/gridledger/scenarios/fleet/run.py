"""EV fleet V2V trading (thesis chapter 4): training, saving, loading and evaluating fleets.

``algo="ppo"`` uses gridledger's batched PPO (federated by FedAvg, Algorithm 4); ``sac``,
``a2c`` and ``ddpg`` use stable-baselines3 (federated the same way). ``federated=False`` trains
one central agent on all EVs' days (the thesis's baseline1 with DDPG); ``use_delta=False`` in
the environment removes the price factor delta from rewards and proof scores (baseline2).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gridledger.errors import ConfigError, InputFileError
from gridledger.games.election import NoEligibleMinerError, weighted_random_selection
from gridledger.learn.fleet.env import V2VConfig
from gridledger.learn.fleet.federated import (
    FederationConfig,
    FleetModel,
    RoundRecord,
    evaluate,
    grid_only_policy,
    held_out_days,
    random_policy,
    train_fleet_ppo,
)
from gridledger.learn.fleet.sb3 import SB3_ALGOS, SB3Fleet, train_fleet_sb3
from gridledger.learn.ppo import PPOConfig
from gridledger.params import check_choice, check_int, from_mapping, to_mapping


@dataclass(frozen=True)
class V2VTrainConfig:
    """Everything a fleet's training needs (tables ``env``, ``ppo``, ``federation``)."""

    algo: str = "ppo"
    """"ppo" (gridledger's batched PPO), or stable-baselines3's "sac", "a2c", "ddpg"."""
    env: V2VConfig = field(default_factory=V2VConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    sb3_steps_per_round: int = 2_000
    """Env steps per EV per round for stable-baselines3 algorithms."""
    sb3_envs_per_ev: int = 4

    def __post_init__(self) -> None:
        check_choice("algo", self.algo, SB3_ALGOS)
        check_int("sb3_steps_per_round", self.sb3_steps_per_round, ge=1)
        check_int("sb3_envs_per_ev", self.sb3_envs_per_ev, ge=1)


Fleet = FleetModel | SB3Fleet


def train(cfg: V2VTrainConfig, seed: int, progress: Any = None) -> Fleet:
    """Train a fleet; without federation a single central agent learns from every EV's days."""
    fed = cfg.federation
    if cfg.algo == "ppo":
        if fed.federated:
            return train_fleet_ppo(cfg.env, cfg.ppo, fed, seed, progress)
        central = replace(cfg.ppo, envs_per_agent=cfg.ppo.envs_per_agent * fed.evs)
        model = train_fleet_ppo(cfg.env, central, replace(fed, evs=1), seed, progress)
        model.federation = fed
        return model
    return train_fleet_sb3(cfg.algo, cfg.env, fed, cfg.sb3_steps_per_round, seed, cfg.sb3_envs_per_ev, progress)


def records_json(records: list[RoundRecord]) -> list[dict[str, Any]]:
    return [r.__dict__ for r in records]


def convergence_point(records: list[RoundRecord], fraction: float = 0.95, window: int = 10) -> dict[str, Any]:
    """First round whose running-average return reaches ``fraction`` of the final running average."""
    ret = np.array([r.mean_return for r in records], dtype=float)
    ret = np.where(np.isnan(ret), np.nanmin(ret) if np.any(~np.isnan(ret)) else 0.0, ret)
    k = max(1, min(window, len(ret)))
    run = np.convolve(ret, np.ones(k) / k, mode="valid")
    start, final = run[0], run[-1]
    target = start + fraction * (final - start)
    idx = int(np.argmax(run >= target)) + k - 1 if final > start else len(ret) - 1
    r = records[idx]
    return {"round": r.round, "episodes": r.episodes, "env_steps": r.env_steps, "seconds": r.seconds,
            "final_return": float(final), "total_episodes": records[-1].episodes}


def save_fleet(fleet: Fleet, cfg: V2VTrainConfig, directory: Path) -> None:
    """Model files + ``model.json`` (configuration) under ``directory``."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    meta = {"format": "gridledger-v2v-1", "train": {"algo": cfg.algo, "env": to_mapping(cfg.env),
                                                     "ppo": to_mapping(cfg.ppo),
                                                     "federation": to_mapping(cfg.federation),
                                                     "sb3_steps_per_round": cfg.sb3_steps_per_round,
                                                     "sb3_envs_per_ev": cfg.sb3_envs_per_ev}}
    if isinstance(fleet, FleetModel):
        torch.save(fleet.stack.state_dict(), directory / "agents.pt")
        meta["agents"] = fleet.stack.agents
    else:
        for k, m in enumerate(fleet.models):
            m.save(directory / f"sb3_{k}.zip")
        meta["agents"] = len(fleet.models)
    (directory / "model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def load_fleet(directory: Path) -> tuple[Fleet, V2VTrainConfig]:
    import torch

    from gridledger.learn.fleet.federated import obs_scale
    from gridledger.learn.ppo import AgentStack

    meta_path = Path(directory) / "model.json"
    if not meta_path.exists():
        raise InputFileError(str(meta_path), "not a gridledger V2V model directory (model.json missing)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        t = meta["train"]
        cfg = V2VTrainConfig(algo=t["algo"], env=from_mapping(V2VConfig, t["env"]),
                             ppo=from_mapping(PPOConfig, t["ppo"]),
                             federation=from_mapping(FederationConfig, t["federation"]),
                             sb3_steps_per_round=t["sb3_steps_per_round"], sb3_envs_per_ev=t["sb3_envs_per_ev"])
    except (KeyError, ValueError, TypeError) as exc:
        raise InputFileError(str(meta_path), f"malformed model description ({exc})") from None
    if cfg.algo == "ppo":
        stack = AgentStack(int(meta["agents"]), cfg.env.obs_dim, cfg.ppo.hidden, cfg.ppo.init_log_std,
                           obs_scale(cfg.env), 0)
        stack.load_state_dict(torch.load(Path(directory) / "agents.pt", weights_only=True))
        return FleetModel(stack, cfg.env, cfg.ppo, cfg.federation), cfg
    from gridledger.learn.fleet.sb3 import _algo

    models = [_algo(cfg.algo).load(Path(directory) / f"sb3_{k}.zip", device="cpu") for k in range(meta["agents"])]
    return SB3Fleet(cfg.algo, models, cfg.env, cfg.federation), cfg


def evaluate_fleet(fleet: Fleet, env: V2VConfig, evs: int, seed: int, days: int = 1, beta: float = 0.05
                   ) -> dict[str, Any]:
    """A held-out day for ``evs`` EVs: per EV actions and SOC per hour, profit vs grid-only
    trading, proof score; the miner (WRS over the day's scores, eq. 4.18) and payoffs with the
    mining reward (eq. 4.20: each EV pays beta of its profit to the miner)."""
    check_int("evs", evs, ge=1, le=100_000)
    held = held_out_days(env, evs, days, seed)
    policy = fleet.policy()
    trained = evaluate(policy, env, held, evs)
    grid = evaluate(grid_only_policy(env), env, held, evs, grid_prices=True)
    rnd = evaluate(random_policy(np.random.default_rng(seed)), env, held, evs)
    profit = trained.profit_vs_grid.sum(axis=1)
    scores = trained.proof_scores.sum(axis=1)
    try:
        miner: int | None = weighted_random_selection(np.clip(scores, 0, None), np.random.default_rng(seed))
    except NoEligibleMinerError:
        miner = None
    reward = beta * float(np.clip(profit, 0, None).sum())
    payoff = profit - beta * np.clip(profit, 0, None)
    if miner is not None:
        payoff[miner] += reward
    out = []
    for i in range(evs):
        hours = trained.hourly[i]
        out.append({"ev": i, "hours": [h["hour"] for h in hours], "energy_kwh": [h["energy_kwh"] for h in hours],
                    "soc": [h["soc"] for h in hours], "p_v2v": [h["p_v2v"] for h in hours],
                    "proof_score_steps": [h["proof_score"] for h in hours],
                    "return": float(trained.returns[i].sum()), "profit_vs_grid": float(profit[i]),
                    "proof_score": float(scores[i]), "payoff": float(payoff[i]), "miner": i == miner})
    return {"evs": out, "miner": miner, "mining_reward": reward, "beta": beta,
            "mean_return": {"trained": float(trained.returns.mean()), "grid_only": float(grid.returns.mean()),
                            "random": float(rnd.returns.mean())},
            "mean_profit_vs_grid": float(trained.profit_vs_grid.mean())}


def train_config(mapping: dict[str, Any]) -> V2VTrainConfig:
    try:
        return from_mapping(V2VTrainConfig, mapping)
    except ConfigError:
        raise


def now() -> float:
    return time.perf_counter()
