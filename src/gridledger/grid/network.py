"""Community geography: prosumers in a square area with the distribution centre (EDC) in the
middle (thesis section 3.4: 20 km x 20 km), attached to buses of the IEEE 14-bus network; or
prosumers on the load buses of a distribution feeder (:mod:`gridledger.grid.feeders`).

Node indexing used everywhere in the community code: prosumers are 0..N-1 and the EDC is N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gridledger.grid.powerflow import PROSUMER_BUSES
from gridledger.params import check_number


@dataclass(frozen=True)
class CommunityGrid:
    """Where prosumers and the EDC are, which bus each prosumer hangs on, and distances."""

    positions_km: NDArray[np.float64]
    """(N, 2) prosumer coordinates."""
    edc_km: NDArray[np.float64]
    """(2,) EDC coordinates."""
    buses: NDArray[np.int64]
    """(N,) IEEE 14-bus number (1-based) each prosumer is attached to."""
    feeder_km: NDArray[np.float64]
    """(N,) distance from each prosumer to its bus's location."""
    dist_km: NDArray[np.float64]
    """(N+1, N+1) distances; index N is the EDC."""
    network: str = "ieee14"
    """The network the buses belong to: "ieee14" (bus numbers 1-14) or a feeder's name
    (:mod:`gridledger.grid.feeders`; pandapower bus indices)."""

    @property
    def n(self) -> int:
        return len(self.positions_km)


def bus_locations_km(area_km: float = 20.0) -> dict[int, NDArray[np.float64]]:
    """Where the prosumer buses stand: evenly on a circle of radius area/4 around the centre
    (case14 has no coordinates; this layout is ours, documented in docs/decisions.md)."""
    c = area_km / 2
    r = area_km / 4
    angles = np.linspace(0, 2 * np.pi, len(PROSUMER_BUSES), endpoint=False)
    return {b: np.array([c + r * np.cos(a), c + r * np.sin(a)]) for b, a in zip(PROSUMER_BUSES, angles, strict=True)}


def community_grid(positions_km: NDArray[np.float64], area_km: float = 20.0,
                   edc_km: NDArray[np.float64] | None = None) -> CommunityGrid:
    """Grid for prosumers at given coordinates; each attaches to the nearest prosumer bus."""
    check_number("area_km", area_km, gt=0)
    pos = np.asarray(positions_km, dtype=float).reshape(-1, 2)
    edc = np.full(2, area_km / 2) if edc_km is None else np.asarray(edc_km, dtype=float)
    locs = bus_locations_km(area_km)
    bus_ids = np.array(list(locs))
    bus_xy = np.stack([locs[b] for b in bus_ids])
    d_bus = np.linalg.norm(pos[:, None, :] - bus_xy[None, :, :], axis=2)
    nearest = np.argmin(d_bus, axis=1)
    nodes = np.vstack([pos, edc[None, :]])
    dist = np.linalg.norm(nodes[:, None, :] - nodes[None, :, :], axis=2)
    return CommunityGrid(positions_km=pos, edc_km=edc, buses=bus_ids[nearest],
                         feeder_km=d_bus[np.arange(len(pos)), nearest], dist_km=dist)


def random_community(n: int, rng: np.random.Generator, area_km: float = 20.0) -> CommunityGrid:
    """N prosumers placed uniformly at random in the area."""
    return community_grid(rng.uniform(0.0, area_km, size=(n, 2)), area_km)
