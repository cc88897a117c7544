"""A community day on a low-voltage feeder under its AC power flow, with the distance model beside
it (thesis section 3.2.2 on a distribution network).

The same path as ``community run --network``: the prosumers on the feeder's loads, an AC power
flow per slot allocating each transaction's loss by eqs. (3.1)-(3.2)
(:func:`gridledger.grid.feeders.feeder_loss_fractions`, through
:func:`gridledger.scenarios.community.inputs.feeder_input`), and the day on those fractions
(loss model ``feeder``). Beside it the same day runs under eq. (3.11) (linear reading) on the
feeder's own geography, C scaled to its extent (the savings in % do not depend on C under
that reading), so that the two can be reported side by side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.grid.feeders import Feeder, FeederLosses, feeder_from_net
from gridledger.grid.losses import LossConfig, loss_fractions
from gridledger.scenarios.community.inputs import DayProfiles, feeder_input, spread_over_slots
from gridledger.scenarios.community.run import CommunityConfig, CommunityDay, CommunityInput, run_community_day


@dataclass(frozen=True)
class FeederDay:
    """A day on a feeder: under the AC allocation, and under the distance model beside it."""

    day: CommunityDay
    losses: FeederLosses
    distance_day: CommunityDay
    prosumer_buses: NDArray[np.int64]

    def to_json(self) -> dict[str, Any]:
        dd = self.distance_day
        return {"day": self.day.to_json(), "prosumer_buses": self.prosumer_buses.tolist(),
                "feeder": self.losses.to_json(),
                "distance_model": {"savings_pct": dd.savings_pct, "optimum_savings_pct": dd.to_json()[
                    "optimum_savings_pct"], "loss_over_optimum": dd.loss_over_optimum,
                    "p2p_share_per_prosumer_pct": dd.p2p_share_per_prosumer_pct}}


def feeder_community_day(config: CommunityConfig, feeder: Feeder | Any, inputs: CommunityInput,
                         rng: np.random.Generator, prosumer_buses: NDArray[np.int64] | None = None,
                         generation_kw: NDArray[np.float64] | None = None,
                         consumption_kw: NDArray[np.float64] | None = None, slots: int = 48,
                         three_phase: bool | None = None, phases: NDArray[np.int64] | None = None) -> FeederDay:
    """One community day on ``feeder`` (a :class:`Feeder` or a pandapower net); per-slot profiles
    default to the daily totals of ``inputs`` spread by
    :func:`~gridledger.scenarios.community.inputs.spread_over_slots`. The prosumers stand at their
    buses' coordinates (the positions in ``inputs`` are replaced)."""
    fd = feeder if isinstance(feeder, Feeder) else feeder_from_net(feeder)
    if generation_kw is None or consumption_kw is None:
        generation_kw, consumption_kw = spread_over_slots(inputs.production_kwh, inputs.consumption_kwh, slots)
    hours = 24.0 / np.asarray(generation_kw).shape[1]
    profiles = DayProfiles(np.asarray(generation_kw) * hours, np.asarray(consumption_kw) * hours, inputs.labels,
                           inputs.source)
    cfg = dataclasses.replace(config, loss=dataclasses.replace(config.loss, model="feeder"))
    ac = feeder_input(cfg, fd, profiles, prosumer_buses, phases, three_phase)
    assert ac.grid is not None and ac.feeder is not None
    day_rng, distance_rng = rng.spawn(2)
    day = run_community_day(cfg, ac, day_rng)
    span = float(ac.grid.dist_km.max()) or 1.0
    dcfg = dataclasses.replace(config, loss=LossConfig(model="distance", reading="linear", area_km=span / np.sqrt(2)))
    beside = dataclasses.replace(ac, loss_fractions=loss_fractions(ac.grid, dcfg.loss), feeder=None)
    distance_day = run_community_day(dcfg, beside, distance_rng)
    return FeederDay(day, ac.feeder, distance_day, ac.grid.buses)
