"""Stackelberg game between an edge server (leader) and N prosumers (paper II.B.2, II.C).

The leader declares a unit elecoin price p in [p_min, p_max] (one for all prosumers,
*unified*, or one per prosumer, *discriminated*); each prosumer answers with its elecoin
demand x_i in [x_min, x_max].

- Prosumer utility, eq. (3): U_i^p = theta ln(x_i w_i / Q + 1) - eta x_i p_i.
- Follower best response, eq. (4): x_i* = theta / (eta p_i) - Q / w_i, clipped to
  [x_min, x_max]; U_i^p is strictly concave in x_i (eq. 5), so clipping the stationary
  point gives the exact constrained maximiser.
- Edge-server utility, eq. (2): U^e = U^m + sum_i p_i x_i - k (sum_i x_i / Q + e_c), with
  the mining utility U^m of eq. (1) (:mod:`gridledger.games.mining`).
- Leader's problem, eqs. (6)-(7): the paper substitutes the *unclipped* eq. (4) into (2).
  :func:`solve_unified` instead maximises the leader's utility with the clipped responses,
  which is piecewise of the form of eq. (6) between the prices where some demand reaches a
  bound; it is concave on each piece (eq. 7), so the optimum is a stationary point of a
  piece or a piece end, and all of them are compared. See docs/decisions.md.

Defaults: the paper gives N = 8, M = 1, lambda = 0.01, l = 1, k = 8, Q = 0.6, eta = 0.3,
R_f = 200, r = 3, s = 200 (section IV.A). It omits theta, w_i, e_c, the bounds and the hash
powers; the values chosen here put the default equilibrium strictly inside the bounds for
every N (documented in docs/decisions.md, "Elecoin market defaults").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridledger.errors import ConfigError
from gridledger.games.mining import mining_utility, success_probability
from gridledger.params import check_choice, check_int, check_number, check_vector

Pricing = Literal["unified", "discriminated"]
PRICINGS: tuple[str, ...] = ("unified", "discriminated")


def default_intentions(n: int) -> tuple[float, ...]:
    """Default service intentions w_i: the midpoints of N equal cells of [0.5, 1.5].

    The paper gives no values; a deterministic spread keeps "diverse intentions"
    (paper IV.B.1) while making every run reproducible without a seed.
    """
    return tuple(float(v) for v in 0.5 + (np.arange(n) + 0.5) / n)


@dataclass(frozen=True)
class ElecoinMarket:
    """Parameters of the elecoin market (paper sections II.B and IV.A)."""

    n_prosumers: int = 8
    """N, number of prosumers (paper IV.A: 8)."""
    n_servers: int = 1
    """M, number of edge servers; server 0 is the Stackelberg leader (paper IV.A: 1)."""
    theta: float = 100.0
    """theta, conversion factor of the service revenue in eq. (3) (not given; chosen)."""
    eta: float = 0.3
    """eta, conversion factor of the elecoin payment in eq. (3) (paper IV.A: 0.3)."""
    k: float = 8.0
    """k, conversion factor of the server's electricity cost in eq. (2) (paper IV.A: 8)."""
    Q: float = 0.6
    """Q, unit electricity price in elecoins per kWh (paper IV.A: 0.6)."""
    e_c: float = 10.0
    """e_c, the edge server's own electricity consumption in eq. (2) (not given; chosen)."""
    w: tuple[float, ...] | None = None
    """w_i, service intention of each prosumer (not given; default :func:`default_intentions`)."""
    p_min: float = 20.0
    """Lowest unit elecoin price (not given; chosen above the unit cost k/Q = 13.3)."""
    p_max: float = 110.0
    """Highest unit elecoin price (not given; chosen so that it binds for Q <= 0.45, cf. Fig. 4c)."""
    x_min: float = 0.0
    """Lowest elecoin demand of a prosumer (not given; chosen)."""
    x_max: float = 8.0
    """Highest elecoin demand of a prosumer (not given; chosen)."""
    R_f: float = 200.0
    """Fixed block reward (paper IV.A: 200)."""
    r: float = 3.0
    """Variable reward factor, R_p = r s (paper IV.A: 3)."""
    s: float = 200.0
    """Block size, transactions per block (paper IV.A: 200)."""
    lam: float = 0.01
    """lambda, propagation factor (paper IV.A: 0.01)."""
    l: float = 1.0
    """Puzzle evaluation metric (paper IV.A: 1)."""
    alpha: tuple[float, ...] | None = None
    """alpha_j, hash power of each edge server (not given; default: equal, 1.0 each)."""
    intentions: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    hash_powers: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_int("n_prosumers", self.n_prosumers, ge=1, le=100_000)
        check_int("n_servers", self.n_servers, ge=1, le=10_000)
        check_number("theta", self.theta, gt=0)
        check_number("eta", self.eta, gt=0)
        check_number("k", self.k, ge=0)
        check_number("Q", self.Q, gt=0)
        check_number("e_c", self.e_c, ge=0)
        check_number("p_min", self.p_min, gt=0)
        check_number("p_max", self.p_max, gt=self.p_min)
        check_number("x_min", self.x_min, ge=0)
        check_number("x_max", self.x_max, gt=self.x_min)
        for name in ("R_f", "r", "s", "lam", "l"):
            check_number(name, getattr(self, name), ge=0)
        if self.w is not None:
            check_vector("w", self.w, self.n_prosumers, "n_prosumers", gt=0)
        if self.alpha is not None:
            check_vector("alpha", self.alpha, self.n_servers, "n_servers", gt=0)
        w = self.w if self.w is not None else default_intentions(self.n_prosumers)
        alpha = self.alpha if self.alpha is not None else (1.0,) * self.n_servers
        object.__setattr__(self, "intentions", np.asarray(w, dtype=float))
        object.__setattr__(self, "hash_powers", np.asarray(alpha, dtype=float))
        self.intentions.setflags(write=False)
        self.hash_powers.setflags(write=False)

    @property
    def unit_cost(self) -> float:
        """The server's cost per elecoin sold, k / Q (from eq. 2)."""
        return self.k / self.Q

    def leader_mining_utility(self) -> float:
        """U^m of the leader (server 0), eq. (1)."""
        return float(mining_utility(self.hash_powers, self.R_f, self.r, self.s, self.lam, self.l)[0])

    def mining_success(self) -> NDArray[np.float64]:
        """rho_j of every server (paper II.B.1)."""
        return success_probability(self.hash_powers, self.lam, self.l, self.s)


