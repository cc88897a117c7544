"""Off-policy learners for the fleet, batched over agents like :mod:`gridledger.learn.ppo`:
TD3 (Fujimoto et al. 2018), DDPG (Lillicrap et al. 2016; TD3 without twin critics, target
smoothing and delayed actor updates) and SAC (Haarnoja et al. 2018, with a learned temperature).

Every network is a stack of A independent MLPs (leading agent axis); agent a's losses use only
agent a's replay buffer, so A agents learn independently in one pass and can be averaged by
FedAvg (eq. 4.19) like the PPO agents. A central learner is one agent fed every EV's transitions.
Budgets are counted as for PPO: environment steps, optimizer steps, and sample-gradients
(optimizer steps x minibatch size x agents).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from gridledger.learn.ppo import _ortho
from gridledger.params import check_choice, check_int, check_number

OFFPOLICY_ALGOS = ("td3", "ddpg", "sac")


@dataclass(frozen=True)
class OffPolicyConfig:
    """Hyper-parameters of TD3 / DDPG / SAC (the papers' defaults unless noted)."""

    hidden: int = 64
    """Units per hidden layer (two layers; 64 like our PPO, for equal capacity)."""
    lr: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    buffer_size: int = 200_000
    """Transitions kept per agent."""
    learning_starts: int = 2_000
    """Transitions per agent collected with uniform random actions before learning."""
    updates_per_step: float = 1 / 64
    """Optimizer steps per agent per collected transition (the update ratio)."""
    exploration_noise: float = 0.1
    """TD3/DDPG: standard deviation of the Gaussian action noise."""
    target_noise: float = 0.2
    noise_clip: float = 0.5
    policy_delay: int = 2

    def __post_init__(self) -> None:
        check_int("hidden", self.hidden, ge=4, le=4096)
        check_number("lr", self.lr, gt=0, lt=1)
        check_number("gamma", self.gamma, ge=0, le=1)
        check_number("tau", self.tau, gt=0, le=1)
        check_int("batch_size", self.batch_size, ge=1)
        check_int("buffer_size", self.buffer_size, ge=1)
        check_int("learning_starts", self.learning_starts, ge=0)
        check_number("updates_per_step", self.updates_per_step, gt=0, le=64)
        check_number("exploration_noise", self.exploration_noise, ge=0)
        check_number("target_noise", self.target_noise, ge=0)
        check_number("noise_clip", self.noise_clip, ge=0)
        check_int("policy_delay", self.policy_delay, ge=1)


class StackedMLP(nn.Module):
    """A independent MLPs in -> hidden -> hidden -> out (tanh hidden layers)."""

    def __init__(self, agents: int, n_in: int, hidden: int, n_out: int, gen: torch.Generator,
                 out_gain: float = 0.01) -> None:
        super().__init__()
        sizes = [n_in, hidden, hidden, n_out]
        gains = [math.sqrt(2), math.sqrt(2), out_gain]
        self.w = nn.ParameterList([nn.Parameter(_ortho((agents, a, b), g, gen))
                                   for a, b, g in zip(sizes[:-1], sizes[1:], gains, strict=True)])
        self.b = nn.ParameterList([nn.Parameter(torch.zeros(agents, 1, b)) for b in sizes[1:]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k, (w, b) in enumerate(zip(self.w, self.b, strict=True)):
            x = torch.baddbmm(b, x, w)
            if k < len(self.w) - 1:
                x = torch.relu(x)
        return x


class OffPolicyAgents(nn.Module):
    """Actor, twin critics and their targets for A agents (and SAC's temperatures)."""

    def __init__(self, algo: str, agents: int, obs_dim: int, cfg: OffPolicyConfig, obs_scale: torch.Tensor,
                 seed: int) -> None:
        super().__init__()
        check_choice("algo", algo, OFFPOLICY_ALGOS)
        gen = torch.Generator().manual_seed(seed)
        self.algo = algo
        self.agents = agents
        out = 2 if algo == "sac" else 1
        self.actor = StackedMLP(agents, obs_dim, cfg.hidden, out, gen)
        self.q1 = StackedMLP(agents, obs_dim + 1, cfg.hidden, 1, gen, 1.0)
        self.q2 = StackedMLP(agents, obs_dim + 1, cfg.hidden, 1, gen, 1.0)
        self.q1_t = StackedMLP(agents, obs_dim + 1, cfg.hidden, 1, gen, 1.0)
        self.q2_t = StackedMLP(agents, obs_dim + 1, cfg.hidden, 1, gen, 1.0)
        self.actor_t = StackedMLP(agents, obs_dim, cfg.hidden, out, gen)
        self.log_alpha = nn.Parameter(torch.zeros(agents, 1))
        with torch.no_grad():
            for t, s in ((self.q1_t, self.q1), (self.q2_t, self.q2), (self.actor_t, self.actor)):
                for pt, ps in zip(t.parameters(), s.parameters(), strict=True):
                    pt.copy_(ps)
        self.register_buffer("obs_scale", obs_scale.reshape(1, 1, -1).float())

    def _pi(self, net: StackedMLP, obs: torch.Tensor, sample: bool,
            gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Action in [-1, 1] (A, B) and, for SAC, its log-probability (tanh-squashed Gaussian)."""
        out = net(obs / self.obs_scale)
        if self.algo != "sac":
            return torch.tanh(out[..., 0]), torch.zeros(out.shape[:-1])
        mean, log_std = out[..., 0], out[..., 1].clamp(-5.0, 2.0)
        if not sample:
            return torch.tanh(mean), torch.zeros_like(mean)
        eps = torch.randn(mean.shape, generator=gen)
        u = mean + log_std.exp() * eps
        a = torch.tanh(u)
        logp = (-0.5 * eps ** 2 - log_std - 0.5 * math.log(2 * math.pi)) - torch.log(1 - a ** 2 + 1e-6)
        return a, logp

    def act(self, obs: torch.Tensor, explore: bool, noise: float, gen: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            if self.algo == "sac":
                return self._pi(self.actor, obs, explore, gen)[0]
            a, _ = self._pi(self.actor, obs, False, None)
            if explore and noise > 0:
                a = (a + noise * torch.randn(a.shape, generator=gen)).clamp(-1.0, 1.0)
            return a

    def q(self, net: StackedMLP, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return net(torch.cat([obs / self.obs_scale, act.unsqueeze(-1)], dim=-1))[..., 0]


class ReplayBuffers:
    """One ring buffer per agent: (obs, action, reward, next obs, done)."""

    def __init__(self, agents: int, capacity: int, obs_dim: int) -> None:
        self.capacity = capacity
        self.obs = torch.zeros(agents, capacity, obs_dim)
        self.next_obs = torch.zeros(agents, capacity, obs_dim)
        self.act = torch.zeros(agents, capacity)
        self.rew = torch.zeros(agents, capacity)
        self.done = torch.zeros(agents, capacity)
        self.size = [0] * agents
        self.ptr = [0] * agents

    def add(self, agent: int, obs: torch.Tensor, act: torch.Tensor, rew: torch.Tensor, next_obs: torch.Tensor,
            done: torch.Tensor) -> None:
        k = len(rew)
        if k == 0:
            return
        if k > self.capacity:
            obs, act, rew, next_obs, done = (x[-self.capacity:] for x in (obs, act, rew, next_obs, done))
            k = self.capacity
        idx = (self.ptr[agent] + torch.arange(k)) % self.capacity
        self.obs[agent, idx] = obs
        self.act[agent, idx] = act
        self.rew[agent, idx] = rew
        self.next_obs[agent, idx] = next_obs
        self.done[agent, idx] = done
        self.ptr[agent] = int((self.ptr[agent] + k) % self.capacity)
        self.size[agent] = min(self.size[agent] + k, self.capacity)

    def sample(self, batch: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        sizes = torch.tensor(self.size, dtype=torch.float64).reshape(-1, 1)
        idx = (torch.rand(len(self.size), batch, generator=gen, dtype=torch.float64) * sizes).long()
        take = lambda x: torch.gather(x, 1, idx)  # noqa: E731
        obs = torch.gather(self.obs, 1, idx.unsqueeze(-1).expand(-1, -1, self.obs.shape[-1]))
        nxt = torch.gather(self.next_obs, 1, idx.unsqueeze(-1).expand(-1, -1, self.obs.shape[-1]))
        return obs, take(self.act), take(self.rew), nxt, take(self.done)


def _soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for pt, ps in zip(target.parameters(), source.parameters(), strict=True):
            pt.mul_(1 - tau).add_(ps, alpha=tau)


class OffPolicyTrainer:
    """Gradient steps of TD3 / DDPG / SAC on :class:`ReplayBuffers`."""

    def __init__(self, agents: OffPolicyAgents, cfg: OffPolicyConfig, gen: torch.Generator) -> None:
        self.net = agents
        self.cfg = cfg
        self.gen = gen
        self.critic_opt = torch.optim.Adam(list(agents.q1.parameters()) + list(agents.q2.parameters()), lr=cfg.lr)
        self.actor_opt = torch.optim.Adam(agents.actor.parameters(), lr=cfg.lr)
        self.alpha_opt = torch.optim.Adam([agents.log_alpha], lr=cfg.lr)
        self.steps = 0
        self.sample_gradients = 0

    def update(self, buf: ReplayBuffers) -> None:
        net, cfg = self.net, self.cfg
        obs, act, rew, nxt, done = buf.sample(cfg.batch_size, self.gen)
        with torch.no_grad():
            if net.algo == "sac":
                a2, logp2 = net._pi(net.actor, nxt, True, self.gen)
                alpha = net.log_alpha.exp()
                q_next = torch.minimum(net.q(net.q1_t, nxt, a2), net.q(net.q2_t, nxt, a2)) - alpha * logp2
            else:
                a2, _ = net._pi(net.actor_t, nxt, False, None)
                if net.algo == "td3":
                    eps = (cfg.target_noise * torch.randn(a2.shape, generator=self.gen)).clamp(-cfg.noise_clip,
                                                                                            cfg.noise_clip)
                    a2 = (a2 + eps).clamp(-1.0, 1.0)
                    q_next = torch.minimum(net.q(net.q1_t, nxt, a2), net.q(net.q2_t, nxt, a2))
                else:
                    q_next = net.q(net.q1_t, nxt, a2)
            y = rew + cfg.gamma * (1.0 - done) * q_next
        q1 = net.q(net.q1, obs, act)
        loss = ((q1 - y) ** 2).mean(dim=1).sum()
        if net.algo != "ddpg":
            loss = loss + ((net.q(net.q2, obs, act) - y) ** 2).mean(dim=1).sum()
        self.critic_opt.zero_grad()
        loss.backward()
        self.critic_opt.step()
        self.steps += 1
        self.sample_gradients += cfg.batch_size * net.agents
        delayed = net.algo == "td3"
        if not delayed or self.steps % cfg.policy_delay == 0:
            if net.algo == "sac":
                a, logp = net._pi(net.actor, obs, True, self.gen)
                alpha = net.log_alpha.exp().detach()
                qa = torch.minimum(net.q(net.q1, obs, a), net.q(net.q2, obs, a))
                actor_loss = (alpha * logp - qa).mean(dim=1).sum()
            else:
                a, _ = net._pi(net.actor, obs, False, None)
                actor_loss = -net.q(net.q1, obs, a).mean(dim=1).sum()
            self.actor_opt.zero_grad()
            actor_loss.backward()
            self.actor_opt.step()
            if net.algo == "sac":
                alpha_loss = -(net.log_alpha * (logp.detach() - 1.0)).mean(dim=1).sum()  # target entropy -1
                self.alpha_opt.zero_grad()
                alpha_loss.backward()
                self.alpha_opt.step()
            _soft_update(net.q1_t, net.q1, cfg.tau)
            _soft_update(net.q2_t, net.q2, cfg.tau)
            _soft_update(net.actor_t, net.actor, cfg.tau)
