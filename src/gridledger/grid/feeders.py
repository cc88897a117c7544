"""Distribution feeders as community grids, and the loss fractions of prosumers on them (thesis
section 3.2.2, eqs. 3.1-3.2).

A :class:`Feeder` is plain data around a pandapower network: simbench's German LV grids and
pandapower's IEEE European LV test feeder (loaded by :mod:`gridledger.data.networks`), or any
pandapower net (:func:`feeder_from_net`). Nothing here modifies ``feeder.net``: the power flows
run on a copy.

Loss fractions (:func:`feeder_loss_fractions`, the one entry point). The prosumers replace the
feeder's loads on their buses (every other load and generator switched off); for every slot of
the day pandapower solves the AC power flow (``runpp``; ``runpp_3ph`` with each prosumer on its
phase when the grid carries the three-phase data, as the IEEE European LV feeder does). Eq. (3.1)
charges a transfer, on each branch l it crosses, (P_tr / P_l) Lp_l, Lp_l = loss_l P_l^2 / (P_l^2 +
Q_l^2); eq. (3.2) sums the branches. With signed charges (a transfer against a branch's flow
relieves it) the branches shared by two buses' paths cancel, so per unit moved
F_t[a, b] = D_t[b] - D_t[a], D_t being the signed loss per unit moved from the external grid (the
EDC) to a bus:

- on a radial feeder D is summed along the unique path, exactly (:func:`feeder_tree`); with three
  phases a transfer between phases goes up to the LV busbar on the sender's phase and down on
  the receiver's;
- on a meshed feeder (balanced flows only) a transfer's path is not unique: the power-flow
  Jacobian spreads it over the branches, and D is -g of one adjoint solve J^T y = w
  (:func:`bus_allocation_weights`, eqs. 3.1-3.2 linearised at the slot's operating point); on the
  IEEE 14-bus case g gives the pair-by-pair allocation of :mod:`gridledger.grid.powerflow` to
  1e-9, and on radial feeders the path sums (tests).

A negative total (a transfer that relieves the feeder) counts as 0. Only the series (I^2 R)
loss is allocated: a transformer's no-load (iron) loss depends on the voltage, not on any
transfer. The day's fraction weights the slots by when the sender's energy flows (its exports
for a prosumer, the receiver's imports for the EDC). One power flow at the day's mean power is
not a substitute: losses are quadratic in the flows and a day's PV exports and evening imports
cancel in the mean (docs/decisions.md gives the measured difference).
"""

from __future__ import annotations

import copy
import json
import logging
import time
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
from gridledger.params import check_int, check_number

EARTH_RADIUS_KM = 6371.0
#: Columns runpp_3ph needs beyond the balanced model (zero-sequence data).
THREE_PHASE_DATA = {"line": ("r0_ohm_per_km", "x0_ohm_per_km", "c0_nf_per_km"),
                    "trafo": ("vk0_percent", "vkr0_percent", "mag0_percent", "mag0_rx", "si0_hv_partial",
                              "vector_group"),
                    "ext_grid": ("s_sc_max_mva", "rx_max", "r0x0_max", "x0x_max")}


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
    """pandapower bus index of each load of the network (balanced loads in the order of
    ``net.load``, then single-phase loads in the order of ``net.asymmetric_load``)."""
    bus_xy_km: dict[int, tuple[float, float]]
    """Coordinates of the buses (km, in a local plane; buses without coordinates are absent)."""
    slack_bus: int
    """Bus of the external grid (the EDC)."""
    load_phases: tuple[int, ...] | None = None
    """Phase (0, 1, 2 = a, b, c) of each load, when the loads are single-phase; None otherwise."""
    three_phase: bool = False
    """The grid carries what ``runpp_3ph`` needs (zero-sequence data, single-phase loads): its
    power flows are three-phase."""

    @property
    def n_loads(self) -> int:
        return len(self.load_buses)

    def xy(self, bus: int) -> NDArray[np.float64]:
        if bus in self.bus_xy_km:
            return np.asarray(self.bus_xy_km[bus], dtype=float)
        # A bus without coordinates (an MV bus in simbench) sits at the centroid of the others.
        return np.mean(np.array(list(self.bus_xy_km.values())), axis=0)


def _quiet() -> None:
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pandapower")


