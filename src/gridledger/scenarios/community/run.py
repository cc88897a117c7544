"""One community day (thesis chapter 3) end to end, and a series of days.

profiles (synthetic NDE/UDE/LDE draws, or the Ausgrid-format data) -> loss fractions on the
grid (distance model in three readings, or a power-flow model) -> PoEG singleton scores (eq.
3.4, Algorithm 1) -> the non-cooperative baseline (the floor the formation must reach) ->
coalition formation with the dispatch LP as each coalition's optimisation (Algorithm 3, eqs.
3.5-3.15) to a Definition 3 fixed point -> the grand-coalition optimum (the reference) and a
proof of stability -> miner election by WRS with penalties (eqs. 3.16, 3.24) -> the mining
reward M_r = delta x savings, paid by the members out of their savings and shared in the
winning coalition by Shapley value (eqs. 3.3, 3.23, Lemma 2) -> utilities and payoffs (eqs.
3.17-3.22).

A series (:func:`run_community_days`) hands the formation of day t+1 to the miner elected on day t
(section 3.2.1; on the first day to the highest singleton proof score) and accumulates payoffs
and the off-chain EPOS / UPOS balances.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gridledger.errors import ConfigError, GridledgerError
from gridledger.games.coalitions import (
    Floor,
    FormationConfig,
    FormationResult,
    StabilityReport,
    check_stability,
    form_coalitions,
)
from gridledger.games.community_baselines import noncooperative
from gridledger.games.election import ElectionResult, NoEligibleMinerError, elect_with_penalties
from gridledger.games.poeg import coalition_proof_score, member_proof_scores, singleton_proof_scores
from gridledger.games.shapley import shapley_exact, shapley_sampled
from gridledger.grid.dispatch import EDC, CoalitionLP, alone_losses
from gridledger.grid.losses import LossConfig, loss_fractions
from gridledger.grid.network import CommunityGrid, community_grid
from gridledger.ledger.units import kwh_to_token_units
from gridledger.params import check_choice, check_int, check_number, check_vector

if TYPE_CHECKING:
    from gridledger.grid.feeders import FeederLosses


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
    """Loss model (distance, eq. 3.11, in three readings; or AC power flow, eqs. 3.1-3.2)."""
    loss_split: str = "proportional"
    """How a prosumer-to-prosumer transfer's loss is attributed (eq. 3.7): "proportional" to
    each side's loss when trading with the EDC, or "equal" halves."""
    delta: float = 0.1
    """delta, the fee on each member's energy saving that funds the mining reward (eq. 3.23,
    Lemma 2; thesis: 0.1)."""
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
    """Formation settings."""
    stability_check: bool = True
    """Prove Definition 3 on every final partition (:func:`~gridledger.games.coalitions.check_stability`)."""
    split_check_max: int = 8
    """The stability proof tries every bipartition of coalitions up to this size."""

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
        check_int("split_check_max", self.split_check_max, ge=1, le=14)
        for k, i in enumerate(self.malicious):
            check_int(f"malicious[{k}]", i, ge=0, le=self.prosumers - 1)


@dataclass(frozen=True)
class CommunityInput:
    """Prosumers' day: production, consumption (kWh) and positions (km).

    On a distribution feeder (:mod:`gridledger.scenarios.community.inputs`) the input also
    carries the grid (prosumers on the feeder's buses), its loss fractions and, under the
    feeder's AC power flow, what the power flows found (``feeder``); otherwise the day builds the
    IEEE 14-bus community grid from the positions and the configured loss model.
    """

    production_kwh: NDArray[np.float64]
    consumption_kwh: NDArray[np.float64]
    positions_km: NDArray[np.float64]
    labels: tuple[str, ...] = ()
    source: str = ""
    """Where the profiles come from (one line; "" for synthetic draws)."""
    grid: CommunityGrid | None = None
    loss_fractions: NDArray[np.float64] | None = None
    feeder: FeederLosses | None = None

    def __post_init__(self) -> None:
        n = len(self.production_kwh)
        check_vector("production_kwh", list(self.production_kwh), n, "prosumers", ge=0)
        check_vector("consumption_kwh", list(self.consumption_kwh), n, "prosumers", ge=0)
        if np.asarray(self.positions_km).shape != (n, 2):
            raise ConfigError("positions_km", f"must be {n} (x, y) pairs")


