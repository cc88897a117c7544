"""DMA-UBRL: distributed multi-agent utility-balanced RL for the elecoin Stackelberg game
(paper section III.A; its Algorithm 1 was lost in extraction, see docs/decisions.md).

Each agent is an independent WoLF-PHC learner (:mod:`gridledger.learn.wolf`, the design of
the paper's reference [11]) that sees only its own observation and reward:

- the edge server (leader) chooses a price from a grid; its reward is its utility, eq. (2).
  It observes the demands of the previous slot (its state s_e^t of section III.A), but its
  tabular state is a single one: the optimal price does not depend on last slot's demands;
- prosumer i observes the price it is offered (s_p^t = p^t; the state is that price's index
  in the server's public grid) and chooses a demand from a grid; its reward is eq. (3).

The server never sees theta or w_i and the prosumers never see k or e_c: rewards come from
:class:`gridledger.learn.elecoin.env.ElecoinGame`, which alone holds the market parameters.

Unified pricing: one server learner. Discriminated pricing: eq. (2) is a sum of per-prosumer
terms plus constants, so the server runs one price learner per prosumer, each rewarded with
its share (p_i - k/Q) x_i + (U^m - k e_c)/N; the shares sum exactly to eq. (2).

Successive grid refinement (docs/decisions.md, "DMA-UBRL"). Near the equilibrium the leader's
utility is very flat in the price (eq. 7 is small), so on a *fixed* demand grid the rounding
of the followers' demands, not the price, decides the leader's best grid price: the
discretised game's own equilibrium lies several percent from the continuous one even on
450 x 800 grids. DMA-UBRL therefore plays in *stages*: each stage is a fresh WoLF-PHC game on
small grids (``price_levels`` x ``demand_levels``); after it, each learner re-centres its grid
on its greedy action (the server on its price, each prosumer per observed price on its demand)
and, if that action was inside the grid, shrinks the grid to ``zoom_span`` steps either side
(a trust-region rule: an action on the grid's edge moves the grid without shrinking it). Every
agent refines its own grid from its own greedy action only; the server's grid is public, as the
price it announces is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from gridledger.games.stackelberg import ElecoinMarket, MarketOutcome, outcome, prosumer_utility, server_utility
from gridledger.learn.elecoin.env import ElecoinGame
from gridledger.learn.elecoin.kernels import play_stage
from gridledger.learn.wolf import WoLFConfig, WoLFPHC
from gridledger.params import check_int, check_number


@dataclass(frozen=True)
class DMAUBRLConfig:
    """Hyper-parameters of DMA-UBRL (grids, refinement, exploration, stopping)."""

    price_levels: int = 9
    """Size of each price learner's grid per stage."""
    demand_levels: int = 17
    """Size of each prosumer's demand grid per observed price and stage."""
    stages: int = 14
    """Number of grid-refinement stages (1 = a single fixed grid over the whole bounds)."""
    price_zoom_span: float = 2.0
    """After a stage, the new price grid spans this many old steps either side of the greedy price."""
    demand_zoom_span: float = 1.0
    """After a stage, each new demand grid spans this many old steps either side of the greedy
    demand (1 suffices: the grid maximiser of a concave utility, eq. 5, is within one step of
    the true one). The price grid contracts more slowly than the demand grids, because the
    leader's utility is quadratic near its optimum: an error e in the followers' demands
    moves the apparent best price by O(sqrt(e))."""
    stage_episodes: int = 10_000
    """Most episodes (time slots) per stage."""
    explore_start: float = 0.5
    """Probability of a uniformly random demand at the start of a stage."""
    follower_explore_episodes: int = 1_500
    """Episodes over which the prosumers' exploration decays linearly to 0 in each stage."""
    leader_uniform_episodes: int = 4_000
    """Episodes during which the server tries prices uniformly at random in each stage, so that
    the prosumers settle on their responses at every price before the server commits (the
    followers learn on the faster time scale, as a Stackelberg learner needs)."""
    leader_explore_episodes: int = 1_500
    """Episodes, after that, over which the server's exploration decays linearly to 0."""
    eval_every: int = 100
    """Episodes between two looks at the greedy policies."""
    patience: int = 3
    """A stage ends once exploration is over, every learner's policy is pure (below) and the
    greedy actions have not changed for this many looks."""
    purity: float = 0.95
    """A policy counts as pure when its most probable action has at least this probability."""
    server: WoLFConfig = field(default_factory=WoLFConfig)
    """WoLF-PHC parameters of the edge server."""
    prosumer: WoLFConfig = field(default_factory=WoLFConfig)
    """WoLF-PHC parameters of every prosumer."""

    def __post_init__(self) -> None:
        check_int("price_levels", self.price_levels, ge=3, le=100_000)
        check_int("demand_levels", self.demand_levels, ge=3, le=100_000)
        check_int("stages", self.stages, ge=1, le=1_000)
        check_number("price_zoom_span", self.price_zoom_span, ge=1)
        check_number("demand_zoom_span", self.demand_zoom_span, ge=1)
        check_int("stage_episodes", self.stage_episodes, ge=1, le=100_000_000)
        check_number("explore_start", self.explore_start, ge=0, le=1)
        check_int("follower_explore_episodes", self.follower_explore_episodes, ge=0)
        check_int("leader_uniform_episodes", self.leader_uniform_episodes, ge=0)
        check_int("leader_explore_episodes", self.leader_explore_episodes, ge=0)
        check_int("eval_every", self.eval_every, ge=1)
        check_int("patience", self.patience, ge=1)
        check_number("purity", self.purity, gt=0, le=1)


