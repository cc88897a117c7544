"""One community day (thesis chapter 3) end to end.

profiles (synthetic NDE/UDE/LDE draws, or the Ausgrid-format data) -> loss fractions on the
grid (distance or power-flow model) -> PoEG singleton scores (eq. 3.4, Algorithm 1) ->
merge-and-split formation with the dispatch LP as each coalition's optimisation (Algorithm 3,
eqs. 3.5-3.15) -> miner election by WRS with penalties (eqs. 3.16, 3.24) -> mining reward
(eq. 3.23) shared in the winning coalition by Shapley value (eq. 3.3) -> utilities and payoffs
(eqs. 3.17-3.22). Baselines: acting alone, non-cooperative trading.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.errors import ConfigError, GridledgerError
from gridledger.games.coalitions import Allocation, FormationConfig, FormationResult, form_coalitions
from gridledger.games.community_baselines import noncooperative
from gridledger.games.election import (
    ElectionResult,
    NoEligibleMinerError,
    elect_with_penalties,
    elect_with_penalties_seeded,
)
from gridledger.games.poeg import coalition_proof_score, member_proof_scores, singleton_proof_scores
from gridledger.games.shapley import shapley_exact, shapley_sampled
from gridledger.grid.dispatch import EDC, IncrementalDispatch, Share, alone_losses, proportional_split, solve_dispatch
from gridledger.grid.losses import LossConfig, loss_fractions
from gridledger.grid.network import CommunityGrid, community_grid
from gridledger.ledger.units import kwh_to_token_units
from gridledger.params import check_choice, check_int, check_number, check_vector

PROFILES = ("synthetic", "ausgrid")


class InvariantError(GridledgerError):
    """A result broke one of the model's invariants (a bug, not a user mistake)."""


@dataclass(frozen=True)
class CommunityConfig:
    """Parameters of a community day (thesis chapter 3; defaults are the thesis's values)."""

    prosumers: int = 10
    """Number of prosumers (thesis 3.4.1: 10; 3.4.4: 10-50)."""
    distribution: str = "nde"
    """Synthetic daily profiles: "nde" (normal), "ude" (uniform) or "lde" (log-normal) (3.4.4)."""
    mean_consumption_kwh: float = 12.41
    """Daily mean household consumption (Ausgrid, thesis 3.4.4)."""
    mean_generation_kwh: float = 7.45
    """Daily mean generation (Ausgrid, thesis 3.4.4)."""
    std_kwh: float = 8.0
    """Standard deviation of the daily profiles (thesis 3.4.4)."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Loss model (distance, eq. 3.11; or AC power flow, eqs. 3.1-3.2)."""
    loss_split: str = "proportional"
    """How a prosumer-to-prosumer transfer's loss is attributed (eq. 3.7): "proportional" to
    each side's loss when trading with the EDC, or "equal" halves."""
    delta: float = 0.1
    """delta, the mining reward's share of the market's energy saving (eq. 3.23; thesis: 0.1)."""
    price_per_kwh: float = 0.10
    """p_t, value of one kWh of saving or reward credit (eqs. 3.17, 3.22; not given, chosen)."""
    shapley_exact_max: int = 10
    """Winning coalitions up to this size get exact Shapley values; larger ones are sampled."""
    shapley_permutations: int = 400
    """Most random orders for a sampled Shapley value."""
    shapley_rel_tol: float = 0.02
    """Sampling stops once every share's standard error is below this fraction of the mean share."""
    malicious: tuple[int, ...] = ()
    """Prosumers that refuse to seal a block if their coalition is elected (eq. 3.24)."""
    formation: FormationConfig = field(default_factory=FormationConfig)
    """Merge-and-split settings."""

    def __post_init__(self) -> None:
        check_int("prosumers", self.prosumers, ge=2, le=5000)
        check_choice("distribution", self.distribution, ("nde", "ude", "lde"))
        check_number("mean_consumption_kwh", self.mean_consumption_kwh, gt=0)
        check_number("mean_generation_kwh", self.mean_generation_kwh, gt=0)
        check_number("std_kwh", self.std_kwh, gt=0)
        check_choice("loss_split", self.loss_split, ("proportional", "equal"))
        check_number("delta", self.delta, gt=0, le=1)
        check_number("price_per_kwh", self.price_per_kwh, gt=0)
        check_int("shapley_exact_max", self.shapley_exact_max, ge=1, le=16)
        check_int("shapley_permutations", self.shapley_permutations, ge=2)
        check_number("shapley_rel_tol", self.shapley_rel_tol, ge=0)
        for k, i in enumerate(self.malicious):
            check_int(f"malicious[{k}]", i, ge=0, le=self.prosumers - 1)


