"""Fleets trained with stable-baselines3 (the thesis's comparisons, section 4.4.6-4.4.7).

- Federated (``federated=True``): one SB3 model per EV, each learning from its own
  environment; after every round the models' parameters are averaged (FedAvg, eq. 4.19) and
  loaded back into every EV's model. The mLAG is drawn by WRS over the round's PoSOC scores.
- Central (``federated=False``): one SB3 model trained on all EVs' days (the thesis's
  baseline1, a single centrally trained agent; with DDPG it is the CDDPG reference).

Observations are scaled like :func:`gridledger.learn.fleet.federated.obs_scale`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from gridledger.games.election import weighted_random_selection
from gridledger.learn.fleet.env import V2VConfig, V2VEnv
from gridledger.learn.fleet.federated import FederationConfig, RoundRecord, obs_scale

SB3_ALGOS = ("ppo", "sac", "a2c", "ddpg")


class ScoredV2V(gym.Wrapper):
    """V2VEnv with scaled observations; accumulates the day's return and proof score."""

    def __init__(self, config: V2VConfig, sink: dict[str, list[float]]) -> None:
        env = V2VEnv(config)
        super().__init__(env)
        self.scale = obs_scale(config).numpy()
        self.observation_space = gym.spaces.Box(0.0, np.inf, env.observation_space.shape, np.float32)
        self.sink = sink
        self._ret = 0.0
        self._score = 0.0

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._ret = self._score = 0.0
        return (obs / self.scale).astype(np.float32), info

    def step(self, action):
        obs, reward, term, trunc, info = self.env.step(action)
        self._ret += reward
        self._score += info["proof_score"]
        if term or trunc:
            self.sink["returns"].append(self._ret)
            self.sink["scores"].append(self._score)
        return (obs / self.scale).astype(np.float32), reward, term, trunc, info


def _algo(name: str) -> Any:
    import stable_baselines3 as sb3

    return {"ppo": sb3.PPO, "sac": sb3.SAC, "a2c": sb3.A2C, "ddpg": sb3.DDPG}[name]


def _kwargs(name: str) -> dict[str, Any]:
    if name == "ppo":
        return {"n_steps": 32, "batch_size": 128, "n_epochs": 4,
                "policy_kwargs": {"log_std_init": -0.5, "net_arch": {"pi": [64, 64], "vf": [64, 64]}}}
    if name == "a2c":
        return {"n_steps": 8, "policy_kwargs": {"log_std_init": -0.5}}
    # Off-policy learners: one gradient step every 4 env steps keeps them affordable on a CPU.
    return {"train_freq": 4, "gradient_steps": 1, "learning_starts": 500, "buffer_size": 100_000}


@dataclass
class SB3Fleet:
    algo: str
    models: list[Any]
    env_config: V2VConfig
    federation: FederationConfig
    records: list[RoundRecord] = field(default_factory=list)
    seconds: float = 0.0

    def policy(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        scale = obs_scale(self.env_config).numpy()

        def act(obs: np.ndarray, agents: np.ndarray) -> np.ndarray:
            out = np.zeros(len(obs))
            for a in np.unique(agents):
                rows = agents == a
                model = self.models[int(a) % len(self.models)]
                pred, _ = model.predict(obs[rows] / scale, deterministic=True)
                out[rows] = np.clip(np.asarray(pred).reshape(-1), -1, 1)
            return out

        return act


def _average_into(models: list[Any]) -> None:
    states = [m.policy.state_dict() for m in models]
    avg = {k: torch.stack([s[k].float() for s in states]).mean(0).to(states[0][k].dtype) for k in states[0]}
    for m in models:
        m.policy.load_state_dict(avg)


def _hash(model: Any) -> str:
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(model.policy.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def train_fleet_sb3(algo: str, env_config: V2VConfig, fed: FederationConfig, steps_per_round: int, seed: int,
                    envs_per_ev: int = 4, progress: Callable[[int], None] | None = None) -> SB3Fleet:
    """Federated (or central) training of an SB3 algorithm on the V2V environment."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    os.environ.setdefault("SB3_LOGDIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "gridledger-sb3"))
    torch.set_num_threads(fed.threads)
    cls = _algo(algo)
    ss = np.random.SeedSequence(seed)
    n_models = fed.evs if fed.federated else 1
    sinks = [{"returns": [], "scores": []} for _ in range(fed.evs)]
    models = []
    for k, child in enumerate(ss.spawn(n_models)):
        s = int(child.generate_state(1)[0] % (2**31))
        owners = [k] if fed.federated else list(range(fed.evs))
        fns = [(lambda o=o: ScoredV2V(env_config, sinks[o])) for o in owners for _ in range(envs_per_ev)]
        venv = DummyVecEnv(fns)
        venv.seed(s)
        models.append(cls("MlpPolicy", venv, seed=s, device="cpu", verbose=0, **_kwargs(algo)))
    if fed.federated:
        _average_into(models)
    fleet = SB3Fleet(algo, models, env_config, fed)
    wrs = np.random.default_rng(int(ss.generate_state(2)[1]))
    start = time.perf_counter()
    mlag = None
    steps = 0
    episodes = 0
    per_model = steps_per_round if fed.federated else steps_per_round * fed.evs
    for r in range(fed.rounds):
        for s in sinks:
            s["returns"].clear()
            s["scores"].clear()
        for m in models:
            m.learn(per_model, reset_num_timesteps=False)
        steps += per_model * len(models)
        if fed.federated:
            _average_into(models)
        ev_ret = np.array([np.mean(s["returns"]) if s["returns"] else np.nan for s in sinks])
        scores = np.array([float(np.sum(s["scores"])) for s in sinks])
        episodes += sum(len(s["returns"]) for s in sinks)  # cumulative, like train_fleet_ppo's
        if np.any(scores > 0):
            mlag = weighted_random_selection(np.clip(scores, 0, None), wrs)
        fleet.records.append(RoundRecord(
            round=r, env_steps=steps, episodes=int(episodes),
            mean_return=float(np.nanmean(ev_ret)) if np.any(~np.isnan(ev_ret)) else float("nan"),
            ev_returns=[float(x) for x in ev_ret], scores=[float(x) for x in scores], mlag=mlag,
            mining_reward=fed.beta * float(np.nansum(np.clip(ev_ret, 0, None))), model_hash=_hash(models[0]),
            seconds=time.perf_counter() - start))
        if progress is not None:
            progress(r)
    fleet.seconds = time.perf_counter() - start
    return fleet
