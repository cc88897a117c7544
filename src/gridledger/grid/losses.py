"""Loss models: the fraction of energy lost when moving it between two nodes of the community.

Every model gives a matrix F ((N+1) x (N+1), index N = EDC) with loss(X from i to j) = X F[i, j],
linear in X as eq. (3.11) requires.

- ``distance`` (default, thesis eq. 3.11), in one of three readings of the thesis:

  - ``linear`` (default): F = C d, eq. (3.11) as printed (no floor), with C = cap / diagonal of
    the area by default, so that the farthest transfer loses 5.6% (section 3.4's upper end);
  - ``clipped``: F = clip(C d, floor, cap), section 3.4's "from 1.8% to 5.6%" as bounds (every
    transfer shorter than floor / C, about 9 km, costs the floor);
  - ``affine``: F = floor + (cap - floor) d / diagonal, the same range spread over the distances.

- ``powerflow``: the loss factor between the two nodes' buses from an AC power flow of the
  IEEE 14-bus network with the allocation of eqs. (3.1)-(3.2) (:mod:`gridledger.grid.
  powerflow`), plus each prosumer's feeder (service line to its bus) at C per km.
- ``feeder``: a real low-voltage feeder (simbench, IEEE European LV, any pandapower net): AC power
  flow per slot and eqs. (3.1)-(3.2) along each transaction's path
  (:func:`gridledger.grid.feeders.feeder_loss_fractions`). The fractions depend on the day's
  profiles, so they come with the day's inputs (:mod:`gridledger.scenarios.community.inputs`);
  on a feeder, ``powerflow`` means this model too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gridledger.grid.network import CommunityGrid
from gridledger.grid.powerflow import EDC_BUS, case14_loss_factors
from gridledger.params import check_choice, check_number

LOSS_MODELS = ("distance", "powerflow", "feeder")
READINGS = ("linear", "clipped", "affine")


@dataclass(frozen=True)
class LossConfig:
    """Parameters of the loss models."""

    model: str = "distance"
    """"distance" (eq. 3.11), "powerflow" (IEEE 14-bus AC power flow + eqs. 3.1-3.2) or "feeder"
    (an LV feeder's AC power flows per slot + eqs. 3.1-3.2, computed with the day's inputs)."""
    reading: str = "linear"
    """(distance) "linear" (eq. 3.11: C d), "clipped" (clip(C d, floor, cap)) or "affine"
    (floor + (cap - floor) d / diagonal); see the module's docstring."""
    area_km: float = 20.0
    """Side of the square area (thesis 3.4: 20 km)."""
    floor: float = 0.018
    """(clipped, affine) lowest loss fraction of a transfer (thesis 3.4: 1.8%)."""
    cap: float = 0.056
    """Loss fraction of the longest transfer (the area's diagonal; thesis 3.4: 5.6%)."""
    loss_per_km: float | None = None
    """C, loss fraction per km; default cap / (area diagonal), so the farthest transfer reaches the cap."""
    feeder_per_km: float = 0.001
    """(powerflow) loss fraction per km on a prosumer's feeder to its bus (chosen)."""

    def __post_init__(self) -> None:
        check_choice("model", self.model, LOSS_MODELS)
        check_choice("reading", self.reading, READINGS)
        check_number("area_km", self.area_km, gt=0)
        check_number("floor", self.floor, ge=0, lt=1)
        check_number("cap", self.cap, gt=self.floor, le=1)
        if self.loss_per_km is not None:
            check_number("loss_per_km", self.loss_per_km, gt=0, lt=1)
        check_number("feeder_per_km", self.feeder_per_km, ge=0, lt=1)

    @property
    def c_per_km(self) -> float:
        return self.loss_per_km if self.loss_per_km is not None else self.cap / (self.area_km * np.sqrt(2))


def distance_loss_fractions(dist_km: NDArray[np.float64], c_per_km: float, floor: float = 0.0,
                            cap: float = 1.0) -> NDArray[np.float64]:
    """F = clip(C d, floor, cap) off the diagonal (eq. 3.11 with section 3.4's bounds), 0 on it.
    floor = 0 and cap = 1 give eq. (3.11) as printed."""
    f = np.clip(c_per_km * np.asarray(dist_km, dtype=float), floor, cap)
    np.fill_diagonal(f, 0.0)
    return f


def affine_loss_fractions(dist_km: NDArray[np.float64], floor: float, cap: float,
                          diagonal_km: float) -> NDArray[np.float64]:
    """F = floor + (cap - floor) d / diagonal off the diagonal, 0 on it."""
    f = floor + (cap - floor) * np.asarray(dist_km, dtype=float) / diagonal_km
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
    if config.model == "feeder":
        from gridledger.errors import ConfigError

        raise ConfigError("loss.model", "the feeder model needs a feeder network and per-slot profiles (--network "
                                        "ieee-eu-lv or a simbench LV code)")
    if config.model == "distance":
        if config.reading == "linear":
            return distance_loss_fractions(grid.dist_km, config.c_per_km)
        if config.reading == "clipped":
            return distance_loss_fractions(grid.dist_km, config.c_per_km, config.floor, config.cap)
        return affine_loss_fractions(grid.dist_km, config.floor, config.cap, config.area_km * np.sqrt(2))
    return powerflow_loss_fractions(grid, config.feeder_per_km)
