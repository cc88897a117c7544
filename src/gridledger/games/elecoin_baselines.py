"""Baselines of the paper's section IV.B for the elecoin market.

- *GA, prosumers only* / *GA, server only*: a genetic algorithm (pymoo's GA) chooses the whole
  decision, the price(s) and every demand within their bounds, to maximise either the total
  prosumer utility (sum of eq. 3) or the edge server's utility (eq. 2), ignoring the other
  side. The paper does not say which variables its GA controls; choosing all of them is what
  makes "considering one side's utility only" lead to "poor performance of the opposite side"
  (docs/decisions.md, "Elecoin baselines").
- *Random*: the server draws its price(s) and each prosumer its demand uniformly within the
  bounds ("dummy random policies"); the outcome reported is the average over many draws.

In the supply-limited market both baselines' demands are rationed pro rata like everyone's
(:func:`gridledger.games.stackelberg.ration`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pymoo.algorithms.soo.nonconvex.ga import GA
from pymoo.core.problem import Problem
from pymoo.optimize import minimize

from gridledger.games.stackelberg import (
    PRICINGS,
    ElecoinMarket,
    MarketOutcome,
    outcome,
    prosumer_utility,
    ration,
    server_utility,
)
from gridledger.params import check_choice, check_int

GA_OBJECTIVES = ("prosumers", "server")


@dataclass(frozen=True)
class GAConfig:
    """Genetic-algorithm settings (pymoo GA: tournament selection, SBX crossover, polynomial mutation)."""

    pop_size: int = 100
    """Individuals per generation."""
    generations: int = 300
    """Generations evolved."""

    def __post_init__(self) -> None:
        check_int("pop_size", self.pop_size, ge=4, le=100_000)
        check_int("generations", self.generations, ge=1, le=1_000_000)


@dataclass(frozen=True)
class RandomConfig:
    """Random-policy baseline settings."""

    samples: int = 10_000
    """Random plays averaged."""

    def __post_init__(self) -> None:
        check_int("samples", self.samples, ge=1, le=100_000_000)


def _split(market: ElecoinMarket, pricing: str,
           z: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Decision vectors (rows of z) -> (prices per prosumer, demands received, rationed if supply binds)."""
    n = market.n_prosumers
    k = 1 if pricing == "unified" else n
    prices = np.broadcast_to(z[:, :k], (z.shape[0], n)) if k == 1 else z[:, :k]
    return prices, ration(market, z[:, k:])


class _ElecoinProblem(Problem):
    def __init__(self, market: ElecoinMarket, pricing: str, objective: str) -> None:
        n = market.n_prosumers
        k = 1 if pricing == "unified" else n
        xl = np.concatenate([np.full(k, market.p_min), np.full(n, market.x_min)])
        xu = np.concatenate([np.full(k, market.p_max), np.full(n, market.x_max)])
        super().__init__(n_var=k + n, n_obj=1, xl=xl, xu=xu)
        self.market, self.pricing, self.objective = market, pricing, objective

    def _evaluate(self, x, out, *args, **kwargs):
        prices, demands = _split(self.market, self.pricing, np.asarray(x, dtype=float))
        if self.objective == "prosumers":
            value = prosumer_utility(self.market, demands, prices).sum(axis=1)
        else:
            value = server_utility(self.market, prices, demands)
        out["F"] = -np.asarray(value).reshape(-1, 1)


def solve_ga(market: ElecoinMarket, pricing: str, objective: str, config: GAConfig,
             rng: np.random.Generator) -> MarketOutcome:
    """Best decision found by the GA for one side's utility only (paper IV.B baselines)."""
    check_choice("pricing", pricing, PRICINGS)
    check_choice("objective", objective, GA_OBJECTIVES)
    problem = _ElecoinProblem(market, pricing, objective)
    algorithm = GA(pop_size=config.pop_size, eliminate_duplicates=True)
    seed = int(rng.integers(2**31 - 1))
    res = minimize(problem, algorithm, ("n_gen", config.generations), seed=seed, verbose=False)
    best = np.atleast_2d(np.asarray(res.X, dtype=float))
    prices, demands = _split(market, pricing, best)
    return outcome(market, pricing, prices[0], demands[0])


@dataclass(frozen=True)
class RandomOutcome:
    """Averages over random plays (the "dummy random policies" of paper IV.B)."""

    outcome: MarketOutcome
    """Mean prices, mean demands, mean utilities (the utilities are means of utilities)."""
    samples: int


def solve_random(market: ElecoinMarket, pricing: str, config: RandomConfig,
                 rng: np.random.Generator) -> RandomOutcome:
    """Mean outcome of uniformly random prices and demands within their bounds."""
    check_choice("pricing", pricing, PRICINGS)
    n, s = market.n_prosumers, config.samples
    k = 1 if pricing == "unified" else n
    z = np.concatenate([rng.uniform(market.p_min, market.p_max, size=(s, k)),
                        rng.uniform(market.x_min, market.x_max, size=(s, n))], axis=1)
    prices, demands = _split(market, pricing, z)
    u_pro = prosumer_utility(market, demands, prices)
    u_srv = np.asarray(server_utility(market, prices, demands))
    mean = MarketOutcome(
        pricing=pricing,
        prices=prices.mean(axis=0),
        demands=demands.mean(axis=0),
        server_utility=float(u_srv.mean()),
        prosumer_utilities=u_pro.mean(axis=0),
    )
    return RandomOutcome(outcome=mean, samples=s)