def synthetic_input(config: CommunityConfig, rng: np.random.Generator,
                    positions_km: NDArray[np.float64] | None = None) -> CommunityInput:
    """Daily profiles drawn from the configured distribution (thesis 3.4.4); positions uniform in
    the area unless given (a series keeps its prosumers where they are)."""
    from gridledger.data.synthetic import synthetic_daily_profiles

    prod_rng, cons_rng = rng.spawn(2)
    prod, _ = synthetic_daily_profiles(config.prosumers, config.distribution, prod_rng, config.mean_generation_kwh,
                                       config.mean_consumption_kwh, config.std_kwh)
    _, cons = synthetic_daily_profiles(config.prosumers, config.distribution, cons_rng, config.mean_generation_kwh,
                                       config.mean_consumption_kwh, config.std_kwh)
    pos = rng.uniform(0, config.loss.area_km, size=(config.prosumers, 2)) if positions_km is None else positions_km
    return CommunityInput(prod, cons, np.asarray(pos, dtype=float))


@dataclass(frozen=True)
class Reward:
    """The mining reward of Lemma 2: a fee on every member's saving, paid to the winning coalition."""

    delta: float
    fees_kwh: NDArray[np.float64]
    """What each prosumer pays: delta x its saving (eq. 3.23 per prosumer, Lemma 2)."""
    worth_kwh: NDArray[np.float64]
    """Shapley value of each member of the winning coalition in the savings game v(T) =
    loss of T's members alone - T's least loss (0 outside the winning coalition)."""
    shares_kwh: NDArray[np.float64]
    """What each member of the winning coalition receives: M_r x its Shapley value / v(S_win)."""
    stderr_kwh: NDArray[np.float64] | None
    """Standard errors of sampled shares (None when exact)."""

    @property
    def pool_kwh(self) -> float:
        """M_r = delta x the market's saving (eq. 3.23)."""
        return float(self.fees_kwh.sum())

    def transfers(self, tol: float = 1e-12) -> list[dict[str, Any]]:
        """Who pays whom how much: each payer's fee split over the recipients in proportion to
        their shares (a member's payment to itself is left out)."""
        pool = self.pool_kwh
        if pool <= 0:
            return []
        out = []
        recipients = np.flatnonzero(self.shares_kwh > tol)
        for i in np.flatnonzero(self.fees_kwh > tol):
            for w in recipients:
                if w == i:
                    continue
                out.append({"from": int(i), "to": int(w),
                            "amount_kwh": float(self.fees_kwh[i] * self.shares_kwh[w] / pool)})
        return out

    def to_json(self) -> dict[str, Any]:
        return {"delta": self.delta, "pool_kwh": self.pool_kwh, "fees_kwh": self.fees_kwh.tolist(),
                "shapley_kwh": self.worth_kwh.tolist(), "shares_kwh": self.shares_kwh.tolist(),
                "shares_stderr_kwh": None if self.stderr_kwh is None else self.stderr_kwh.tolist(),
                "net_kwh": (self.shares_kwh - self.fees_kwh).tolist(), "transfers": self.transfers()}


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
    reward: Reward
    payoffs: NDArray[np.float64]
    transactions: list[dict[str, Any]]
    baseline_loss_kwh: float
    baseline_p2p_kwh: float
    optimum_kwh: float
    """The grand coalition's least loss (eqs. 3.11-3.15 over all prosumers): the limit of the loss model."""
    optimum_p2p_kwh: float
    stability: StabilityReport | None
    seconds: float
    formation_seconds: float
    operator: int | None = None
    """The prosumer that ran the formation (the previous day's miner; None for a lone day)."""

    @property
    def mining_reward_kwh(self) -> float:
        return self.reward.pool_kwh

    @property
    def reward_shares_kwh(self) -> NDArray[np.float64]:
        return self.reward.shares_kwh

    @property
    def shapley_stderr_kwh(self) -> NDArray[np.float64] | None:
        return self.reward.stderr_kwh

    @property
    def loss_alone_kwh(self) -> float:
        return float(self.alone_loss_kwh.sum())

    @property
    def loss_coalition_kwh(self) -> float:
        return float(self.formation.member_loss.sum())

    @property
    def loss_over_optimum(self) -> float:
        return self.loss_coalition_kwh / self.optimum_kwh if self.optimum_kwh > 0 else 1.0

    def _pct_saved(self, loss: float) -> float:
        a = self.loss_alone_kwh
        return 100.0 * (a - loss) / a if a > 0 else 0.0

    @property
    def savings_pct(self) -> float:
        return self._pct_saved(self.loss_coalition_kwh)

    @property
    def p2p_kwh(self) -> float:
        return float(sum(t["energy_kwh"] for t in self.transactions if EDC not in (t["from"], t["to"])))

    @property
    def edc_kwh(self) -> float:
        return float(sum(t["energy_kwh"] for t in self.transactions if EDC in (t["from"], t["to"])))

    @property
    def p2p_share_of_energy_pct(self) -> float:
        """One-sided: kWh moved between prosumers / all kWh moved (each P2P kWh counted once)."""
        total = self.p2p_kwh + self.edc_kwh
        return 100.0 * self.p2p_kwh / total if total > 0 else 0.0

    @property
    def p2p_share_per_prosumer_pct(self) -> float:
        """Both sides: the prosumers' P2P purchases and sales / all their purchases and sales
        (a P2P kWh counts for its seller and for its buyer): 2 P2P / (2 P2P + EDC)."""
        total = 2 * self.p2p_kwh + self.edc_kwh
        return 100.0 * 2 * self.p2p_kwh / total if total > 0 else 0.0

    def rounds_json(self) -> list[dict[str, Any]]:
        out = []
        for r in self.formation.rounds:
            scores = member_proof_scores(self.singleton_scores, self.alone_loss_kwh, r.member_loss)
            out.append({"label": r.label, "partition": [list(c) for c in r.partition],
                        "coalition_proof_scores": [float(scores[list(c)].sum()) for c in r.partition],
                        "prosumer_proof_scores": scores.tolist(), "operations": list(r.operations)})
        return out

    def stability_json(self) -> dict[str, Any] | None:
        s = self.stability
        if s is None:
            return None
        return {"stable": s.stable, "violations": [{"kind": v.kind, "prosumer": v.prosumer, "source": list(v.source),
                                                    "target": list(v.target), "gain_kwh": v.gain_kwh}
                                                   for v in s.violations],
                "moves_checked": s.moves_checked, "moves_solved": s.moves_solved, "merges_checked": s.merges_checked,
                "merges_exhaustive": self.formation.merges_exhaustive, "splits_checked": s.splits_checked,
                "split_unchecked": [list(c) for c in s.split_unchecked]}

    def to_json(self) -> dict[str, Any]:
        base_savings = self._pct_saved(self.baseline_loss_kwh)
        return {
            "prosumers": self.config.prosumers,
            "loss_model": self.config.loss.model,
            "network": self.grid.network,
            "profiles_source": self.inputs.source or "synthetic draws",
            "labels": list(self.inputs.labels),
            "feeder": self.inputs.feeder.to_json() if self.inputs.feeder is not None else None,
            "loss_reading": self.config.loss.reading if self.config.loss.model == "distance" else None,
            "production_kwh": self.inputs.production_kwh.tolist(),
            "consumption_kwh": self.inputs.consumption_kwh.tolist(),
            "positions_km": self.inputs.positions_km.tolist(),
            "buses": self.grid.buses.tolist(),
            "operator": self.operator,
            "partition": [list(c) for c in self.formation.partition],
            "iterations": self.rounds_json(),
            "operations": self.formation.operations,
            "singleton_proof_scores": self.singleton_scores.tolist(),
            "proof_scores": self.member_scores.tolist(),
            "coalition_proof_scores": [self.coalition_scores[c] for c in self.formation.partition],
            "transactions": self.transactions,
            "loss_alone_kwh": self.loss_alone_kwh,
            "loss_coalition_kwh": self.loss_coalition_kwh,
            "optimum_kwh": self.optimum_kwh,
            "loss_over_optimum": self.loss_over_optimum,
            "loss_by_prosumer_alone_kwh": self.alone_loss_kwh.tolist(),
            "loss_by_prosumer_coalition_kwh": self.formation.member_loss.tolist(),
            "savings_pct": self.savings_pct,
            "optimum_savings_pct": self._pct_saved(self.optimum_kwh),
            "p2p_share_of_energy_pct": self.p2p_share_of_energy_pct,
            "p2p_share_per_prosumer_pct": self.p2p_share_per_prosumer_pct,
            "p2p_kwh": self.p2p_kwh,
            "optimum_p2p_kwh": self.optimum_p2p_kwh,
            "baseline_noncooperative": {"loss_kwh": self.baseline_loss_kwh, "p2p_kwh": self.baseline_p2p_kwh,
                                        "savings_pct": base_savings},
            "stability": self.stability_json(),
            "miner": list(self.miner) if self.miner is not None else None,
            "election": [{"coalition": list(self.formation.partition[a.candidate]), "probability": a.probability,
                          "refused": a.refused} for a in self.election.attempts],
            "slashed": [list(self.formation.partition[k]) for k in self.election.slashed],
            "mining_reward": self.mining_reward_kwh,
            "reward_shares": self.reward_shares_kwh.tolist(),
            "reward_shares_stderr": (self.shapley_stderr_kwh.tolist() if self.shapley_stderr_kwh is not None
                                     else None),
            "reward": self.reward.to_json(),
            "savings_kwh": self.savings_kwh.tolist(),
            "payoffs": self.payoffs.tolist(),
            "price_per_kwh": self.config.price_per_kwh,
            "oracle_calls": self.formation.oracle_calls,
            "formation_seconds": self.formation_seconds,
            "seconds": self.seconds,
        }