@dataclass(frozen=True)
class MarketOutcome:
    """Prices, demands and utilities of one play of the elecoin game."""

    pricing: str
    prices: NDArray[np.float64]
    """Unit elecoin price faced by each prosumer (all equal under unified pricing)."""
    demands: NDArray[np.float64]
    server_utility: float
    prosumer_utilities: NDArray[np.float64]

    @property
    def total_prosumer_utility(self) -> float:
        return float(self.prosumer_utilities.sum())

    @property
    def price(self) -> float | list[float]:
        """The price as reported: a number under unified pricing, a list under discriminated."""
        if self.pricing == "unified":
            return float(self.prices[0])
        return [float(p) for p in self.prices]

    def to_json(self) -> dict[str, object]:
        return {
            "pricing": self.pricing,
            "price": self.price,
            "demands": [float(x) for x in self.demands],
            "server_utility": float(self.server_utility),
            "prosumer_utilities": [float(u) for u in self.prosumer_utilities],
            "total_prosumer_utility": self.total_prosumer_utility,
        }


# Formulas on plain numbers or arrays, shared by the numpy functions below and by the compiled
# learning kernels of gridledger.learn (which cannot take dataclasses).

def prosumer_utility_value(theta: float, eta: float, Q: float, w, x, p):
    """Paper eq. (3): theta ln(x w / Q + 1) - eta x p, on numbers or broadcastable arrays."""
    return theta * np.log1p(x * w / Q) - eta * x * p


def server_utility_value(mining: float, k: float, Q: float, e_c: float, revenue, total_demand):
    """Paper eq. (2): U^m + sum_i p_i x_i - k (sum_i x_i / Q + e_c), from revenue = sum p_i x_i."""
    return mining + revenue - k * (total_demand / Q + e_c)


def server_utility_share(mining: float, k: float, Q: float, e_c: float, n: int, p, x):
    """Prosumer i's share of eq. (2) under discriminated pricing: (p_i - k/Q) x_i + (U^m - k e_c)/N.

    The N shares sum exactly to eq. (2).
    """
    return (p - k / Q) * x + (mining - k * e_c) / n


def _prices(market: ElecoinMarket, prices: ArrayLike) -> NDArray[np.float64]:
    p = np.asarray(prices, dtype=float)
    return np.broadcast_to(p, (*p.shape[:-1], market.n_prosumers)) if p.ndim else np.full(
        market.n_prosumers, float(p))


def prosumer_utility(market: ElecoinMarket, demands: ArrayLike, prices: ArrayLike) -> NDArray[np.float64]:
    """U_i^p = theta ln(x_i w_i / Q + 1) - eta x_i p_i, paper eq. (3).

    ``demands`` and ``prices`` broadcast against each other; the last axis is the prosumer.
    """
    x = np.asarray(demands, dtype=float)
    p = np.asarray(prices, dtype=float)
    return prosumer_utility_value(market.theta, market.eta, market.Q, market.intentions, x, p)


def best_response(market: ElecoinMarket, prices: ArrayLike) -> NDArray[np.float64]:
    """Follower best response, paper eq. (4), clipped to [x_min, x_max].

    ``prices`` is a scalar (unified) or has the prosumer as last axis (discriminated).
    """
    p = np.asarray(prices, dtype=float)
    x = market.theta / (market.eta * p[..., None] if p.ndim == 0 else market.eta * p) \
        - market.Q / market.intentions
    return np.clip(x, market.x_min, market.x_max)


