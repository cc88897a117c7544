"""The elecoin market of the paper solved by every method, and its reproduced figures.

Methods: ``analytic`` (the Stackelberg equilibrium, eqs. 4-7 with bounds), ``dma-ubrl`` (the
paper's distributed multi-agent RL), ``ga-prosumers`` / ``ga-server`` (GA baselines
optimising one side only) and ``random`` (random policies), under ``unified`` or
``discriminated`` pricing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridledger.errors import ConfigError
from gridledger.games.elecoin_baselines import GAConfig, RandomConfig, solve_ga, solve_random
from gridledger.games.stackelberg import PRICINGS, ElecoinMarket, MarketOutcome, solve
from gridledger.learn.elecoin.dma_ubrl import DMAUBRL, DMAUBRLConfig, LearningTrace, relative_errors
from gridledger.params import check_choice, from_mapping, to_mapping

METHODS: tuple[str, ...] = ("analytic", "dma-ubrl", "ga-prosumers", "ga-server", "random")
_SECTIONS = {"dma_ubrl": DMAUBRLConfig, "ga": GAConfig, "random": RandomConfig}


@dataclass(frozen=True)
class ElecoinConfig:
    """Market parameters plus the settings of each solution method.

    In a config file the market keys sit at the top level (``theta = 120``) and each method
    has its own table (``[dma_ubrl]``, ``[ga]``, ``[random]``).
    """

    market: ElecoinMarket = field(default_factory=ElecoinMarket)
    dma_ubrl: DMAUBRLConfig = field(default_factory=DMAUBRLConfig)
    ga: GAConfig = field(default_factory=GAConfig)
    random: RandomConfig = field(default_factory=RandomConfig)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> ElecoinConfig:
        market_keys = [f.name for f in dataclasses.fields(ElecoinMarket) if f.init]
        flat: dict[str, Any] = {}
        sections: dict[str, Any] = {}
        for key, value in mapping.items():
            if key in _SECTIONS:
                sections[key] = from_mapping(_SECTIONS[key], value if isinstance(value, Mapping) else _not_table(key),
                                             prefix=f"{key}.")
            elif key in market_keys:
                flat[key] = value
            else:
                allowed = ", ".join([*market_keys, *(f"[{s}]" for s in _SECTIONS)])
                raise ConfigError(key, f"unknown key (allowed: {allowed})")
        return cls(market=from_mapping(ElecoinMarket, flat), **sections)

    def to_json(self) -> dict[str, Any]:
        return {"market": to_mapping(self.market), "dma_ubrl": to_mapping(self.dma_ubrl), "ga": to_mapping(self.ga),
                "random": to_mapping(self.random)}


def _not_table(key: str) -> Mapping[str, Any]:
    raise ConfigError(key, "must be a table of keys")


@dataclass(frozen=True)
class ElecoinSolution:
    """Outcome of one method, timing, and its distance to the analytic equilibrium."""

    method: str
    pricing: str
    outcome: MarketOutcome
    analytic: MarketOutcome
    seconds: float
    episodes: int | None = None
    samples: int | None = None
    trace: LearningTrace | None = None
    converged: bool | None = None
    """(dma-ubrl) every learner stopped by its own rule with the price pinned; False: the result is
    the learners' last estimate, not an equilibrium."""
    band_width: float | None = None
    """(dma-ubrl) relative width of the price band the learners last observed."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, **self.outcome.to_json(), "seconds": self.seconds}
        if self.converged is not None:
            data["converged"] = self.converged
            data["band_width"] = self.band_width
        if self.episodes is not None:
            data["episodes"] = self.episodes
        if self.samples is not None:
            data["samples"] = self.samples
        data["analytic"] = {"price": self.analytic.price, "server_utility": self.analytic.server_utility,
                            "total_prosumer_utility": self.analytic.total_prosumer_utility}
        data["relative_error"] = relative_errors(self.outcome, self.analytic)
        return data


def solve_elecoin(config: ElecoinConfig, method: str, pricing: str, rng: np.random.Generator,
                  progress: Callable[[int, int], None] | None = None) -> ElecoinSolution:
    """Solve the elecoin market with ``method`` under ``pricing``."""
    check_choice("method", method, METHODS)
    check_choice("pricing", pricing, PRICINGS)
    m = config.market
    start = time.perf_counter()
    analytic = solve(m, pricing)
    if method == "analytic":
        return ElecoinSolution(method, pricing, analytic, analytic, time.perf_counter() - start)
    if method == "dma-ubrl":
        result = DMAUBRL(m, pricing, config.dma_ubrl, rng).run(progress=progress)
        return ElecoinSolution(method, pricing, result.outcome, analytic, result.seconds, episodes=result.episodes,
                               trace=result.trace, converged=result.converged, band_width=result.band_width)
    if method == "random":
        rnd = solve_random(m, pricing, config.random, rng)
        return ElecoinSolution(method, pricing, rnd.outcome, analytic, time.perf_counter() - start,
                               samples=rnd.samples)
    objective = "prosumers" if method == "ga-prosumers" else "server"
    out = solve_ga(m, pricing, objective, config.ga, rng)
    return ElecoinSolution(method, pricing, out, analytic, time.perf_counter() - start)


def not_converged_message(solution: ElecoinSolution) -> str | None:
    """A one-line warning when DMA-UBRL stopped before every learner had settled (else None)."""
    if solution.converged is None or solution.converged:
        return None
    band = 100 * (solution.band_width or 0.0)
    return (f"warning: DMA-UBRL did not converge (the learners' price band was last {band:.3g}% wide after "
            f"{solution.episodes:,} episodes); the price shown is their last estimate, not an equilibrium")


def market_with(config: ElecoinConfig, **changes: Any) -> ElecoinConfig:
    """Copy of ``config`` with market fields changed (``w``/``alpha`` reset when N/M change)."""
    market = config.market
    if "n_prosumers" in changes and "w" not in changes and changes["n_prosumers"] != market.n_prosumers:
        changes["w"] = None
    if "n_servers" in changes and "alpha" not in changes and changes["n_servers"] != market.n_servers:
        changes["alpha"] = None
    return dataclasses.replace(config, market=dataclasses.replace(market, **changes))