def make_oracle(balance: NDArray[np.float64], f: NDArray[np.float64], loss_split: str) -> CoalitionLP:
    """The coalition oracle of the formation: the dispatch LP of eqs. 3.9-3.15."""
    return CoalitionLP(balance, f, loss_split)


def stake_units(member_scores: NDArray[np.float64]) -> list[int]:
    """Each prosumer's proof score as EPOS units (negative scores stake nothing)."""
    return [kwh_to_token_units(max(float(x), 0.0)) for x in member_scores]


def mining_reward(config: CommunityConfig, savings_kwh: NDArray[np.float64], miner: tuple[int, ...] | None,
                  oracle: CoalitionLP, alone_kwh: NDArray[np.float64], scores: NDArray[np.float64],
                  rng: np.random.Generator) -> Reward:
    """Lemma 2 and eq. (3.23): every prosumer pays delta x its saving; the pool M_r goes to the
    winning coalition, shared by Shapley value (eq. 3.3) of the savings game
    v(T) = sum_{i in T} E_i^loss - (T's least loss), in which a buyer's contribution counts as
    much as a seller's. If the winning coalition saves nothing (v = 0, e.g. a lone seller), the
    pool is shared by proof score (the weights of its election, eq. 3.16). No miner, no fee."""
    n = config.prosumers
    zeros = np.zeros(n)
    if miner is None:
        return Reward(config.delta, zeros.copy(), zeros.copy(), zeros.copy(), None)
    fees = config.delta * np.clip(savings_kwh, 0.0, None)
    pool = float(fees.sum())
    worth = np.zeros(n)
    stderr: NDArray[np.float64] | None = None
    members = list(miner)

    def value(t: frozenset) -> float:
        ids = tuple(sorted(t))
        return float(alone_kwh[list(ids)].sum() - oracle.total_loss(ids))

    if len(members) <= config.shapley_exact_max:
        subsets = [c for r in range(1, len(members) + 1) for c in itertools.combinations(members, r)]
        worths = dict(zip(subsets, oracle.total_losses(subsets), strict=True))
        phi = shapley_exact(members, lambda t: float(alone_kwh[list(t)].sum() - worths[tuple(sorted(t))]))
    else:
        def batch_value(sets: list[frozenset]) -> list[float]:
            ids = [tuple(sorted(t)) for t in sets]
            return [float(alone_kwh[list(t)].sum() - x) for t, x in zip(ids, oracle.total_losses(ids), strict=True)]

        sampled = shapley_sampled(members, value, rng, config.shapley_permutations, rel_tol=config.shapley_rel_tol,
                                  batch_value=batch_value)
        phi = sampled.values
        stderr = np.zeros(n)
        total_v = sum(phi.values())
        for i, se in sampled.stderr.items():
            stderr[i] = pool * se / total_v if total_v > 0 else 0.0
    for i, v in phi.items():
        worth[i] = max(v, 0.0)  # marginal contributions are >= 0 (the savings game is monotone)
    shares = np.zeros(n)
    total_w = float(worth[members].sum())
    if total_w > 1e-12:
        shares[members] = pool * worth[members] / total_w
    else:
        weights = np.clip(scores[members], 0.0, None)
        shares[members] = pool * (weights / weights.sum() if weights.sum() > 0 else np.full(len(members),
                                                                                           1 / len(members)))
    shares[np.abs(shares) < 1e-15] = 0.0
    return Reward(config.delta, fees, worth, shares, stderr)



