"""AC power flow and per-transaction loss allocation (thesis section 3.2.2, eqs. 3.1-3.2): on the
IEEE 14-bus network (below), and on real low-voltage feeders (:func:`feeder_loss_fractions`, at
the end of this module).

pandapower (``pandapower.networks.case14``, ``runpp``) is the reference: it builds the bus
admittance matrix and solves the power flow. Its solve takes ~0.1-0.6 s here, so gridledger
solves the same equations with a dense Newton-Raphson in numpy on pandapower's own Ybus
(:func:`solve_ac`), tested against ``runpp`` to 1e-6, and derives from the converged Jacobian
how a transfer between two buses changes every branch flow.

Loss allocation, eq. (3.1): a transaction's share of branch l's loss is
(P_tr/P_l) Lp_l + (Q_tr/Q_l) Lq_l, with Lp_l and Lq_l the parts of the branch loss due to
its real and reactive flow (loss_l P_l^2/(P_l^2+Q_l^2) and loss_l Q_l^2/(P_l^2+Q_l^2)). For a
transfer small beside the base flows (kW prosumers on a MW network) the transaction's flows
are linear in its size, so eq. (3.2) summed over branches gives a loss factor per bus pair
(MW lost per MW transferred), computed once per operating point.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Buses of case14 where the thesis attaches prosumers (1-based numbering of the IEEE case).
PROSUMER_BUSES: tuple[int, ...] = (2, 3, 4, 5, 9, 14)
#: The slack bus (the utility's supply point), our distribution centre (EDC).
EDC_BUS = 1


@dataclass(frozen=True)
class ACNetwork:
    """The admittance model of a network and its base injections (per unit)."""

    base_mva: float
    ybus: NDArray[np.complex128]
    yf: NDArray[np.complex128]
    yt: NDArray[np.complex128]
    f_bus: NDArray[np.int64]
    t_bus: NDArray[np.int64]
    sbus: NDArray[np.complex128]
    v0: NDArray[np.complex128]
    ref: NDArray[np.int64]
    pv: NDArray[np.int64]
    pq: NDArray[np.int64]


@dataclass(frozen=True)
class ACSolution:
    v: NDArray[np.complex128]
    s_from: NDArray[np.complex128]
    s_to: NDArray[np.complex128]
    iterations: int

    @property
    def branch_loss(self) -> NDArray[np.float64]:
        """Real power lost on each branch (per unit)."""
        return (self.s_from + self.s_to).real


def _quiet_pandapower() -> None:
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pandapower")


@functools.cache
def case14_reference() -> object:
    """pandapower's case14 after ``runpp`` (the reference solution)."""
    _quiet_pandapower()
    import pandapower as pp
    import pandapower.networks as pn

    net = pn.case14()
    pp.runpp(net, numba=False)
    return net


@functools.cache
def case14_network() -> ACNetwork:
    """The IEEE 14-bus network as admittance matrices built by pandapower (MATPOWER ordering)."""
    from pandapower.pypower.idx_brch import F_BUS, T_BUS
    from pandapower.pypower.idx_bus import BUS_TYPE, PQ, PV, REF, VA, VM
    from pandapower.pypower.makeSbus import makeSbus
    from pandapower.pypower.makeYbus import makeYbus

    net = case14_reference()
    ppc = net._ppc
    base = float(ppc["baseMVA"])
    bus, branch, gen = ppc["bus"], ppc["branch"], ppc["gen"]
    ybus, yf, yt = makeYbus(base, bus, branch)
    sbus = makeSbus(base, bus, gen)
    types = bus[:, BUS_TYPE].astype(int)
    # Flat start except the generators' set-point magnitudes.
    vm = np.ones(len(bus))
    gen_bus = gen[:, 0].astype(int)
    vm[gen_bus] = gen[:, 5]
    v0 = vm * np.exp(1j * np.deg2rad(bus[:, VA] * 0))
    del VM
    return ACNetwork(base_mva=base, ybus=ybus.toarray(), yf=yf.toarray(), yt=yt.toarray(),
                     f_bus=branch[:, F_BUS].real.astype(int), t_bus=branch[:, T_BUS].real.astype(int),
                     sbus=np.asarray(sbus).ravel(), v0=v0, ref=np.flatnonzero(types == REF),
                     pv=np.flatnonzero(types == PV), pq=np.flatnonzero(types == PQ))