def bus_coordinates_km(net: Any) -> dict[int, tuple[float, float]]:
    """Bus coordinates in km on a local plane from the net's geodata (longitude/latitude degrees
    projected equirectangularly; coordinates that are not degrees are taken as metres)."""
    raw: dict[int, tuple[float, float]] = {}
    col = net.bus["geo"] if "geo" in net.bus.columns else None
    if col is not None:
        for b, g in col.items():
            if isinstance(g, str) and g:
                try:
                    x, y = json.loads(g)["coordinates"][:2]
                except (ValueError, KeyError, TypeError):
                    continue
                raw[int(b)] = (float(x), float(y))
    if not raw:
        return {}
    arr = np.array(list(raw.values()))
    degrees = bool(np.all(np.abs(arr[:, 0]) <= 180) and np.all(np.abs(arr[:, 1]) <= 90))
    if degrees:
        lon0, lat0 = arr.mean(axis=0)
        kx = np.deg2rad(1.0) * EARTH_RADIUS_KM * np.cos(np.deg2rad(lat0))
        ky = np.deg2rad(1.0) * EARTH_RADIUS_KM
        return {b: ((x - lon0) * kx, (y - lat0) * ky) for b, (x, y) in raw.items()}
    return {b: (x / 1000.0, y / 1000.0) for b, (x, y) in raw.items()}


def _has_columns(table: Any, columns: tuple[str, ...]) -> bool:
    return all(c in table.columns and not table[c].isna().any() for c in columns)


def carries_three_phase_data(net: Any) -> bool:
    """Single-phase loads and the zero-sequence data of lines, transformers and external grid."""
    if "asymmetric_load" not in net or not len(net.asymmetric_load):
        return False
    return all(not len(net[t]) or _has_columns(net[t], cols) for t, cols in THREE_PHASE_DATA.items())


def feeder_from_net(net: Any, name: str = "feeder", source: str = "") -> Feeder:
    """Any pandapower net with one external grid as a :class:`Feeder`: its balanced and
    single-phase loads are where prosumers can sit."""
    if len(net.ext_grid) != 1:
        raise ConfigError("network", f"{name} needs exactly one external grid (the EDC), it has {len(net.ext_grid)}")
    buses = [int(b) for b in net.load.bus]
    phases: list[int] | None = None
    asym = net.asymmetric_load if "asymmetric_load" in net else None
    if asym is not None and len(asym):
        buses += [int(b) for b in asym.bus]
        p = np.abs(asym[["p_a_mw", "p_b_mw", "p_c_mw"]].to_numpy(dtype=float))
        single = np.count_nonzero(p, axis=1) <= 1
        if not len(net.load) and bool(single.all()):
            phases = [int(k) for k in np.argmax(p, axis=1)]
    return Feeder(name=name, source=source or name, net=net, load_buses=tuple(buses),
                  bus_xy_km=bus_coordinates_km(net), slack_bus=int(net.ext_grid.bus.iloc[0]),
                  load_phases=tuple(phases) if phases is not None else None,
                  three_phase=phases is not None and carries_three_phase_data(net))


def load_buses(net: Any) -> NDArray[np.int64]:
    """The distinct buses of a net's loads (balanced and single-phase), sorted."""
    return np.asarray(sorted(set(feeder_from_net(net).load_buses)), dtype=np.int64)


def place_prosumers(feeder: Feeder, n: int) -> NDArray[np.int64]:
    """Bus of each of ``n`` prosumers: prosumer i replaces load i mod L of the feeder's L loads
    (one prosumer per load while there are enough)."""
    check_int("prosumers", n, ge=1)
    if feeder.n_loads == 0:
        raise ConfigError("network", f"{feeder.name} has no loads to place prosumers on")
    return np.array([feeder.load_buses[i % feeder.n_loads] for i in range(n)], dtype=np.int64)


def prosumer_phases(feeder: Feeder, n: int) -> NDArray[np.int64] | None:
    """Phase of each of ``n`` prosumers placed by :func:`place_prosumers` (the phase of the load it
    replaces), or None on a feeder of balanced loads."""
    if feeder.load_phases is None:
        return None
    return np.array([feeder.load_phases[i % feeder.n_loads] for i in range(n)], dtype=np.int64)


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


# ----------------------------------------------------------------------------------- the feeder tree


