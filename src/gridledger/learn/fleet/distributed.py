"""A federated round split between EVs and an aggregator: what a Flower ``ClientApp`` runs for
each EV it hosts and what the ``Strategy`` does with the updates (``learn.fleet.flower``). No
Flower import here, so that the arithmetic is tested without it.

The site market couples the EVs: an hour's clearing depends on every EV's action. In FedAvg
(Algorithm 4) every EV starts a round from the global model and PPO/A2C collect a round before
they update, so during a round's days every EV acts with the global model. An EV therefore
replays its site's days with the global model it received (the site simulator: the days, the
prices and the policies' exploration noise, with the random state it carries from round to
round), keeps its own transitions, and updates its own policy on them with the batched backend's
PPO (:func:`gridledger.learn.fleet.federated.local_ppo_update`) on a stack of one learner, with
its own Adam moments and return scaler. The minibatches are drawn over the fleet's columns, as
the batched backend draws them, so an EV's update is the update of its slice of the batched
stack: same seed, same data, only the transport differs. On a real fleet the site is physical
and the meter replaces the replay.

A process that hosts several EVs replays the site once per round (``_REPLAY`` keeps the last
replay, keyed by everything it depends on).

The aggregator (:func:`close_round`) draws the mLAG by PoSOC from the scores the EVs report,
averages their models and records the round with the batched backend's functions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gridledger.data.fleet import EVProfile
from gridledger.errors import ConfigError
from gridledger.learn.fleet.env import FleetMarketEnv, obs_scale
from gridledger.learn.fleet.federated import (
    RoundRecord,
    RoundTally,
    build_fleet,
    collect_on_policy,
    local_ppo_update,
    posoc_draw,
    round_fees,
    round_record,
    verified_aggregate,
)
from gridledger.learn.ppo import AgentStack, ReturnScaler
from gridledger.params import to_mapping

FLOWER_MODES = ("fedavg", "fedprox")
FLOWER_ALGOS = ("ppo", "a2c")


def check_flower_config(cfg: Any) -> None:
    """What the Flower backend supports (a :class:`V2VTrainConfig`): PPO/A2C in FedAvg or FedProx.

    The replay needs every EV acting with the global model during a round's days: personalised
    or independent models (fedavg-ft, independent), one central learner, off-policy learners that
    update while they collect, and the mining reward (which needs the round's mLAG before the
    local update) are the batched backend's."""
    if cfg.algo not in FLOWER_ALGOS:
        raise ConfigError("algo", f"the flower backend trains {', '.join(FLOWER_ALGOS)} (got {cfg.algo!r})")
    if cfg.federation.mode not in FLOWER_MODES:
        raise ConfigError("federation.mode",
                          f"the flower backend runs {', '.join(FLOWER_MODES)} (got {cfg.federation.mode!r})")
    if cfg.federation.mining_reward:
        raise ConfigError("federation.mining_reward", "is not available with the flower backend")


def config_digest(cfg: Any, seed: int) -> str:
    return hashlib.sha256(json.dumps([to_mapping(cfg), seed], sort_keys=True).encode()).hexdigest()


def _streams(seed: int) -> tuple[Any, Any, Any, Any]:
    return tuple(np.random.SeedSequence(seed).spawn(4))  # type: ignore[return-value]


@dataclass
class SiteState:
    """The simulated site's random state between rounds: days and prices (numpy) and the policies'
    exploration noise and minibatch draws (torch), as the batched backend's streams."""

    env: dict[str, Any]
    gen: torch.Tensor

    def to_json(self) -> str:
        return json.dumps(self.env)

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode() + self.gen.numpy().tobytes()).hexdigest()


def initial_site(seed: int) -> SiteState:
    env_seq, _, torch_seq, _ = _streams(seed)
    gen = torch.Generator().manual_seed(int(torch_seq.generate_state(1)[0] % (2**31)))
    return SiteState(np.random.default_rng(env_seq).bit_generator.state, gen.get_state())


def initial_global(cfg: Any, fleet: tuple[EVProfile, ...], seed: int) -> dict[str, np.ndarray]:
    """w_0^G (Algorithm 4 line 2): the mean of the EVs' initial networks, as the batched backend makes it."""
    _, net_seq, _, _ = _streams(seed)
    net_seed = int(net_seq.generate_state(1)[0] % (2**31))
    stack = AgentStack(len(fleet), cfg.env.obs_dim, cfg.ppo.hidden, cfg.ppo.init_log_std, obs_scale(cfg.env),
                       net_seed)
    return {k: p.detach().mean(dim=0, keepdim=True).numpy().copy() for k, p in stack.named_parameters()}


def fleet_of(cfg: Any, seed: int) -> tuple[EVProfile, ...]:
    return build_fleet(cfg.federation, cfg.env, seed)


def params_digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(arrays):
        h.update(k.encode())
        h.update(np.ascontiguousarray(arrays[k], dtype=np.float32).tobytes())
    return h.hexdigest()


