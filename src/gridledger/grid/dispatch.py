"""The coalition's loss-minimising dispatch LP (thesis eqs. 3.11-3.15), solved with HiGHS, and a
unique attribution of its loss to the members (eq. 3.7).

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

**Unique attribution.** The LP often has many optimal plans (ties between equally distant
partners, prosumers on the same bus of a feeder) that attribute the same total differently,
and which one a simplex solver returns depends on the order of the columns. A second,
lexicographic stage removes that freedom: restricted to the optimal face (every arc whose
reduced cost exceeds :data:`FACE_TOL` fixed at zero, every binding cap kept binding, which by
complementary slackness is exactly the set of optimal plans), it minimises the largest
*relative* attributed loss ell_i / alone_i, fixes the members whose bound is binding (a
positive dual proves it binds in every solution), and repeats for the others: the leximin
attribution, which is unique. When the first stage's basis shows no free direction (every
non-basic arc has a reduced cost above :data:`FACE_TOL`), the optimum is unique and the
second stage is skipped.

**Large coalitions** are solved by column generation: the LP starts with each member's nearest
partners and every arc with a negative reduced cost under the current duals is added until
none is left, which is the full LP's optimum (the pricing is over all seller-buyer pairs).

Variables and constraints are named (``X[3->7]``, ``X[3->EDC]``, ``supply[3]``, ``ir[7]``) so
that a failing model can be read (``Highs.writeModel``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import highspy
import numpy as np
from numpy.typing import NDArray

from gridledger.games.coalitions import Allocation
from gridledger.grid.highs import new_highs
from gridledger.params import check_number

EDC = "EDC"

#: HiGHS's default primal and dual feasibility tolerance; every other tolerance of the
#: community derives from it.
LP_TOL = 1e-7
#: Reduced costs (kWh lost per kWh) at or below this may carry flow in an optimal plan: twice
#: the dual feasibility tolerance, so that exact ties are always recognised whatever basis the
#: solver stops at.
FACE_TOL = 2 * LP_TOL
#: A balance of at most this many kWh counts as zero (the prosumer neither sells nor buys).
BALANCE_TOL = 1e-9
#: Coalitions with at most this many seller-buyer pairs start with every arc in the LP.
DENSE_ARCS = 4096
#: Otherwise each member starts with its nearest partners, this many.
NEAREST_ARCS = 12

Share = float | NDArray[np.float64]


@dataclass(frozen=True)
class DispatchResult:
    """Optimal transfers of one coalition and the unique attribution of their loss."""

    members: NDArray[np.int64]
    """Global prosumer ids, in the order of the local index."""
    arc_from: NDArray[np.int64]
    """Local index of each transfer's sender (k = EDC)."""
    arc_to: NDArray[np.int64]
    """Local index of each transfer's receiver (k = EDC)."""
    arc_kwh: NDArray[np.float64]
    """Energy of each transfer (only transfers above 0 are kept)."""
    loss_kwh: float
    member_loss_kwh: NDArray[np.float64]
    """Loss attributed to each member (k,)."""
    potential: NDArray[np.float64]
    """Shadow price of each member's balance row (kWh lost per kWh more supply or demand; NaN
    for members with a zero balance). Together with the loss fractions they form an optimal
    dual of the LP without caps when ``caps_binding`` is False."""
    caps_binding: bool = False
    """Whether an individual-rationality cap changes the optimum (a cap row has a non-zero dual)."""
    rounds: int = 0
    """Leximin rounds of the second stage (0: the first stage's optimum was unique)."""

    @property
    def flows(self) -> NDArray[np.float64]:
        """(k+1, k+1) dense matrix of the energy moved from local node a to b (index k = EDC)."""
        k = len(self.members)
        out = np.zeros((k + 1, k + 1))
        np.add.at(out, (self.arc_from, self.arc_to), self.arc_kwh)
        return out

    def transactions(self, loss_fractions: NDArray[np.float64]) -> list[dict[str, object]]:
        """The transfers as {from, to, energy_kwh, loss_kwh}; the EDC is "EDC"."""
        names: list[object] = [int(m) for m in self.members] + [EDC]
        return [{"from": names[a], "to": names[b], "energy_kwh": float(x),
                 "loss_kwh": float(x) * float(loss_fractions[a, b])}
                for a, b, x in zip(self.arc_from, self.arc_to, self.arc_kwh, strict=True)]


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


_SOLVER = threading.local()


def _solver() -> highspy.Highs:
    """A HiGHS object reused by every dispatch solve of this thread (making one costs more than a
    small solve); its model is replaced with each new coalition."""
    h = getattr(_SOLVER, "h", None)
    if h is None:
        h = _SOLVER.h = new_highs()
    return h


