"""DMA-UBRL: distributed multi-agent utility-balanced RL for the elecoin Stackelberg game
(paper section III.A; its Algorithm 1 was lost in extraction, see docs/decisions.md).

Each agent is an independent WoLF-PHC learner (:mod:`gridledger.learn.wolf`, the design of
the paper's reference [11]) that sees only its own observation and reward:

- the edge server (leader) chooses a price from a grid; its reward is its utility, eq. (2).
  It observes the demands of the previous slot (its state s_e^t of section III.A), but its
  tabular state is a single one: the optimal price does not depend on last slot's demands;
- prosumer i observes the price it is offered (s_p^t = p^t; the state is that price's index
  in the server's public grid) and chooses a demand from a grid; its reward is eq. (3).

The server never sees theta, eta or w_i and the prosumers never see k or e_c: rewards come from
the environment block of :func:`gridledger.learn.elecoin.kernels.play`, which alone holds the
market parameters.

Unified pricing: one server learner. Discriminated pricing: eq. (2) is a sum of per-prosumer
terms plus constants, so the server runs one price learner per prosumer, each rewarded with
its share (p_i - k/Q) x_i + (U^m - k e_c)/N; the shares sum exactly to eq. (2).

Robust by design (docs/decisions.md, "DMA-UBRL"): nothing is scaled to a particular market.

- *Grids from what each agent knows.* The server's first grid is geometric over its own
  [p_min, p_max] (an equilibrium at 1% of the range is as visible as one in the middle); a
  prosumer's first grid at a price runs from its x_min geometrically up to its x_max (a demand
  of 0.3 in [0, 41.5] is seen). Every agent then refines its own grid by a trust-region rule
  (:func:`gridledger.learn.elecoin.kernels.next_grid`): the bracket around its greedy action,
  approached geometrically when that action is on its bound, moved and widened when it is on
  an edge that is not a bound, until the maximiser is pinned to a tolerance.
- *Stages decided by each agent from its own statistics.* A prosumer ends a round at a price
  once its policy there is pure, and refines or settles. A price learner quotes uniformly
  while its prosumers learn (warm-up) and ends the warm-up once every price on its grid has
  paid it the same reward, with the same demands asked for (its state s_e^t of the paper),
  ``stable_visits`` times running (its prosumers have settled: their answers no longer change;
  the demands matter because rationing makes the reward constant while they still move); it
  then learns its price with a fresh WoLF-PHC learner whose Q-values start from those rewards,
  and refines once its policy is pure. No agent reads another's tables.
- *Several peaks.* With clipped demands the leader's utility can have several local maxima;
  the server keeps grid peaks within ``candidate_gap`` of its best as candidates, pins each,
  and settles on the best.
- *Honest results.* The run reports ``converged`` (every price learner pinned its price
  without hitting a cap and every prosumer settled at the price it is offered, each by its own
  rule) and ``band_width``, the relative width of the price band the learners last observed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gridledger.errors import ConfigError
from gridledger.games.stackelberg import (
    PRICINGS,
    ElecoinMarket,
    MarketOutcome,
    outcome,
    prosumer_utility,
    ration,
    server_utility,
)
from gridledger.learn.elecoin import kernels as kern
from gridledger.learn.wolf import WoLFConfig, WoLFPHC
from gridledger.params import check_choice, check_int, check_number

CHUNK = 20_000
"""Time slots per compiled call (progress is reported between calls)."""


@dataclass(frozen=True)
class DMAUBRLConfig:
    """Hyper-parameters of DMA-UBRL (grids, tolerances, each agent's own stage rules, budget)."""

    price_levels: int = 9
    """Prices on each price learner's grid."""
    demand_levels: int = 17
    """Demands on each prosumer's grid, per offered price."""
    purity: float = 0.95
    """A policy counts as settled when its most probable action has at least this probability."""
    round_purity: float = 0.3
    """A prosumer refines its grid at a price once its most probable demand there has at least
    this probability (it settles, once pinned, only at ``purity``)."""
    explore_start: float = 0.5
    """Probability of a uniformly random demand at the start of a prosumer's round at a price."""
    explore_visits: int = 50
    """Visits of a price over which that probability decays linearly to 0 in each round."""
    stable_visits: int = 10
    """A price learner ends its warm-up once every price on its grid has paid it the same reward,
    with the same demands asked for, this many times running."""
    rationed_visits: int = 1_000
    """(Supply-limited market) ... or where it had to ration supply at each of its last this many
    visits of that price while the total asked for did not shrink (pro rata rationing gives the
    prosumers no resting point there, and the server sells all of S whatever they ask)."""
    warmup_max: int = 200_000
    """Most slots of one warm-up; a warm-up stopped here marks the result not converged."""
    price_tol: float = 1e-4
    """A price learner pins its price once the bracket around it is narrower than this (relative)."""
    demand_tol: float = 1e-6
    """A prosumer settles once the bracket around its demand is narrower than this (relative) ..."""
    demand_tol_abs: float = 1e-9
    """... or than this fraction of its range x_max - x_min (a demand on or near 0)."""
    bound_resolution: float = 1e-4
    """Grids that approach a bound start this fraction of the bracket away from it."""
    candidate_gap: float = 0.05
    """Other peaks of the server's Q-values within this fraction of the best are refined too."""
    max_candidates: int = 4
    """Most such candidate peaks per price learner."""
    candidate_separation: float = 0.005
    """... if they lie further than this fraction of the price from the best (closer peaks
    cannot put the price further off than this)."""
    max_stages: int = 80
    """Most stages per price learner; one that stops here is not converged."""
    max_episodes: int = 5_000_000
    """Budget of time slots; a run that ends here is not converged."""
    eval_every: int = 100
    """Slots between two looks at the learners' estimates (the learning trace)."""
    band_looks: int = 10
    """Looks over which the reported price band is observed."""
    server: WoLFConfig = field(default_factory=lambda: WoLFConfig(tie=1e-8))
    """WoLF-PHC parameters of the edge server. Its ties are wider than a prosumer's: its rewards
    carry the prosumers' demands, pinned only to ``demand_tol``, so prices whose rewards agree
    to 1e-8 are not told apart (the lowest wins, the analytic convention)."""
    prosumer: WoLFConfig = field(default_factory=WoLFConfig)
    """WoLF-PHC parameters of every prosumer."""

    def __post_init__(self) -> None:
        check_int("price_levels", self.price_levels, ge=3, le=10_000)
        check_int("demand_levels", self.demand_levels, ge=3, le=10_000)
        check_number("purity", self.purity, gt=0, le=1)
        check_number("round_purity", self.round_purity, gt=0, le=self.purity)
        check_number("explore_start", self.explore_start, ge=0, le=1)
        check_int("explore_visits", self.explore_visits, ge=0, le=100_000_000)
        check_int("stable_visits", self.stable_visits, ge=1, le=100_000)
        check_int("rationed_visits", self.rationed_visits, ge=1, le=1_000_000_000)
        check_int("warmup_max", self.warmup_max, ge=1, le=1_000_000_000)
        check_number("price_tol", self.price_tol, gt=0, lt=1)
        check_number("demand_tol", self.demand_tol, gt=0, lt=1)
        check_number("demand_tol_abs", self.demand_tol_abs, gt=0, lt=1)
        check_number("bound_resolution", self.bound_resolution, gt=0, lt=1)
        check_number("candidate_gap", self.candidate_gap, ge=0)
        check_int("max_candidates", self.max_candidates, ge=0, le=1_000)
        check_number("candidate_separation", self.candidate_separation, ge=0)
        check_int("max_stages", self.max_stages, ge=1, le=100_000)
        check_int("max_episodes", self.max_episodes, ge=1, le=10_000_000_000)
        check_int("eval_every", self.eval_every, ge=1, le=100_000_000)
        check_int("band_looks", self.band_looks, ge=1, le=1_000_000)

    def schedule(self) -> NDArray[np.float64]:
        """The schedule vector of :mod:`gridledger.learn.elecoin.kernels`."""
        return np.array([self.purity, self.explore_start, self.explore_visits, self.stable_visits, self.warmup_max,
                         self.price_tol, self.demand_tol, self.demand_tol_abs, self.bound_resolution,
                         self.candidate_gap, self.max_candidates, self.max_stages, self.eval_every,
                         self.candidate_separation, self.round_purity, self.rationed_visits], dtype=float)


@dataclass(frozen=True)
class LearningTrace:
    """The learners' own estimates every ``eval_every`` episodes (from the first one on).

    Prices are each price learner's current estimate (its last greedy price); demands are each
    prosumer's estimate of its demand at the price it would be offered, from its own archive.
    Looks before every learner has an estimate are left out.
    """

    episodes: NDArray[np.int64]
    stage: NDArray[np.int64]
    prices: NDArray[np.float64]          # (T, N) price offered to each prosumer
    demands: NDArray[np.float64]         # (T, N) demand asked for (before rationing)
    server_utility: NDArray[np.float64]  # (T,)
    prosumer_utility: NDArray[np.float64]  # (T,) total over prosumers


@dataclass(frozen=True)
class DMAUBRLResult:
    outcome: MarketOutcome
    episodes: int
    seconds: float
    trace: LearningTrace
    converged: bool
    """Every price learner pinned its price (no cap hit) and every prosumer settled at its price."""
    band_width: float
    """Relative width of the price band the learners last observed (worst price learner): the
    spread of their estimates over the last ``band_looks`` looks together with the bracket around
    their final price, or the grid they are still searching."""
    stages: int
    """Stages ended by the busiest price learner."""


def _par(cfg: WoLFConfig) -> NDArray[np.float64]:
    return np.array([cfg.sigma, cfg.gamma, cfg.eps_win, cfg.eps_lose,
                     float(cfg.lr_schedule == "harmonic"), float(cfg.future == "shared"), cfg.tie])


class DMAUBRL:
    """The server and prosumer learners of DMA-UBRL for one market and pricing mechanism."""

    def __init__(self, market: ElecoinMarket, pricing: str, config: DMAUBRLConfig,
                 rng: np.random.Generator) -> None:
        check_choice("pricing", pricing, PRICINGS)
        if market.supply is not None and pricing != "unified":
            raise ConfigError("pricing", "DMA-UBRL learns the supply-limited market under unified pricing only "
                                         "(got discriminated with supply set)")
        self.market = market
        self.pricing = pricing
        self.config = config
        self.rng = rng
        n = market.n_prosumers
        b = 1 if pricing == "unified" else n
        kp, kx = config.price_levels, config.demand_levels
        cap = config.max_candidates + 1
        server_rng, prosumer_rng = rng.spawn(2)
        self.server = WoLFPHC(b, 1, kp, config.server, server_rng)
        self.prosumers = WoLFPHC(n, kp, kx, config.prosumer, prosumer_rng)
        self._learner_of = np.zeros(n, dtype=np.int64) if pricing == "unified" else np.arange(n, dtype=np.int64)
        # Price learners: grid, warm-up statistics, stage state, candidate grids, pinned prices.
        self.price_levels = np.zeros((b, kp))
        self._lint = np.zeros((b, kern.N_LINT), dtype=np.int64)
        self._lint[:, kern.CURRENT] = -1
        self._llast = np.zeros((b, kp))
        self._lobs = np.zeros((b, kp))
        self._lasked = np.zeros((b, kp))
        self._lrat0 = np.zeros((b, kp))
        self._lstable = np.full((b, kp), -1, dtype=np.int64)
        self._lrat = np.zeros((b, kp), dtype=np.int64)
        self._lest = np.full(b, np.nan)
        self._cand = np.zeros((b, max(config.max_candidates, 1), kp))
        self._fin_lev = np.zeros((b, cap, kp))
        self._fin_val = np.zeros((b, cap))
        self._fin_g = np.zeros((b, cap), dtype=np.int64)
        self._fin_floor = np.zeros((b, cap), dtype=np.int64)
        # Prosumers: demand grid per offered price, round statistics, archive of settled demands.
        self.demand_levels = np.zeros((n, kp, kx))
        self._ft = np.zeros((n, kp), dtype=np.int64)
        self._fset = np.zeros((n, kp), dtype=np.int64)
        self._arch_p = np.zeros((n, 512))
        self._arch_x = np.zeros((n, 512))
        self._n_arch = np.zeros(n, dtype=np.int64)
        self._prev_s = np.zeros(n, dtype=np.int64)
        self._prev_a = np.zeros(n, dtype=np.int64)
        self._prev_r = np.zeros(n)
        self._has_prev = np.zeros(n, dtype=np.int64)
        self._clock = np.zeros(1, dtype=np.int64)
        m = market
        self._market = np.array([m.theta, m.eta, m.Q, m.k, m.e_c, m.leader_mining_utility(),
                                 -1.0 if m.supply is None else m.supply, m.p_min, m.p_max, m.x_min, m.x_max])
        self._sched = config.schedule()
        first = np.zeros(kp)
        kern.fill_geometric(first, m.p_min, m.p_max)
        for j in range(b):
            self._install(j, first)

    def _leader(self) -> tuple[NDArray, ...]:
        s = self.server
        return (self.price_levels, s.q, s.pi, s.pi_avg, s.state_visits, s.visits, s.future_value, self._lint,
                self._llast, self._lobs, self._lasked, self._lstable, self._lrat, self._lrat0, self._lest,
                self._cand, self._fin_lev, self._fin_val, self._fin_g, self._fin_floor)

    def _follower(self) -> tuple[NDArray, ...]:
        p = self.prosumers
        return (self.demand_levels, p.q, p.pi, p.pi_avg, p.state_visits, p.visits, p.future_value, self._ft,
                self._fset, self._arch_p, self._arch_x, self._n_arch, self._prev_s, self._prev_a, self._prev_r,
                self._has_prev)

    def _install(self, b: int, levels: NDArray[np.float64]) -> None:
        p = self.prosumers
        kern.install_prices(b, levels, self.price_levels, self._llast, self._lstable, self._lrat, self._lint,
                            self._learner_of, self.demand_levels, p.q, p.pi, p.pi_avg, p.state_visits, p.visits,
                            self._ft, self._fset, self._arch_p, self._arch_x, self._n_arch, self._has_prev,
                            self._market, self._sched)

    def _final_choice(self) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """(greedy price level, price, asked demand) of every learner and prosumer now."""
        price_idx = np.argmax(self.server.pi[:, 0], axis=1)
        prices = self.price_levels[np.arange(len(price_idx)), price_idx]
        state = price_idx[self._learner_of]
        rows = np.arange(self.market.n_prosumers)
        demand_idx = np.argmax(self.prosumers.pi[rows, state], axis=1)
        return state, prices, self.demand_levels[rows, state, demand_idx]

    def greedy_outcome(self) -> MarketOutcome:
        """Outcome if every agent plays its most probable action (supply rationed pro rata).

        A price learner still in a stage answers with its last estimate (the greedy price of its
        last stage) and each of its prosumers with its own estimate of its demand there.
        """
        _state, prices, asked = self._final_choice()
        prices, asked = prices.copy(), asked.copy()
        for b in range(len(prices)):
            if self._lint[b, kern.PHASE] != kern.DONE and np.isfinite(self._lest[b]):
                prices[b] = self._lest[b]
                for i in np.flatnonzero(self._learner_of == b):
                    est = kern.archive_estimate(self._arch_p, self._arch_x, self._n_arch, i, prices[b])
                    if np.isfinite(est):
                        asked[i] = est
        offered = prices[self._learner_of]
        return outcome(self.market, self.pricing, offered, ration(self.market, asked))

    def run(self, progress: Callable[[int, int], None] | None = None) -> DMAUBRLResult:
        """Play until every price learner has stopped or the budget is spent.

        ``progress(stage, episodes so far)`` is called after every compiled chunk of slots.
        """
        c = self.config
        m = self.market
        start = time.perf_counter()
        srv_par, pro_par = _par(c.server), _par(c.prosumer)
        rec_ep, rec_stage, rec_p, rec_x = [], [], [], []
        episode = 0
        done = False
        while episode < c.max_episodes and not done:
            chunk = min(CHUNK, c.max_episodes - episode)
            n_looks = chunk // c.eval_every + 1
            look_p = np.zeros((n_looks, self.server.shape[0]))
            look_x = np.zeros((n_looks, m.n_prosumers))
            look_stage = np.zeros(n_looks, dtype=np.int64)
            clock0 = int(self._clock[0])
            played, looks, done = kern.play(self._leader(), self._follower(), self._learner_of, m.intentions,
                                         self._market, self._sched, srv_par, pro_par, self.pricing == "unified",
                                         self.rng, chunk, self._clock, look_p, look_x, look_stage)
            first_look = (clock0 // c.eval_every + 1) * c.eval_every
            rec_ep.append(first_look + c.eval_every * np.arange(looks))
            rec_stage.append(look_stage[:looks])
            rec_p.append(look_p[:looks])
            rec_x.append(look_x[:looks])
            episode += played
            if progress is not None:
                progress(int(self._lint[:, kern.STAGE].max()), episode)
            if played == 0:
                break
        seconds = time.perf_counter() - start
        trace = self._trace(rec_ep, rec_stage, rec_p, rec_x)
        state, _prices, _asked = self._final_choice()
        rows = np.arange(m.n_prosumers)
        learners_ok = bool(np.all((self._lint[:, kern.PHASE] == kern.DONE) & (self._lint[:, kern.DONE_FLOOR] == 1)))
        prosumers_ok = bool(np.all(self._fset[rows, state] == 1))
        return DMAUBRLResult(outcome=self.greedy_outcome(), episodes=episode, seconds=seconds, trace=trace,
                             converged=learners_ok and prosumers_ok, band_width=self._band_width(trace),
                             stages=int(self._lint[:, kern.STAGE].max()))

    def _trace(self, rec_ep, rec_stage, rec_p, rec_x) -> LearningTrace:
        m = self.market
        prices = np.concatenate(rec_p)[:, self._learner_of] if rec_p else np.zeros((0, m.n_prosumers))
        demands = np.concatenate(rec_x) if rec_x else np.zeros((0, m.n_prosumers))
        keep = np.all(np.isfinite(prices), axis=1) & np.all(np.isfinite(demands), axis=1)
        prices, demands = prices[keep], demands[keep]
        allocated = ration(m, demands)
        return LearningTrace(
            episodes=np.concatenate(rec_ep).astype(np.int64)[keep] if rec_ep else np.zeros(0, dtype=np.int64),
            stage=np.concatenate(rec_stage).astype(np.int64)[keep] if rec_stage else np.zeros(0, dtype=np.int64),
            prices=prices,
            demands=demands,
            server_utility=np.asarray(server_utility(m, prices, allocated), dtype=float).reshape(-1),
            prosumer_utility=prosumer_utility(m, allocated, prices).sum(axis=1),
        )

    def _band_width(self, trace: LearningTrace) -> float:
        """Relative width of the band holding each learner's recent estimates and its last bracket."""
        widths = []
        recent = trace.prices[-self.config.band_looks:]
        prices = self.greedy_outcome().prices
        for b in range(self.server.shape[0]):
            i = int(np.flatnonzero(self._learner_of == b)[0])
            seen = np.concatenate([recent[:, i], [prices[i]]])
            lev = self.price_levels[b]
            if self._lint[b, kern.PHASE] == kern.DONE:
                g = int(np.argmax(self.server.pi[b, 0]))
                lo, hi = lev[max(g - 1, 0)], lev[min(g + 1, len(lev) - 1)]
            else:  # still searching its current grid
                lo, hi = lev[0], lev[-1]
            lo, hi = min(lo, seen.min()), max(hi, seen.max())
            widths.append((hi - lo) / prices[i])
        return float(max(widths))


def relative_errors(learned: MarketOutcome, reference: MarketOutcome) -> dict[str, float]:
    """Relative gaps of price (worst prosumer), server utility and total prosumer utility."""
    return {
        "price": float(np.max(np.abs(learned.prices - reference.prices) / np.abs(reference.prices))),
        "server_utility": abs(learned.server_utility - reference.server_utility) / abs(reference.server_utility),
        "prosumer_utility": abs(learned.total_prosumer_utility - reference.total_prosumer_utility)
        / abs(reference.total_prosumer_utility),
    }


def within_band(learned: MarketOutcome, reference: MarketOutcome, tol: float = 0.02) -> bool:
    """True when price(s), server utility and total prosumer utility are all within ``tol`` (relative)."""
    return all(v <= tol for v in relative_errors(learned, reference).values())