@dataclass(frozen=True)
class FeederTree:
    """A radial feeder as a tree rooted at the external grid (the EDC)."""

    root: int
    """pandapower bus index of the external grid."""
    buses: NDArray[np.int64]
    """pandapower bus indices in breadth-first order from the root."""
    parent: dict[int, int]
    edge: dict[int, tuple[str, int]]
    """The branch from each bus to its parent: ("line", index) or ("trafo", index)."""
    lv_bus: int
    """The low-voltage busbar (the transformer's LV side; the root itself if there is none)."""


def feeder_tree(net: Any) -> FeederTree:
    """The tree of an in-service, switched radial feeder (lines and transformers).

    Raises
    ------
    ValueError
        If the feeder is meshed (a transaction's path would not be unique) or has no external grid.
    """
    import networkx as nx
    import pandapower.topology as top

    _quiet()
    if len(net.ext_grid) != 1:
        raise ValueError("a feeder needs exactly one external grid (the EDC)")
    grid = top.create_nxgraph(net, respect_switches=True, include_trafos=True, multi=True)
    root = int(net.ext_grid.bus.iloc[0])
    reach = nx.node_connected_component(nx.Graph(grid), root)
    sub = grid.subgraph(reach)
    if sub.number_of_edges() != sub.number_of_nodes() - 1:
        raise ValueError("the feeder is meshed: a transaction's path between two buses is not unique")
    parent: dict[int, int] = {}
    edge: dict[int, tuple[str, int]] = {}
    order = [root]
    for u, v in nx.bfs_edges(sub, root):
        key = next(iter(sub.get_edge_data(u, v)))
        parent[int(v)] = int(u)
        edge[int(v)] = (str(key[0]), int(key[1]))
        order.append(int(v))
    lv = root
    trafos = [b for b, e in edge.items() if e[0] == "trafo"]
    if trafos:
        lv = min(trafos, key=order.index)
    return FeederTree(root, np.asarray(order, dtype=np.int64), parent, edge, lv)


def trafo_copper_loss_mw(net: Any, idx: NDArray[np.int64], i_hv_ka: NDArray[np.float64],
                         i_lv_ka: NDArray[np.float64], phases: int = 1) -> NDArray[np.float64]:
    """Series (copper) loss of transformers ``idx`` at the given winding currents, MW (per phase
    with ``phases`` = 3): the rated copper loss vkr% x S_n, split equally between the windings
    (pandapower's T model), times each winding's (I / I_n)^2."""
    t = net.trafo.loc[idx]
    sn = t.sn_mva.to_numpy(dtype=float) * t.parallel.to_numpy(dtype=float)
    i_hv_n = sn / (np.sqrt(3) * t.vn_hv_kv.to_numpy(dtype=float))
    i_lv_n = sn / (np.sqrt(3) * t.vn_lv_kv.to_numpy(dtype=float))
    rated = t.vkr_percent.to_numpy(dtype=float) / 100.0 * sn / phases
    return rated * ((np.asarray(i_hv_ka) / i_hv_n) ** 2 + (np.asarray(i_lv_ka) / i_lv_n) ** 2) / 2.0