class _Model:
    """The LP of one coalition in a live HiGHS object (columns: EDC arcs, then P2P arcs)."""

    def __init__(self, b: NDArray[np.float64], f: NDArray[np.float64], share: NDArray[np.float64],
                 sellers: NDArray[np.int64], buyers: NDArray[np.int64], caps: NDArray[np.float64] | None,
                 names: NDArray[np.int64] | None, arcs: tuple[NDArray[np.int64], NDArray[np.int64]]) -> None:
        k = len(b)
        self.k, self.b, self.sellers, self.buyers, self.caps = k, b, sellers, buyers, caps
        self.ns, self.nb = ns, nb = len(sellers), len(buyers)
        self.F = f[np.ix_(sellers, buyers)]
        self.S = share[np.ix_(sellers, buyers)]
        self.to_edc = f[sellers, k]
        self.from_edc = f[k, buyers]
        self.names = names
        self.in_model = np.zeros((ns, nb), dtype=bool)
        s, j = arcs
        self.in_model[s, j] = True
        self.arc_s: list[NDArray[np.int64]] = [s]
        self.arc_j: list[NDArray[np.int64]] = [j]
        m = len(s)
        fx = self.F[s, j]
        lower = np.concatenate([b[sellers], -b[buyers]])
        upper = lower.copy()
        if caps is not None:
            cap_rows = np.concatenate([caps[sellers], caps[buyers]])
            self.cap_upper = cap_rows + LP_TOL * (1 + np.abs(cap_rows))  # rounding in caps from earlier solves
            lower = np.concatenate([lower, np.full(ns + nb, -highspy.kHighsInf)])
            upper = np.concatenate([upper, self.cap_upper])
            base = ns + nb
            edc_idx = np.stack([np.arange(ns + nb), base + np.arange(ns + nb)], axis=1).ravel()
            edc_val = np.stack([np.ones(ns + nb), np.concatenate([self.to_edc, self.from_edc])], axis=1).ravel()
            p2p_idx = np.stack([s, ns + j, base + s, base + ns + j], axis=1).ravel()
            p2p_val = np.stack([np.ones(m), np.ones(m), self.S[s, j] * fx, (1 - self.S[s, j]) * fx], axis=1).ravel()
            per_edc, per_p2p = 2, 4
        else:
            edc_idx = np.arange(ns + nb)
            edc_val = np.ones(ns + nb)
            p2p_idx = np.stack([s, ns + j], axis=1).ravel()
            p2p_val = np.ones(2 * m)
            per_edc, per_p2p = 1, 2
        n_cols = ns + nb + m
        lp = highspy.HighsLp()
        lp.num_col_ = n_cols
        lp.num_row_ = len(lower)
        lp.col_cost_ = np.concatenate([self.to_edc, self.from_edc, fx])
        lp.col_lower_ = np.zeros(n_cols)
        lp.col_upper_ = np.full(n_cols, highspy.kHighsInf)
        lp.row_lower_ = lower
        lp.row_upper_ = upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.concatenate([np.arange(ns + nb) * per_edc,
                                              (ns + nb) * per_edc + np.arange(m + 1) * per_p2p]).astype(np.int32)
        lp.a_matrix_.index_ = np.concatenate([edc_idx, p2p_idx]).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate([edc_val, p2p_val])
        if names is not None:
            lp.col_names_ = ([f"X[{names[q]}->EDC]" for q in sellers] + [f"X[EDC->{names[q]}]" for q in buyers]
                             + [f"X[{names[sellers[x]]}->{names[buyers[y]]}]" for x, y in zip(s, j, strict=True)])
            rows = [f"supply[{names[q]}]" for q in sellers] + [f"demand[{names[q]}]" for q in buyers]
            if caps is not None:
                rows += [f"ir[{names[q]}]" for q in sellers] + [f"ir[{names[q]}]" for q in buyers]
            lp.row_names_ = rows
        self.h = h = _solver()
        h.clearModel()
        h.passModel(lp)
        self.n_cols = n_cols

    def add_arcs(self, s: NDArray[np.int64], j: NDArray[np.int64]) -> None:
        """Add the P2P columns X[s, j] (local seller / buyer positions)."""
        keep = ~self.in_model[s, j]
        s, j = s[keep], j[keep]
        if len(s) == 0:
            return
        self.in_model[s, j] = True
        ns, nb = self.ns, self.nb
        m = len(s)
        fx = self.F[s, j]
        if self.caps is not None:
            base = ns + nb
            idx = np.stack([s, ns + j, base + s, base + ns + j], axis=1).ravel()
            val = np.stack([np.ones(m), np.ones(m), self.S[s, j] * fx, (1 - self.S[s, j]) * fx], axis=1).ravel()
            per = 4
        else:
            idx = np.stack([s, ns + j], axis=1).ravel()
            val = np.ones(2 * m)
            per = 2
        self.h.addCols(m, fx, np.zeros(m), np.full(m, highspy.kHighsInf), len(idx),
                       (np.arange(m) * per).astype(np.int32), idx.astype(np.int32), val)
        if self.names is not None:
            for c in range(m):
                self.h.passColName(self.n_cols + c, f"X[{self.names[self.sellers[s[c]]]}->"
                                                    f"{self.names[self.buyers[j[c]]]}]")
        self.n_cols += m
        self.arc_s.append(s)
        self.arc_j.append(j)

    def arcs(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        if not self.arc_s:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(self.arc_s), np.concatenate(self.arc_j)

    def reduced_costs(self, row_dual: NDArray[np.float64]) -> NDArray[np.float64]:
        """(ns, nb) reduced cost of every P2P arc, in the model or not: c - A^T y."""
        ns, nb = self.ns, self.nb
        u, v = row_dual[:ns], row_dual[ns:ns + nb]
        rc = self.F - u[:, None] - v[None, :]
        if self.caps is not None:
            ws, wb = row_dual[ns + nb:2 * ns + nb], row_dual[2 * ns + nb:]
            rc -= self.F * (ws[:, None] * self.S + wb[None, :] * (1 - self.S))
        return rc

    def member_rows(self) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float64]]:
        """Attributed loss of every seller then buyer as sparse rows over the current columns."""
        ns, nb = self.ns, self.nb
        s, j = self.arcs()
        fx = self.F[s, j]
        p2p_cols = ns + nb + np.arange(len(s))
        row = np.concatenate([np.arange(ns), ns + np.arange(nb), s, ns + j])
        col = np.concatenate([np.arange(ns), ns + np.arange(nb), p2p_cols, p2p_cols])
        val = np.concatenate([self.to_edc, self.from_edc, self.S[s, j] * fx, (1 - self.S[s, j]) * fx])
        return row.astype(np.int32), col.astype(np.int32), val