@dataclass(frozen=True)
class PreElection:
    """What a community day has fixed before its miner is drawn (what the ledger records first)."""

    partition: tuple[tuple[int, ...], ...]
    member_scores: NDArray[np.float64]
    """Proof scores PS_Si (eq. 3.6), kWh."""
    savings_kwh: NDArray[np.float64]
    """E^save of each prosumer (eq. 3.19), kWh."""
    transactions: list[dict[str, Any]]
    malicious: frozenset[int]
    """Prosumers that refuse to seal a block (eq. 3.24)."""


Electer = Callable[[PreElection], ElectionResult]
"""Draws the miner of a day (e.g. on chain), returning attempts with partition indices."""


def run_community_day(config: CommunityConfig, inputs: CommunityInput, rng: np.random.Generator,
                      electer: Electer | None = None, operator: int | None = None,
                      f: NDArray[np.float64] | None = None, grid: CommunityGrid | None = None) -> CommunityDay:
    """Algorithm 3 for one time period, with the reference optimum, the stability proof, the
    election, the fee-funded reward and payoffs.

    ``electer`` draws the miner instead of the simulation's generator: the on-chain election
    (scenarios.community.chain), whose randomness no single party chooses. ``f`` (and ``grid``)
    replace the loss fractions (and grid) of the inputs or of the configured model. On a
    feeder's grid the power-flow model is the feeder's own (``powerflow`` is recorded as
    ``feeder``).
    """
    start = time.perf_counter()
    cfg = config
    given = grid if grid is not None else inputs.grid
    if given is not None and given.network != "ieee14" and cfg.loss.model == "powerflow":
        cfg = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, model="feeder"))
    n = cfg.prosumers
    if len(inputs.production_kwh) != n:
        raise ConfigError("prosumers", f"must equal the number of profiles ({len(inputs.production_kwh)})")
    if grid is None:  # a feeder's grid and loss fractions come with the inputs (data) or as arguments
        grid = inputs.grid if inputs.grid is not None else community_grid(inputs.positions_km, cfg.loss.area_km)
    if f is None:
        f = inputs.loss_fractions if inputs.loss_fractions is not None else loss_fractions(grid, cfg.loss)
    f = np.asarray(f, dtype=float)
    balance = inputs.production_kwh - inputs.consumption_kwh
    alone = alone_losses(balance, f[:n, n], f[n, :n])
    singleton = singleton_proof_scores(inputs.production_kwh, inputs.consumption_kwh,
                                       np.where(balance > 0, alone, 0.0))
    oracle = make_oracle(balance, f, cfg.loss_split)
    election_rng, shapley_rng, baseline_rng = rng.spawn(3)
    base = noncooperative(balance, f, baseline_rng, oracle.share)
    t0 = time.perf_counter()
    near = grid.dist_km if cfg.loss.model == "distance" else f
    formation = form_coalitions(balance, alone, near, oracle, cfg.formation,
                                Floor(base.loss_kwh, base.edges()))
    formation_seconds = time.perf_counter() - t0
    everyone = tuple(range(n))
    grand = oracle.solve(everyone, None, attribute=False)
    assert grand is not None  # without caps the LP is always feasible
    stability = (check_stability(formation, oracle, alone, cfg.formation.tol, cfg.split_check_max,
                                 merges=formation.merges_exhaustive) if cfg.stability_check else None)
    scores = member_proof_scores(singleton, alone, formation.member_loss)
    part = formation.partition
    coal_scores = {c: coalition_proof_score(scores[list(c)]) for c in part}

    malicious = set(cfg.malicious)

    def refuses(k: int) -> bool:
        return bool(malicious.intersection(part[k]))

    savings = alone - formation.member_loss
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

    if electer is not None:
        election = electer(PreElection(tuple(part), scores, savings, transactions, frozenset(malicious)))
    else:
        try:
            election = elect_with_penalties([coal_scores[c] for c in part], refuses, election_rng)
        except NoEligibleMinerError:
            election = ElectionResult(None, ())
    miner = part[election.miner] if election.miner is not None else None

    reward = mining_reward(cfg, savings, miner, oracle, alone, scores, shapley_rng)
    payoffs = cfg.price_per_kwh * (savings - reward.fees_kwh + reward.shares_kwh)   # eq. (3.22), Lemma 2
    grand_p2p = float(sum(x for a, b, x in zip(grand.arc_from, grand.arc_to, grand.arc_kwh, strict=True)
                          if a < n and b < n))
    day = CommunityDay(cfg, inputs, grid, f, balance, alone, singleton, formation, scores, coal_scores, election,
                       miner, savings, reward, payoffs, transactions, base.loss_kwh, base.p2p_kwh, grand.loss_kwh,
                       grand_p2p, stability, time.perf_counter() - start, formation_seconds, operator)
    problems = check_invariants(day)
    if problems:
        raise InvariantError("; ".join(problems))
    return day