def _jacobian(ybus: NDArray[np.complex128], v: NDArray[np.complex128], pvpq: NDArray[np.int64],
              pq: NDArray[np.int64]) -> NDArray[np.float64]:
    ibus = ybus @ v
    diag_v = np.diag(v)
    diag_vnorm = np.diag(v / np.abs(v))
    ds_dvm = diag_v @ np.conj(ybus @ diag_vnorm) + np.conj(np.diag(ibus)) @ diag_vnorm
    ds_dva = 1j * diag_v @ np.conj(np.diag(ibus) - ybus @ diag_v)
    return np.block([
        [ds_dva[np.ix_(pvpq, pvpq)].real, ds_dvm[np.ix_(pvpq, pq)].real],
        [ds_dva[np.ix_(pq, pvpq)].imag, ds_dvm[np.ix_(pq, pq)].imag],
    ])


def solve_ac(net: ACNetwork, sbus: NDArray[np.complex128] | None = None, tol: float = 1e-10,
             max_iter: int = 30) -> ACSolution:
    """Newton-Raphson AC power flow (polar form) on dense matrices.

    Raises
    ------
    RuntimeError
        If it does not converge in ``max_iter`` iterations.
    """
    s = net.sbus if sbus is None else sbus
    v = net.v0.copy()
    pvpq = np.concatenate([net.pv, net.pq])
    n_pvpq, n_pq = len(pvpq), len(net.pq)
    for it in range(1, max_iter + 1):
        mis = v * np.conj(net.ybus @ v) - s
        f = np.concatenate([mis[pvpq].real, mis[net.pq].imag])
        if np.max(np.abs(f)) < tol:
            return _flows(net, v, it - 1)
        dx = np.linalg.solve(_jacobian(net.ybus, v, pvpq, net.pq), -f)
        va, vm = np.angle(v), np.abs(v)
        va[pvpq] += dx[:n_pvpq]
        vm[net.pq] += dx[n_pvpq:n_pvpq + n_pq]
        v = vm * np.exp(1j * va)
    raise RuntimeError("AC power flow did not converge")


def _flows(net: ACNetwork, v: NDArray[np.complex128], iterations: int) -> ACSolution:
    s_from = v[net.f_bus] * np.conj(net.yf @ v)
    s_to = v[net.t_bus] * np.conj(net.yt @ v)
    return ACSolution(v=v, s_from=s_from, s_to=s_to, iterations=iterations)


def transfer_flow_sensitivity(net: ACNetwork, sol: ACSolution, a: int, b: int) -> tuple[
        NDArray[np.float64], NDArray[np.float64]]:
    """Change of every branch's (P, Q) from-side flow per unit of real power moved from bus a to bus b.

    Linearised at ``sol`` with the power-flow Jacobian; the slack bus absorbs the losses' change.
    """
    pvpq = np.concatenate([net.pv, net.pq])
    jac = _jacobian(net.ybus, sol.v, pvpq, net.pq)
    d_inj = np.zeros(len(pvpq) + len(net.pq))
    pos = {int(bus): k for k, bus in enumerate(pvpq)}
    if a in pos:
        d_inj[pos[a]] += 1.0
    if b in pos:
        d_inj[pos[b]] -= 1.0
    dx = np.linalg.solve(jac, d_inj)
    dva = np.zeros(len(sol.v))
    dvm = np.zeros(len(sol.v))
    dva[pvpq] = dx[:len(pvpq)]
    dvm[net.pq] = dx[len(pvpq):]
    dv = sol.v * (1j * dva + dvm / np.abs(sol.v))
    # d(S_from) = dV_f conj(Yf V) + V_f conj(Yf dV)
    ds = dv[net.f_bus] * np.conj(net.yf @ sol.v) + sol.v[net.f_bus] * np.conj(net.yf @ dv)
    return ds.real, ds.imag


