"""Batched PPO (Schulman et al. 2017, the thesis's PPO2) for a stack of independent agents, and
federated averaging (thesis eq. 4.19, Algorithm 4).

:class:`AgentStack` holds A actor-critic networks as tensors with a leading agent axis and
evaluates them with batched matrix products: agent a's output depends only on agent a's
parameters and inputs, and its PPO loss only on its own rollouts, so A agents train
independently in one pass (what each EV would do on its own machine). :func:`fedavg` replaces
every agent's parameters by their mean (eq. 4.19: w^G = (1/N) sum_n w^n).

The PPO update follows CleanRL's continuous-action PPO: Gaussian policy with a learned
state-independent log standard deviation, GAE(lambda) advantages normalised per minibatch,
clipped surrogate, value loss, optional entropy bonus, Adam, gradient-norm clipping (per
agent here, so that agents stay independent). ``tests/integration/learn/test_ppo_vs_sb3.py``
checks that it reaches the same returns as stable-baselines3's PPO on the same environment.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gridledger.params import check_int, check_number


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters (CleanRL / SB3 defaults unless noted)."""

    hidden: int = 64
    """Units in each of the two hidden layers (actor and critic)."""
    lr: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    epochs: int = 4
    """Passes over a rollout per update."""
    minibatches: int = 4
    rollout_steps: int = 32
    """Steps collected per environment copy before an update."""
    envs_per_agent: int = 16
    """Parallel day simulations per agent (each agent sees only its own)."""
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    init_log_std: float = -0.5

    def __post_init__(self) -> None:
        check_int("hidden", self.hidden, ge=4, le=4096)
        check_number("lr", self.lr, gt=0, lt=1)
        check_number("gamma", self.gamma, ge=0, le=1)
        check_number("gae_lambda", self.gae_lambda, ge=0, le=1)
        check_number("clip", self.clip, gt=0, lt=1)
        check_int("epochs", self.epochs, ge=1)
        check_int("minibatches", self.minibatches, ge=1)
        check_int("rollout_steps", self.rollout_steps, ge=1)
        check_int("envs_per_agent", self.envs_per_agent, ge=1)
        check_number("ent_coef", self.ent_coef, ge=0)
        check_number("vf_coef", self.vf_coef, ge=0)
        check_number("max_grad_norm", self.max_grad_norm, gt=0)


def _ortho(shape: tuple[int, ...], gain: float, gen: torch.Generator) -> torch.Tensor:
    a, n_in, n_out = shape
    w = torch.empty(a, n_out, n_in)
    for k in range(a):
        flat = torch.randn(n_out, n_in, generator=gen)
        q, r = torch.linalg.qr(flat.T if n_in > n_out else flat)
        q = q * torch.sign(torch.diagonal(r))
        w[k] = (q.T if n_in > n_out else q)[:n_out, :n_in] * gain
    return w.transpose(1, 2).contiguous()