def _branch_rates(net: Any, tree: FeederTree, three_phase: bool) -> tuple[NDArray[np.float64], float]:
    """Signed loss per unit moved downstream (root -> leaves) on each bus's parent branch, per
    phase: eq. (3.1) per unit of P_tr, Lp / P = loss P / (P^2 + Q^2); a transfer against the
    branch's flow gets the negative. Returns ((phases, buses in tree order) rates, all losses in
    MW, iron included)."""
    phases = ("_a", "_b", "_c") if three_phase else ("",)
    n = len(tree.buses)
    rates = np.zeros((len(phases), n))
    total = 0.0
    line_res = net.res_line_3ph if three_phase else net.res_line
    trafo_res = net.res_trafo_3ph if three_phase else net.res_trafo
    kinds = [tree.edge[int(b)] for b in tree.buses[1:]]
    is_line = np.array([k == "line" for k, _ in kinds], dtype=bool)
    idx = np.array([i for _, i in kinds], dtype=np.int64)
    par = np.array([tree.parent[int(b)] for b in tree.buses[1:]], dtype=np.int64)
    line_from = net.line.from_bus.reindex(idx[is_line]).to_numpy()
    trafo_hv = net.trafo.hv_bus.reindex(idx[~is_line]).to_numpy() if (~is_line).any() else np.zeros(0)
    from_parent = np.empty(n - 1, dtype=bool)
    from_parent[is_line] = line_from == par[is_line]
    from_parent[~is_line] = trafo_hv == par[~is_line]
    ps, qs, losses = [], [], []
    for sfx in phases:
        lines = line_res.reindex(idx[is_line])
        p = np.empty(n - 1)
        q = np.empty(n - 1)
        loss = np.empty(n - 1)
        p[is_line] = lines[f"p{sfx}_from_mw"].to_numpy()
        q[is_line] = lines[f"q{sfx}_from_mvar"].to_numpy()
        loss[is_line] = lines[f"pl{sfx}_mw"].to_numpy()
        total += float(line_res[f"pl{sfx}_mw"].sum())
        if (~is_line).any():
            trafos = trafo_res.reindex(idx[~is_line])
            p[~is_line] = trafos[f"p{sfx}_hv_mw"].to_numpy()
            q[~is_line] = trafos[f"q{sfx}_hv_mvar"].to_numpy()
            # Only the load-dependent (copper) loss is allocated: the no-load (iron) loss depends on
            # the voltage, not on the flows (pl - pfe would hand its voltage dependence to the flows).
            loss[~is_line] = trafo_copper_loss_mw(net, idx[~is_line], trafos[f"i{sfx}_hv_ka"].to_numpy(),
                                                  trafos[f"i{sfx}_lv_ka"].to_numpy(), len(phases))
            total += float(trafo_res[f"pl{sfx}_mw"].sum())
        ps.append(p)
        qs.append(q)
        losses.append(loss)
    p_all, q_all = np.array(ps), np.array(qs)
    # Lp_k of eq. (3.1): the branch's loss in proportion to phase k's squared real flow. With one
    # phase this is loss P^2 / (P^2 + Q^2); with three, the lines' per-phase losses are not used
    # because pandapower's coupled (Kron-reduced) phases give per-phase losses that can be negative.
    branch_loss = np.clip(np.sum(losses, axis=0), 0.0, None)
    denom = np.sum(p_all * p_all + q_all * q_all, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.where(denom > 1e-18, branch_loss / np.where(denom > 1e-18, denom, 1.0), 0.0)
    for k in range(len(phases)):
        r = per_unit * np.abs(p_all[k])
        downstream = (p_all[k] > 0) == from_parent
        rates[k, 1:] = np.where(downstream, r, -r)
    return rates, total


def bus_allocation_weights(net: Any) -> tuple[dict[int, float], NDArray[np.float64]]:
    """g per pandapower bus (eqs. 3.1-3.2 linearised, see the module docstring) at the solved
    operating point of ``net`` (after ``runpp``), and each branch's series loss in MW
    (pandapower's internal branch order: lines, then transformers). A transfer a -> b is charged
    g_a - g_b per unit; g is 0 at the slack bus."""
    from pandapower.pypower.dSbus_dV import dSbus_dV
    from pandapower.pypower.idx_brch import BR_R, BR_STATUS, BR_X, F_BUS, SHIFT, T_BUS, TAP
    from pandapower.pypower.idx_bus import BUS_TYPE, PQ, PV, REF, VA, VM
    from pandapower.pypower.makeYbus import makeYbus

    ppc = net._ppc
    base = float(ppc["baseMVA"])
    bus, branch = ppc["bus"], ppc["branch"]
    ybus, yf, _yt = makeYbus(base, bus, branch)
    ybus, yf = sparse.csr_matrix(ybus), sparse.csr_matrix(yf)
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


# ----------------------------------------------------------------------------------- loss fractions


@dataclass(frozen=True)
class FeederLosses:
    """Loss fractions of a community on a feeder from AC power flows per slot (eqs. 3.1-3.2)."""

    fractions: NDArray[np.float64]
    """(N+1, N+1) daily loss per kWh transferred (index N = the EDC, the external grid)."""
    slot_fractions: NDArray[np.float64]
    """(T, B+1, B+1) the same per slot between the B distinct prosumer nodes and the EDC."""
    buses: NDArray[np.int64]
    """(B,) the pandapower bus of each node: the distinct prosumer buses (three-phase: the distinct
    (bus, phase) pairs)."""
    bus_of: NDArray[np.int64]
    """(N,) each prosumer's node (index into ``buses``)."""
    physical_loss_kwh: float
    """Loss in the lines and the transformer over the day, from the power flows (iron included)."""
    slot_loss_kw: NDArray[np.float64]
    three_phase: bool
    allocation: str
    """"path" (radial feeder: sums along each transaction's unique path) or "adjoint" (meshed)."""
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"slots": int(self.slot_fractions.shape[0]), "three_phase": self.three_phase,
                "allocation": self.allocation, "physical_loss_kwh": self.physical_loss_kwh,
                "loss_to_edc_pct": (100 * self.fractions[:-1, -1]).tolist(),
                "loss_from_edc_pct": (100 * self.fractions[-1, :-1]).tolist(), "power_flow_seconds": self.seconds}