@dataclass(frozen=True)
class CommunityInput:
    """Prosumers' day: production, consumption (kWh) and positions (km).

    On a distribution feeder (:mod:`gridledger.scenarios.community.inputs`) the input also
    carries the grid (prosumers on the feeder's buses) and its loss fractions; otherwise the
    day builds the IEEE 14-bus community grid from the positions and the configured loss model.
    """

    production_kwh: NDArray[np.float64]
    consumption_kwh: NDArray[np.float64]
    positions_km: NDArray[np.float64]
    labels: tuple[str, ...] = ()
    source: str = ""
    """Where the profiles come from (one line; "" for synthetic draws)."""
    grid: CommunityGrid | None = None
    loss_fractions: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        n = len(self.production_kwh)
        check_vector("production_kwh", list(self.production_kwh), n, "prosumers", ge=0)
        check_vector("consumption_kwh", list(self.consumption_kwh), n, "prosumers", ge=0)
        if np.asarray(self.positions_km).shape != (n, 2):
            raise ConfigError("positions_km", f"must be {n} (x, y) pairs")


def synthetic_input(config: CommunityConfig, rng: np.random.Generator) -> CommunityInput:
    from gridledger.data.synthetic import synthetic_daily_profiles

    prod_rng, cons_rng = rng.spawn(2)
    prod, _ = synthetic_daily_profiles(config.prosumers, config.distribution, prod_rng, config.mean_generation_kwh,
                                       config.mean_consumption_kwh, config.std_kwh)
    _, cons = synthetic_daily_profiles(config.prosumers, config.distribution, cons_rng, config.mean_generation_kwh,
                                       config.mean_consumption_kwh, config.std_kwh)
    pos = rng.uniform(0, config.loss.area_km, size=(config.prosumers, 2))
    return CommunityInput(prod, cons, pos)


