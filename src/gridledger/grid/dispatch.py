"""The coalition's loss-minimising dispatch LP (thesis eqs. 3.11-3.15), solved with HiGHS.

For a coalition with sellers s (balance b_s = P_s - C_s > 0) and buyers j (b_j < 0):

    minimise   sum_{s,j} F[s,j] X[s,j] + sum_s F[s,d] X[s,d] + sum_j F[d,j] X[d,j]      (3.11)
    subject to supply[s]:  sum_j X[s,j] + X[s,d] = b_s        (sellers ship all surplus, 3.12)
               demand[j]:  sum_s X[s,j] + X[d,j] = -b_j       (buyers receive all deficit, 3.13)
               X >= 0                                                                 (3.14)
               ir[i]:      attributed loss of i <= cap_i       (3.10, optional)

d is the EDC and F the loss fraction of each transfer (:mod:`gridledger.grid.losses`). The
objective counts every transfer's loss, EDC transfers included (eq. 3.11 as printed sums only
over prosumer pairs, which would make "everything through the EDC" optimal).

Attribution (the thesis leaves it open in eq. 3.7): a prosumer-to-prosumer transfer's loss is
split between seller and buyer, ``seller_share`` going to the seller: either one number for
every transfer, or a matrix (:func:`proportional_split`, the default of the community
scenario: each side bears the transfer's loss in proportion to what it would lose trading
with the EDC, so that a transfer that beats the EDC round trip benefits both sides). EDC
transfers are the prosumer's own. The attributed losses add up to the LP's total loss.
Variables and constraints are named (``X[3->7]``, ``X[3->EDC]``, ``supply[3]``, ``ir[7]``) so
that a failing model can be read (``Highs.writeModel``).
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
from numpy.typing import NDArray

from gridledger.grid.highs import new_highs
from gridledger.params import check_number

EDC = "EDC"


@dataclass(frozen=True)
class DispatchResult:
    """Optimal transfers of one coalition."""

    members: NDArray[np.int64]
    """Global prosumer ids, in the order of the local index."""
    flows: NDArray[np.float64]
    """(k+1, k+1) energy moved from local node a to b (index k = EDC)."""
    loss_kwh: float
    member_loss_kwh: NDArray[np.float64]
    """Loss attributed to each member (k,)."""

    def transactions(self, loss_fractions: NDArray[np.float64], tol: float = 1e-9) -> list[dict[str, object]]:
        """Non-zero transfers as {from, to, energy_kwh, loss_kwh}; the EDC is "EDC"."""
        k = len(self.members)
        names: list[object] = [int(m) for m in self.members] + [EDC]
        out = []
        rows, cols = np.nonzero(self.flows > tol)
        for a, b in zip(rows, cols, strict=True):
            x = float(self.flows[a, b])
            out.append({"from": names[a], "to": names[b], "energy_kwh": x,
                        "loss_kwh": x * float(loss_fractions[a, b])})
        del k
        return out


Share = float | NDArray[np.float64]


def proportional_split(f: NDArray[np.float64]) -> NDArray[np.float64]:
    """Seller's share of each transfer's loss: f[s, EDC] / (f[s, EDC] + f[EDC, j]) (0.5 if both are 0)."""
    k = f.shape[0] - 1
    to_edc = f[:, k][:, None]
    from_edc = f[k, :][None, :]
    denom = to_edc + from_edc
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, to_edc / np.where(denom > 0, denom, 1.0), 0.5)


def _share_matrix(share: Share, shape: tuple[int, int]) -> NDArray[np.float64]:
    if np.ndim(share) == 0:
        check_number("seller_share", float(share), ge=0, le=1)
        return np.full(shape, float(share))
    return np.asarray(share, dtype=float)


def attributed_losses(flows: NDArray[np.float64], f: NDArray[np.float64], seller_share: Share) -> NDArray[np.float64]:
    """Loss of each member (k,) from a flow matrix (k+1, k+1): P2P split by ``seller_share``."""
    k = flows.shape[0] - 1
    loss = flows * f
    p2p = loss[:k, :k]
    share = _share_matrix(seller_share, f.shape)[:k, :k]
    return ((share * p2p).sum(axis=1) + ((1 - share) * p2p).sum(axis=0)
            + loss[:k, k] + loss[k, :k])


def alone_losses(balance_kwh: NDArray[np.float64], f_to_edc: NDArray[np.float64],
                 f_from_edc: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each prosumer's loss when it trades only with the EDC (eq. 3.8)."""
    b = np.asarray(balance_kwh, dtype=float)
    return np.where(b > 0, b * f_to_edc, -b * f_from_edc)