def allocated_loss_factor(net: ACNetwork, sol: ACSolution, a: int, b: int) -> float:
    """Loss allocated to a transfer from bus a to bus b, per unit transferred (eqs. 3.1-3.2).

    Sum over branches of (dP/P) Lp + (dQ/Q) Lq with Lp = loss P^2/(P^2+Q^2) and
    Lq = loss Q^2/(P^2+Q^2); negative totals (a transfer against the prevailing flows) are
    counted as zero: a transaction is never paid for relieving the network.
    """
    if a == b:
        return 0.0
    dp, dq = transfer_flow_sensitivity(net, sol, a, b)
    p, q = sol.s_from.real, sol.s_from.imag
    loss = sol.branch_loss
    denom = p * p + q * q
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(denom > 1e-12, loss * (dp * p + dq * q) / denom, 0.0)
    return max(0.0, float(terms.sum()))


@functools.cache
def case14_loss_factors() -> NDArray[np.float64]:
    """Loss factor matrix (14 x 14, 0-based buses) of case14 at its base operating point."""
    net = case14_network()
    sol = solve_ac(net)
    n = len(net.v0)
    out = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            out[a, b] = allocated_loss_factor(net, sol, a, b)
    out.setflags(write=False)
    return out


# ------------------------------------------------------------------------------------- LV feeders
# A community on a real low-voltage feeder (a pandapower net: simbench's LV grids, pandapower's IEEE
# European LV test feeder): the prosumers replace the feeder's loads on its load buses, an AC power
# flow runs for every slot of the day, and each transaction's loss is allocated by eqs. (3.1)-(3.2)
# along its path in the (radial) feeder.


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


def feeder_tree(net: object) -> FeederTree:
    """The tree of an in-service, switched radial feeder (lines and transformers).

    Raises
    ------
    ValueError
        If the feeder is meshed (a transaction's path would not be unique) or has no external grid.
    """
    import networkx as nx
    import pandapower.topology as top

    _quiet_pandapower()
    grid = top.create_nxgraph(net, respect_switches=True, include_trafos=True, multi=True)
    if len(net.ext_grid) != 1:  # type: ignore[attr-defined]
        raise ValueError("a feeder needs exactly one external grid (the EDC)")
    root = int(net.ext_grid.bus.iloc[0])  # type: ignore[attr-defined]
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


def load_buses(net: object) -> NDArray[np.int64]:
    """The buses of a feeder's loads (balanced and asymmetric), where prosumers connect."""
    found = []
    for table in ("load", "asymmetric_load"):
        t = getattr(net, table, None)
        if t is not None and len(t):
            found.extend(int(b) for b in t.bus)
    return np.asarray(sorted(set(found)), dtype=np.int64)


@dataclass(frozen=True)
class FeederLosses:
    """Loss fractions of a community on a feeder from AC power flows per slot (eqs. 3.1-3.2)."""

    fractions: NDArray[np.float64]
    """(N+1, N+1) daily loss per kWh transferred (index N = the EDC, the external grid)."""
    slot_fractions: NDArray[np.float64]
    """(T, B+1, B+1) the same per slot between the B distinct prosumer buses and the EDC."""
    buses: NDArray[np.int64]
    """(B,) the pandapower bus of each node: the distinct prosumer buses (three-phase: the distinct
    (bus, phase) pairs)."""
    bus_of: NDArray[np.int64]
    """(N,) each prosumer's node (index into ``buses``)."""
    physical_loss_kwh: float
    """Loss in the lines and the transformer over the day, from the power flows."""
    slot_loss_kw: NDArray[np.float64]
    three_phase: bool
    seconds: float