def _initial_arcs(F: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    ns, nb = F.shape
    if ns * nb <= DENSE_ARCS:
        s, j = np.meshgrid(np.arange(ns), np.arange(nb), indexing="ij")
        return s.ravel(), j.ravel()
    m_b = min(NEAREST_ARCS, ns)
    m_s = min(NEAREST_ARCS, nb)
    near_s = np.argpartition(F, m_b - 1, axis=0)[:m_b]          # per buyer, its nearest sellers
    near_j = np.argpartition(F, m_s - 1, axis=1)[:, :m_s]       # per seller, its nearest buyers
    s = np.concatenate([near_s.ravel(), np.repeat(np.arange(ns), m_s)])
    j = np.concatenate([np.tile(np.arange(nb), m_b), near_j.ravel()])
    key = np.unique(s * nb + j)
    return key // nb, key % nb


def solve_dispatch(members: NDArray[np.int64], balance_kwh: NDArray[np.float64], f: NDArray[np.float64],
                   caps_kwh: NDArray[np.float64] | None = None, seller_share: Share = 0.5,
                   named: bool = True, attribute: bool = True) -> DispatchResult | None:
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
    seller_share
        The seller's share of each P2P transfer's loss: a number or a (k+1, k+1) matrix.
    named
        Name variables and constraints (for reading a model); the formation's inner loop
        turns it off, as the names cost more than the solve for small coalitions.
    attribute
        Run the second (leximin) stage when the optimum is not unique; callers that need only
        the total loss (the Shapley value's worth) turn it off.
    """
    members = np.asarray(members, dtype=np.int64)
    b = np.asarray(balance_kwh, dtype=float)
    k = len(b)
    share = _share_matrix(seller_share, f.shape)
    sellers = np.flatnonzero(b > BALANCE_TOL)
    buyers = np.flatnonzero(b < -BALANCE_TOL)
    potential = np.full(k, np.nan)
    if len(sellers) == 0 or len(buyers) == 0:
        flows_s = np.concatenate([sellers, np.full(len(buyers), k)])
        flows_j = np.concatenate([np.full(len(sellers), k), buyers])
        kwh = np.concatenate([b[sellers], -b[buyers]])
        member_loss = np.zeros(k)
        member_loss[sellers] = b[sellers] * f[sellers, k]
        member_loss[buyers] = -b[buyers] * f[k, buyers]
        potential[sellers] = f[sellers, k]
        potential[buyers] = f[k, buyers]
        if caps_kwh is not None and np.any(member_loss > np.asarray(caps_kwh) + LP_TOL * (1 + np.abs(caps_kwh))):
            return None
        return DispatchResult(members, flows_s, flows_j, kwh, float(member_loss.sum()), member_loss, potential)

    caps = None if caps_kwh is None else np.asarray(caps_kwh, dtype=float)
    model = _Model(b, f, share, sellers, buyers, caps, members if named else None,
                   _initial_arcs(f[np.ix_(sellers, buyers)]))
    h = model.h
    # Stage 1: minimum total loss, by column generation over the seller-buyer arcs.
    while True:
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        row_dual = np.asarray(h.getSolution().row_dual)
        rc = model.reduced_costs(row_dual)
        rc[model.in_model] = np.inf
        s_new, j_new = np.nonzero(rc < -LP_TOL)
        if len(s_new) == 0:
            break
        if len(s_new) > 2 * (model.ns + model.nb):
            best = np.argpartition(rc[s_new, j_new], 2 * (model.ns + model.nb))[:2 * (model.ns + model.nb)]
            s_new, j_new = s_new[best], j_new[best]
        model.add_arcs(s_new, j_new)
    # Arcs that could carry flow in another optimal plan belong in the model too.
    s_zero, j_zero = np.nonzero(rc <= FACE_TOL)
    if len(s_zero):
        model.add_arcs(s_zero, j_zero)
        h.run()
    sol = h.getSolution()
    x = np.asarray(sol.col_value)
    col_dual = np.asarray(sol.col_dual)
    row_dual = np.asarray(sol.row_dual)
    ns, nb = model.ns, model.nb
    cap_dual = row_dual[ns + nb:] if caps is not None else np.zeros(0)
    caps_binding = bool(np.any(np.abs(cap_dual) > FACE_TOL))
    potential[sellers] = row_dual[:ns]
    potential[buyers] = row_dual[ns:ns + nb]

    rounds = 0
    if attribute:
        free_cols = col_dual <= FACE_TOL
        loose_caps = np.abs(cap_dual) <= FACE_TOL
        _, basic_vars = h.getBasicVariables()
        basic_vars = np.asarray(basic_vars)
        free_cols[basic_vars[basic_vars >= 0]] = False
        row_basic = np.zeros(len(row_dual), dtype=bool)
        row_basic[-1 - basic_vars[basic_vars < 0]] = True
        loose_caps &= ~row_basic[ns + nb:]
        if free_cols.any() or loose_caps.any():
            x, rounds = _leximin(model, x, col_dual, cap_dual, free_cols, loose_caps, b)
    s_arcs, j_arcs = model.arcs()
    return _result(members, b, f, share, sellers, buyers, s_arcs, j_arcs, x, potential, caps_binding, rounds)


def _result(members: NDArray[np.int64], b: NDArray[np.float64], f: NDArray[np.float64], share: NDArray[np.float64],
            sellers: NDArray[np.int64], buyers: NDArray[np.int64], s_arcs: NDArray[np.int64],
            j_arcs: NDArray[np.int64], x: NDArray[np.float64], potential: NDArray[np.float64],
            caps_binding: bool, rounds: int) -> DispatchResult:
    """A :class:`DispatchResult` from a solution over the columns (EDC arcs, then P2P arcs)."""
    k = len(b)
    ns, nb = len(sellers), len(buyers)
    x = np.where(x > 0, x, 0.0)
    src = np.concatenate([sellers, np.full(nb, k), sellers[s_arcs]])
    dst = np.concatenate([np.full(ns, k), buyers, buyers[j_arcs]])
    keep = x > 0
    src, dst, kwh = src[keep], dst[keep], x[keep]
    arc_loss = kwh * f[src, dst]
    p2p = (src < k) & (dst < k)
    sh = share[np.minimum(src, k), np.minimum(dst, k)]
    seller_part = np.where(p2p, sh * arc_loss, arc_loss)     # a seller's EDC transfer is all its own
    buyer_part = np.where(p2p, (1 - sh) * arc_loss, arc_loss)
    member_loss = np.zeros(k)
    np.add.at(member_loss, src[src < k], seller_part[src < k])
    np.add.at(member_loss, dst[dst < k], buyer_part[dst < k])
    return DispatchResult(members, src, dst, kwh, float(arc_loss.sum()), member_loss, potential, caps_binding, rounds)


#: Most coalitions solved together in one block-diagonal LP by :meth:`CoalitionLP.solve_many`.
BATCH_BLOCKS = 400
#: Coalitions with more seller-buyer pairs than this are solved on their own.
BATCH_ARCS = 256


def _batch(balance: NDArray[np.float64], f: NDArray[np.float64], share: NDArray[np.float64] | float,
           coalitions: list[tuple[int, ...]], caps: list[NDArray[np.float64]] | None,
           attribute: bool) -> list[DispatchResult | None]:
    """Solve small coalitions (each with sellers and buyers) as one block-diagonal LP, built from
    the community's arrays with global indices. None for a block whose optimum may not be unique
    (the caller solves it alone, with the second stage) or for every block if the LP as a whole
    is not optimal."""
    n = len(balance)
    q_count = len(coalitions)
    sizes = np.fromiter((len(c) for c in coalitions), dtype=np.int64, count=q_count)
    mem = np.fromiter((m for c in coalitions for m in c), dtype=np.int64, count=int(sizes.sum()))
    blk = np.repeat(np.arange(q_count), sizes)
    local = np.arange(len(mem)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    cap_all = np.concatenate(caps) if caps is not None else None
    b = balance[mem]
    is_s, is_b = b > BALANCE_TOL, b < -BALANCE_TOL
    # Sellers and buyers in block order (stable: members keep their order inside a block).
    s_ent, j_ent = np.flatnonzero(is_s), np.flatnonzero(is_b)
    ns = np.bincount(blk[s_ent], minlength=q_count)
    nb = np.bincount(blk[j_ent], minlength=q_count)
    s_start, j_start = np.cumsum(ns) - ns, np.cumsum(nb) - nb
    s_loc = np.arange(len(s_ent)) - s_start[blk[s_ent]]
    j_loc = np.arange(len(j_ent)) - j_start[blk[j_ent]]
    with_caps = caps is not None
    rows_per = (ns + nb) * (2 if with_caps else 1)
    r0 = np.cumsum(rows_per) - rows_per
    sup_row = r0[blk[s_ent]] + s_loc
    dem_row = r0[blk[j_ent]] + ns[blk[j_ent]] + j_loc
    # P2P pairs of every block: pair p of block q is (seller p // nb_q, buyer p % nb_q).
    npair = ns * nb
    p_blk = np.repeat(np.arange(q_count), npair)
    off = np.arange(int(npair.sum())) - np.repeat(np.cumsum(npair) - npair, npair)
    ps = s_start[p_blk] + off // nb[p_blk]          # index into s_ent
    pj = j_start[p_blk] + off % nb[p_blk]           # index into j_ent
    gs, gj = mem[s_ent[ps]], mem[j_ent[pj]]
    fx = f[gs, gj]
    sh = np.full(len(fx), float(share)) if np.ndim(share) == 0 else share[gs, gj]
    to_edc, from_edc = f[mem[s_ent], n], f[n, mem[j_ent]]
    n_s, n_j, n_p = len(s_ent), len(j_ent), len(fx)
    n_cols = n_s + n_j + n_p
    n_rows = int(rows_per.sum())
    lower = np.empty(n_rows)
    upper = np.empty(n_rows)
    lower[sup_row] = upper[sup_row] = b[s_ent]
    lower[dem_row] = upper[dem_row] = -b[j_ent]
    if with_caps:
        cap_s_row = sup_row + ns[blk[s_ent]] + nb[blk[s_ent]]
        cap_j_row = dem_row + ns[blk[j_ent]] + nb[blk[j_ent]]
        for rows_, ent in ((cap_s_row, s_ent), (cap_j_row, j_ent)):
            c = cap_all[ent]
            lower[rows_] = -highspy.kHighsInf
            upper[rows_] = c + LP_TOL * (1 + np.abs(c))
        idx = np.concatenate([np.stack([sup_row, cap_s_row], axis=1).ravel(),
                              np.stack([dem_row, cap_j_row], axis=1).ravel(),
                              np.stack([sup_row[ps], dem_row[pj], cap_s_row[ps], cap_j_row[pj]], axis=1).ravel()])
        val = np.concatenate([np.stack([np.ones(n_s), to_edc], axis=1).ravel(),
                              np.stack([np.ones(n_j), from_edc], axis=1).ravel(),
                              np.stack([np.ones(n_p), np.ones(n_p), sh * fx, (1 - sh) * fx], axis=1).ravel()])
        nnz = np.concatenate([np.full(n_s + n_j, 2), np.full(n_p, 4)])
    else:
        idx = np.concatenate([sup_row, dem_row, np.stack([sup_row[ps], dem_row[pj]], axis=1).ravel()])
        val = np.ones(len(idx))
        nnz = np.concatenate([np.ones(n_s + n_j, dtype=np.int64), np.full(n_p, 2)])
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_rows
    lp.col_cost_ = np.concatenate([to_edc, from_edc, fx])
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.full(n_cols, highspy.kHighsInf)
    lp.row_lower_ = lower
    lp.row_upper_ = upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int32)
    lp.a_matrix_.index_ = idx.astype(np.int32)
    lp.a_matrix_.value_ = val
    h = _solver()
    h.clearModel()
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return [None] * q_count
    sol = h.getSolution()
    x = np.where(np.asarray(sol.col_value) > 0, np.asarray(sol.col_value), 0.0)
    row_dual = np.asarray(sol.row_dual)
    col_blk = np.concatenate([blk[s_ent], blk[j_ent], p_blk])
    needs_alone = np.zeros(q_count, dtype=bool)
    cap_binding = np.zeros(q_count, dtype=bool)
    if with_caps:
        cd = np.concatenate([row_dual[cap_s_row], row_dual[cap_j_row]])
        cap_blk = np.concatenate([blk[s_ent], blk[j_ent]])
        np.logical_or.at(cap_binding, cap_blk, np.abs(cd) > FACE_TOL)
    if attribute:
        _, basic_vars = h.getBasicVariables()
        basic_vars = np.asarray(basic_vars)
        col_basic = np.zeros(n_cols, dtype=bool)
        col_basic[basic_vars[basic_vars >= 0]] = True
        free = (~col_basic) & (np.asarray(sol.col_dual) <= FACE_TOL)
        np.logical_or.at(needs_alone, col_blk[free], True)
        if with_caps:
            row_basic = np.zeros(n_rows, dtype=bool)
            row_basic[-1 - basic_vars[basic_vars < 0]] = True
            loose = (~np.concatenate([row_basic[cap_s_row], row_basic[cap_j_row]])) & (np.abs(cd) <= FACE_TOL)
            np.logical_or.at(needs_alone, cap_blk[loose], True)
    # Attributed losses and transfers (local indices) per entry.
    xs, xj, xp = x[:n_s], x[n_s:n_s + n_j], x[n_s + n_j:]
    member_loss = np.zeros(len(mem))
    member_loss[s_ent] = xs * to_edc
    member_loss[j_ent] = xj * from_edc
    np.add.at(member_loss, s_ent[ps], sh * fx * xp)
    np.add.at(member_loss, j_ent[pj], (1 - sh) * fx * xp)
    potential = np.full(len(mem), np.nan)
    potential[s_ent] = row_dual[sup_row]
    potential[j_ent] = row_dual[dem_row]
    k_of = sizes[blk]  # the EDC's local index in each entry's block
    arc_from = np.concatenate([local[s_ent], k_of[j_ent], local[s_ent[ps]]])
    arc_to = np.concatenate([k_of[s_ent], local[j_ent], local[j_ent[pj]]])
    arc_loss = x * np.concatenate([to_edc, from_edc, fx])
    keep = x > 0
    order = np.argsort(col_blk[keep], kind="stable")
    a_blk, a_from, a_to = col_blk[keep][order], arc_from[keep][order], arc_to[keep][order]
    a_kwh = x[keep][order]
    a_bounds = np.searchsorted(a_blk, np.arange(q_count + 1))
    totals = np.bincount(col_blk, weights=arc_loss, minlength=q_count)
    m_bounds = np.concatenate([[0], np.cumsum(sizes)])
    out: list[DispatchResult | None] = []
    for q in range(q_count):
        if needs_alone[q]:
            out.append(None)
            continue
        lo, hi = m_bounds[q], m_bounds[q + 1]
        al, ah = a_bounds[q], a_bounds[q + 1]
        out.append(DispatchResult(mem[lo:hi], a_from[al:ah], a_to[al:ah], a_kwh[al:ah], float(totals[q]),
                                  member_loss[lo:hi], potential[lo:hi], bool(cap_binding[q]), 0))
    return out


def _leximin(model: _Model, x: NDArray[np.float64], col_dual: NDArray[np.float64], cap_dual: NDArray[np.float64],
             free_cols: NDArray[np.bool_], loose_caps: NDArray[np.bool_], b: NDArray[np.float64]
             ) -> tuple[NDArray[np.float64], int]:
    """Second stage: the leximin relative attribution on the optimal face; returns (x, rounds).

    First one LP decides whether the face is a single point: any other optimal plan has a free
    non-basic arc above 0 or a loose binding cap below its bound, so if the largest sum of those
    over the face is (numerically) 0, the first stage's plan is the only one (rounds = 0)."""
    h = model.h
    ns, nb = model.ns, model.nb
    n_cols = model.n_cols
    row, col, val = model.member_rows()
    # Members whose attributed loss can change over the face: every optimal plan is the first
    # stage's plus a combination of the free non-basic columns' directions (x_q = 1, basic
    # variables - B^-1 a_q), so a member is affected only if one of those directions moves its loss.
    affected = np.zeros(ns + nb, dtype=bool)
    if loose_caps.any():
        affected[:] = True
    else:
        _, basic_vars = h.getBasicVariables()
        basic_vars = np.asarray(basic_vars)
        on_col = basic_vars >= 0
        for q in np.flatnonzero(free_cols):
            _, column = h.getReducedColumn(int(q))
            d = np.zeros(n_cols)
            d[basic_vars[on_col]] = -np.asarray(column)[on_col]
            d[q] += 1.0
            moved = np.bincount(row, weights=val * d[col], minlength=ns + nb)
            affected |= np.abs(moved) > 1e-9
    if not affected.any():
        return x, 0
    # The optimal face: arcs with a positive reduced cost stay at 0, binding caps stay binding.
    fixed = np.flatnonzero(col_dual > FACE_TOL).astype(np.int32)
    if len(fixed):
        h.changeColsBounds(len(fixed), fixed, np.zeros(len(fixed)), np.zeros(len(fixed)))
    if model.caps is not None:
        row_value = np.asarray(h.getSolution().row_value)
        for r in np.flatnonzero(np.abs(cap_dual) > FACE_TOL):
            v = float(row_value[ns + nb + r])
            h.changeRowBounds(int(ns + nb + r), v - LP_TOL * (1 + abs(v)), float(model.cap_upper[r]))
    all_cols = np.arange(n_cols, dtype=np.int32)
    probe = np.where(free_cols, -1.0, 0.0)
    vertex = 0.0
    if loose_caps.any():
        sel = loose_caps[row]
        np.add.at(probe, col[sel], val[sel])
        vertex = float(np.asarray(h.getSolution().row_value)[ns + nb:][loose_caps].sum())
    h.changeColsCost(n_cols, all_cols, probe)
    h.run()
    if h.getModelStatus() == highspy.HighsModelStatus.kOptimal and \
            h.getInfo().objective_function_value >= vertex - 1e-6 * (1 + abs(vertex)):
        return x, 0
    h.changeColsCost(n_cols, all_cols, np.zeros(n_cols))
    # Weights: each member's loss acting alone (relative losses ell_i / alone_i).
    alone = np.concatenate([b[model.sellers] * model.to_edc, -b[model.buyers] * model.from_edc])
    active = np.flatnonzero(affected & (alone > LP_TOL))
    if len(active) == 0:
        return x, 0
    t_col = n_cols
    h.addCol(1.0, 0.0, highspy.kHighsInf, 0, np.zeros(0, dtype=np.int32), np.zeros(0))
    first_row = h.getNumRow()
    rows_of = {int(m): first_row + q for q, m in enumerate(active)}
    # Row q: ell_m - alone_m t <= 0.
    sel = np.isin(row, active)
    r_local = np.searchsorted(active, row[sel])
    # Append the t column's coefficient to every row: rebuild as (row, col, val) with t.
    all_r = np.concatenate([r_local, np.arange(len(active))])
    all_c = np.concatenate([col[sel], np.full(len(active), t_col)])
    all_v = np.concatenate([val[sel], -alone[active]])
    order = np.lexsort((all_c, all_r))
    all_r, all_c, all_v = all_r[order], all_c[order], all_v[order]
    starts = np.searchsorted(all_r, np.arange(len(active))).astype(np.int32)
    h.addRows(len(active), np.full(len(active), -highspy.kHighsInf), np.zeros(len(active)), len(all_v), starts,
              all_c.astype(np.int32), all_v)
    open_ = set(int(m) for m in active)
    rounds = 0
    while open_:
        rounds += 1
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break  # numerical trouble: keep the last plan (the first stage's is optimal)
        sol = h.getSolution()
        x = np.asarray(sol.col_value)[:n_cols].copy()
        t = float(np.asarray(sol.col_value)[t_col])
        dual = np.asarray(sol.row_dual)
        row_value = np.asarray(sol.row_value)
        binding = [m for m in open_ if dual[rows_of[m]] < -FACE_TOL]
        if not binding:  # no dual certificate: fix the rows that are tight
            binding = [m for m in open_ if row_value[rows_of[m]] >= -LP_TOL * (1 + alone[m])]
        if not binding:
            break
        for m in binding:
            r = rows_of[m]
            h.changeCoeff(r, t_col, 0.0)
            h.changeRowBounds(r, -highspy.kHighsInf, alone[m] * t + LP_TOL * (1 + alone[m]))
            open_.discard(m)
    return x, rounds


class CoalitionLP:
    """The coalition oracle of the formation (``OptimizeLoss`` of Algorithm 3): the dispatch LP
    of eqs. (3.9)-(3.15) with the unique attribution, plus exact screens for the formation.

    Parameters
    ----------
    balance_kwh
        (N,) P - C of every prosumer.
    f
        (N+1, N+1) loss fractions (index N = EDC).
    seller_share
        "proportional" (:func:`proportional_split`), "equal" (halves) or a number.
    """

    def __init__(self, balance_kwh: NDArray[np.float64], f: NDArray[np.float64],
                 seller_share: str | float = "proportional") -> None:
        self.balance = np.asarray(balance_kwh, dtype=float)
        self.f = np.asarray(f, dtype=float)
        self.n = len(self.balance)
        if seller_share == "proportional":
            self.share: Share = proportional_split(self.f)
        elif seller_share == "equal":
            self.share = 0.5
        else:
            self.share = float(seller_share)
        b = self.balance
        self.sellers = np.flatnonzero(b > BALANCE_TOL)
        self.buyers = np.flatnonzero(b < -BALANCE_TOL)
        n = self.n
        # A prosumer's shadow price when it acts alone: its loss per kWh with the EDC.
        self.alone_potential = np.full(n, np.nan)
        self.alone_potential[self.sellers] = self.f[self.sellers, n]
        self.alone_potential[self.buyers] = self.f[n, self.buyers]

    def __call__(self, members: tuple[int, ...], caps: NDArray[np.float64] | None) -> Allocation | None:
        res = self.solve(members, caps)
        if res is None:
            return None
        return Allocation(tuple(members), res.member_loss_kwh, res.loss_kwh, res,
                          None if res.caps_binding else res.potential)

    def solve(self, members: tuple[int, ...], caps: NDArray[np.float64] | None, attribute: bool = True,
              named: bool = False) -> DispatchResult | None:
        m = np.asarray(members, dtype=np.int64)
        idx = np.append(m, self.n)
        share = self.share if np.ndim(self.share) == 0 else self.share[np.ix_(idx, idx)]
        return solve_dispatch(m, self.balance[m], self.f[np.ix_(idx, idx)], caps_kwh=caps, seller_share=share,
                              named=named, attribute=attribute)

    def solve_many(self, coalitions: list[tuple[int, ...]], caps: list[NDArray[np.float64] | None],
                   attribute: bool = True) -> list[Allocation | None]:
        """:meth:`__call__` for many coalitions at once: the small ones (with sellers and buyers)
        as block-diagonal LPs of up to ``BATCH_BLOCKS`` blocks, each block's optimum its own;
        a block whose optimum may not be unique, or a large or one-sided coalition, is solved
        alone. Identical to one-by-one solves up to the solver's tolerances."""
        results: list[DispatchResult | None] = [None] * len(coalitions)
        batched: dict[bool, list[int]] = {True: [], False: []}
        b = self.balance
        for q, c in enumerate(coalitions):
            bc = b[list(c)]
            ns, nb = int(np.sum(bc > BALANCE_TOL)), int(np.sum(bc < -BALANCE_TOL))
            if ns == 0 or nb == 0 or ns * nb > BATCH_ARCS:
                results[q] = self.solve(c, caps[q], attribute)
            else:
                batched[caps[q] is not None].append(q)
        for with_caps, group in batched.items():
            for start in range(0, len(group), BATCH_BLOCKS):
                chunk = group[start:start + BATCH_BLOCKS]
                got = _batch(self.balance, self.f, self.share, [coalitions[q] for q in chunk],
                             [np.asarray(caps[q], dtype=float) for q in chunk] if with_caps else None, attribute)
                for q, res in zip(chunk, got, strict=True):
                    results[q] = res if res is not None else self.solve(coalitions[q], caps[q], attribute)
        out: list[Allocation | None] = []
        for members, res in zip(coalitions, results, strict=True):
            out.append(None if res is None else Allocation(tuple(members), res.member_loss_kwh, res.loss_kwh, res,
                                                           None if res.caps_binding else res.potential))
        return out

    def total_losses(self, coalitions: list[tuple[int, ...]]) -> list[float]:
        """:meth:`total_loss` of many coalitions (solved together)."""
        out = []
        for a in self.solve_many(coalitions, [None] * len(coalitions), attribute=False):
            assert a is not None  # without caps the LP is always feasible
            out.append(a.total)
        return out

    def total_loss(self, members: tuple[int, ...]) -> float:
        """The coalition's minimal total loss without caps (the worth of a sub-coalition)."""
        res = self.solve(members, None, attribute=False)
        assert res is not None  # without caps the LP is always feasible
        return res.loss_kwh

    def _labels(self, allocs: list[Allocation]) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
        label = np.full(self.n, -1, dtype=np.int64)
        pot = np.full(self.n, np.nan)
        exact = np.zeros(len(allocs), dtype=bool)
        for c, a in enumerate(allocs):
            mem = list(a.members)
            label[mem] = c
            if a.potential is not None:
                pot[mem] = a.potential
                exact[c] = True
        return label, pot, exact

    def merge_candidates(self, allocs: list[Allocation], limit: int = 0) -> set[tuple[int, int]]:
        """Pairs of coalitions (indices into ``allocs``) whose union may lose less than the two.

        Excluded pairs have a certificate: both coalitions' optimal duals and every transfer
        between them with a reduced cost >= -LP_TOL form a feasible dual of the union's LP,
        whose value is the two totals, so the union cannot do better. With ``limit`` > 0 only
        each coalition's ``limit`` most promising partners are kept, ranked by the largest
        saving a single transfer between them could make (-reduced cost x the smaller of the
        seller's supply and the buyer's demand)."""
        label, pot, exact = self._labels(allocs)
        s, j = self.sellers, self.buyers
        out: set[tuple[int, int]] = set()
        if len(s) == 0 or len(j) == 0:
            return out
        ls, lj = label[s], label[j]
        rc = self.f[np.ix_(s, j)] - pot[s][:, None] - pot[j][None, :]
        unknown = ~(exact[ls][:, None] & exact[lj][None, :])
        cross = ls[:, None] != lj[None, :]
        hit = cross & ((rc < -LP_TOL) | unknown)
        a, c = np.nonzero(hit)
        if limit <= 0:
            lo, hi = np.minimum(ls[a], lj[c]), np.maximum(ls[a], lj[c])
            return set(zip(lo.tolist(), hi.tolist(), strict=True))
        size = np.minimum(self.balance[s][a], -self.balance[j][c])
        score = np.where(unknown[a, c], np.inf, -rc[a, c] * size)
        m = len(allocs)
        best = np.zeros((m, m))
        np.maximum.at(best, (ls[a], lj[c]), score)
        best = np.maximum(best, best.T)
        for x in range(m):
            partners = np.flatnonzero(best[x] > 0)
            if len(partners) > limit:
                partners = partners[np.argsort(-best[x, partners], kind="stable")[:limit]]
            out.update((min(x, int(y)), max(x, int(y))) for y in partners)
        return out

    def join_candidates(self, allocs: list[Allocation], tol: float = 1e-6) -> set[tuple[int, int]]:
        """(prosumer, coalition index) pairs where the prosumer may gain by joining.

        Two exact exclusions: (1) with the prosumer's price alone and the coalition's optimal
        duals, every transfer between them has a reduced cost above FACE_TOL, so no optimal plan
        of the union trades between them and the prosumer's loss stays its loss alone; (2) even
        if all its energy went to (came from) the coalition's cheapest partner, its attributed
        loss, |balance| x min(cheapest partner's per-kWh share, EDC's), would not fall below its
        current loss minus ``tol``."""
        label, pot, exact = self._labels(allocs)
        cur = np.zeros(self.n)
        for a in allocs:
            cur[list(a.members)] = a.member_loss
        s, j = self.sellers, self.buyers
        out: set[tuple[int, int]] = set()
        if len(s) == 0 or len(j) == 0:
            return out
        n, m = self.n, len(allocs)
        fsj = self.f[np.ix_(s, j)]
        share = self.share[np.ix_(s, j)] if np.ndim(self.share) else np.full(fsj.shape, float(self.share))
        seller_cost = share * fsj
        buyer_cost = (1 - share) * fsj
        # Cheapest per-kWh share of each seller (buyer) with each coalition: min over its buyers (sellers).
        best_s = np.full((len(s), m), np.inf)
        best_j = np.full((len(j), m), np.inf)
        lj, ls = label[j], label[s]
        order_j = np.argsort(lj, kind="stable")
        starts_j = np.flatnonzero(np.r_[True, np.diff(lj[order_j]) != 0])
        best_s[:, lj[order_j][starts_j]] = np.minimum.reduceat(seller_cost[:, order_j], starts_j, axis=1)
        order_s = np.argsort(ls, kind="stable")
        starts_s = np.flatnonzero(np.r_[True, np.diff(ls[order_s]) != 0])
        best_j[:, ls[order_s][starts_s]] = np.minimum.reduceat(buyer_cost[order_s, :], starts_s, axis=0).T
        bound_s = self.balance[s][:, None] * np.minimum(best_s, self.f[s, n][:, None])
        bound_j = -self.balance[j][:, None] * np.minimum(best_j, self.f[n, j][:, None])
        gain_s = bound_s < cur[s][:, None] - tol
        gain_j = bound_j < cur[j][:, None] - tol
        # Duality: some transfer between the prosumer and the coalition has a reduced cost <= FACE_TOL.
        rc_s = fsj - self.alone_potential[s][:, None] - pot[j][None, :]
        rc_j = fsj - pot[s][:, None] - self.alone_potential[j][None, :]
        open_s = (rc_s <= FACE_TOL) | ~exact[lj][None, :]
        open_j = (rc_j <= FACE_TOL) | ~exact[ls][:, None]
        dual_s = np.zeros((len(s), m), dtype=bool)
        dual_j = np.zeros((len(j), m), dtype=bool)
        dual_s[:, lj[order_j][starts_j]] = np.logical_or.reduceat(open_s[:, order_j], starts_j, axis=1)
        dual_j[:, ls[order_s][starts_s]] = np.logical_or.reduceat(open_j[order_s, :], starts_s, axis=0).T
        hit_s = gain_s & dual_s
        hit_s[np.arange(len(s)), ls] = False
        hit_j = gain_j & dual_j
        hit_j[np.arange(len(j)), lj] = False
        a, c = np.nonzero(hit_s)
        out.update(zip(s[a].tolist(), c.tolist(), strict=True))
        a, c = np.nonzero(hit_j)
        out.update(zip(j[a].tolist(), c.tolist(), strict=True))
        return out