@dataclass
class Replay:
    """A round's site days under the global model: the whole fleet's rollout and tally."""

    rollout: dict[str, torch.Tensor]
    tally: RoundTally
    keep: torch.Tensor
    """The fleet's rollout columns where some EV acted (the minibatch draw's population)."""
    gen_after: torch.Tensor
    site_after: SiteState
    """The site state after the round, before the local updates advance the minibatch stream."""


_REPLAY: dict[str, Replay] = {}


def _stack(cfg: Any, agents: int, arrays: dict[str, np.ndarray]) -> AgentStack:
    stack = AgentStack(agents, cfg.env.obs_dim, cfg.ppo.hidden, cfg.ppo.init_log_std, obs_scale(cfg.env), 0)
    with torch.no_grad():
        for k, p in stack.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(arrays[k], dtype=np.float32)).expand_as(p))
    return stack


def replay_round(cfg: Any, fleet: tuple[EVProfile, ...], global_arrays: dict[str, np.ndarray], site: SiteState,
                 seed: int) -> Replay:
    """Play the round's days of every world with every EV on the global model (cached per process)."""
    key = hashlib.sha256((config_digest(cfg, seed) + params_digest(global_arrays) + site.digest()).encode()).hexdigest()
    hit = _REPLAY.get(key)
    if hit is not None:
        return hit
    torch.set_num_threads(cfg.federation.threads)
    n, w_n = len(fleet), cfg.federation.worlds
    rng = np.random.default_rng()
    rng.bit_generator.state = site.env
    env = FleetMarketEnv(fleet, cfg.env, w_n, seed=rng)
    gen = torch.Generator()
    gen.set_state(site.gen)
    net = _stack(cfg, n, global_arrays)
    tally = RoundTally(n)
    ro = collect_on_policy(env, net, gen, cfg.federation.days_per_round, lambda x: x, tally)
    valid = ro["valid"]
    keep = valid.transpose(0, 1).reshape(n, -1).sum(dim=0) > 0
    out = Replay(ro, tally, keep, gen.get_state(), SiteState(rng.bit_generator.state, gen.get_state()))
    _REPLAY.clear()
    _REPLAY[key] = out
    return out


@dataclass
class LearnerState:
    """What an EV's learner keeps between rounds: Adam's moments and step, the return scaler."""

    adam: dict[str, np.ndarray]
    """``m:<name>``, ``v:<name>`` per parameter; empty before the first update."""
    step: float = 0.0
    count: float = 0.0
    mean: float = 0.0
    m2: float = 0.0


@dataclass
class EVUpdate:
    """An EV's answer to a round: its local model and what the record needs from it."""

    ev: int
    arrays: dict[str, np.ndarray]
    score: float
    """Its PoSOC proof score of the round (eq. 4.17)."""
    surplus: float
    ret_sum: float
    money_sum: float
    days: float
    steps: int
    optimizer_steps: int
    sample_gradients: int
    v2v_kwh: float
    grid_import_kwh: float
    grid_export_kwh: float

    def metrics(self) -> dict[str, float | int]:
        return {"ev": self.ev, "score": self.score, "surplus": self.surplus, "ret_sum": self.ret_sum,
                "money_sum": self.money_sum, "days": self.days, "steps": self.steps,
                "optimizer_steps": self.optimizer_steps, "sample_gradients": self.sample_gradients,
                "v2v_kwh": self.v2v_kwh, "grid_import_kwh": self.grid_import_kwh,
                "grid_export_kwh": self.grid_export_kwh}


