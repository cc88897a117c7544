"""Federated PPO for a fleet of EVs with a rotating aggregator/miner (thesis Algorithm 4).

Each EV (agent) trains its own PPO agent on its own days only; after every round the
aggregator averages the agents' models (FedAvg, eq. 4.19) and broadcasts the global model; the
aggregator/miner of the next round (mLAG) is drawn by weighted random selection over the EVs'
cumulative PoSOC proof scores of the round (eqs. 4.17-4.18, Algorithm 4 lines 27-32); the
mining reward beta * sum of the EVs' rewards (eq. 4.20) is computed per round. Every round is
recorded (mLAG, scores, reward, a hash of the global model) for the ledger.

Without federation (``federated=False``) the agents never average: independent learners.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gridledger.games.election import weighted_random_selection
from gridledger.learn.fleet.env import Days, V2VBatchEnv, V2VConfig, sample_days
from gridledger.learn.ppo import AgentStack, PPOConfig, Rollout, fedavg, gaussian_log_prob, model_hash, ppo_update
from gridledger.params import check_int, check_number


@dataclass(frozen=True)
class FederationConfig:
    """Fleet and federation settings."""

    evs: int = 10
    """Number of EVs (local learners)."""
    rounds: int = 300
    """Federated rounds (one local PPO update per EV, then averaging)."""
    federated: bool = True
    """Average the models after each round (False: independent learners, no FedAvg)."""
    beta: float = 0.05
    """beta, share of the EVs' rewards paid to the miner (eq. 4.20; not given, chosen)."""
    threads: int = 1
    """Torch threads (one is fastest for these small networks)."""

    def __post_init__(self) -> None:
        check_int("evs", self.evs, ge=1, le=100_000)
        check_int("rounds", self.rounds, ge=1, le=10_000_000)
        check_number("beta", self.beta, gt=0, le=1)
        check_int("threads", self.threads, ge=1, le=256)


@dataclass(frozen=True)
class RoundRecord:
    round: int
    env_steps: int
    episodes: int
    mean_return: float
    ev_returns: list[float]
    scores: list[float]
    mlag: int | None
    mining_reward: float
    model_hash: str
    seconds: float