class AgentStack(nn.Module):
    """A independent actor-critic MLPs (2 x ``hidden`` tanh layers each)."""

    def __init__(self, agents: int, obs_dim: int, hidden: int, init_log_std: float, obs_scale: torch.Tensor,
                 seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.agents = agents

        def layer(n_in: int, n_out: int, gain: float) -> tuple[nn.Parameter, nn.Parameter]:
            return (nn.Parameter(_ortho((agents, n_in, n_out), gain, gen)),
                    nn.Parameter(torch.zeros(agents, 1, n_out)))

        self.a1w, self.a1b = layer(obs_dim, hidden, math.sqrt(2))
        self.a2w, self.a2b = layer(hidden, hidden, math.sqrt(2))
        self.a3w, self.a3b = layer(hidden, 1, 0.01)
        self.c1w, self.c1b = layer(obs_dim, hidden, math.sqrt(2))
        self.c2w, self.c2b = layer(hidden, hidden, math.sqrt(2))
        self.c3w, self.c3b = layer(hidden, 1, 1.0)
        self.log_std = nn.Parameter(torch.full((agents, 1, 1), float(init_log_std)))
        self.register_buffer("obs_scale", obs_scale.reshape(1, 1, -1).float())

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """obs (A, B, d) -> (action mean (A, B), value (A, B), log std (A, 1))."""
        x = obs / self.obs_scale
        h = torch.tanh(torch.baddbmm(self.a1b, x, self.a1w))
        h = torch.tanh(torch.baddbmm(self.a2b, h, self.a2w))
        mean = torch.baddbmm(self.a3b, h, self.a3w).squeeze(-1)
        g = torch.tanh(torch.baddbmm(self.c1b, x, self.c1w))
        g = torch.tanh(torch.baddbmm(self.c2b, g, self.c2w))
        value = torch.baddbmm(self.c3b, g, self.c3w).squeeze(-1)
        return mean, value, self.log_std.squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.forward(obs)[1]


def fedavg(stack: AgentStack) -> None:
    """Replace every agent's parameters by the agents' mean (eq. 4.19), in place."""
    with torch.no_grad():
        for p in stack.parameters():
            p.copy_(p.mean(dim=0, keepdim=True).expand_as(p))


def model_hash(stack: AgentStack, agent: int = 0) -> str:
    """SHA-256 of one agent's parameters (float32, fixed order): identifies a global model."""
    h = hashlib.sha256()
    for name, p in sorted(stack.named_parameters()):
        h.update(name.encode())
        h.update(p.detach()[agent].to(torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def _clip_per_agent(stack: AgentStack, max_norm: float) -> None:
    params = [p for p in stack.parameters() if p.grad is not None]
    sq = torch.zeros(stack.agents)
    for p in params:
        sq += p.grad.pow(2).reshape(stack.agents, -1).sum(dim=1)
    scale = torch.clamp(max_norm / (sq.sqrt() + 1e-6), max=1.0)
    for p in params:
        p.grad.mul_(scale.reshape(-1, *([1] * (p.grad.dim() - 1))))


def gaussian_log_prob(action: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    return -0.5 * ((action - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)


@dataclass
class Rollout:
    obs: torch.Tensor       # (T, A, E, d)
    actions: torch.Tensor   # (T, A, E)
    logp: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    values: torch.Tensor
    last_value: torch.Tensor  # (A, E)


def advantages(ro: Rollout, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(lambda) advantages and returns; ``dones[t]`` marks the end of a day after step t."""
    t_len = ro.rewards.shape[0]
    adv = torch.zeros_like(ro.rewards)
    last = torch.zeros_like(ro.last_value)
    for t in reversed(range(t_len)):
        next_value = ro.last_value if t == t_len - 1 else ro.values[t + 1]
        nonterminal = 1.0 - ro.dones[t]
        delta = ro.rewards[t] + gamma * next_value * nonterminal - ro.values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv, adv + ro.values


def ppo_update(stack: AgentStack, opt: torch.optim.Optimizer, ro: Rollout, cfg: PPOConfig,
               gen: torch.Generator) -> dict[str, float]:
    """PPO epochs over one rollout; every agent learns from its own data only."""
    adv, ret = advantages(ro, cfg.gamma, cfg.gae_lambda)
    t_len, a, e = ro.rewards.shape
    n = t_len * e

    def flat(x: torch.Tensor) -> torch.Tensor:  # (T, A, E, ...) -> (A, T*E, ...)
        return x.transpose(0, 1).reshape(a, n, *x.shape[3:])

    obs, act, logp, adv_f, ret_f, val_f = (flat(ro.obs), flat(ro.actions), flat(ro.logp), flat(adv), flat(ret),
                                           flat(ro.values))
    mb = max(1, n // cfg.minibatches)
    stats = {"policy_loss": 0.0, "value_loss": 0.0, "approx_kl": 0.0}
    updates = 0
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, mb):
            idx = perm[start:start + mb]
            mean, value, log_std = stack(obs[:, idx])
            new_logp = gaussian_log_prob(act[:, idx], mean, log_std)
            ratio = (new_logp - logp[:, idx]).exp()
            adv_b = adv_f[:, idx]
            adv_b = (adv_b - adv_b.mean(dim=1, keepdim=True)) / (adv_b.std(dim=1, keepdim=True) + 1e-8)
            pg = torch.max(-adv_b * ratio, -adv_b * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).mean(dim=1)
            v_loss = 0.5 * (value - ret_f[:, idx]).pow(2).mean(dim=1)
            entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).mean(dim=1)
            loss = (pg + cfg.vf_coef * v_loss - cfg.ent_coef * entropy).sum()
            opt.zero_grad()
            loss.backward()
            _clip_per_agent(stack, cfg.max_grad_norm)
            opt.step()
            with torch.no_grad():
                stats["policy_loss"] += float(pg.mean())
                stats["value_loss"] += float(v_loss.mean())
                stats["approx_kl"] += float(((ratio - 1) - (new_logp - logp[:, idx])).mean())
            updates += 1
    del val_f
    return {k: v / max(updates, 1) for k, v in stats.items()}


def to_numpy_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))