@dataclass(frozen=True)
class LearningTrace:
    """Greedy outcome of the learners every ``eval_every`` episodes."""

    episodes: NDArray[np.int64]
    stage: NDArray[np.int64]
    prices: NDArray[np.float64]          # (T, N) price offered to each prosumer
    demands: NDArray[np.float64]         # (T, N)
    server_utility: NDArray[np.float64]  # (T,)
    prosumer_utility: NDArray[np.float64]  # (T,) total over prosumers


@dataclass(frozen=True)
class DMAUBRLResult:
    outcome: MarketOutcome
    episodes: int
    seconds: float
    trace: LearningTrace


def _recentre(lo: NDArray[np.float64], hi: NDArray[np.float64], greedy: NDArray[np.int64], levels: int,
              span: float, bound_lo: float, bound_hi: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Trust-region update of grids [lo, hi] (any shape) from their greedy level.

    Greedy level inside the grid: the new grid spans ``span`` old steps either side of it.
    Greedy level on an edge: the grid keeps its width and moves ``span`` steps that way.
    """
    step = (hi - lo) / (levels - 1)
    centre = lo + greedy * step
    inside = (greedy > 0) & (greedy < levels - 1)
    direction = np.where(greedy == 0, -1.0, 1.0)
    half = np.where(inside, span * step, 0.5 * (hi - lo))
    mid = np.where(inside, centre, 0.5 * (lo + hi) + direction * span * step)
    half = np.minimum(half, 0.5 * (bound_hi - bound_lo))
    # Keep a usable width: floating-point grids stop shrinking at ~1e-12 of the range.
    half = np.maximum(half, 1e-12 * (bound_hi - bound_lo))
    new_lo = np.clip(mid - half, bound_lo, bound_hi - 2 * half)
    return new_lo, new_lo + 2 * half


class DMAUBRL:
    """The server and prosumer learners of DMA-UBRL for one market and pricing mechanism."""

    def __init__(self, market: ElecoinMarket, pricing: str, config: DMAUBRLConfig,
                 rng: np.random.Generator) -> None:
        self.game = ElecoinGame(market, pricing)
        self.market = market
        self.pricing = pricing
        self.config = config
        self.rng = rng
        n = market.n_prosumers
        b = self.game.n_price_learners
        kp, kx = config.price_levels, config.demand_levels
        self._u_p = np.linspace(0.0, 1.0, kp)
        self._u_x = np.linspace(0.0, 1.0, kx)
        # Grids: the server's price window per price learner; each prosumer's demand window
        # per state (offered-price level).
        self.price_lo = np.full(b, market.p_min)
        self.price_hi = np.full(b, market.p_max)
        self.demand_lo = np.full((n, kp), market.x_min)
        self.demand_hi = np.full((n, kp), market.x_max)
        self._learner_of = np.zeros(n, dtype=np.int64) if pricing == "unified" else np.arange(n)
        self._server_state = np.zeros(b, dtype=np.int64)
        self._rows = np.arange(n)
        self._new_learners()

    def _new_learners(self) -> None:
        c = self.config
        server_rng, prosumer_rng = self.rng.spawn(2)
        self.server = WoLFPHC(self.game.n_price_learners, 1, c.price_levels, c.server, server_rng)
        self.prosumers = WoLFPHC(self.market.n_prosumers, c.price_levels, c.demand_levels, c.prosumer,
                                 prosumer_rng)

    def _prices(self, price_idx: NDArray[np.int64]) -> NDArray[np.float64]:
        return self.price_lo + (self.price_hi - self.price_lo) * self._u_p[price_idx]

    def _demands(self, state: NDArray[np.int64], demand_idx: NDArray[np.int64]) -> NDArray[np.float64]:
        lo = self.demand_lo[self._rows, state]
        return lo + (self.demand_hi[self._rows, state] - lo) * self._u_x[demand_idx]

    def exploration(self, t: int) -> tuple[float, float]:
        """(server, prosumer) probability of a uniformly random action at episode t of a stage."""
        c = self.config
        follower = c.explore_start * max(0.0, 1.0 - t / c.follower_explore_episodes) \
            if c.follower_explore_episodes else 0.0
        u = t - c.leader_uniform_episodes
        leader = 1.0 if u < 0 else max(0.0, 1.0 - u / c.leader_explore_episodes) if c.leader_explore_episodes else 0.0
        return leader, follower

    def _greedy(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        price_idx = self.server.greedy(self._server_state)
        state = price_idx[self._learner_of]
        return price_idx, state, self.prosumers.greedy(state)

    def greedy_outcome(self) -> MarketOutcome:
        """Outcome if every agent plays its most probable action."""
        price_idx, state, demand_idx = self._greedy()
        prices = self.game.offered_prices(self._prices(price_idx))
        return outcome(self.market, self.pricing, prices, self._demands(state, demand_idx))

    def _pure(self) -> bool:
        """Whether the server's policies and the prosumers' policies at the offered prices are pure."""
        _p_idx, state, _ = self._greedy()
        c = self.config
        return bool(self.server.pi[:, 0].max(axis=1).min() >= c.purity
                    and self.prosumers.pi[self._rows, state].max(axis=1).min() >= c.purity)

    def _refine(self) -> None:
        """Re-centre (and, for interior greedy actions, shrink) every learner's grid."""
        c = self.config
        m = self.market
        kp = c.price_levels
        old_prices = self.price_lo[:, None] + (self.price_hi - self.price_lo)[:, None] * self._u_p  # (B, kp)
        greedy_x = np.argmax(self.prosumers.pi, axis=2)  # (N, kp): greedy demand level per state
        new_dlo, new_dhi = _recentre(self.demand_lo, self.demand_hi, greedy_x, c.demand_levels, c.demand_zoom_span,
                                     m.x_min, m.x_max)
        self.price_lo, self.price_hi = _recentre(self.price_lo, self.price_hi, self.server.greedy(
            self._server_state), kp, c.price_zoom_span, m.p_min, m.p_max)
        new_prices = self.price_lo[:, None] + (self.price_hi - self.price_lo)[:, None] * self._u_p
        # Each prosumer carries its per-state demand windows over to the new price levels:
        # a new level between two old ones gets a window centred on the interpolated centre,
        # as wide as the wider neighbour plus a quarter of the neighbours' offset (room for
        # the curvature of the response in the price); a level beyond the old range gets a
        # window around the linear extrapolation of the centres, widened by the extrapolated
        # distance. A window that misses the best response shows it by a greedy demand on its
        # edge, and the next stage moves it (trust region).
        centre = 0.5 * (new_dlo + new_dhi)
        half = 0.5 * (new_dhi - new_dlo)
        for i in range(m.n_prosumers):
            b = self._learner_of[i]
            xp, fp = old_prices[b], new_prices[b]
            j = np.clip(np.searchsorted(xp, fp), 1, kp - 1)
            mid = np.interp(fp, xp, centre[i])
            width = np.maximum(half[i, j - 1], half[i, j])
            lo, hi = mid - width, mid + width
            # Least-squares slope of the centres in price (robust to their rounding).
            xc = xp - xp.mean()
            slope = float(xc @ (centre[i] - centre[i].mean()) / (xc @ xc))
            outside = (fp < xp[0]) | (fp > xp[-1])
            anchor = np.where(fp < xp[0], 0, kp - 1)
            dist = fp - xp[anchor]
            ext = centre[i, anchor] + slope * dist
            reach = half[i, anchor] + 0.5 * abs(slope) * np.abs(dist)
            lo = np.where(outside, ext - reach, lo)
            hi = np.where(outside, ext + reach, hi)
            self.demand_lo[i] = np.clip(lo, m.x_min, m.x_max)
            floor = self.demand_lo[i] + 1e-12 * (m.x_max - m.x_min)
            self.demand_hi[i] = np.maximum(np.clip(hi, m.x_min, m.x_max), floor)
        self._new_learners()

    def _tables(self, learner: WoLFPHC) -> tuple[NDArray[np.float64], ...]:
        return (learner.q, learner.pi, learner.pi_avg, learner.state_visits, learner.visits, learner.future_value)

    @staticmethod
    def _par(cfg: WoLFConfig) -> NDArray[np.float64]:
        return np.array([cfg.sigma, cfg.gamma, cfg.eps_win, cfg.eps_lose,
                         float(cfg.lr_schedule == "harmonic"), float(cfg.future == "shared")])

    def run(self, progress: Callable[[int, int], None] | None = None) -> DMAUBRLResult:
        """Play every stage; ``progress(stage, episodes so far)`` is called after each one."""
        c = self.config
        m = self.market
        start = time.perf_counter()
        market = np.array([m.theta, m.eta, m.Q, m.k, m.e_c, m.leader_mining_utility()])
        schedule = np.array([c.stage_episodes, c.explore_start, c.follower_explore_episodes,
                             c.leader_uniform_episodes, c.leader_explore_episodes, c.eval_every, c.patience,
                             c.purity], dtype=float)
        srv_par, pro_par = self._par(c.server), self._par(c.prosumer)
        n_looks = c.stage_episodes // c.eval_every
        rec_ep, rec_stage, rec_p, rec_x = [], [], [], []
        episode = 0
        for stage in range(c.stages):
            if stage > 0:
                self._refine()
            look_p = np.zeros((n_looks, self.game.n_price_learners))
            look_x = np.zeros((n_looks, m.n_prosumers))
            played, looks = play_stage(
                self._tables(self.server), self._tables(self.prosumers), self.price_lo, self.price_hi, self._u_p,
                self.demand_lo, self.demand_hi, self._u_x, self._learner_of, market, m.intentions,
                self.pricing == "unified", schedule, srv_par, pro_par, self.rng, look_p, look_x)
            rec_ep.append(episode + c.eval_every * np.arange(1, looks + 1))
            rec_stage.append(np.full(looks, stage))
            rec_p.append(look_p[:looks])
            rec_x.append(look_x[:looks])
            episode += played
            if progress is not None:
                progress(stage, episode)
        seconds = time.perf_counter() - start
        prices = np.concatenate(rec_p)
        offered = prices[:, self._learner_of]
        demands = np.concatenate(rec_x)
        trace = LearningTrace(
            episodes=np.concatenate(rec_ep).astype(np.int64),
            stage=np.concatenate(rec_stage).astype(np.int64),
            prices=offered,
            demands=demands,
            server_utility=np.asarray(server_utility(m, offered, demands), dtype=float).reshape(-1),
            prosumer_utility=prosumer_utility(m, demands, offered).sum(axis=1),
        )
        return DMAUBRLResult(outcome=self.greedy_outcome(), episodes=episode, seconds=seconds, trace=trace)


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