def check_invariants(day: CommunityDay, tol: float = 1e-6) -> list[str]:
    """Energy balance per prosumer and coalition, losses >= 0, the grand optimum <= the coalitions'
    loss <= the non-cooperative baseline's and acting alone's, proof scores >= singleton scores,
    fees = reward pool = shares, nobody's payoff below zero (Lemma 2), payoffs = savings' value.
    Returns the broken ones (empty when all hold)."""
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
    if np.any(day.formation.member_loss < -tol):
        problems.append("negative attributed loss")
    loss = day.loss_coalition_kwh
    scale = tol * (1 + loss)
    if abs(sum(t["loss_kwh"] for t in day.transactions) - loss) > scale:
        problems.append("transactions' losses do not add up to the coalitions' loss")
    if day.optimum_kwh > loss + scale:
        problems.append("the coalitions lose less than the grand-coalition optimum")
    if loss > day.baseline_loss_kwh + scale:
        problems.append("the coalitions lose more than the non-cooperative baseline")
    if loss > day.loss_alone_kwh + scale:
        problems.append("the coalitions lose more than acting alone")
    if np.any(day.member_scores < day.singleton_scores - tol):
        problems.append("a prosumer's proof score fell below its singleton score")
    r = day.reward
    if day.miner is not None and abs(r.shares_kwh.sum() - r.pool_kwh) > tol * (1 + r.pool_kwh):
        problems.append("reward shares do not add up to the fees paid")
    if np.any(day.payoffs < -tol):
        problems.append("a prosumer's payoff is negative (Lemma 2)")
    expected = day.config.price_per_kwh * float(day.savings_kwh.sum())
    if abs(float(day.payoffs.sum()) - expected) > tol * (1 + abs(expected)):
        problems.append("payoffs do not add up to the savings' value (the reward must be a transfer)")
    return problems


