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
- Supply-limited market (an option, off by default): the server offers at most S elecoins per
  time slot (Algorithm 2's ``totalElecoins``, spent per slot), shared by the prosumers. The
  leader's problem becomes eq. (2) subject to sum_i x_i(p) <= S; when even p_max leaves the
  prosumers asking for more than S, the price is p_max and the supply is rationed pro rata
  (:func:`ration`). See docs/decisions.md, "Supply-limited market".

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
RATIONINGS: tuple[str, ...] = ("pro-rata",)


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
    supply: float | None = None
    """S, elecoins the leader can sell per time slot, shared by the prosumers (Algorithm 2's
    ``totalElecoins``; the paper's eqs. (2)-(7) have no such limit). None (default): unlimited,
    the market of eqs. (2)-(7) as printed. Requires x_min = 0."""
    rationing: str = "pro-rata"
    """How S is shared when the prosumers ask for more at the price charged (only when p_max
    binds in equilibrium, or while learning): "pro-rata", each gets x_i S / sum_j x_j."""
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
        if self.supply is not None:
            check_number("supply", self.supply, gt=0)
            if self.x_min != 0:
                raise ConfigError("x_min", f"must be 0 when supply is set (got {self.x_min:g})")
        check_choice("rationing", self.rationing, RATIONINGS)
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


def ration(market: ElecoinMarket, requests: ArrayLike) -> NDArray[np.float64]:
    """Elecoins each prosumer receives when asking for ``requests`` (last axis: the prosumer).

    Without a supply limit every request is served. With supply S, requests adding up to more
    than S are cut pro rata, x_i S / sum_j x_j (``rationing = "pro-rata"``), so that the
    allocations add up to S exactly (docs/decisions.md, "Supply-limited market").
    """
    x = np.asarray(requests, dtype=float)
    if market.supply is None:
        return x
    total = x.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(total > market.supply, market.supply / np.where(total > 0, total, 1.0), 1.0)
    return x * scale


def market_demands(market: ElecoinMarket, prices: ArrayLike) -> NDArray[np.float64]:
    """Elecoins bought at ``prices``: the best responses of eq. (4), rationed if supply binds."""
    return ration(market, best_response(market, prices))


def maximise_margin_each(a: float, b: ArrayLike, lo: float, hi: float, c: ArrayLike | float,
                         p_min: float, p_max: float) -> NDArray[np.float64]:
    """For every follower i alone, the price maximising (p - c) clip(a / p - b_i, lo, hi).

    The one-follower case of :func:`maximise_margin`, vectorised over followers (discriminated
    pricing): the demand is lo above a / (lo + b_i), hi below a / (hi + b_i) (on both pieces
    the margin grows with p, so only their right ends count) and interior in between, where
    eq. (6) with N = 1 is concave (eq. 7) with stationary point sqrt(a c / b_i). The maximum is
    therefore among p_min, p_max, the two breakpoints and the stationary point; ties go to the
    lowest price.
    """
    b = np.asarray(b, dtype=float)
    c_arr = np.broadcast_to(np.asarray(c, dtype=float), b.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.sqrt(np.where(c_arr > 0, a * c_arr / b, 0.0))
        cand = np.stack([np.full(b.shape, p_min), np.full(b.shape, p_max), a / (lo + b), a / (hi + b), stat])
    cand = np.clip(np.where(np.isfinite(cand), cand, p_min), p_min, p_max)
    cand = np.sort(cand, axis=0)
    values = (cand - c_arr) * np.clip(a / cand - b, lo, hi)
    best = np.argmax(values, axis=0)
    return np.take_along_axis(cand, best[None, :], axis=0)[0]


def _total_demand(market: ElecoinMarket, p: float) -> float:
    return float(best_response(market, p).sum())


def supply_clearing_price(market: ElecoinMarket) -> float:
    """Lowest unified price p in [p_min, p_max] at which the best responses (eq. 4) add up to
    at most S, or +inf when even p_max leaves more than S asked for.

    Total demand is continuous and non-increasing in p, so the constraint sum_i x_i(p) <= S of
    the supply-limited leader's problem is exactly p >= this price. Found by bisection to the
    last floating-point digit.
    """
    m = market
    if m.supply is None or _total_demand(m, m.p_min) <= m.supply:
        return m.p_min
    if _total_demand(m, m.p_max) > m.supply:
        return float("inf")
    lo, hi = m.p_min, m.p_max  # total(lo) > S >= total(hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _total_demand(m, mid) > m.supply:
            lo = mid
        else:
            hi = mid
    return hi


def _rationed_at_cap(market: ElecoinMarket, pricing: str) -> MarketOutcome:
    """p_max for everyone, supply shared pro rata: when even p_max leaves more than S asked for."""
    m = market
    return outcome(m, pricing, m.p_max, ration(m, best_response(m, m.p_max)))


def solve_unified(market: ElecoinMarket) -> MarketOutcome:
    """Stackelberg equilibrium under a unified price (Theorems 1-2, eqs. 4-7, bounds respected).

    With a supply S the leader's problem is restricted to the prices whose demand fits in S,
    p >= :func:`supply_clearing_price`; if none does, the price is p_max and S is rationed.
    """
    m = market
    p_floor = supply_clearing_price(m)
    if not np.isfinite(p_floor):
        return _rationed_at_cap(m, "unified")
    p = maximise_margin(m.theta / m.eta, m.Q / m.intentions, m.x_min, m.x_max, m.unit_cost, p_floor, m.p_max)
    return outcome(m, "unified", p, best_response(m, p))


def _discriminated_prices(market: ElecoinMarket, shadow: float) -> NDArray[np.float64]:
    m = market
    return maximise_margin_each(m.theta / m.eta, m.Q / m.intentions, m.x_min, m.x_max, m.unit_cost + shadow,
                                m.p_min, m.p_max)


def solve_discriminated(market: ElecoinMarket) -> MarketOutcome:
    """Stackelberg equilibrium with one price per prosumer.

    Eq. (2) is additively separable across prosumers once each price is personal, so the
    leader's problem splits into N one-follower problems of the form of eq. (6); interior
    solution p_i* = sqrt(k theta w_i / eta) / Q.

    With a supply S that the separate optima exceed, the leader maximises eq. (2) subject to
    sum_i x_i <= S. In quantities each prosumer's revenue (a / (x + b_i) - k/Q) x is concave
    (x_min = 0), so the constraint has a multiplier mu >= 0 and every prosumer is priced as if
    each elecoin cost k/Q + mu: p_i = sqrt((k/Q + mu) a / b_i) when interior. mu is found by
    bisection so that the demands add up to S (on the feasible side). If even p_max for
    everyone leaves more than S asked for, everyone pays p_max and S is rationed.
    """
    m = market
    prices = _discriminated_prices(m, 0.0)
    if m.supply is not None and best_response(m, prices).sum() > m.supply:
        if best_response(m, m.p_max).sum() > m.supply:
            return _rationed_at_cap(m, "discriminated")
        lo, hi = 0.0, max(m.p_max - m.unit_cost, 0.0)
        # sum_i x_i(p_i(mu)) is continuous and non-increasing in mu; at hi every p_i = p_max.
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            if best_response(m, _discriminated_prices(m, mid)).sum() > m.supply:
                lo = mid
            else:
                hi = mid
        prices = _discriminated_prices(m, hi)
    return outcome(m, "discriminated", prices, best_response(m, prices))


def solve(market: ElecoinMarket, pricing: str = "unified") -> MarketOutcome:
    """Analytic Stackelberg equilibrium for ``pricing`` in {"unified", "discriminated"}."""
    check_choice("pricing", pricing, PRICINGS)
    return solve_unified(market) if pricing == "unified" else solve_discriminated(market)


def interior_unified_price(market: ElecoinMarket) -> float:
    """Unconstrained maximiser of eq. (6): p* = sqrt(k N theta / (eta Q sum_i Q / w_i))."""
    m = market
    return float(np.sqrt(m.k * m.n_prosumers * m.theta / (m.eta * m.Q * np.sum(m.Q / m.intentions))))


@dataclass(frozen=True)
class MarketDistribution:
    """A distribution of random elecoin markets, for robustness tests and benchmarks.

    Documented in docs/elecoin.md ("Random markets"). Scale parameters are drawn log-uniformly
    between their bounds (so that 1-10 is as likely as 100-1000); the paper's k = 8 and eta = 0.3
    are kept. Prices: p_min is a random multiple (1 to ``p_min_cost_max``) of the unit cost
    k/Q, so that every sale can pay its cost, and p_max a log-uniform multiple of p_min. The
    equilibrium then lies anywhere in the price range, on p_min or p_max, or at 1% of it;
    demands lie anywhere in [0, x_max], on 0 or on x_max. A market in which nobody buys at the
    equilibrium (every price is then an equilibrium) is drawn again.
    """

    n_min: int = 2
    """Fewest prosumers N."""
    n_max: int = 64
    """Most prosumers N (N is log-uniform between the two)."""
    theta_min: float = 1.0
    theta_max: float = 500.0
    w_min: float = 0.1
    """Each prosumer's intention w_i is drawn independently."""
    w_max: float = 10.0
    x_max_min: float = 0.5
    x_max_max: float = 100.0
    Q_min: float = 0.3
    """Q (the range of the paper's Fig. 4c-d)."""
    Q_max: float = 1.0
    e_c_max: float = 5.0
    """e_c is uniform on [0, e_c_max]."""
    p_min_cost_max: float = 1.5
    """p_min / (k/Q) is uniform on [1, p_min_cost_max]."""
    p_ratio_min: float = 1.5
    """p_max / p_min is log-uniform on [p_ratio_min, p_ratio_max]."""
    p_ratio_max: float = 200.0

    def __post_init__(self) -> None:
        check_int("n_min", self.n_min, ge=1, le=100_000)
        check_int("n_max", self.n_max, ge=self.n_min, le=100_000)
        for low, high in (("theta_min", "theta_max"), ("w_min", "w_max"), ("x_max_min", "x_max_max"),
                          ("Q_min", "Q_max"), ("p_ratio_min", "p_ratio_max")):
            check_number(low, getattr(self, low), gt=0)
            check_number(high, getattr(self, high), ge=getattr(self, low))
        check_number("p_ratio_min", self.p_ratio_min, gt=1)
        check_number("e_c_max", self.e_c_max, ge=0)
        check_number("p_min_cost_max", self.p_min_cost_max, ge=1)


def _log_uniform(rng: np.random.Generator, low: float, high: float, size: int | None = None):
    return np.exp(rng.uniform(np.log(low), np.log(high), size=size))


def draw_market(distribution: MarketDistribution, rng: np.random.Generator, pricing: str = "unified",
                **fixed: object) -> ElecoinMarket:
    """One market from ``distribution`` in which somebody buys at the ``pricing`` equilibrium.

    ``fixed`` overrides drawn fields (e.g. ``n_prosumers=8``, ``supply=24``).
    """
    check_choice("pricing", pricing, PRICINGS)
    d = distribution
    for _ in range(1000):
        n = int(fixed.get("n_prosumers", int(np.rint(_log_uniform(rng, d.n_min, d.n_max)))))
        k = float(fixed.get("k", 8.0))
        q = float(_log_uniform(rng, d.Q_min, d.Q_max))
        p_min = k / q * float(rng.uniform(1.0, d.p_min_cost_max))
        params: dict[str, object] = {
            "n_prosumers": n, "k": k, "eta": 0.3, "Q": q,
            "theta": float(_log_uniform(rng, d.theta_min, d.theta_max)),
            "w": tuple(float(v) for v in _log_uniform(rng, d.w_min, d.w_max, size=n)),
            "e_c": float(rng.uniform(0.0, d.e_c_max)),
            "x_min": 0.0, "x_max": float(_log_uniform(rng, d.x_max_min, d.x_max_max)),
            "p_min": p_min, "p_max": p_min * float(_log_uniform(rng, d.p_ratio_min, d.p_ratio_max)),
        }
        params.update(fixed)
        market = ElecoinMarket(**params)  # type: ignore[arg-type]
        if solve(market, pricing).demands.sum() > 0:
            return market
    raise ConfigError("distribution", "no market with trade drawn in 1000 attempts")