@dataclass(frozen=True)
class CommunityDay:
    """Everything a community day produced (its ``to_json`` has the CLI's stable keys)."""

    config: CommunityConfig
    inputs: CommunityInput
    grid: CommunityGrid
    loss_fractions: NDArray[np.float64]
    balance_kwh: NDArray[np.float64]
    alone_loss_kwh: NDArray[np.float64]
    singleton_scores: NDArray[np.float64]
    formation: FormationResult
    member_scores: NDArray[np.float64]
    coalition_scores: dict[tuple[int, ...], float]
    election: ElectionResult
    miner: tuple[int, ...] | None
    savings_kwh: NDArray[np.float64]
    mining_reward_kwh: float
    reward_shares_kwh: NDArray[np.float64]
    shapley_stderr_kwh: NDArray[np.float64] | None
    payoffs: NDArray[np.float64]
    transactions: list[dict[str, Any]]
    baseline_loss_kwh: float
    baseline_p2p_kwh: float
    seconds: float
    formation_seconds: float

    @property
    def loss_alone_kwh(self) -> float:
        return float(self.alone_loss_kwh.sum())

    @property
    def loss_coalition_kwh(self) -> float:
        return float(self.formation.member_loss.sum())

    @property
    def savings_pct(self) -> float:
        a = self.loss_alone_kwh
        return 100.0 * (a - self.loss_coalition_kwh) / a if a > 0 else 0.0

    @property
    def p2p_kwh(self) -> float:
        return float(sum(t["energy_kwh"] for t in self.transactions if EDC not in (t["from"], t["to"])))

    @property
    def edc_kwh(self) -> float:
        return float(sum(t["energy_kwh"] for t in self.transactions if EDC in (t["from"], t["to"])))

    @property
    def traded_in_coalitions_pct(self) -> float:
        total = self.p2p_kwh + self.edc_kwh
        return 100.0 * self.p2p_kwh / total if total > 0 else 0.0

    def rounds_json(self) -> list[dict[str, Any]]:
        out = []
        for r in self.formation.rounds:
            scores = member_proof_scores(self.singleton_scores, self.alone_loss_kwh, r.member_loss)
            out.append({"label": r.label, "partition": [list(c) for c in r.partition],
                        "coalition_proof_scores": [float(scores[list(c)].sum()) for c in r.partition],
                        "prosumer_proof_scores": scores.tolist(), "operations": list(r.operations)})
        return out

    def to_json(self) -> dict[str, Any]:
        n = self.config.prosumers
        return {
            "prosumers": n,
            "loss_model": self.config.loss.model,
            "network": self.grid.network,
            "profiles_source": self.inputs.source or "synthetic draws",
            "labels": list(self.inputs.labels),
            "production_kwh": self.inputs.production_kwh.tolist(),
            "consumption_kwh": self.inputs.consumption_kwh.tolist(),
            "positions_km": self.inputs.positions_km.tolist(),
            "buses": self.grid.buses.tolist(),
            "partition": [list(c) for c in self.formation.partition],
            "iterations": self.rounds_json(),
            "singleton_proof_scores": self.singleton_scores.tolist(),
            "proof_scores": self.member_scores.tolist(),
            "coalition_proof_scores": [self.coalition_scores[c] for c in self.formation.partition],
            "transactions": self.transactions,
            "loss_alone_kwh": self.loss_alone_kwh,
            "loss_coalition_kwh": self.loss_coalition_kwh,
            "loss_by_prosumer_alone_kwh": self.alone_loss_kwh.tolist(),
            "loss_by_prosumer_coalition_kwh": self.formation.member_loss.tolist(),
            "savings_pct": self.savings_pct,
            "traded_in_coalitions_pct": self.traded_in_coalitions_pct,
            "miner": list(self.miner) if self.miner is not None else None,
            "election": [{"coalition": list(self.formation.partition[a.candidate]), "probability": a.probability,
                          "refused": a.refused} for a in self.election.attempts],
            "slashed": [list(self.formation.partition[k]) for k in self.election.slashed],
            "mining_reward": self.mining_reward_kwh,
            "reward_shares": self.reward_shares_kwh.tolist(),
            "reward_shares_stderr": (self.shapley_stderr_kwh.tolist() if self.shapley_stderr_kwh is not None
                                     else None),
            "payoffs": self.payoffs.tolist(),
            "price_per_kwh": self.config.price_per_kwh,
            "baseline_noncooperative": {"loss_kwh": self.baseline_loss_kwh, "p2p_kwh": self.baseline_p2p_kwh,
                                        "savings_pct": 100.0 * (self.loss_alone_kwh - self.baseline_loss_kwh)
                                        / self.loss_alone_kwh if self.loss_alone_kwh > 0 else 0.0},
            "oracle_calls": self.formation.oracle_calls,
            "formation_seconds": self.formation_seconds,
            "seconds": self.seconds,
        }


def seller_shares(f: NDArray[np.float64], loss_split: str) -> Share:
    return proportional_split(f) if loss_split == "proportional" else 0.5


def make_oracle(balance: NDArray[np.float64], f: NDArray[np.float64], loss_split: str):
    """The coalition oracle of the formation: the dispatch LP of eqs. 3.9-3.15."""
    n = len(balance)
    share = seller_shares(f, loss_split)

    def oracle(members: tuple[int, ...], caps: NDArray[np.float64] | None) -> Allocation | None:
        m = np.asarray(members, dtype=np.int64)
        idx = np.append(m, n)
        sub_share = share if np.ndim(share) == 0 else share[np.ix_(idx, idx)]
        res = solve_dispatch(m, balance[m], f[np.ix_(idx, idx)], caps_kwh=caps, seller_share=sub_share,
                             named=False)
        if res is None:
            return None
        return Allocation(tuple(members), res.member_loss_kwh, res.loss_kwh, res)

    return oracle


def stake_units(member_scores: NDArray[np.float64]) -> list[int]:
    """Each prosumer's proof score as EPOS units (negative scores stake nothing)."""
    return [kwh_to_token_units(max(float(x), 0.0)) for x in member_scores]


