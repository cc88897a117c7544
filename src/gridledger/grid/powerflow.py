"""AC power flow on the IEEE 14-bus network and per-transaction loss allocation (thesis section
3.2.2, eqs. 3.1-3.2). Real low-voltage feeders have their own per-slot allocation in
:mod:`gridledger.grid.feeders`.

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