def solve_dispatch(members: NDArray[np.int64], balance_kwh: NDArray[np.float64], f: NDArray[np.float64],
                   caps_kwh: NDArray[np.float64] | None = None, seller_share: Share = 0.5,
                   tol: float = 1e-9, named: bool = True) -> DispatchResult | None:
    """Solve eqs. (3.11)-(3.15) for one coalition; None if the caps make it infeasible.

    Parameters
    ----------
    members
        Global ids of the members (for names and results).
    balance_kwh
        (k,) P - C of each member.
    f
        (k+1, k+1) loss fractions among the members and the EDC (last index).
    caps_kwh
        (k,) upper bounds on each member's attributed loss (individual rationality), or None.
    named
        Name variables and constraints (for reading a model); the formation's inner loop
        turns it off, as the names cost more than the solve for small coalitions.
    """
    members = np.asarray(members, dtype=np.int64)
    b = np.asarray(balance_kwh, dtype=float)
    k = len(b)
    sellers = np.flatnonzero(b > tol)
    buyers = np.flatnonzero(b < -tol)
    flows = np.zeros((k + 1, k + 1))
    if len(sellers) == 0 or len(buyers) == 0:
        flows[sellers, k] = b[sellers]
        flows[k, buyers] = -b[buyers]
        member_loss = attributed_losses(flows, f, seller_share)
        if caps_kwh is not None and np.any(member_loss > np.asarray(caps_kwh) + tol * (1 + np.abs(caps_kwh))):
            return None
        return DispatchResult(members, flows, float(member_loss.sum()), member_loss)

    ns, nb = len(sellers), len(buyers)
    # Columns: X[s,j] (ns*nb, row-major), then X[s,EDC] (ns), then X[EDC,j] (nb).
    fp = f[np.ix_(sellers, buyers)]
    cost = np.concatenate([fp.ravel(), f[sellers, k], f[k, buyers]])
    n_cols = ns * nb + ns + nb
    s_idx = np.repeat(np.arange(ns), nb)
    j_idx = np.tile(np.arange(nb), ns)
    p2p_cols = np.arange(ns * nb)
    # Constraint matrix in triplets.
    rows = [s_idx, ns + j_idx, np.arange(ns), ns + np.arange(nb)]
    cols = [p2p_cols, p2p_cols, ns * nb + np.arange(ns), ns * nb + ns + np.arange(nb)]
    vals = [np.ones(ns * nb), np.ones(ns * nb), np.ones(ns), np.ones(nb)]
    lower = np.concatenate([b[sellers], -b[buyers]])
    upper = lower.copy()
    n_rows = ns + nb
    if caps_kwh is not None:
        caps = np.asarray(caps_kwh, dtype=float)
        rows += [n_rows + s_idx, n_rows + ns + j_idx, n_rows + np.arange(ns), n_rows + ns + np.arange(nb)]
        cols += [p2p_cols, p2p_cols, ns * nb + np.arange(ns), ns * nb + ns + np.arange(nb)]
        sp = _share_matrix(seller_share, f.shape)[np.ix_(sellers, buyers)]
        vals += [(sp * fp).ravel(), ((1 - sp) * fp).ravel(), f[sellers, k], f[k, buyers]]
        cap_rows = np.concatenate([caps[sellers], caps[buyers]])
        # A tiny slack absorbs rounding in caps computed from an earlier solve.
        lower = np.concatenate([lower, np.full(ns + nb, -highspy.kHighsInf)])
        upper = np.concatenate([upper, cap_rows + tol * (1 + np.abs(cap_rows))])
        n_rows += ns + nb
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    v = np.concatenate(vals)
    order = np.lexsort((r, c))
    r, c, v = r[order], c[order], v[order]
    starts = np.searchsorted(c, np.arange(n_cols))

    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_rows
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.full(n_cols, highspy.kHighsInf)
    lp.row_lower_ = lower
    lp.row_upper_ = upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.append(starts, len(v)).astype(np.int32)
    lp.a_matrix_.index_ = r.astype(np.int32)
    lp.a_matrix_.value_ = v
    gid = members
    if named:
        lp.col_names_ = ([f"X[{gid[sellers[a]]}->{gid[buyers[bb]]}]" for a, bb in zip(s_idx, j_idx, strict=True)]
                         + [f"X[{gid[s]}->EDC]" for s in sellers] + [f"X[EDC->{gid[j]}]" for j in buyers])
        row_names = [f"supply[{gid[s]}]" for s in sellers] + [f"demand[{gid[j]}]" for j in buyers]
        if caps_kwh is not None:
            row_names += [f"ir[{gid[s]}]" for s in sellers] + [f"ir[{gid[j]}]" for j in buyers]
        lp.row_names_ = row_names
    h = new_highs()
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value)
    flows[np.ix_(sellers, buyers)] = x[:ns * nb].reshape(ns, nb)
    flows[sellers, k] = x[ns * nb:ns * nb + ns]
    flows[k, buyers] = x[ns * nb + ns:]
    flows[flows < 0] = 0.0
    member_loss = attributed_losses(flows, f, seller_share)
    return DispatchResult(members, flows, float(member_loss.sum()), member_loss)