def run_community_day(config: CommunityConfig, inputs: CommunityInput, rng: np.random.Generator,
                      election_seed: tuple[bytes, int] | None = None) -> CommunityDay:
    """Algorithm 3 for one time period, with election, reward, Shapley shares and payoffs.

    ``election_seed`` = (32-byte seed, round number) makes the election the on-chain draw of
    ProofStaking (weights: the coalitions' proof scores in EPOS units, in partition order), so
    that the chain elects the same miner; by default the draw uses ``rng``.
    """
    start = time.perf_counter()
    cfg = config
    n = cfg.prosumers
    if len(inputs.production_kwh) != n:
        raise ConfigError("prosumers", f"must equal the number of profiles ({len(inputs.production_kwh)})")
    grid = inputs.grid if inputs.grid is not None else community_grid(inputs.positions_km, cfg.loss.area_km)
    f = inputs.loss_fractions if inputs.loss_fractions is not None else loss_fractions(grid, cfg.loss)
    balance = inputs.production_kwh - inputs.consumption_kwh
    alone = alone_losses(balance, f[:n, n], f[n, :n])
    singleton = singleton_proof_scores(inputs.production_kwh, inputs.consumption_kwh,
                                       np.where(balance > 0, alone, 0.0))
    oracle = make_oracle(balance, f, cfg.loss_split)
    t0 = time.perf_counter()
    formation = form_coalitions(balance, alone, grid.dist_km, oracle, cfg.formation)
    formation_seconds = time.perf_counter() - t0
    scores = member_proof_scores(singleton, alone, formation.member_loss)
    part = formation.partition
    coal_scores = {c: coalition_proof_score(scores[list(c)]) for c in part}

    malicious = set(cfg.malicious)
    election_rng, shapley_rng, baseline_rng = rng.spawn(3)
    def refuses(k: int) -> bool:
        return bool(malicious.intersection(part[k]))

    if election_seed is not None:
        units = stake_units(scores)
        election = elect_with_penalties_seeded([sum(units[i] for i in c) for c in part], refuses, *election_seed)
    else:
        try:
            election = elect_with_penalties([coal_scores[c] for c in part], refuses, election_rng)
        except NoEligibleMinerError:
            election = ElectionResult(None, ())
    miner = part[election.miner] if election.miner is not None else None

    savings = alone - formation.member_loss
    reward = cfg.delta * float(savings.sum())                       # eq. (3.23)
    shares = np.zeros(n)
    stderr: NDArray[np.float64] | None = None
    if miner is not None and reward > 0:
        def value(t: frozenset) -> float:
            # Worth of a sub-coalition: its best total proof score (eq. 3.5) with transferable
            # utility, i.e. singleton scores plus the loss its optimal dispatch saves.
            members = list(sorted(t))
            alloc = oracle(tuple(members), None)
            assert alloc is not None  # without caps the dispatch LP is always feasible
            return float(singleton[members].sum() + alone[members].sum() - alloc.total)

        if len(miner) <= cfg.shapley_exact_max:
            phi = shapley_exact(list(miner), value)
        else:
            def order_values(order: list[int]) -> list[float]:
                inc = IncrementalDispatch(balance, f)
                out, base = [], 0.0
                for i in order:
                    base += singleton[i] + alone[i]
                    out.append(base - inc.add(i))
                return out

            sampled = shapley_sampled(list(miner), value, shapley_rng, cfg.shapley_permutations,
                                      rel_tol=cfg.shapley_rel_tol, order_values=order_values)
            phi = sampled.values
            stderr = np.zeros(n)
            total_v = sum(phi.values())
            for i, se in sampled.stderr.items():
                stderr[i] = reward * se / total_v if total_v > 0 else 0.0
        total_phi = sum(phi.values())
        for i, v in phi.items():
            shares[i] = reward * v / total_phi if total_phi > 0 else reward / len(miner)
    shares[np.abs(shares) < 1e-12] = 0.0
    if miner is None:
        reward = 0.0
    payoffs = cfg.price_per_kwh * (savings + shares)                 # eq. (3.22)

    transactions: list[dict[str, Any]] = []
    for c in part:
        plan = formation.allocations[c].plan
        if plan is None:  # an untouched singleton trades with the EDC
            b = balance[c[0]]
            if b > 0:
                transactions.append({"from": c[0], "to": EDC, "energy_kwh": float(b), "loss_kwh": float(alone[c[0]])})
            elif b < 0:
                transactions.append({"from": EDC, "to": c[0], "energy_kwh": float(-b), "loss_kwh": float(alone[c[0]])})
            continue
        idx = np.append(np.asarray(c), n)
        transactions.extend(plan.transactions(f[np.ix_(idx, idx)]))
    base = noncooperative(balance, f, baseline_rng)
    day = CommunityDay(cfg, inputs, grid, f, balance, alone, singleton, formation, scores, coal_scores, election,
                       miner, savings, reward, shares, stderr, payoffs, transactions, base.loss_kwh, base.p2p_kwh,
                       time.perf_counter() - start, formation_seconds)
    problems = check_invariants(day)
    if problems:
        raise InvariantError("; ".join(problems))
    return day