@dataclass
class FleetModel:
    """A trained fleet: the agents' networks and how they were made."""

    stack: AgentStack
    env_config: V2VConfig
    ppo: PPOConfig
    federation: FederationConfig
    records: list[RoundRecord] = field(default_factory=list)
    seconds: float = 0.0

    def policy(self, agent: int | None = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """Deterministic policy (mean action) of one agent, or of agent (i mod agents) for rows of EV i."""
        stack = self.stack

        def act(obs: np.ndarray, agents: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                o = torch.from_numpy(np.asarray(obs, dtype=np.float32))
                rows_agents = np.asarray(agents if agent is None else np.full(len(obs), agent)) % stack.agents
                a_idx = torch.from_numpy(rows_agents)
                out = np.zeros(len(obs), dtype=np.float64)
                for a in torch.unique(a_idx).tolist():
                    rows = (a_idx == a).nonzero().squeeze(1)
                    mean, _, _ = stack(o[rows].unsqueeze(0).expand(stack.agents, -1, -1))
                    out[rows.numpy()] = np.clip(mean[a].numpy(), -1, 1)
                return out

        return act


def obs_scale(config: V2VConfig) -> torch.Tensor:
    """Fixed observation scaling: prices by the on-peak mean of the price scale."""
    s = config.price_obs_scale
    scale = [1.0, 1.0, s, s, s, s] + ([1.0, 1.0] if config.extended_obs else [])
    return torch.tensor(scale)


def train_fleet_ppo(env_config: V2VConfig, ppo: PPOConfig, fed: FederationConfig, seed: int,
                    progress: Callable[[int], None] | None = None) -> FleetModel:
    """Algorithm 4 with PPO local learners (our batched implementation)."""
    torch.set_num_threads(fed.threads)
    ss = np.random.SeedSequence(seed)
    env_seed, net_seed, torch_seed, wrs_seed = (int(s.generate_state(1)[0]) for s in ss.spawn(4))
    a, e, d = fed.evs, ppo.envs_per_agent, env_config.obs_dim
    env = V2VBatchEnv(a * e, env_config, seed=env_seed, evs=a)
    stack = AgentStack(a, d, ppo.hidden, ppo.init_log_std, obs_scale(env_config), net_seed % (2**31))
    if fed.federated:
        fedavg(stack)  # one initial global model w_0^G for everybody (Algorithm 4, line 2)
    opt = torch.optim.Adam(stack.parameters(), lr=ppo.lr, eps=1e-5)
    gen = torch.Generator().manual_seed(torch_seed % (2**31))
    wrs_rng = np.random.default_rng(wrs_seed)
    model = FleetModel(stack, env_config, ppo, fed)
    obs = env.observe()
    ep_ret = np.zeros(a * e)
    agent_of = np.repeat(np.arange(a), e)
    mlag: int | None = None
    steps = 0
    episodes = 0
    start = time.perf_counter()
    t_len = ppo.rollout_steps
    for r in range(fed.rounds):
        buf_obs = torch.zeros(t_len, a, e, d)
        buf_act = torch.zeros(t_len, a, e)
        buf_logp = torch.zeros(t_len, a, e)
        buf_rew = torch.zeros(t_len, a, e)
        buf_done = torch.zeros(t_len, a, e)
        buf_val = torch.zeros(t_len, a, e)
        ret_sum = np.zeros(a)
        ret_cnt = np.zeros(a)
        scores = np.zeros(a)
        for t in range(t_len):
            o = torch.from_numpy(obs).view(a, e, d)
            with torch.no_grad():
                mean, value, log_std = stack(o)
                act = mean + log_std.exp() * torch.randn(a, e, generator=gen)
                logp = gaussian_log_prob(act, mean, log_std)
            obs, reward, done, info = env.step(act.numpy().reshape(-1))
            buf_obs[t], buf_act[t], buf_logp[t], buf_val[t] = o, act, logp, value
            buf_rew[t] = torch.from_numpy(reward.reshape(a, e)).float()
            buf_done[t] = torch.from_numpy(done.reshape(a, e)).float()
            ep_ret += reward
            np.add.at(scores, agent_of, info["proof_score"])
            if done.any():
                idx = np.flatnonzero(done)
                np.add.at(ret_sum, agent_of[idx], ep_ret[idx])
                np.add.at(ret_cnt, agent_of[idx], 1)
                ep_ret[idx] = 0.0
                episodes += len(idx)
        steps += t_len * a * e
        with torch.no_grad():
            last_value = stack.value(torch.from_numpy(obs).view(a, e, d))
        ppo_update(stack, opt, Rollout(buf_obs, buf_act, buf_logp, buf_rew, buf_done, buf_val, last_value), ppo,
                   gen)
        if fed.federated:
            fedavg(stack)
        ev_returns = np.where(ret_cnt > 0, ret_sum / np.maximum(ret_cnt, 1), np.nan)
        if np.any(scores > 0):
            mlag = weighted_random_selection(np.clip(scores, 0, None), wrs_rng)      # eqs. (4.17)-(4.18)
        reward_m = fed.beta * float(np.nansum(np.clip(ev_returns, 0, None)))          # eq. (4.20)
        model.records.append(RoundRecord(
            round=r, env_steps=steps, episodes=episodes, mean_return=float(np.nanmean(ev_returns)),
            ev_returns=[float(x) for x in ev_returns], scores=[float(x) for x in scores], mlag=mlag,
            mining_reward=reward_m, model_hash=model_hash(stack, 0), seconds=time.perf_counter() - start))
        if progress is not None:
            progress(r)
    model.seconds = time.perf_counter() - start
    return model


Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]


def grid_only_policy(config: V2VConfig) -> Policy:
    """Charge as fast as possible from the grid until SOC_max, never sell (no V2V)."""
    def act(obs: np.ndarray, agents: np.ndarray) -> np.ndarray:
        return np.where(obs[:, 1] < config.soc_max - 1e-9, 1.0, 0.0)

    return act


def random_policy(rng: np.random.Generator) -> Policy:
    return lambda obs, agents: rng.uniform(-1.0, 1.0, len(obs))


@dataclass(frozen=True)
class EvalResult:
    """Per (EV, day): return, money flows and proof score; plus hourly traces."""

    returns: np.ndarray          # (evs, days)
    profit_vs_grid: np.ndarray   # (evs, days) money gained by trading V2V instead of with the grid
    v2v_cash: np.ndarray         # (evs, days) sold*p_v2v - bought*p_v2v
    proof_scores: np.ndarray     # (evs, days) PoSOC per day (Algorithm 4: sum of steps, SOC term at departure)
    hourly: list[list[dict[str, Any]]]  # per EV, day 0: hour, energy, soc, price, reward, score


def held_out_days(config: V2VConfig, evs: int, days: int, seed: int) -> Days:
    """Days no training run draws (a separate seed stream)."""
    return sample_days(np.random.default_rng(np.random.SeedSequence([seed, 7919]).generate_state(1)[0]),
                       evs * days, config, np.repeat(np.arange(evs), days))


def evaluate(policy: Policy, config: V2VConfig, days: Days, evs: int, grid_prices: bool = False) -> EvalResult:
    """Run ``policy`` (rows tagged with their EV) on the given days; ``grid_prices`` values the
    trades at grid prices (the grid-only baseline)."""
    k = len(days)
    per_ev = k // evs
    env = V2VBatchEnv(k, config, auto_reset=False)
    obs = env.reset(days)
    agents = np.repeat(np.arange(evs), per_ev)
    active = np.ones(k, dtype=bool)
    ret = np.zeros(k)
    profit = np.zeros(k)
    cash = np.zeros(k)
    score = np.zeros(k)
    hourly: list[list[dict[str, Any]]] = [[] for _ in range(evs)]
    while active.any():
        action = np.where(active, policy(obs, agents), 0.0)
        obs, reward, done, info = env.step(action)
        e = np.where(active, info["energy_kwh"], 0.0)
        bought, sold = np.maximum(e, 0), np.maximum(-e, 0)
        if grid_prices:
            reward = reward + info["delta"] * e * info["p_v2v"] - info["delta"] * (
                bought * info["p_grid_sell"] - sold * info["p_grid_buy"])
        ret += np.where(active, reward, 0.0)
        profit += sold * (info["p_v2v"] - info["p_grid_buy"]) + bought * (info["p_grid_sell"] - info["p_v2v"])
        if grid_prices:  # the grid-only policy trades with the grid: no V2V advantage by definition
            profit[:] = 0.0
        cash += (sold - bought) * info["p_v2v"]
        score += np.where(active, info["proof_score"], 0.0)
        for ev in range(evs):
            row = ev * per_ev
            if active[row]:
                hourly[ev].append({"hour": int(info["hour"][row]), "energy_kwh": float(e[row]),
                                   "soc": float(info["soc"][row]), "p_v2v": float(info["p_v2v"][row]),
                                   "delta": float(info["delta"][row]), "reward": float(reward[row]),
                                   "proof_score": float(info["proof_score"][row])})
        active &= ~done
    shape = (evs, per_ev)
    return EvalResult(ret.reshape(shape), profit.reshape(shape), cash.reshape(shape), score.reshape(shape), hourly)