def _path_matrix(tree: FeederTree, pos_of: dict[int, int], start: int) -> NDArray[np.float64]:
    """Indicator of the branches (tree positions) on the path from ``start`` up to the root."""
    out = np.zeros(len(tree.buses))
    v = start
    while v != tree.root:
        out[pos_of[v]] = 1.0
        v = tree.parent[v]
    return out


def feeder_loss_fractions(feeder: Feeder | Any, buses: NDArray[np.int64], generation_kw: NDArray[np.float64],
                          consumption_kw: NDArray[np.float64], slot_hours: float, power_factor: float = 0.95,
                          three_phase: bool | None = None, phases: NDArray[np.int64] | None = None) -> FeederLosses:
    """Loss fractions of N prosumers on a feeder (thesis section 3.2.2, eqs. 3.1-3.2), from an AC
    power flow per slot (see the module docstring).

    ``generation_kw`` and ``consumption_kw`` are (N, T) mean powers per slot of ``slot_hours``;
    consumption is drawn at ``power_factor`` (lagging), generation injected at unity. ``feeder``
    is a :class:`Feeder` or a pandapower net. ``three_phase`` (default: the feeder's own
    :attr:`Feeder.three_phase`) runs ``runpp_3ph`` with prosumer i on phase ``phases[i]`` (0, 1,
    2; default a). The input net is not modified.
    """
    _quiet()
    with stdout_to_stderr():
        import pandapower as pp

    start = time.perf_counter()
    fd = feeder if isinstance(feeder, Feeder) else feeder_from_net(feeder)
    net = fd.net
    three = fd.three_phase if three_phase is None else bool(three_phase)
    check_number("power_factor", power_factor, gt=0, le=1)
    check_number("slot_hours", slot_hours, gt=0, le=24)
    gen = np.atleast_2d(np.asarray(generation_kw, dtype=float))
    cons = np.atleast_2d(np.asarray(consumption_kw, dtype=float))
    pb = np.asarray(buses, dtype=np.int64)
    n, slots = gen.shape
    if cons.shape != gen.shape or len(pb) != n:
        raise ConfigError("profiles", "generation_kw and consumption_kw must be (prosumers, slots), buses (prosumers,)")
    if three and not carries_three_phase_data(net):
        raise ConfigError("network", f"{fd.name} carries no three-phase data (zero-sequence impedances, single-phase "
                          "loads): its power flow is balanced")
    try:
        tree: FeederTree | None = feeder_tree(net)
    except ValueError as exc:
        if three or "meshed" not in str(exc):
            raise ConfigError("network", f"{fd.name}: {exc}") from None
        tree = None
    if tree is not None:
        pos_of = {int(b): k for k, b in enumerate(tree.buses)}
        missing = [int(b) for b in pb if int(b) not in pos_of]
        if missing:
            raise ConfigError("buses", f"{missing[:5]} are not connected to the external grid of {fd.name}")
    work = copy.deepcopy(net)
    for table in ("load", "sgen", "asymmetric_load", "asymmetric_sgen", "storage", "gen"):
        t = work.get(table)
        if t is not None and len(t):
            t["in_service"] = False
    ph = np.zeros(n, dtype=np.int64) if phases is None else np.asarray(phases, dtype=np.int64)
    if three and (len(ph) != n or np.any((ph < 0) | (ph > 2))):
        raise ConfigError("phases", f"must be {n} values in 0, 1, 2")
    tan = float(np.tan(np.arccos(power_factor)))
    if three:
        load_idx = [pp.create_asymmetric_load(work, int(b)) for b in pb]
    else:
        load_idx = list(pp.create_loads(work, pb, p_mw=np.zeros(n), q_mvar=np.zeros(n)))
    # Nodes: the distinct prosumer buses (with three phases: the distinct (bus, phase) pairs).
    keys = pb * 3 + ph if three else pb
    uniq, bus_of = np.unique(keys, return_inverse=True)
    node_bus = uniq // 3 if three else uniq
    node_phase = uniq % 3 if three else np.zeros(len(uniq), dtype=np.int64)
    b_count = len(node_bus)
    if tree is not None:
        path = np.array([_path_matrix(tree, pos_of, int(bus)) for bus in node_bus])
        lv_path = _path_matrix(tree, pos_of, tree.lv_bus)
    slot_f = np.zeros((slots, b_count + 1, b_count + 1))
    slot_loss = np.zeros(slots)
    for t in range(slots):
        net_p = (cons[:, t] - gen[:, t]) / 1000.0          # MW drawn (negative: injected)
        q = cons[:, t] * tan / 1000.0
        try:
            if three:
                for k_ph, p_name in enumerate("abc"):
                    sel = ph == k_ph
                    work.asymmetric_load.loc[load_idx, f"p_{p_name}_mw"] = np.where(sel, net_p, 0.0)
                    work.asymmetric_load.loc[load_idx, f"q_{p_name}_mvar"] = np.where(sel, q, 0.0)
                with stdout_to_stderr():
                    pp.runpp_3ph(work, numba=False, init="results" if t else "auto")
            else:
                work.load.loc[load_idx, "p_mw"] = net_p
                work.load.loc[load_idx, "q_mvar"] = q
                with stdout_to_stderr():
                    pp.runpp(work, numba=False, recycle={"trafo": False, "gen": False, "bus_pq": True})
        except Exception as exc:  # pandapower raises its own LoadflowNotConverged (and others)
            raise ConfigError("network", f"the power flow of {fd.name} did not converge in slot {t} ({exc})") from None
        if tree is not None:
            rates, total_mw = _branch_rates(work, tree, three)
            # D[k, phase]: signed loss per unit moved from the root down to node k. Eq. (3.2) along
            # a -> b (up to the common ancestor against D's direction, then down) telescopes: the
            # shared branches cancel, leaving D[b] - D[a].
            d_all = path @ rates.T                           # (B, phases)
            d_lv = lv_path @ rates.T                         # (phases,)
            d = d_all[np.arange(b_count), node_phase]
        else:
            g, _ = bus_allocation_weights(work)
            d = -np.array([g[int(b)] for b in node_bus])
            d_lv = np.zeros(1)
            total_mw = float(work.res_line.pl_mw.sum() + (work.res_trafo.pl_mw.sum() if len(work.trafo) else 0.0))
        f = np.zeros((b_count + 1, b_count + 1))
        same = node_phase[:, None] == node_phase[None, :]
        # Between phases: up to the LV busbar on the sender's phase, down on the receiver's.
        lv = d_lv[node_phase]
        f[:b_count, :b_count] = np.where(same, d[None, :] - d[:, None], (d - lv)[None, :] - (d - lv)[:, None])
        f[:b_count, b_count] = -d
        f[b_count, :b_count] = d
        np.fill_diagonal(f, 0.0)
        slot_f[t] = np.clip(f, 0.0, None)
        slot_loss[t] = total_mw * 1000.0
    # Daily fractions: each sender's row weighted by when its energy flows.
    exports = np.clip(gen - cons, 0.0, None)
    imports = np.clip(cons - gen, 0.0, None)

    def weights(x: NDArray[np.float64]) -> NDArray[np.float64]:
        tot = x.sum(axis=1, keepdims=True)
        return np.where(tot > 0, x / np.where(tot > 0, tot, 1.0), 1.0 / slots)

    w_send = weights(exports)                                # (N, T)
    w_recv = weights(imports)
    rows = np.einsum("it,tib->ib", w_send, slot_f[:, bus_of, :])           # (N, B+1)
    out = np.zeros((n + 1, n + 1))
    out[:n, :n] = rows[:, bus_of]
    out[:n, n] = rows[:, b_count]
    out[n, :n] = np.einsum("jt,tj->j", w_recv, slot_f[:, b_count, bus_of])
    np.fill_diagonal(out, 0.0)
    return FeederLosses(out, slot_f, node_bus, bus_of.astype(np.int64), float(slot_loss.sum() * slot_hours),
                        slot_loss, three, "path" if tree is not None else "adjoint", time.perf_counter() - start)