def train_ev(cfg: Any, ev: int, replay: Replay, global_arrays: dict[str, np.ndarray],
             state: LearnerState | None) -> tuple[EVUpdate, LearnerState, torch.Tensor]:
    """EV ``ev``'s local update on its own transitions of the round; returns its update, its
    learner state and the minibatch stream's state after the update (the same for every EV)."""
    torch.set_num_threads(cfg.federation.threads)
    ppo = cfg.ppo
    if cfg.algo == "a2c":
        from dataclasses import replace

        ppo = replace(ppo, epochs=1, minibatches=1)
    net = _stack(cfg, 1, global_arrays)
    names = [k for k, _ in net.named_parameters()]
    opt = torch.optim.Adam(net.parameters(), lr=ppo.lr, eps=1e-5)
    scaler = ReturnScaler(1, ppo.gamma)
    if state is not None and state.adam:
        opt.load_state_dict({"state": {i: {"step": torch.tensor(state.step),
                                            "exp_avg": torch.from_numpy(state.adam[f"m:{k}"].copy()),
                                            "exp_avg_sq": torch.from_numpy(state.adam[f"v:{k}"].copy())}
                                       for i, k in enumerate(names)},
                             "param_groups": opt.state_dict()["param_groups"]})
    if state is not None:
        scaler.count = torch.tensor([state.count], dtype=torch.float64)
        scaler.mean = torch.tensor([state.mean], dtype=torch.float64)
        scaler.m2 = torch.tensor([state.m2], dtype=torch.float64)
    ro = {k: v[:, ev:ev + 1] for k, v in replay.rollout.items()}
    anchor = [p.detach().clone() for p in net.parameters()] if cfg.federation.mode == "fedprox" else None
    gen = torch.Generator()
    gen.set_state(replay.gen_after)
    prox = cfg.federation.prox_mu if cfg.federation.mode == "fedprox" else 0.0
    stats = local_ppo_update(net, opt, scaler, ro, ro["rew"], ppo, gen, prox, anchor, keep=replay.keep)
    st = opt.state_dict()["state"]
    adam = {}
    for i, k in enumerate(names):
        adam[f"m:{k}"] = st[i]["exp_avg"].numpy().copy()
        adam[f"v:{k}"] = st[i]["exp_avg_sq"].numpy().copy()
    new_state = LearnerState(adam, float(st[0]["step"]), float(scaler.count[0]), float(scaler.mean[0]),
                             float(scaler.m2[0]))
    t = replay.tally
    upd = EVUpdate(ev, {k: p.detach().numpy().copy() for k, p in net.named_parameters()},
                   float(t.scores[ev]), float(t.surplus[ev]), float(t.ret_sum[ev]), float(t.money_sum[ev]),
                   float(t.days_cnt[ev]), int(t.ev_steps[ev]), int(stats["optimizer_steps"]),
                   int(stats["sample_gradients"]), t.v2v, t.imp, t.exp)
    return upd, new_state, gen.get_state()


@dataclass
class RoundTotals:
    """The server's running totals over rounds (cumulative figures of the record)."""

    steps: int = 0
    episodes: int = 0
    optimizer_steps: int = 0
    sample_gradients: int = 0


def close_round(cfg: Any, r: int, n: int, updates: list[EVUpdate], dropped: list[int], rng: np.random.Generator,
                totals: RoundTotals, seconds: float) -> tuple[dict[str, np.ndarray], RoundRecord]:
    """The aggregator's side of a round from the EVs' updates: PoSOC draw over the reported scores
    (eq. 4.18), fees (eq. 4.20), the mLAG's FedAvg (eq. 4.19) over the updates received, verified
    by hash, and the round's record, with the batched backend's functions. EVs that sent nothing
    count with score 0 (they cannot be drawn) and are listed in ``dropped``."""
    if not updates:
        raise ValueError(f"round {r}: no update to aggregate")
    updates = sorted(updates, key=lambda u: u.ev)
    tally = RoundTally(n)
    for u in updates:
        tally.scores[u.ev], tally.surplus[u.ev] = u.score, u.surplus
        tally.ret_sum[u.ev], tally.money_sum[u.ev], tally.days_cnt[u.ev] = u.ret_sum, u.money_sum, u.days
        tally.ev_steps[u.ev] = u.steps
    tally.v2v, tally.imp, tally.exp = updates[0].v2v_kwh, updates[0].grid_import_kwh, updates[0].grid_export_kwh
    faulty = tuple(k for k in cfg.federation.faulty_evs if k < n)
    mlag, rejected = posoc_draw(tally.scores, rng, faulty)
    fees, mining = round_fees(tally.surplus, cfg.federation.beta, mlag)
    names = sorted(updates[0].arrays)
    pos = {u.ev: i for i, u in enumerate(updates)}
    params = [torch.from_numpy(np.concatenate([u.arrays[k] for u in updates], axis=0)) for k in names]
    honest, digest = verified_aggregate(params, names, pos.get(mlag) if mlag is not None else None,
                                        [pos[k] for k in rejected])
    totals.steps += tally.steps
    totals.episodes += tally.episodes
    totals.optimizer_steps += max(u.optimizer_steps for u in updates)
    totals.sample_gradients += sum(u.sample_gradients for u in updates)
    rec = round_record(r, totals.steps, totals.episodes, tally, mlag, rejected, fees, mining, digest,
                       totals.optimizer_steps, totals.sample_gradients, seconds, dropped)
    return {k: g.numpy().copy() for k, g in zip(names, honest, strict=True)}, rec


def flower_model(cfg: Any, seed: int, global_arrays: dict[str, np.ndarray], records: list[RoundRecord],
                 seconds: float) -> Any:
    """The trained fleet as the batched backend returns it (every EV holds the global model), so
    that saving, evaluation and settlement are the same code."""
    from gridledger.learn.fleet.federated import FleetModel

    fleet = fleet_of(cfg, seed)
    model = FleetModel(cfg.algo, _stack(cfg, len(fleet), global_arrays), fleet, cfg.env, cfg.federation, cfg.ppo,
                       cfg.offpolicy, list(records), seconds)
    return model


def records_from_json(rows: list[dict[str, Any]]) -> list[RoundRecord]:
    return [RoundRecord(**{k: (float("nan") if v is None and k == "ev_returns" else v) for k, v in row.items()})
            for row in rows]