class IncrementalDispatch:
    """The uncapped dispatch LP of a coalition that grows one member at a time.

    Adding a member adds its supply or demand row and its transfer columns to a HiGHS model
    that keeps its basis, so each re-solve starts from the previous optimum (a few simplex
    iterations instead of a fresh solve). Used to evaluate the prefix coalitions of a random
    order when sampling Shapley values.
    """

    def __init__(self, balance_kwh: NDArray[np.float64], f: NDArray[np.float64], tol: float = 1e-9) -> None:
        self.b = np.asarray(balance_kwh, dtype=float)
        self.f = f
        self.n = len(self.b)
        self.tol = tol
        self.h = new_highs()
        self.row: dict[int, int] = {}
        self.sellers: list[int] = []
        self.buyers: list[int] = []
        self.n_rows = 0
        self.total = 0.0

    def add(self, i: int) -> float:
        """Add prosumer ``i``; returns the coalition's minimal total loss."""
        b, f, n = self.b[i], self.f, self.n
        if abs(b) <= self.tol:
            return self.total
        r = self.n_rows
        self.h.addRow(abs(b), abs(b), 0, np.array([], dtype=np.int32), np.array([], dtype=np.float64))
        self.n_rows += 1
        self.row[i] = r
        if b > 0:
            partners = self.buyers
            costs = [f[i, n]] + [f[i, j] for j in partners]
            self.sellers.append(i)
        else:
            partners = self.sellers
            costs = [f[n, i]] + [f[s, i] for s in partners]
            self.buyers.append(i)
        m = len(costs)
        starts = np.array([0] + [1 + 2 * k for k in range(m - 1)], dtype=np.int32)
        index = [r] + [x for j in partners for x in (r, self.row[j])]
        values = np.ones(len(index))
        self.h.addCols(m, np.asarray(costs, dtype=float), np.zeros(m), np.full(m, highspy.kHighsInf), len(index),
                       starts, np.asarray(index, dtype=np.int32), values)
        self.h.run()
        self.total = float(self.h.getInfo().objective_function_value)
        return self.total