def stability_profile(day: CommunityDay, prosumer: int) -> list[dict[str, Any]]:
    """Proof score ``prosumer`` would have in each place it could go (thesis Fig. 3.8): its
    coalition, alone, or any other coalition (with that coalition's allocation for the union,
    and whether the coalition's members would accept it: nobody among them loses)."""
    oracle = make_oracle(day.balance_kwh, day.loss_fractions, day.config.loss_split)
    own = next(c for c in day.formation.partition if prosumer in c)
    out = [{"place": "own coalition", "coalition": list(own),
            "proof_score": float(day.member_scores[prosumer]), "accepted": True},
           {"place": "alone", "coalition": [prosumer], "proof_score": float(day.singleton_scores[prosumer]),
            "accepted": True}]
    loss = day.formation.member_loss
    others = [c for c in day.formation.partition if c != own]
    unions = [tuple(sorted((*c, prosumer))) for c in others]
    allocs = oracle.solve_many(unions, [day.alone_loss_kwh[list(u)] for u in unions])
    for c, joined, alloc in zip(others, unions, allocs, strict=True):
        if alloc is None:
            continue
        loss_p = float(alloc.member_loss[joined.index(prosumer)])
        rest = np.array([alloc.member_loss[joined.index(m)] for m in c])
        score = day.singleton_scores[prosumer] + day.alone_loss_kwh[prosumer] - loss_p
        out.append({"place": "join", "coalition": list(c), "proof_score": float(score),
                    "accepted": bool(np.all(rest <= loss[list(c)] + day.config.formation.tol))})
    return out


