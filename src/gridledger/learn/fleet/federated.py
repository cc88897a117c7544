"""Federated RL for a fleet of EVs with identities, with a rotating aggregator/miner (thesis
Algorithm 4, eqs. 4.17-4.20).

A round: every world (a copy of the whole fleet on its own day; ``worlds`` days run at once)
plays ``days_per_round`` days at the site market; each EV's learner collects only its own
steps; then every local learner takes one update (PPO/A2C), or has been updating along the way
(TD3/DDPG/SAC). The EVs' proof scores of the round (eq. 4.17, summed over the round's days)
draw the round's mLAG by weighted random selection (eq. 4.18); **that EV computes the
aggregate** of the local models (FedAvg, eq. 4.19) and publishes its hash; every EV recomputes
the average from the published local models and accepts the global model only if the hashes
agree. An mLAG listed in ``faulty_evs`` publishes its own local model instead: the others
reject it, it earns nothing, and the next mLAG is drawn from the remaining EVs (the penalty of
eq. 3.24). The mLAG earns the mining reward (eq. 4.20): each EV pays beta of its positive V2V
surplus of the round (money gained against trading the same energy with the grid). With
``mining_reward = True`` these fees and the reward enter the training reward (PPO/A2C), at each
EV's departure steps of the round.

Modes: ``fedavg`` (Algorithm 4), ``fedprox`` (proximal term mu/2 ||w - w^G||^2 in every local
loss), ``fedavg-ft`` (FedAvg, then the last ``finetune_rounds`` rounds train locally without
averaging: personalised models), ``independent`` (no averaging) and ``central`` (one learner fed
every EV's steps; the mLAG is still drawn for the ledger).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from gridledger.data.fleet import FLEET_SOURCES, EVProfile
from gridledger.errors import ConfigError
from gridledger.games.election import weighted_random_selection
from gridledger.learn.fleet.env import FleetMarketEnv, V2VConfig, make_fleet, obs_scale
from gridledger.learn.fleet.offpolicy import (
    OFFPOLICY_ALGOS,
    OffPolicyAgents,
    OffPolicyConfig,
    OffPolicyTrainer,
    ReplayBuffers,
)
from gridledger.learn.ppo import (
    AgentStack,
    PPOConfig,
    ReturnScaler,
    Rollout,
    gaussian_log_prob,
    model_hash,
    ppo_update,
)
from gridledger.params import check_choice, check_int, check_number

MODES = ("fedavg", "fedprox", "fedavg-ft", "independent", "central")
ALGOS = ("ppo", "a2c", *OFFPOLICY_ALGOS)


@dataclass(frozen=True)
class FederationConfig:
    """The fleet, the federation and the training budget."""

    evs: int = 10
    """Number of EVs (local learners)."""
    sites: int = 1
    """Sites the EVs park at (EVs at the same site trade with each other)."""
    fleet: str = "thesis"
    """Source of the EVs' identities (``gridledger.data.fleet.FLEET_SOURCES``): "thesis" (Table 4.1,
    generated), "iid" (the same without identities), "real" (Dutch V2G models, ElaadNL habits) or
    "citylearn" (CityLearn 2022's EVs and schedules)."""
    fleet_seed: int = -1
    """Seed of the fleet's identities; -1 derives it from the training seed."""
    rounds: int = 300
    """Federated rounds."""
    mode: str = "fedavg"
    """fedavg, fedprox, fedavg-ft, independent or central."""
    worlds: int = 16
    """Days simulated at once; every EV plays worlds x days_per_round of its own days per round."""
    days_per_round: int = 1
    prox_mu: float = 0.01
    """FedProx's mu."""
    finetune_rounds: int = 30
    """fedavg-ft: rounds at the end trained locally, without averaging."""
    beta: float = 0.05
    """beta, share of each EV's positive V2V surplus paid to the mLAG (eq. 4.20; not given, chosen)."""
    mining_reward: bool = False
    """Put the fees and the mining reward (eq. 4.20) into the training reward (PPO/A2C)."""
    faulty_evs: tuple[int, ...] = ()
    """EVs that, drawn as mLAG, publish a wrong aggregate (for tests of the verification)."""
    threads: int = 1
    """Torch threads (one is fastest for these small networks)."""

    def __post_init__(self) -> None:
        check_int("evs", self.evs, ge=1, le=100_000)
        check_int("sites", self.sites, ge=1, le=self.evs)
        check_choice("fleet", self.fleet, tuple(FLEET_SOURCES))
        check_int("fleet_seed", self.fleet_seed, ge=-1)
        check_int("rounds", self.rounds, ge=1, le=10_000_000)
        check_choice("mode", self.mode, MODES)
        check_int("worlds", self.worlds, ge=1, le=100_000)
        check_int("days_per_round", self.days_per_round, ge=1, le=1000)
        check_number("prox_mu", self.prox_mu, ge=0)
        check_int("finetune_rounds", self.finetune_rounds, ge=0)
        check_number("beta", self.beta, gt=0, le=1)
        for k, i in enumerate(self.faulty_evs):
            check_int(f"faulty_evs[{k}]", i, ge=0, le=self.evs - 1)
        check_int("threads", self.threads, ge=1, le=256)

    @property
    def federated(self) -> bool:
        return self.mode in ("fedavg", "fedprox", "fedavg-ft")


@dataclass(frozen=True)
class RoundRecord:
    """One federated round, as the ledger records it (Algorithm 4 line 34) plus learning figures."""

    round: int
    env_steps: int
    """Cumulative EV-steps (hours in which an EV was present and acted)."""
    episodes: int
    """Cumulative EV-days."""
    mean_return: float
    """Mean training return per EV-day of the round (the learner's reward)."""
    mean_money: float
    """Mean money per EV-day of the round: cash + energy value - shortfall cost."""
    ev_returns: list[float]
    scores: list[float]
    """PoSOC proof scores of the round per EV (eq. 4.17 over the round's days)."""
    mlag: int | None
    """EV drawn by PoSOC (eq. 4.18) whose aggregate was accepted."""
    rejected: list[int]
    """mLAGs drawn whose aggregate failed verification."""
    mining_reward: float
    """Fees paid to the mLAG (eq. 4.20)."""
    fees: list[float]
    model_hash: str
    """SHA-256 of the global model (federated) or of every agent's model."""
    v2v_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float
    optimizer_steps: int
    """Cumulative optimizer steps per learner."""
    sample_gradients: int
    """Cumulative samples that entered a gradient, over all learners (the gradient budget)."""
    seconds: float
    dropped: list[int] = field(default_factory=list)
    """EVs whose update did not count this round (a client that disconnected or sent a malformed
    update; the Flower backend only)."""


Policy = Callable[[torch.Tensor, FleetMarketEnv], torch.Tensor]
"""policy(obs (evs, worlds, d), env) -> actions (evs, worlds) in [-1, 1]."""


@dataclass
class FleetModel:
    """A trained fleet: its EVs, their networks and how they were made."""

    algo: str
    net: torch.nn.Module
    fleet: tuple[EVProfile, ...]
    env_config: V2VConfig
    federation: FederationConfig
    ppo: PPOConfig = field(default_factory=PPOConfig)
    offpolicy: OffPolicyConfig = field(default_factory=OffPolicyConfig)
    records: list[RoundRecord] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def central(self) -> bool:
        return self.federation.mode == "central"

    def model_hash(self) -> str:
        """Hash of the global model if every agent holds the same one, else of all agents' models."""
        agents = 1 if self.central else len(self.fleet)
        same = all(torch.equal(p[0], p[k]) for p in self.net.parameters() for k in range(1, agents)) if agents > 1 \
            else True
        return model_hash(self.net, 0 if same else None)

    def policy(self) -> Policy:
        """Deterministic policy (mean action) of every EV's model.

        The observation is put in the form the model was trained on, whatever environment it is
        scored in: delta = 1 for a model trained without delta (baseline2), the six variables of
        eq. (4.10) for a model trained on the thesis's state."""
        net, central = self.net, self.central
        no_delta = not self.env_config.use_delta
        dim = self.env_config.obs_dim

        def act(obs: torch.Tensor, env: FleetMarketEnv) -> torch.Tensor:
            obs = obs[..., :dim]
            if no_delta:
                obs = obs.clone()
                obs[..., 0] = 1.0
            n, w, d = obs.shape
            o = obs.reshape(1, n * w, d) if central else obs
            with torch.no_grad():
                a = net(o)[0] if isinstance(net, AgentStack) else net.act(o, False, 0.0, torch.Generator())
            return a.reshape(n, w).clamp(-1.0, 1.0).to(torch.float64)

        return act


def build_fleet(fed: FederationConfig, env: V2VConfig, seed: int) -> tuple[EVProfile, ...]:
    """The fleet's identities from ``fed.fleet`` (seeded by ``fed.fleet_seed`` or the training seed)."""
    s = fed.fleet_seed if fed.fleet_seed >= 0 else int(np.random.SeedSequence([seed, 31]).generate_state(1)[0])
    return make_fleet(fed.fleet, fed.evs, fed.sites, np.random.default_rng(s), env)


def _average(net: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.mean(dim=0, keepdim=True).expand_as(p))


def mlag_aggregate(net: torch.nn.Module, mlag: int, faulty: bool) -> list[torch.Tensor]:
    """The global model the mLAG publishes: FedAvg of the local models (eq. 4.19), or, for a faulty
    mLAG, its own local model."""
    with torch.no_grad():
        if faulty:
            return [p[mlag:mlag + 1].clone() for p in net.parameters()]
        return [p.mean(dim=0, keepdim=True) for p in net.parameters()]


def _params_hash(params: list[torch.Tensor], names: list[str]) -> str:
    import hashlib

    h = hashlib.sha256()
    for name, p in sorted(zip(names, params, strict=True), key=lambda x: x[0]):
        h.update(name.encode())
        h.update(p[0].detach().to(torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


class RoundTally:
    """What a round's days produce: per EV the proof score (eq. 4.17), V2V surplus, returns, money,
    EV-days and EV-steps; per round the site markets' energy. Shared by the batched and the Flower
    backends (``learn.fleet.flower``), which record rounds from it through :func:`round_record`."""

    def __init__(self, n: int) -> None:
        self.scores = np.zeros(n)
        self.surplus = np.zeros(n)
        self.ret_sum = np.zeros(n)
        self.money_sum = np.zeros(n)
        self.days_cnt = np.zeros(n)
        self.ev_steps = np.zeros(n, dtype=np.int64)
        self.v2v = self.imp = self.exp = 0.0
        self.dep_steps: list[tuple[int, torch.Tensor]] = []  # (step index, departing mask) for reward edits
        self._ret = self._money = torch.zeros(0)

    def start_day(self, n: int, worlds: int) -> None:
        self._ret = torch.zeros(n, worlds, dtype=torch.float64)
        self._money = torch.zeros(n, worlds, dtype=torch.float64)

    def step(self, res: Any, present: torch.Tensor, t: int) -> torch.Tensor:
        """Fold in one hour (``res`` from ``FleetMarketEnv.step``; ``t`` its index in the round's
        rollout); returns the learners' reward of the hour (0 where the EV is away)."""
        rew = torch.where(present, res.reward, 0.0)
        self._ret += rew
        self._money += torch.where(present, res.reward_money, 0.0)
        self.scores += torch.where(present, res.proof_score, 0.0).sum(dim=1).numpy()
        self.surplus += res.clearing.surplus_vs_grid.sum(dim=1).numpy()
        cl = res.clearing
        self.v2v += float(cl.site_matched.sum())
        self.imp += float(cl.site_import.sum())
        self.exp += float(cl.site_export.sum())
        self.ev_steps += present.sum(dim=1).numpy().astype(np.int64)
        if bool(res.departing.any()):
            self.dep_steps.append((t, res.departing.clone()))
            idx = res.departing
            self.ret_sum += torch.where(idx, self._ret, 0.0).sum(dim=1).numpy()
            self.money_sum += torch.where(idx, self._money, 0.0).sum(dim=1).numpy()
            self.days_cnt += idx.sum(dim=1).numpy()
        return rew

    @property
    def steps(self) -> int:
        return int(self.ev_steps.sum())

    @property
    def episodes(self) -> int:
        return int(self.days_cnt.sum())


ROLLOUT_KEYS = ("obs", "act", "logp", "rew", "done", "val", "valid")


def collect_on_policy(env: FleetMarketEnv, net: AgentStack, gen: torch.Generator, days: int,
                      to_agents: Callable[[torch.Tensor], torch.Tensor],
                      tally: RoundTally) -> dict[str, torch.Tensor]:
    """Play ``days`` days of every world at the site markets with the stochastic policies of ``net``
    and return the rollout (T, A, E, ...) of every learner (PPO/A2C collect before they update)."""
    n, w_n = env.n, env.worlds
    buf: dict[str, list[torch.Tensor]] = {k: [] for k in ROLLOUT_KEYS}
    for _ in range(days):
        env.start_day()
        tally.start_day(n, w_n)
        while not env.day_over:
            obs = env.observe()
            present = env.present
            o = to_agents(obs)
            with torch.no_grad():
                mean, value, log_std = net(o)
                act = mean + log_std.exp() * torch.randn(mean.shape, generator=gen)
                logp = gaussian_log_prob(act, mean, log_std)
            res = env.step(act.reshape(n, w_n).to(torch.float64))
            rew = tally.step(res, present, len(buf["rew"]))
            buf["obs"].append(o)
            buf["act"].append(act)
            buf["logp"].append(logp)
            buf["val"].append(value)
            buf["rew"].append(to_agents(rew.float()))
            buf["done"].append(to_agents(res.departing.float()))
            buf["valid"].append(to_agents(present.float()))
    return {k: torch.stack(v) for k, v in buf.items()}


def local_ppo_update(net: AgentStack, opt: torch.optim.Optimizer, scaler: ReturnScaler, ro: dict[str, torch.Tensor],
                     rew: torch.Tensor, ppo: PPOConfig, gen: torch.Generator, prox_mu: float,
                     anchor: list[torch.Tensor] | None, keep: torch.Tensor | None = None) -> dict[str, float]:
    """Every local learner's update on its own rollout (return scaling, then PPO/A2C). ``keep``: the
    rollout columns the minibatches are drawn from (default: where some learner of ``net`` acted;
    a learner trained alone passes its fleet's columns to draw the same minibatches)."""
    if ppo.norm_reward:
        scaler.update(rew, ro["done"], ro["valid"])
        rew = rew / scaler.scale()
    last_value = torch.zeros(rew.shape[1:])  # every EV has left by the end of the day
    return ppo_update(net, opt, Rollout(ro["obs"], ro["act"], ro["logp"], rew, ro["done"], ro["val"], last_value,
                                        ro["valid"]), ppo, gen, prox_mu, anchor, keep=keep)


def posoc_draw(scores: np.ndarray, rng: np.random.Generator, faulty: tuple[int, ...] | list[int] = ()
               ) -> tuple[int | None, list[int]]:
    """The round's mLAG by weighted random selection over the proof scores (eq. 4.18). A drawn EV
    in ``faulty`` (its aggregate will fail the others' verification) is excluded and another is
    drawn (the penalty of eq. 3.24); returns (mLAG or None, rejected draws)."""
    candidates = np.clip(np.asarray(scores, dtype=float), 0.0, None)
    rejected: list[int] = []
    while candidates.sum() > 0:
        k = weighted_random_selection(candidates, rng)
        if k in faulty:
            rejected.append(k)
            candidates[k] = 0.0
            continue
        return k, rejected
    return None, rejected


def round_fees(surplus: np.ndarray, beta: float, mlag: int | None) -> tuple[np.ndarray, float]:
    """Fees beta x positive V2V surplus owed to the mLAG and its mining reward (eq. 4.20)."""
    fees = beta * np.clip(surplus, 0.0, None)
    if mlag is not None:
        fees[mlag] = 0.0  # the miner owes itself nothing
    mining = float(fees.sum()) if mlag is not None else 0.0
    if mlag is None:
        fees[:] = 0.0
    return fees, mining


def verified_aggregate(params: list[torch.Tensor], names: list[str], mlag: int | None,
                       rejected: list[int]) -> tuple[list[torch.Tensor], str]:
    """The aggregate the mLAG publishes (FedAvg, eq. 4.19, of the local models stacked along the
    first axis), checked as every EV checks it: the average recomputed from the local models must
    have the published hash, and a faulty mLAG's model (its own local one) must not pass.
    ``mlag`` and ``rejected`` index the stack. Returns the global model (1, ...) and its hash."""
    with torch.no_grad():
        honest = [p.mean(dim=0, keepdim=True) for p in params]
        digest = _params_hash(honest, names)
        for k in rejected:
            if _params_hash([p[k:k + 1].clone() for p in params], names) == digest:
                raise AssertionError(f"the faulty aggregate of EV {k} passed verification")
    return honest, digest


def round_record(r: int, steps: int, episodes: int, tally: RoundTally, mlag: int | None, rejected: list[int],
                 fees: np.ndarray, mining: float, digest: str, opt_steps: int, sample_grads: int,
                 seconds: float, dropped: list[int] | None = None) -> RoundRecord:
    """The round as the ledger records it (Algorithm 4 line 34) with the learning figures;
    ``steps``/``episodes`` cumulative."""
    days_cnt = tally.days_cnt
    ev_ret = np.where(days_cnt > 0, tally.ret_sum / np.maximum(days_cnt, 1), np.nan)
    return RoundRecord(
        round=r, env_steps=steps, episodes=episodes,
        mean_return=float(tally.ret_sum.sum() / max(days_cnt.sum(), 1)),
        mean_money=float(tally.money_sum.sum() / max(days_cnt.sum(), 1)),
        ev_returns=[float(x) for x in ev_ret], scores=[float(x) for x in tally.scores], mlag=mlag,
        rejected=rejected, mining_reward=mining, fees=[float(x) for x in fees], model_hash=digest,
        v2v_kwh=tally.v2v, grid_import_kwh=tally.imp, grid_export_kwh=tally.exp, optimizer_steps=opt_steps,
        sample_gradients=sample_grads, seconds=seconds, dropped=list(dropped or []))


def train_fleet(algo: str, env_config: V2VConfig, fed: FederationConfig, seed: int,
                ppo: PPOConfig | None = None, offpolicy: OffPolicyConfig | None = None,
                fleet: tuple[EVProfile, ...] | None = None,
                progress: Callable[[int], None] | None = None) -> FleetModel:
    """Algorithm 4 with local learners ``algo`` (ppo, a2c, td3, ddpg, sac) in mode ``fed.mode``."""
    check_choice("algo", algo, ALGOS)
    torch.set_num_threads(fed.threads)
    ppo = ppo or PPOConfig()
    if algo == "a2c":
        ppo = replace(ppo, epochs=1, minibatches=1)
    off = offpolicy or OffPolicyConfig()
    on_policy = algo in ("ppo", "a2c")
    if fed.mining_reward and not on_policy:
        raise ConfigError("federation.mining_reward", "is available with ppo and a2c only")
    ss = np.random.SeedSequence(seed)
    env_seq, net_seq, torch_seq, wrs_seq = ss.spawn(4)
    fleet = fleet if fleet is not None else build_fleet(fed, env_config, seed)
    n, w_n, d = len(fleet), fed.worlds, env_config.obs_dim
    env = FleetMarketEnv(fleet, env_config, w_n, seed=np.random.default_rng(env_seq))
    central = fed.mode == "central"
    agents = 1 if central else n
    net_seed = int(net_seq.generate_state(1)[0] % (2**31))
    gen = torch.Generator().manual_seed(int(torch_seq.generate_state(1)[0] % (2**31)))
    wrs_rng = np.random.default_rng(wrs_seq)
    scale = obs_scale(env_config)
    trainer: OffPolicyTrainer | None = None
    bufs: ReplayBuffers | None = None
    if on_policy:
        net: torch.nn.Module = AgentStack(agents, d, ppo.hidden, ppo.init_log_std, scale, net_seed)
        opt = torch.optim.Adam(net.parameters(), lr=ppo.lr, eps=1e-5)
        scaler = ReturnScaler(agents, ppo.gamma)
    else:
        net = OffPolicyAgents(algo, agents, d, off, scale, net_seed)
        trainer = OffPolicyTrainer(net, off, gen)
        bufs = ReplayBuffers(agents, off.buffer_size, d)
    if fed.federated:
        _average(net)  # one initial global model w_0^G for everybody (Algorithm 4, line 2)
    names = [k for k, _ in net.named_parameters()]
    model = FleetModel(algo, net, fleet, env_config, fed, ppo, off)

    def to_agents(x: torch.Tensor) -> torch.Tensor:  # (n, W, ...) -> (A, E, ...)
        return x.reshape(1, n * w_n, *x.shape[2:]) if central else x

    ft_start = fed.rounds - fed.finetune_rounds if fed.mode == "fedavg-ft" else fed.rounds
    steps = episodes = opt_steps = sample_grads = 0
    debt = 0.0
    start = time.perf_counter()
    for r in range(fed.rounds):
        anchor = [p.detach().clone() for p in net.parameters()] if fed.mode == "fedprox" else None
        tally = RoundTally(n)
        if on_policy:
            ro = collect_on_policy(env, net, gen, fed.days_per_round, to_agents, tally)  # type: ignore[arg-type]
        else:
            t = 0
            for _ in range(fed.days_per_round):
                env.start_day()
                tally.start_day(n, w_n)
                while not env.day_over:
                    o = to_agents(env.observe())
                    present = env.present
                    if min(bufs.size) < off.learning_starts:  # type: ignore[union-attr]
                        act = torch.rand(o.shape[:2], generator=gen) * 2 - 1
                    else:
                        act = net.act(o, True, off.exploration_noise, gen)  # type: ignore[operator]
                    res = env.step(act.reshape(n, w_n).to(torch.float64))
                    rew = tally.step(res, present, t)
                    t += 1
                    nxt = to_agents(env.observe())
                    pv, dn, rw = to_agents(present), to_agents(res.departing.float()), to_agents(rew.float())
                    for a in range(agents):
                        m = pv[a]
                        bufs.add(a, o[a][m], act[a][m], rw[a][m], nxt[a][m], dn[a][m])  # type: ignore[union-attr]
                    debt += int(present.sum()) / agents * off.updates_per_step
                    while debt >= 1.0:
                        debt -= 1.0
                        if min(bufs.size) >= max(off.learning_starts, 1):  # type: ignore[union-attr]
                            trainer.update(bufs)  # type: ignore[union-attr]
        steps += tally.steps
        episodes += tally.episodes
        # PoSOC: the round's mLAG (eqs. 4.17-4.18). A drawn mLAG whose aggregate will fail the others'
        # verification (below) is excluded and another is drawn; the draw depends on the scores only.
        federate = fed.federated and r < ft_start
        mlag, rejected = posoc_draw(tally.scores, wrs_rng, fed.faulty_evs if federate and not central else ())
        fees, mining = round_fees(tally.surplus, fed.beta, mlag)
        if on_policy:
            rew_t = ro["rew"]
            if fed.mining_reward and mlag is not None and tally.dep_steps:
                # Each departure pays its day's share of the fee; the mLAG gets the reward at its departures.
                days_cnt = tally.days_cnt
                fee_day = torch.as_tensor(fees / np.maximum(days_cnt, 1), dtype=torch.float32).reshape(-1, 1)
                mlag_days = max(days_cnt[mlag], 1)
                for t_dep, dep in tally.dep_steps:
                    edit = -fee_day * dep.float()
                    edit[mlag] += dep[mlag].float() * mining / mlag_days
                    rew_t[t_dep] += to_agents(edit)
            stats = local_ppo_update(net, opt, scaler, ro, rew_t, ppo, gen,  # type: ignore[arg-type]
                                     fed.prox_mu if fed.mode == "fedprox" else 0.0, anchor)
            opt_steps += int(stats["optimizer_steps"])
            sample_grads += int(stats["sample_gradients"])
        else:
            opt_steps = trainer.steps  # type: ignore[union-attr]
            sample_grads = trainer.sample_gradients  # type: ignore[union-attr]
        if federate:
            # The mLAG computes FedAvg (eq. 4.19) and publishes it with its hash; every EV recomputes the
            # average from the published local models and accepts only a matching hash.
            honest, digest_honest = verified_aggregate(list(net.parameters()), names, mlag, rejected)
            with torch.no_grad():
                for p, g in zip(net.parameters(), honest, strict=True):
                    p.copy_(g.expand_as(p))
            digest = model_hash(net, 0)
            if digest != digest_honest:
                raise AssertionError("the broadcast model differs from the verified aggregate")
        else:
            digest = model_hash(net, None)
        model.records.append(round_record(r, steps, episodes, tally, mlag, rejected, fees, mining, digest, opt_steps,
                                          sample_grads, time.perf_counter() - start))
        if progress is not None:
            progress(r)
    model.seconds = time.perf_counter() - start
    return model


def records_json(records: list[RoundRecord]) -> list[dict[str, Any]]:
    return [dict(r.__dict__) for r in records]
