"""Distribution feeders as community grids: prosumers on the feeder's load buses, distances
from the buses' coordinates, and loss fractions from an AC power flow of the feeder with the
allocation of thesis eqs. (3.1)-(3.2).

A :class:`Feeder` is plain data around a pandapower network (simbench's German LV grids,
pandapower's IEEE European LV test feeder; loaded by :mod:`gridledger.data.networks`). The
functions here never modify ``feeder.net``: they work on a copy.

Loss fractions (:func:`feeder_loss_fractions`). The operating point is the community's day:
each prosumer's load is its mean consumption over the day and its generator its mean
production (unity power factor), every other load and generator of the feeder is switched off,
and pandapower's ``runpp`` solves the flow. Eq. (3.1) charges a transfer from bus a to bus b
with (P_tr/P_l) Lp_l + (Q_tr/Q_l) Lq_l on every branch l; linearised with the power-flow
Jacobian J at the operating point (as :func:`gridledger.grid.powerflow.allocated_loss_factor`
does on the IEEE 14-bus case), the charge per unit moved is g_a - g_b, where g solves one
adjoint system J^T y = w (w: the branches' allocation weights mapped to the state): one sparse
solve gives every bus pair, where the 14-bus code solves once per pair. Negative totals (a
transfer against the prevailing flows) count as zero, as there. The slack bus (the MV side of
the transformer) is the EDC.
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.linalg import spsolve

from gridledger.errors import ConfigError
from gridledger.grid.highs import stdout_to_stderr
from gridledger.grid.network import CommunityGrid
from gridledger.params import check_int


@dataclass(frozen=True)
class Feeder:
    """A distribution feeder: a pandapower network and where prosumers can sit on it."""

    name: str
    """Grid code (``1-LV-rural1--0-sw``) or name (``ieee-eu-lv``)."""
    source: str
    """One line naming the dataset."""
    net: Any
    """The pandapower network (loads and generators as published; never modified here)."""
    load_buses: tuple[int, ...]
    """pandapower bus index of each load of the network, in the order of ``net.load``."""
    bus_xy_km: dict[int, tuple[float, float]]
    """Coordinates of the buses (km, in a local plane; buses without coordinates are absent)."""
    slack_bus: int
    """Bus of the external grid (the EDC)."""

    @property
    def n_loads(self) -> int:
        return len(self.load_buses)

    def xy(self, bus: int) -> NDArray[np.float64]:
        if bus in self.bus_xy_km:
            return np.asarray(self.bus_xy_km[bus], dtype=float)
        # A bus without coordinates (an MV bus in simbench) sits at the centroid of the others.
        return np.mean(np.array(list(self.bus_xy_km.values())), axis=0)


def place_prosumers(feeder: Feeder, n: int) -> NDArray[np.int64]:
    """Bus of each of ``n`` prosumers: the feeder's load buses in load order, round-robin when
    there are more prosumers than loads."""
    check_int("prosumers", n, ge=1)
    if feeder.n_loads == 0:
        raise ConfigError("network", f"{feeder.name} has no loads to place prosumers on")
    return np.array([feeder.load_buses[i % feeder.n_loads] for i in range(n)], dtype=np.int64)


def feeder_community_grid(feeder: Feeder, buses: NDArray[np.int64]) -> CommunityGrid:
    """A :class:`CommunityGrid` for prosumers at the given buses: positions are the buses'
    coordinates relative to the south-west corner of the feeder, the EDC is the slack bus."""
    pts = np.array([feeder.xy(int(b)) for b in buses])
    edc = feeder.xy(feeder.slack_bus)
    origin = np.minimum(pts.min(axis=0), edc)
    pos = pts - origin
    edc_km = edc - origin
    nodes = np.vstack([pos, edc_km[None, :]])
    dist = np.linalg.norm(nodes[:, None, :] - nodes[None, :, :], axis=2)
    return CommunityGrid(positions_km=pos, edc_km=edc_km, buses=np.asarray(buses, dtype=np.int64),
                         feeder_km=np.zeros(len(buses)), dist_km=dist, network=feeder.name)


def _quiet() -> None:
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pandapower")


def operating_point(feeder: Feeder, buses: NDArray[np.int64], load_kw: NDArray[np.float64],
                    generation_kw: NDArray[np.float64]) -> Any:
    """A solved copy of the feeder with only the prosumers' mean loads and generation."""
    _quiet()
    with stdout_to_stderr():
        import pandapower as pp

    net = copy.deepcopy(feeder.net)
    if len(net.load):
        net.load["in_service"] = False
    if len(net.sgen):
        net.sgen["in_service"] = False
    if "asymmetric_load" in net and len(net.asymmetric_load):
        net.asymmetric_load["in_service"] = False
    for k, b in enumerate(buses):
        pp.create_load(net, int(b), p_mw=float(load_kw[k]) / 1000.0, q_mvar=0.0, name=f"prosumer {k}")
        if generation_kw[k] > 0:
            pp.create_sgen(net, int(b), p_mw=float(generation_kw[k]) / 1000.0, q_mvar=0.0, name=f"prosumer {k} PV")
    try:
        with stdout_to_stderr():
            pp.runpp(net, numba=False)
    except Exception as exc:  # pandapower raises its own LoadflowNotConverged (and others) on failure
        raise ConfigError("network", f"the power flow of {feeder.name} did not converge ({exc})") from None
    return net