# --------------------------------------------------------------------------------------------- days

DayInputs = Callable[[int, np.random.Generator], CommunityInput]


@dataclass(frozen=True)
class CommunitySeries:
    """A run of consecutive days (section 3.2.1: the miner of day t runs the formation of day t+1)."""

    days: tuple[CommunityDay, ...]
    epos_kwh: NDArray[np.float64]
    """Each prosumer's EPOS balance after the last day: proof scores credited, minus slashed stakes."""
    upos_kwh: NDArray[np.float64]
    """Each prosumer's UPOS balance (energy credit): savings - fees + reward shares, summed."""
    seconds: float

    @property
    def payoffs(self) -> NDArray[np.float64]:
        return np.sum([d.payoffs for d in self.days], axis=0)

    def to_json(self, days_in_full: bool = True) -> dict[str, Any]:
        def summary(d: CommunityDay) -> dict[str, Any]:
            return {"profiles_source": d.inputs.source or "synthetic draws", "price_per_kwh": d.config.price_per_kwh,
                    "operator": d.operator, "miner": list(d.miner) if d.miner else None,
                    "coalitions": len(d.formation.partition), "loss_alone_kwh": d.loss_alone_kwh,
                    "loss_coalition_kwh": d.loss_coalition_kwh, "optimum_kwh": d.optimum_kwh,
                    "loss_over_optimum": d.loss_over_optimum, "baseline_loss_kwh": d.baseline_loss_kwh,
                    "savings_pct": d.savings_pct, "p2p_share_per_prosumer_pct": d.p2p_share_per_prosumer_pct,
                    "p2p_share_of_energy_pct": d.p2p_share_of_energy_pct, "mining_reward": d.mining_reward_kwh,
                    "stable": d.stability.stable if d.stability is not None else None,
                    "formation_seconds": d.formation_seconds, "seconds": d.seconds}

        return {
            "prosumers": self.days[0].config.prosumers,
            "days": len(self.days),
            "network": self.days[0].grid.network,
            "loss_model": self.days[0].config.loss.model,
            "per_day": [summary(d) for d in self.days],
            "day_results": [d.to_json() for d in self.days] if days_in_full else None,
            "cumulative": {
                "loss_alone_kwh": float(sum(d.loss_alone_kwh for d in self.days)),
                "loss_coalition_kwh": float(sum(d.loss_coalition_kwh for d in self.days)),
                "optimum_kwh": float(sum(d.optimum_kwh for d in self.days)),
                "baseline_loss_kwh": float(sum(d.baseline_loss_kwh for d in self.days)),
                "payoffs": self.payoffs.tolist(),
                "epos_kwh": self.epos_kwh.tolist(),
                "upos_kwh": self.upos_kwh.tolist(),
                "mining_rewards_received_kwh": np.sum([d.reward_shares_kwh for d in self.days], axis=0).tolist(),
                "fees_paid_kwh": np.sum([d.reward.fees_kwh for d in self.days], axis=0).tolist(),
            },
            "seconds": self.seconds,
        }


