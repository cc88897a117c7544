"""stable-baselines3 on the single-EV Gymnasium env, as a cross-check of our batched learners.

:func:`train_sb3` trains one SB3 model (PPO, A2C, SAC, TD3 or DDPG) for one EV of a fleet on
``gridledger/V2VSite-v0`` (the EV at its site, the other EVs there acting by the rule policy);
:func:`sb3_policy` turns models into a fleet policy for :func:`gridledger.learn.fleet.evaluate.evaluate`.
Observations are scaled like our networks' inputs (:func:`gridledger.learn.fleet.env.obs_scale`).
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from gridledger.data.fleet import EVProfile
from gridledger.learn.fleet.env import FleetMarketEnv, V2VConfig, V2VEnv, obs_scale
from gridledger.learn.fleet.federated import Policy

SB3_ALGOS = ("ppo", "a2c", "sac", "td3", "ddpg")


class ScaledV2V(gym.ObservationWrapper):
    """V2VEnv with observations divided by the networks' input scale."""

    def __init__(self, env: V2VEnv) -> None:
        super().__init__(env)
        self.scale = obs_scale(env.config).numpy()
        self.observation_space = gym.spaces.Box(0.0, np.inf, env.observation_space.shape, np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return (observation / self.scale).astype(np.float32)


def train_sb3(algo: str, config: V2VConfig, fleet: tuple[EVProfile, ...], ev: int, steps: int, seed: int,
              n_envs: int = 16, **kwargs: Any) -> Any:
    """One SB3 model trained ``steps`` environment steps for EV ``ev`` of ``fleet``."""
    import stable_baselines3 as sb3
    from stable_baselines3.common.env_util import make_vec_env

    os.environ.setdefault("SB3_LOGDIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "gridledger-sb3"))
    cls = {"ppo": sb3.PPO, "a2c": sb3.A2C, "sac": sb3.SAC, "td3": sb3.TD3, "ddpg": sb3.DDPG}[algo]
    venv = make_vec_env(lambda: ScaledV2V(V2VEnv(config, fleet=fleet, ev=ev)), n_envs=n_envs, seed=seed)
    model = cls("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **kwargs)
    model.learn(steps)
    return model


def sb3_policy(models: dict[int, Any], config: V2VConfig) -> Policy:
    """EV i acts by ``models[i]`` (deterministic); EVs without a model act by the rule."""
    scale = torch.tensor(obs_scale(config).numpy())

    def act(obs: torch.Tensor, env: FleetMarketEnv) -> torch.Tensor:
        out = env.rule_actions().clone()
        for i, m in models.items():
            pred, _ = m.predict((obs[i] / scale).numpy(), deterministic=True)
            out[i] = torch.from_numpy(np.clip(np.asarray(pred, dtype=np.float64).reshape(-1), -1, 1))
        return out

    return act