def bus_allocation_weights(net: Any) -> tuple[dict[int, float], NDArray[np.float64]]:
    """g per pandapower bus (eqs. 3.1-3.2 linearised, see the module docstring) at the solved
    operating point of ``net``, and each branch's series loss in MW (pandapower's internal
    branch order: lines, then transformers)."""
    from pandapower.pypower.dSbus_dV import dSbus_dV
    from pandapower.pypower.idx_brch import BR_R, BR_STATUS, BR_X, F_BUS, SHIFT, T_BUS, TAP
    from pandapower.pypower.idx_bus import BUS_TYPE, PQ, PV, REF, VA, VM
    from pandapower.pypower.makeYbus import makeYbus

    ppc = net._ppc
    base = float(ppc["baseMVA"])
    bus, branch = ppc["bus"], ppc["branch"]
    ybus, yf, yt = makeYbus(base, bus, branch)
    ybus, yf, yt = sparse.csr_matrix(ybus), sparse.csr_matrix(yf), sparse.csr_matrix(yt)
    types = bus[:, BUS_TYPE].real.astype(int)
    v = bus[:, VM].real * np.exp(1j * np.deg2rad(bus[:, VA].real))
    v = np.where(np.isfinite(v), v, 0.0)
    f_bus = branch[:, F_BUS].real.astype(int)
    t_bus = branch[:, T_BUS].real.astype(int)
    pv = np.flatnonzero(types == PV)
    pq = np.flatnonzero(types == PQ)
    ref = np.flatnonzero(types == REF)
    pvpq = np.concatenate([pv, pq])
    i_f = yf @ v
    s_from = v[f_bus] * np.conj(i_f)
    s_to = v[t_bus] * np.conj(yt @ v)
    del s_to
    # Series (I^2 R) loss of each branch: the loss that flows cause. The no-load (iron) loss of a
    # transformer, a shunt in the branch model, does not depend on any transfer and is left out
    # (on a lightly loaded feeder it would dwarf the flows and inflate every allocation).
    tap = branch[:, TAP].real.copy()
    tap[tap == 0] = 1.0
    ratio = tap * np.exp(1j * np.deg2rad(branch[:, SHIFT].real))
    z = branch[:, BR_R].real + 1j * branch[:, BR_X].real
    status = branch[:, BR_STATUS].real
    with np.errstate(divide="ignore", invalid="ignore"):
        i_series = np.where((status > 0) & (np.abs(z) > 0), (v[f_bus] / ratio - v[t_bus]) / z, 0.0)
    loss = np.abs(i_series) ** 2 * branch[:, BR_R].real
    p, q = s_from.real, s_from.imag
    denom = p * p + q * q
    c = np.where(denom > 1e-18, loss / np.where(denom > 1e-18, denom, 1.0), 0.0)
    u = c * np.conj(s_from)                     # T = Re(u . dS_from)
    # dS_from = diag(conj(Yf V)) dV_f + diag(V_f) conj(Yf dV): T = Re(cvec . dV)
    nb = len(v)
    a = np.zeros(nb, dtype=complex)
    np.add.at(a, f_bus, u * np.conj(i_f))
    b = yf.conj().T @ (u * v[f_bus])
    cvec = a + np.conj(b)
    cv = cvec * v
    g_va = -cv.imag
    g_vm = np.where(np.abs(v) > 0, cv.real / np.where(np.abs(v) > 0, np.abs(v), 1.0), 0.0)
    w = np.concatenate([g_va[pvpq], g_vm[pq]])
    ds_dvm, ds_dva = dSbus_dV(ybus, v)
    ds_dvm, ds_dva = sparse.csr_matrix(ds_dvm), sparse.csr_matrix(ds_dva)
    jac = sparse.vstack([
        sparse.hstack([ds_dva[pvpq][:, pvpq].real, ds_dvm[pvpq][:, pq].real]),
        sparse.hstack([ds_dva[pq][:, pvpq].imag, ds_dvm[pq][:, pq].imag]),
    ], format="csc")
    y = np.atleast_1d(spsolve(jac.T.tocsc(), w))
    g_ppc = np.zeros(nb)
    g_ppc[pvpq] = y[:len(pvpq)]
    g_ppc[ref] = 0.0
    lookup = net._pd2ppc_lookups["bus"]
    out = {int(bidx): float(g_ppc[lookup[bidx]]) for bidx in net.bus.index if lookup[bidx] >= 0}
    return out, loss * base


def feeder_loss_fractions(feeder: Feeder, buses: NDArray[np.int64], production_kwh: NDArray[np.float64],
                          consumption_kwh: NDArray[np.float64], hours: float = 24.0) -> NDArray[np.float64]:
    """Loss-fraction matrix F ((N+1) x (N+1), index N = EDC) of prosumers at ``buses`` on the
    feeder, at the operating point of their mean power over ``hours`` (eqs. 3.1-3.2)."""
    net = operating_point(feeder, buses, np.asarray(consumption_kwh) / hours, np.asarray(production_kwh) / hours)
    g, _ = bus_allocation_weights(net)
    nodes = np.array([g[int(b)] for b in buses] + [g.get(feeder.slack_bus, 0.0)])
    f = np.clip(nodes[:, None] - nodes[None, :], 0.0, None)
    np.fill_diagonal(f, 0.0)
    return f
