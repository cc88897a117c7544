"""Batched PPO (Schulman et al. 2017, the thesis's PPO2) for a stack of independent agents, and
federated averaging (thesis eq. 4.19, Algorithm 4).

:class:`AgentStack` holds A actor-critic networks as tensors with a leading agent axis and
evaluates them with batched matrix products: agent a's output depends only on agent a's
parameters and inputs, and its PPO loss only on its own rollouts, so A agents train
independently in one pass (what each EV would do on its own machine). :func:`fedavg` replaces
every agent's parameters by their mean (eq. 4.19: w^G = (1/N) sum_n w^n).

Steps in which an agent has nothing to decide (its EV is not at the site) are masked out
(``Rollout.valid``). ``prox_mu > 0`` adds FedProx's proximal term (mu / 2) ||w - w^G||^2 to each
agent's loss (Li et al. 2020), with w^G the global model the round started from. An A2C update
is this update with one epoch and one minibatch (the clipped ratio is then 1 at the gradient).

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
    lr: float = 1e-3
    """Adam step (CleanRL: 3e-4; 1e-3 learned faster on the fleet, docs/decisions.md)."""
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    epochs: int = 4
    """Passes over a rollout per update."""
    minibatches: int = 4
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    init_log_std: float = -1.0
    """Initial log standard deviation of the Gaussian policy (-1.0 chosen with lr, docs/decisions.md)."""
    norm_reward: bool = True
    """Divide rewards by a running standard deviation of each agent's discounted returns (as
    stable-baselines3's VecNormalize does), so that the value loss does not swamp the clipped
    gradient when rewards are in currency."""

    def __post_init__(self) -> None:
        check_int("hidden", self.hidden, ge=4, le=4096)
        check_number("lr", self.lr, gt=0, lt=1)
        check_number("gamma", self.gamma, ge=0, le=1)
        check_number("gae_lambda", self.gae_lambda, ge=0, le=1)
        check_number("clip", self.clip, gt=0, lt=1)
        check_int("epochs", self.epochs, ge=1)
        check_int("minibatches", self.minibatches, ge=1)
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


def model_hash(stack: nn.Module, agent: int | None = 0) -> str:
    """SHA-256 of one agent's parameters (or of all agents' with ``agent=None``; float32, fixed
    order): identifies a global model (or a fleet of personal models)."""
    h = hashlib.sha256()
    for name, p in sorted(stack.named_parameters()):
        h.update(name.encode())
        x = p.detach() if agent is None else p.detach()[agent]
        h.update(x.to(torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def _clip_per_agent(stack: AgentStack, max_norm: float) -> None:
    params = [p for p in stack.parameters() if p.grad is not None]
    sq = torch.zeros(stack.agents)
    for p in params:
        sq += p.grad.pow(2).reshape(stack.agents, -1).sum(dim=1)
    scale = torch.clamp(max_norm / (sq.sqrt() + 1e-6), max=1.0)
    for p in params:
        p.grad.mul_(scale.reshape(-1, *([1] * (p.grad.dim() - 1))))


class ReturnScaler:
    """Per-agent running variance of discounted returns-to-go; rewards are divided by its root."""

    def __init__(self, agents: int, gamma: float) -> None:
        self.gamma = gamma
        self.count = torch.zeros(agents, dtype=torch.float64)
        self.mean = torch.zeros(agents, dtype=torch.float64)
        self.m2 = torch.zeros(agents, dtype=torch.float64)

    def update(self, rewards: torch.Tensor, dones: torch.Tensor, valid: torch.Tensor) -> None:
        """Fold in the returns-to-go of a rollout (T, A, E)."""
        g = torch.zeros(rewards.shape[1:], dtype=torch.float64)
        rets = torch.zeros_like(rewards, dtype=torch.float64)
        for t in reversed(range(rewards.shape[0])):
            g = rewards[t].double() + self.gamma * (1.0 - dones[t].double()) * g
            rets[t] = g
        w = valid.double()
        n_b = w.sum(dim=(0, 2))
        mean_b = (rets * w).sum(dim=(0, 2)) / n_b.clamp(min=1.0)
        m2_b = (((rets - mean_b.reshape(1, -1, 1)) ** 2) * w).sum(dim=(0, 2))
        tot = self.count + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / tot.clamp(min=1.0)
        self.m2 = self.m2 + m2_b + delta ** 2 * self.count * n_b / tot.clamp(min=1.0)
        self.count = tot

    def scale(self) -> torch.Tensor:
        """(A, 1) divisor of the rewards."""
        var = self.m2 / self.count.clamp(min=2.0)
        return (var.sqrt() + 1e-8).clamp(min=1e-4).reshape(-1, 1).float()


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
    valid: torch.Tensor | None = None
    """(T, A, E) 1 where the agent acted; None: every step."""


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
               gen: torch.Generator, prox_mu: float = 0.0,
               anchor: list[torch.Tensor] | None = None, keep: torch.Tensor | None = None) -> dict[str, float]:
    """PPO epochs over one rollout; every agent learns from its own (valid) data only.

    ``keep`` (T*E booleans, time-major like the flattened rollout) chooses the columns minibatches
    are drawn from; by default those where some agent acted. An agent trained on its own (the
    Flower backend) passes its fleet's columns, and then draws the minibatches it would draw
    as a slice of the fleet's stack. ``anchor`` (the parameters of the round's global model) and
    ``prox_mu > 0`` add FedProx's proximal term. Returns mean losses and the number of samples that entered a gradient
    (``sample_gradients``, summed over agents: the gradient budget).
    """
    adv, ret = advantages(ro, cfg.gamma, cfg.gae_lambda)
    t_len, a, e = ro.rewards.shape
    n = t_len * e
    valid = ro.valid if ro.valid is not None else torch.ones_like(ro.rewards)

    def flat(x: torch.Tensor) -> torch.Tensor:  # (T, A, E, ...) -> (A, T*E, ...)
        return x.transpose(0, 1).reshape(a, n, *x.shape[3:])

    obs, act, logp, adv_f, ret_f, val_f = (flat(ro.obs), flat(ro.actions), flat(ro.logp), flat(adv), flat(ret),
                                           flat(valid))
    # Keep only columns where some agent acted (a fleet day has hours with few EVs present).
    if keep is None:
        keep = val_f.sum(dim=0) > 0
    obs, act, logp, adv_f, ret_f, val_f = (x[:, keep] for x in (obs, act, logp, adv_f, ret_f, val_f))
    n = int(keep.sum())
    mb = max(1, -(-n // cfg.minibatches))
    stats = {"policy_loss": 0.0, "value_loss": 0.0, "approx_kl": 0.0, "sample_gradients": 0.0}
    updates = 0
    params = list(stack.parameters())
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, mb):
            idx = perm[start:start + mb]
            w = val_f[:, idx]
            cnt = w.sum(dim=1).clamp(min=1.0)
            mean, value, log_std = stack(obs[:, idx])
            new_logp = gaussian_log_prob(act[:, idx], mean, log_std)
            ratio = (new_logp - logp[:, idx]).exp()
            adv_b = adv_f[:, idx]
            mu = (adv_b * w).sum(dim=1, keepdim=True) / cnt.unsqueeze(1)
            var = (((adv_b - mu) ** 2) * w).sum(dim=1, keepdim=True) / (cnt.unsqueeze(1) - 1).clamp(min=1.0)
            adv_b = (adv_b - mu) / (var.sqrt() + 1e-8)
            pg_el = torch.max(-adv_b * ratio, -adv_b * ratio.clamp(1 - cfg.clip, 1 + cfg.clip))
            pg = (pg_el * w).sum(dim=1) / cnt
            v_loss = 0.5 * (((value - ret_f[:, idx]) ** 2) * w).sum(dim=1) / cnt
            entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).mean(dim=1)
            loss = (pg + cfg.vf_coef * v_loss - cfg.ent_coef * entropy).sum()
            if prox_mu > 0 and anchor is not None:
                loss = loss + 0.5 * prox_mu * sum(((p - q) ** 2).sum() for p, q in zip(params, anchor, strict=True))
            opt.zero_grad()
            loss.backward()
            _clip_per_agent(stack, cfg.max_grad_norm)
            opt.step()
            with torch.no_grad():
                stats["policy_loss"] += float(pg.mean())
                stats["value_loss"] += float(v_loss.mean())
                stats["approx_kl"] += float(((((ratio - 1) - (new_logp - logp[:, idx])) * w).sum(dim=1) / cnt).mean())
                stats["sample_gradients"] += float(w.sum())
            updates += 1
    out = {k: v / max(updates, 1) for k, v in stats.items()}
    out["sample_gradients"] = stats["sample_gradients"]
    out["optimizer_steps"] = float(updates)
    return out


def to_numpy_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))
