"""V2V benchmark (run: python benchmarks/v2v.py).

Prints, measured in one run: env steps/s of the single-EV Gymnasium environment, EV-steps/s of
the batched environment, PPO training env-steps/s (gridledger's batched PPO vs
stable-baselines3's PPO on the same environment), and the wall time for a 10-EV federated fleet
to reach 95% of its converged return.
"""

from __future__ import annotations

import os
import time

import gymnasium as gym
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from gridledger.learn.fleet.env import V2VBatchEnv, V2VConfig, V2VEnv
from gridledger.learn.fleet.federated import FederationConfig, obs_scale, train_fleet_ppo
from gridledger.learn.ppo import PPOConfig
from gridledger.scenarios.fleet.run import convergence_point


def single_env_rate(steps: int = 20_000) -> float:
    env = V2VEnv()
    env.reset(seed=0)
    a = np.zeros(1, dtype=np.float32)
    t = time.perf_counter()
    for _ in range(steps):
        _, _, done, _, _ = env.step(a)
        if done:
            env.reset()
    return steps / (time.perf_counter() - t)


def batched_rate(n: int = 8192, steps: int = 300) -> float:
    env = V2VBatchEnv(n, seed=0)
    a = np.random.default_rng(0).uniform(-1, 1, n)
    t = time.perf_counter()
    for _ in range(steps):
        env.step(a)
    return n * steps / (time.perf_counter() - t)


def sb3_ppo_rate(steps: int = 16_384) -> float:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    os.environ.setdefault("SB3_LOGDIR", "/tmp/gridledger-sb3")
    cfg = V2VConfig()
    scale = obs_scale(cfg).numpy()

    def make():
        return gym.wrappers.TransformObservation(V2VEnv(cfg), lambda o: (o / scale).astype(np.float32),
                                                 gym.spaces.Box(0, np.inf, (6,), np.float32))

    model = PPO("MlpPolicy", make_vec_env(make, n_envs=16, seed=0), n_steps=32, batch_size=128, n_epochs=4,
                policy_kwargs={"log_std_init": -0.5}, device="cpu", verbose=0, seed=0)
    t = time.perf_counter()
    model.learn(steps)
    return steps / (time.perf_counter() - t)


def ours_rate(evs: int, rounds: int) -> tuple[float, float]:
    m = train_fleet_ppo(V2VConfig(), PPOConfig(), FederationConfig(evs=evs, rounds=rounds), seed=0)
    return m.records[-1].env_steps / m.seconds, m.seconds


def main() -> None:
    torch.set_num_threads(1)
    console = Console(width=120)
    single = single_env_rate()
    batched = batched_rate()
    sb3 = sb3_ppo_rate()
    ours_1, _ = ours_rate(1, 32)
    ours_10, _ = ours_rate(10, 32)
    fleet = train_fleet_ppo(V2VConfig(), PPOConfig(), FederationConfig(evs=10, rounds=300), seed=0)
    conv = convergence_point(fleet.records)
    table = Table(title="V2V: environment and training throughput (2 cores, 1 torch thread)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("single-EV Gymnasium env, steps/s", f"{single:,.0f}")
    table.add_row("batched env (8,192 EVs), EV-steps/s", f"{batched:,.0f}")
    table.add_row("SB3 PPO training, env steps/s (1 agent, 16 envs)", f"{sb3:,.0f}")
    table.add_row("gridledger PPO training, env steps/s (1 agent, 16 envs)", f"{ours_1:,.0f}")
    table.add_row("gridledger federated PPO, env steps/s (10 EVs x 16 envs)", f"{ours_10:,.0f}")
    table.add_row("10-EV fleet: rounds / EV-days / seconds to 95% of converged return",
                  f"{conv['round']} / {conv['episodes']:,} / {conv['seconds']:.1f}")
    table.add_row("10-EV fleet: 300 rounds total (EV-days, seconds)",
                  f"{fleet.records[-1].episodes:,} / {fleet.seconds:.1f}")
    console.print(table)
    console.print(f"ratios: batched/single env {batched / single:,.0f}x; our PPO/SB3 PPO {ours_1 / sb3:.1f}x "
                  f"(1 agent), {ours_10 / sb3:.1f}x (10 EVs); goals: batched >= 1,000,000 EV-steps/s, "
                  "10-EV fleet converged within 600 s")


if __name__ == "__main__":
    main()