def server_utility(market: ElecoinMarket, prices: ArrayLike, demands: ArrayLike) -> NDArray[np.float64] | float:
    """Leader's utility U^e = U^m + sum_i p_i x_i - k (sum_i x_i / Q + e_c), paper eq. (2).

    Batched over leading axes; the last axis of ``demands`` (and of ``prices`` unless it is
    a scalar) is the prosumer.
    """
    x = np.asarray(demands, dtype=float)
    p = np.asarray(prices, dtype=float)
    revenue = (p * x).sum(axis=-1) if p.ndim else p * x.sum(axis=-1)
    value = server_utility_value(market.leader_mining_utility(), market.k, market.Q, market.e_c, revenue,
                                 x.sum(axis=-1))
    return float(value) if np.ndim(value) == 0 else value


def outcome(market: ElecoinMarket, pricing: str, prices: ArrayLike, demands: ArrayLike) -> MarketOutcome:
    """Evaluate both sides' utilities (eqs. 2-3) for given prices and demands."""
    check_choice("pricing", pricing, PRICINGS)
    p = _prices(market, prices).astype(float).copy()
    x = np.asarray(demands, dtype=float).copy()
    if x.shape != (market.n_prosumers,):
        raise ConfigError("demands", f"must have n_prosumers={market.n_prosumers} values (got {x.size})")
    return MarketOutcome(
        pricing=pricing,
        prices=p,
        demands=x,
        server_utility=float(server_utility(market, p, x)),
        prosumer_utilities=prosumer_utility(market, x, p),
    )


def maximise_margin(a: float, b: ArrayLike, lo: float, hi: float, c: float,
                    p_min: float, p_max: float) -> float:
    """Price p in [p_min, p_max] maximising (p - c) * sum_i clip(a / p - b_i, lo, hi).

    This is the price-dependent part of eq. (2) once the followers play eq. (4) (with
    a = theta / eta, b_i = Q / w_i, c = k / Q). Between two consecutive *breakpoints*
    (prices where some demand reaches a bound) the function has the form of eq. (6):
    n a - n a c / p - D p + c D with n interior followers and D = sum_interior b_i -
    sum_clipped x_i, which is concave (eq. 7) with stationary point sqrt(n a c / D). The
    maximum is therefore among the piece ends and the pieces' stationary points; ties go
    to the lowest price.
    """
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore"):
        breaks = np.concatenate([a / (lo + b), a / (hi + b)])
    breaks = breaks[np.isfinite(breaks) & (breaks > p_min) & (breaks < p_max)]
    knots = np.unique(np.concatenate([[p_min, p_max], breaks]))
    candidates = [knots]
    mids = 0.5 * (knots[:-1] + knots[1:])
    raw = a / mids[:, None] - b[None, :]
    interior = (raw > lo) & (raw < hi)
    n = interior.sum(axis=1)
    clipped_sum = np.where(interior, 0.0, np.clip(raw, lo, hi)).sum(axis=1)
    d = np.where(interior, b[None, :], 0.0).sum(axis=1) - clipped_sum
    ok = (n > 0) & (d > 0) & (c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.sqrt(np.where(ok, n * a * c / np.where(ok, d, 1.0), 0.0))
    inside = ok & (stat > knots[:-1]) & (stat < knots[1:])
    candidates.append(stat[inside])
    cand = np.sort(np.concatenate(candidates))
    values = (cand - c) * np.clip(a / cand[:, None] - b[None, :], lo, hi).sum(axis=1)
    return float(cand[int(np.argmax(values))])


def solve_unified(market: ElecoinMarket) -> MarketOutcome:
    """Stackelberg equilibrium under a unified price (Theorems 1-2, eqs. 4-7, bounds respected)."""
    m = market
    p = maximise_margin(m.theta / m.eta, m.Q / m.intentions, m.x_min, m.x_max, m.unit_cost,
                        m.p_min, m.p_max)
    return outcome(m, "unified", p, best_response(m, p))


def solve_discriminated(market: ElecoinMarket) -> MarketOutcome:
    """Stackelberg equilibrium with one price per prosumer.

    Eq. (2) is additively separable across prosumers once each price is personal, so the
    leader's problem splits into N one-follower problems of the form of eq. (6); interior
    solution p_i* = sqrt(k theta w_i / eta) / Q.
    """
    m = market
    a = m.theta / m.eta
    prices = np.array([
        maximise_margin(a, np.array([m.Q / w]), m.x_min, m.x_max, m.unit_cost, m.p_min, m.p_max)
        for w in m.intentions
    ])
    return outcome(m, "discriminated", prices, best_response(m, prices))


def solve(market: ElecoinMarket, pricing: str = "unified") -> MarketOutcome:
    """Analytic Stackelberg equilibrium for ``pricing`` in {"unified", "discriminated"}."""
    check_choice("pricing", pricing, PRICINGS)
    return solve_unified(market) if pricing == "unified" else solve_discriminated(market)


def interior_unified_price(market: ElecoinMarket) -> float:
    """Unconstrained maximiser of eq. (6): p* = sqrt(k N theta / (eta Q sum_i Q / w_i))."""
    m = market
    return float(np.sqrt(m.k * m.n_prosumers * m.theta / (m.eta * m.Q * np.sum(m.Q / m.intentions))))
