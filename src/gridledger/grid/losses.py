"""Loss models: the fraction of energy lost when moving it between two nodes of the community.

Both models give a matrix F ((N+1) x (N+1), index N = EDC) with loss(X from i to j) = X F[i, j],
linear in X as eq. (3.11) requires.

- ``distance`` (default, thesis eq. 3.11): F = C d, kept within [floor, cap]; with the
  defaults C = cap / diagonal of the area, so that transfers fall in the thesis's
  1.8%-5.6% range (section 3.4).
- ``powerflow``: the loss factor between the two nodes' buses from an AC power flow of the
  IEEE 14-bus network with the allocation of eqs. (3.1)-(3.2) (:mod:`gridledger.grid.
  powerflow`), plus each prosumer's feeder (service line to its bus) at C per km.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gridledger.grid.network import CommunityGrid
from gridledger.grid.powerflow import EDC_BUS, case14_loss_factors
from gridledger.params import check_choice, check_number

LOSS_MODELS = ("distance", "powerflow")


@dataclass(frozen=True)
class LossConfig:
    """Parameters of the loss models."""

    model: str = "distance"
    """"distance" (eq. 3.11) or "powerflow" (AC power flow + eqs. 3.1-3.2)."""
    area_km: float = 20.0
    """Side of the square area (thesis 3.4: 20 km)."""
    floor: float = 0.018
    """Lowest loss fraction of a transfer (thesis 3.4: 1.8%)."""
    cap: float = 0.056
    """Highest loss fraction of a transfer (thesis 3.4: 5.6%)."""
    loss_per_km: float | None = None
    """C, loss fraction per km; default cap / (area diagonal), so the farthest transfer reaches the cap."""
    feeder_per_km: float = 0.001
    """(powerflow) loss fraction per km on a prosumer's feeder to its bus (chosen)."""

    def __post_init__(self) -> None:
        check_choice("model", self.model, LOSS_MODELS)
        check_number("area_km", self.area_km, gt=0)
        check_number("floor", self.floor, ge=0, lt=1)
        check_number("cap", self.cap, gt=self.floor, le=1)
        if self.loss_per_km is not None:
            check_number("loss_per_km", self.loss_per_km, gt=0, lt=1)
        check_number("feeder_per_km", self.feeder_per_km, ge=0, lt=1)

    @property
    def c_per_km(self) -> float:
        return self.loss_per_km if self.loss_per_km is not None else self.cap / (self.area_km * np.sqrt(2))


def distance_loss_fractions(dist_km: NDArray[np.float64], c_per_km: float, floor: float,
                            cap: float) -> NDArray[np.float64]:
    """F = clip(C d, floor, cap) off the diagonal (eq. 3.11), 0 on it."""
    f = np.clip(c_per_km * np.asarray(dist_km, dtype=float), floor, cap)
    np.fill_diagonal(f, 0.0)
    return f


def powerflow_loss_fractions(grid: CommunityGrid, feeder_per_km: float) -> NDArray[np.float64]:
    """F from the case14 bus-to-bus loss factors (eqs. 3.1-3.2) plus feeder losses."""
    factors = case14_loss_factors()
    bus = np.concatenate([grid.buses, [EDC_BUS]]) - 1
    feeder = np.concatenate([grid.feeder_km, [0.0]]) * feeder_per_km
    f = factors[np.ix_(bus, bus)] + feeder[:, None] + feeder[None, :]
    np.fill_diagonal(f, 0.0)
    return f


def loss_fractions(grid: CommunityGrid, config: LossConfig) -> NDArray[np.float64]:
    """The loss-fraction matrix of ``grid`` under the configured model."""
    if config.model == "distance":
        return distance_loss_fractions(grid.dist_km, config.c_per_km, config.floor, config.cap)
    return powerflow_loss_fractions(grid, config.feeder_per_km)