def _branch_rates(net: object, tree: FeederTree, three_phase: bool) -> tuple[NDArray[np.float64], float]:
    """Loss per unit moved downstream (root -> leaves) on each bus's parent branch, per phase: eq.
    (3.1) with P_tr the transaction's real power: (P_tr / JP) Lp, Lp = loss P^2 / (P^2 + Q^2).
    A transfer against the branch's flow gets the negative of that (it relieves the branch).
    Returns ((phases, buses in tree order) rates, total loss in MW)."""
    phases = ("_a", "_b", "_c") if three_phase else ("",)
    n = len(tree.buses)
    rates = np.zeros((len(phases), n))
    total = 0.0
    line_res = net.res_line_3ph if three_phase else net.res_line  # type: ignore[attr-defined]
    trafo_res = net.res_trafo_3ph if three_phase else net.res_trafo  # type: ignore[attr-defined]
    kinds = [tree.edge[int(b)] for b in tree.buses[1:]]
    is_line = np.array([k == "line" for k, _ in kinds])
    idx = np.array([i for _, i in kinds], dtype=np.int64)
    par = np.array([tree.parent[int(b)] for b in tree.buses[1:]], dtype=np.int64)
    line_from = net.line.from_bus.reindex(idx[is_line]).to_numpy()  # type: ignore[attr-defined]
    trafo_hv = net.trafo.hv_bus.reindex(idx[~is_line]).to_numpy() if (~is_line).any() else np.zeros(0)  # type: ignore[attr-defined]
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
            # The transformer's no-load (iron) loss does not depend on the flows: it is not allocated
            # to transactions, only its load-dependent (copper) part is.
            iron = net.trafo.pfe_kw.reindex(idx[~is_line]).fillna(0.0).to_numpy() / 1000.0 / len(phases)  # type: ignore[attr-defined]
            loss[~is_line] = trafos[f"pl{sfx}_mw"].to_numpy() - iron
            total += float(trafo_res[f"pl{sfx}_mw"].sum())
        ps.append(p)
        qs.append(q)
        losses.append(loss)
    p_all, q_all = np.array(ps), np.array(qs)
    # Lp_k of eq. (3.1): the branch's loss in proportion to phase k's squared real flow. With one
    # phase this is loss P^2 / (P^2 + Q^2); with three, the phases' own losses are not used because
    # pandapower's coupled (Kron-reduced) phases give per-phase losses that can be negative.
    branch_loss = np.clip(np.sum(losses, axis=0), 0.0, None)
    denom = np.sum(p_all * p_all + q_all * q_all, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.where(denom > 1e-18, branch_loss / np.where(denom > 1e-18, denom, 1.0), 0.0)
    for k in range(len(phases)):
        r = per_unit * np.abs(p_all[k])
        downstream = (p_all[k] > 0) == from_parent
        rates[k, 1:] = np.where(downstream, r, -r)
    return rates, total


def feeder_loss_fractions(net: object, prosumer_buses: NDArray[np.int64], generation_kw: NDArray[np.float64],
                          consumption_kw: NDArray[np.float64], slot_hours: float, power_factor: float = 0.95,
                          three_phase: bool = False, phases: NDArray[np.int64] | None = None) -> FeederLosses:
    """Loss fractions of N prosumers on a feeder (thesis section 3.2.2, eqs. 3.1-3.2).

    For every slot t, the prosumers (replacing the feeder's own loads) draw ``consumption_kw``
    at ``power_factor`` (lagging) and inject ``generation_kw`` at unity power factor on their
    buses; pandapower solves the AC power flow (``runpp``, or ``runpp_3ph`` with each prosumer
    on one phase, ``phases`` in {0, 1, 2}, when ``three_phase``). A transfer of real power from
    bus a to bus b follows the feeder's unique path; on each branch it is allocated eq. (3.1)'s
    (P_tr / JP) Lp, and eq. (3.2) sums the branches (on the phases it uses: a transfer between
    phases goes up to the LV busbar on the sender's phase and down on the receiver's). Per unit
    transferred that is a loss fraction F_t[a, b]; a negative total (a transfer that relieves
    the feeder) counts as 0. The EDC is the external grid. The day's fraction weights the slots
    by when the sender's energy flows: the sender's exports for a prosumer, the receiver's
    imports for the EDC (docs/decisions.md). A transformer's no-load (iron) loss is not caused by
    any transaction and is not allocated; ``physical_loss_kwh`` reports all losses.

    The input net is not modified.
    """
    import copy
    import time

    import pandapower as pp

    _quiet_pandapower()
    start = time.perf_counter()
    gen = np.asarray(generation_kw, dtype=float)
    cons = np.asarray(consumption_kw, dtype=float)
    pb = np.asarray(prosumer_buses, dtype=np.int64)
    n, slots = gen.shape
    if cons.shape != gen.shape or len(pb) != n:
        raise ValueError("generation_kw and consumption_kw must be (prosumers, slots), prosumer_buses (prosumers,)")
    tree = feeder_tree(net)
    pos_of = {int(b): k for k, b in enumerate(tree.buses)}
    missing = [int(b) for b in pb if int(b) not in pos_of]
    if missing:
        raise ValueError(f"buses {missing[:5]} are not connected to the external grid")
    work = copy.deepcopy(net)
    for table in ("load", "sgen", "asymmetric_load", "asymmetric_sgen", "storage", "gen"):
        t = getattr(work, table, None)
        if t is not None and len(t):
            t["in_service"] = False
    ph = np.zeros(n, dtype=np.int64) if phases is None else np.asarray(phases, dtype=np.int64)
    tan = float(np.tan(np.arccos(power_factor)))
    if three_phase:
        load_idx = [pp.create_asymmetric_load(work, int(b)) for b in pb]
    else:
        load_idx = list(pp.create_loads(work, pb, p_mw=np.zeros(n), q_mvar=np.zeros(n)))
    # Nodes: the distinct prosumer buses (with three phases: the distinct (bus, phase) pairs).
    keys = pb * 3 + ph if three_phase else pb
    uniq, bus_of = np.unique(keys, return_inverse=True)
    buses = uniq // 3 if three_phase else uniq
    bus_phase = uniq % 3 if three_phase else np.zeros(len(uniq), dtype=np.int64)
    b_count = len(buses)
    # Root-path indicator of each distinct prosumer bus over the tree's branches (tree positions).
    path = np.zeros((b_count, len(tree.buses)))
    for k, bus in enumerate(buses):
        v = int(bus)
        while v != tree.root:
            path[k, pos_of[v]] = 1.0
            v = tree.parent[v]
    lv_path = np.zeros(len(tree.buses))
    v = tree.lv_bus
    while v != tree.root:
        lv_path[pos_of[v]] = 1.0
        v = tree.parent[v]
    slot_f = np.zeros((slots, b_count + 1, b_count + 1))
    slot_loss = np.zeros(slots)
    for t in range(slots):
        net_p = (cons[:, t] - gen[:, t]) / 1000.0          # MW drawn (negative: injected)
        q = cons[:, t] * tan / 1000.0
        if three_phase:
            for p_name in ("a", "b", "c"):
                work.asymmetric_load.loc[load_idx, f"p_{p_name}_mw"] = 0.0
                work.asymmetric_load.loc[load_idx, f"q_{p_name}_mvar"] = 0.0
            for k_ph, p_name in enumerate("abc"):
                sel = ph == k_ph
                idx = [load_idx[i] for i in np.flatnonzero(sel)]
                work.asymmetric_load.loc[idx, f"p_{p_name}_mw"] = net_p[sel]
                work.asymmetric_load.loc[idx, f"q_{p_name}_mvar"] = q[sel]
            pp.runpp_3ph(work)
        else:
            work.load.loc[load_idx, "p_mw"] = net_p
            work.load.loc[load_idx, "q_mvar"] = q
            pp.runpp(work, numba=False, recycle={"trafo": False, "gen": False, "bus_pq": True})
        rates, total_mw = _branch_rates(work, tree, three_phase)
        slot_loss[t] = total_mw * 1000.0
        # D[k, phase]: the signed loss per unit moved from the root down to bus k. Eq. (3.2) along the
        # path a -> b (up to the common ancestor against D's direction, then down) telescopes: the
        # shared branches cancel, leaving D[b] - D[a].
        d = path @ rates.T                                   # (B, phases)
        d_lv = lv_path @ rates.T                             # (phases,)
        pa = bus_phase
        f = np.zeros((b_count + 1, b_count + 1))
        same = pa[:, None] == pa[None, :]
        da, db = d[np.arange(b_count), pa], d[np.arange(b_count), pa]
        f[:b_count, :b_count] = np.where(
            same, db[None, :] - da[:, None],
            # between phases: up to the LV busbar on the sender's phase, down on the receiver's
            (db - d_lv[pa])[None, :] - (da - d_lv[pa])[:, None])
        f[:b_count, b_count] = -da
        f[b_count, :b_count] = db
        np.fill_diagonal(f, 0.0)
        slot_f[t] = np.clip(f, 0.0, None)
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
    same_prosumer = np.arange(n)
    out[same_prosumer, same_prosumer] = 0.0
    return FeederLosses(out, slot_f, buses, bus_of.astype(np.int64), float(slot_loss.sum() * slot_hours),
                        slot_loss, three_phase, time.perf_counter() - start)