def run_community_days(config: CommunityConfig, day_inputs: DayInputs, days: int, rng: np.random.Generator,
                       on_day: Callable[[int, CommunityDay], None] | None = None,
                       day_config: Callable[[CommunityInput], CommunityConfig] | None = None) -> CommunitySeries:
    """``days`` consecutive days with day-ahead profiles from ``day_inputs(t, rng)`` (and, given
    ``day_config``, each day's configuration from its inputs: a price of the day, say).

    The formation of day t+1 is run by the miner elected on day t (its coalition's best scorer,
    the validator that sealed the block); on the first day by the prosumer with the highest
    singleton proof score (section 3.2.1). Off chain, EPOS accumulates each day's proof scores
    (a refusing coalition's members lose that day's stake: eq. 3.24's slashing) and UPOS each
    day's energy credit: saving - fee + reward share (Lemma 2)."""
    check_int("days", days, ge=1, le=3650)
    start = time.perf_counter()
    n = config.prosumers
    epos = np.zeros(n)
    upos = np.zeros(n)
    out: list[CommunityDay] = []
    operator: int | None = None
    for t in range(days):
        day_rng, input_rng = rng.spawn(2)
        inputs = day_inputs(t, input_rng)
        day = run_community_day(config if day_config is None else day_config(inputs), inputs, day_rng,
                                operator=operator)
        if operator is None:  # the first day: the highest singleton proof score runs it
            day = dataclasses.replace(day, operator=int(np.argmax(day.singleton_scores)))
        credited = np.clip(day.member_scores, 0.0, None)
        for k in day.election.slashed:
            credited[list(day.formation.partition[k])] = 0.0
        epos += credited
        upos += day.savings_kwh - day.reward.fees_kwh + day.reward.shares_kwh
        out.append(day)
        if on_day is not None:
            on_day(t, day)
        if day.miner is not None:
            operator = max(day.miner, key=lambda i: (day.member_scores[i], -i))
    return CommunitySeries(tuple(out), epos, upos, time.perf_counter() - start)
