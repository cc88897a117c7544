"""A community day on a real low-voltage feeder (thesis section 3.2.2 on a distribution network).

The generic path any feeder loader can call: a pandapower net, the prosumers placed on its load
buses, per-slot generation and consumption; an AC power flow per slot allocates each
transaction's loss by eqs. (3.1)-(3.2) (:func:`gridledger.grid.powerflow.feeder_loss_fractions`),
and the day runs on those loss fractions. The same day is also run under the distance model
(eq. 3.11) on the feeder's own geography, so the two can be reported side by side.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.errors import ConfigError
from gridledger.grid.losses import LossConfig
from gridledger.grid.network import CommunityGrid
from gridledger.grid.powerflow import FeederLosses, feeder_loss_fractions, feeder_tree, load_buses
from gridledger.scenarios.community.run import CommunityConfig, CommunityDay, CommunityInput, run_community_day


@dataclass(frozen=True)
class FeederDay:
    """A day on a feeder: under the AC allocation, and under the distance model beside it."""

    day: CommunityDay
    losses: FeederLosses
    distance_day: CommunityDay
    prosumer_buses: NDArray[np.int64]

    def to_json(self) -> dict[str, Any]:
        d, dd = self.day, self.distance_day
        return {"day": d.to_json(), "prosumer_buses": self.prosumer_buses.tolist(),
                "feeder": {"physical_loss_kwh": self.losses.physical_loss_kwh,
                           "three_phase": self.losses.three_phase, "slots": int(self.losses.slot_fractions.shape[0]),
                           "power_flow_seconds": self.losses.seconds,
                           "loss_to_edc_pct": (100 * self.losses.fractions[:-1, -1]).tolist()},
                "distance_model": {"savings_pct": dd.savings_pct, "optimum_savings_pct": dd.to_json()[
                    "optimum_savings_pct"], "loss_over_optimum": dd.loss_over_optimum,
                    "p2p_share_per_prosumer_pct": dd.p2p_share_per_prosumer_pct}}


def bus_positions_km(net: object, buses: NDArray[np.int64]) -> NDArray[np.float64]:
    """Bus coordinates in km from the net's geodata (longitude/latitude, or metres)."""
    geo = net.bus.geo.reindex(buses)  # type: ignore[attr-defined]
    xy = np.array([json.loads(g)["coordinates"] if isinstance(g, str) else [np.nan, np.nan] for g in geo],
                  dtype=float)
    if np.isnan(xy).any():
        raise ConfigError("network", "some buses have no coordinates (geodata)")
    if np.all(np.abs(xy[:, 0]) <= 180) and np.all(np.abs(xy[:, 1]) <= 90):
        lat0 = np.deg2rad(xy[:, 1].mean())
        return np.column_stack([(xy[:, 0] - xy[:, 0].min()) * 111.32 * np.cos(lat0),
                                (xy[:, 1] - xy[:, 1].min()) * 110.57])
    return (xy - xy.min(axis=0)) / 1000.0


def spread_over_slots(production_kwh: NDArray[np.float64], consumption_kwh: NDArray[np.float64], slots: int = 48,
                      day_of_year: int = 15, weekend: bool = False) -> tuple[NDArray[np.float64],
                                                                              NDArray[np.float64]]:
    """(generation_kw, consumption_kw) per slot from daily totals, shaped like the synthetic Ausgrid
    data (solar between 7:30 and 17:00, morning and evening consumption peaks)."""
    from gridledger.data.synthetic import _consumption_shape, _solar_shape

    if 48 % slots:
        raise ConfigError("slots", f"must divide 48 (got {slots})")
    sol = _solar_shape(np.array([float(day_of_year)]))[0].reshape(slots, -1).sum(axis=1)
    con = _consumption_shape(np.array([weekend]))[0].reshape(slots, -1).sum(axis=1)
    hours = 24.0 / slots
    gen = np.asarray(production_kwh)[:, None] * (sol / sol.sum())[None, :] / hours
    cons = np.asarray(consumption_kwh)[:, None] * (con / con.sum())[None, :] / hours
    return gen, cons


def place_prosumers(net: object, n: int) -> NDArray[np.int64]:
    """Prosumer i on the (i mod B)-th of the feeder's B load buses (sorted): one per load bus while
    there are enough."""
    buses = load_buses(net)
    if len(buses) == 0:
        raise ConfigError("network", "the feeder has no load buses")
    return buses[np.arange(n) % len(buses)]


def feeder_community_day(config: CommunityConfig, net: object, inputs: CommunityInput, rng: np.random.Generator,
                         prosumer_buses: NDArray[np.int64] | None = None,
                         generation_kw: NDArray[np.float64] | None = None,
                         consumption_kw: NDArray[np.float64] | None = None, slots: int = 48,
                         three_phase: bool = False, phases: NDArray[np.int64] | None = None) -> FeederDay:
    """One community day on ``net``; per-slot profiles default to the daily totals of ``inputs``
    spread by :func:`spread_over_slots`. The prosumers stand at their buses' coordinates (the
    positions in ``inputs`` are replaced)."""
    n = config.prosumers
    pb = place_prosumers(net, n) if prosumer_buses is None else np.asarray(prosumer_buses, dtype=np.int64)
    if len(pb) != n:
        raise ConfigError("prosumer_buses", f"must have {n} buses (got {len(pb)})")
    if generation_kw is None or consumption_kw is None:
        generation_kw, consumption_kw = spread_over_slots(inputs.production_kwh, inputs.consumption_kwh, slots)
    slot_hours = 24.0 / np.asarray(generation_kw).shape[1]
    energy_p = np.asarray(generation_kw).sum(axis=1) * slot_hours
    energy_c = np.asarray(consumption_kw).sum(axis=1) * slot_hours
    try:
        losses = feeder_loss_fractions(net, pb, generation_kw, consumption_kw, slot_hours, three_phase=three_phase,
                                       phases=phases)
        tree = feeder_tree(net)
    except ValueError as exc:
        raise ConfigError("network", str(exc)) from None
    pos_all = bus_positions_km(net, np.append(pb, tree.root))
    pos, edc = pos_all[:-1], pos_all[-1]
    nodes = np.vstack([pos, edc[None, :]])
    dist = np.linalg.norm(nodes[:, None, :] - nodes[None, :, :], axis=2)
    grid = CommunityGrid(positions_km=pos, edc_km=edc, buses=pb, feeder_km=np.zeros(n), dist_km=dist)
    day_inputs = CommunityInput(energy_p, energy_c, pos, inputs.labels)
    cfg = dataclasses.replace(config, loss=dataclasses.replace(config.loss, model="feeder"))
    day_rng, distance_rng = rng.spawn(2)
    day = run_community_day(cfg, day_inputs, day_rng, f=losses.fractions, grid=grid)
    # Beside it: eq. (3.11) on the feeder's geography (C scaled to its extent; the savings in % do
    # not depend on C under the linear reading).
    span = float(dist.max()) if dist.max() > 0 else 1.0
    dcfg = dataclasses.replace(config, loss=LossConfig(model="distance", reading="linear", area_km=span / np.sqrt(2)))
    distance_day = run_community_day(dcfg, day_inputs, distance_rng, grid=grid)
    return FeederDay(day, losses, distance_day, pb)