def check_invariants(day: CommunityDay, tol: float = 1e-6) -> list[str]:
    """Energy balance per prosumer and coalition, losses >= 0, proof scores >= singleton scores,
    payoffs = savings value + reward. Returns the broken ones (empty when all hold)."""
    problems = []
    n = day.config.prosumers
    shipped = np.zeros(n)
    received = np.zeros(n)
    for t in day.transactions:
        if t["loss_kwh"] < -tol or t["energy_kwh"] < -tol:
            problems.append(f"negative energy or loss in {t}")
        if t["from"] != EDC:
            shipped[t["from"]] += t["energy_kwh"]
        if t["to"] != EDC:
            received[t["to"]] += t["energy_kwh"]
    b = day.balance_kwh
    if not np.allclose(shipped - received, b, atol=tol * (1 + np.abs(b).max())):
        problems.append("a prosumer's transfers do not match its energy balance")
    for c in day.formation.partition:
        net = sum((t["energy_kwh"] if t["from"] in c else 0.0) - (t["energy_kwh"] if t["to"] in c else 0.0)
                  for t in day.transactions)
        if abs(net - b[list(c)].sum()) > tol * (1 + abs(b[list(c)]).sum()):
            problems.append(f"coalition {list(c)} does not balance")
    if np.any(day.formation.member_loss < -tol):
        problems.append("negative attributed loss")
    if abs(sum(t["loss_kwh"] for t in day.transactions) - day.loss_coalition_kwh) > tol * (1 + day.loss_coalition_kwh):
        problems.append("transactions' losses do not add up to the coalitions' loss")
    if np.any(day.member_scores < day.singleton_scores - tol):
        problems.append("a prosumer's proof score fell below its singleton score")
    expected = day.config.price_per_kwh * (float(day.savings_kwh.sum()) + day.mining_reward_kwh)
    if abs(float(day.payoffs.sum()) - expected) > tol * (1 + abs(expected)):
        problems.append("payoffs do not add up to the savings' value plus the reward")
    if day.miner is not None and abs(day.reward_shares_kwh.sum() - day.mining_reward_kwh) > tol * (
            1 + day.mining_reward_kwh):
        problems.append("reward shares do not add up to the reward")
    return problems


def stability_profile(day: CommunityDay, prosumer: int) -> list[dict[str, Any]]:
    """Proof score ``prosumer`` would have in each place it could go (thesis Fig. 3.8): its
    coalition, alone, or any other coalition (whose members must not lose: their current
    losses cap the joined coalition's LP)."""
    n = day.config.prosumers
    oracle = make_oracle(day.balance_kwh, day.loss_fractions, day.config.loss_split)
    own = next(c for c in day.formation.partition if prosumer in c)
    out = [{"place": "own coalition", "coalition": list(own),
            "proof_score": float(day.member_scores[prosumer])},
           {"place": "alone", "coalition": [prosumer], "proof_score": float(day.singleton_scores[prosumer])}]
    for c in day.formation.partition:
        if c == own:
            continue
        joined = tuple(sorted((*c, prosumer)))
        caps = day.formation.member_loss.copy()
        caps[prosumer] = day.alone_loss_kwh[prosumer]
        alloc = oracle(joined, caps[list(joined)])
        if alloc is None:
            continue
        loss_p = float(alloc.member_loss[joined.index(prosumer)])
        score = day.singleton_scores[prosumer] + day.alone_loss_kwh[prosumer] - loss_p
        out.append({"place": "join", "coalition": list(c), "proof_score": float(score)})
    del n
    return out
