"""Merge-and-split coalition formation (thesis section 3.3.1, Algorithm 3, Definitions 1-4,
Lemma 1), generic over a coalition *oracle*.

The oracle is the coalition's optimisation, ``OptimizeLoss`` of Algorithm 3 (in gridledger:
the dispatch LP of eqs. 3.9-3.15, wired in by :mod:`gridledger.scenarios.community.run`): given
members and, for each, an upper bound on the loss it may be attributed (its loss acting alone:
the individual rationality of eq. 3.10), it returns the loss-minimising allocation, or None if
the bounds cannot all be met. A coalition's allocation is therefore a function of its members
only. Prosumers prefer coalitions where their attributed loss is lower, i.e. their proof score
(eq. 3.6) higher.

Operations, each a Pareto improvement (Definition 2: every member of the coalitions involved
loses no more than now, and the total loss falls, so somebody gains):

- *initial pairs* (Algorithm 3, lines 8-18): a seller and a buyer nearer to each other than
  either is to the EDC, nearest pairs first;
- *merge* (Definition 4): two coalitions become one, best gain first;
- *split*: a coalition becomes two (all bipartitions for coalitions up to ``split_exact_max``
  members);
- *move*: one prosumer leaves its coalition for another (a split then a merge).

The loop stops when a sweep of merges, splits and moves changes nothing; every accepted
operation lowers the total loss by more than ``tol``, so it terminates, and the final
partition admits no Pareto-improving merge, split (of small coalitions) or move: it is stable
in the sense of Definition 3 (checked exhaustively by :func:`stability_violations`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.params import check_int, check_number

Coalition = tuple[int, ...]


@dataclass(frozen=True)
class Allocation:
    """An oracle's answer for one coalition."""

    members: Coalition
    member_loss: NDArray[np.float64]
    total: float
    plan: Any = None


Oracle = Callable[[Coalition, "NDArray[np.float64] | None"], "Allocation | None"]


@dataclass(frozen=True)
class FormationConfig:
    """Settings of the merge-and-split loop."""

    tol: float = 1e-9
    """Smallest loss reduction (kWh) that counts as an improvement."""
    split_exact_max: int = 6
    """Coalitions up to this size are tested against all their bipartitions."""
    max_sweeps: int = 1000
    """Safety bound on the number of merge-split-move sweeps."""
    merge_neighbours: int = 8
    """Merge passes first try each coalition with its nearest coalitions only (by the distance
    between their closest members); when those give nothing, every pair is tried before the
    merge phase ends, so the result does not depend on this speed-up. 0 = always every pair."""

    def __post_init__(self) -> None:
        check_number("tol", self.tol, gt=0)
        check_int("split_exact_max", self.split_exact_max, ge=1, le=16)
        check_int("max_sweeps", self.max_sweeps, ge=1)
        check_int("merge_neighbours", self.merge_neighbours, ge=0)


@dataclass(frozen=True)
class Round:
    """The partition after one stage of Algorithm 3 (rows of the thesis's Table 3.2)."""

    label: str
    partition: tuple[Coalition, ...]
    member_loss: NDArray[np.float64]
    operations: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormationResult:
    partition: tuple[Coalition, ...]
    allocations: dict[Coalition, Allocation]
    member_loss: NDArray[np.float64]
    rounds: tuple[Round, ...]
    oracle_calls: int = 0
    operations: dict[str, int] = field(default_factory=dict)


def initial_pairs(balance_kwh: NDArray[np.float64], dist_km: NDArray[np.float64]) -> list[Coalition]:
    """Algorithm 3, lines 8-18: pair sellers and buyers nearer to each other than to the EDC.

    Pairs are taken nearest first; ``dist_km`` is (N+1, N+1) with the EDC at index N.
    """
    b = np.asarray(balance_kwh, dtype=float)
    n = len(b)
    sellers = np.flatnonzero(b > 0)
    buyers = np.flatnonzero(b < 0)
    if len(sellers) == 0 or len(buyers) == 0:
        return []
    d = dist_km[np.ix_(sellers, buyers)]
    near = (d < dist_km[sellers, n][:, None]) & (d < dist_km[n, buyers][None, :])
    order = np.argsort(d, axis=None, kind="stable")
    used: set[int] = set()
    pairs: list[Coalition] = []
    for flat in order:
        a, c = divmod(int(flat), len(buyers))
        if not near[a, c]:
            continue
        i, j = int(sellers[a]), int(buyers[c])
        if i in used or j in used:
            continue
        used.update((i, j))
        pairs.append(tuple(sorted((i, j))))
    return pairs


class _State:
    def __init__(self, alone_loss: NDArray[np.float64], balance: NDArray[np.float64], oracle: Oracle,
                 tol: float) -> None:
        self.alone = np.asarray(alone_loss, dtype=float)
        self.loss = self.alone.copy()
        self.balance = balance
        self.oracle = oracle
        self.tol = tol
        self.calls = 0
        self.alloc: dict[Coalition, Allocation] = {}
        self._solved: dict[Coalition, Allocation | None] = {}

    def solve(self, members: Coalition) -> Allocation | None:
        """The coalition's optimal allocation under individual rationality (cached)."""
        if members not in self._solved:
            self.calls += 1
            self._solved[members] = self.oracle(members, self.alone[list(members)])
        return self._solved[members]

    def set(self, alloc: Allocation) -> None:
        self.alloc[alloc.members] = alloc
        self.loss[list(alloc.members)] = alloc.member_loss

    def total(self, c: Coalition) -> float:
        return self.alloc[c].total

    def has_seller(self, c: Coalition) -> bool:
        return bool(np.any(self.balance[list(c)] > 0))

    def has_buyer(self, c: Coalition) -> bool:
        return bool(np.any(self.balance[list(c)] < 0))

    def can_trade(self, a: Coalition, b: Coalition) -> bool:
        return (self.has_seller(a) and self.has_buyer(b)) or (self.has_buyer(a) and self.has_seller(b))

    def pareto(self, new: list[Allocation | None]) -> float:
        """Gain (kWh) if the new allocations Pareto-improve on their members' current losses, else 0."""
        if any(a is None for a in new):
            return 0.0
        members = [m for a in new for m in a.members]  # type: ignore[union-attr]
        new_loss = np.concatenate([a.member_loss for a in new])  # type: ignore[union-attr]
        old_loss = self.loss[members]
        if np.any(new_loss > old_loss + self.tol * (1 + np.abs(old_loss))):
            return 0.0
        gain = float(old_loss.sum() - new_loss.sum())
        return gain if gain > self.tol else 0.0

    def partition(self) -> tuple[Coalition, ...]:
        return tuple(sorted(self.alloc, key=lambda c: (c[0], len(c))))


def _merged(a: Coalition, b: Coalition) -> Coalition:
    return tuple(sorted(a + b))


def _near_pairs(st: _State, dist: NDArray[np.float64], k: int) -> set[frozenset]:
    """Pairs (A, B) where B is among A's k nearest coalitions (closest members) or vice versa."""
    coalitions = list(st.alloc)
    m = len(coalitions)
    if k <= 0 or m <= k + 1:
        return {frozenset(p) for p in itertools.combinations(coalitions, 2)}
    label = np.empty(len(st.loss), dtype=np.int64)
    for c_idx, c in enumerate(coalitions):
        label[list(c)] = c_idx
    n = len(label)
    d = dist[:n, :n]
    # Closest-member distance between coalitions: min over member pairs.
    by_row = np.full((n, m), np.inf)
    for c_idx in range(m):
        by_row[:, c_idx] = d[:, label == c_idx].min(axis=1)
    cd = np.full((m, m), np.inf)
    for c_idx in range(m):
        cd[c_idx] = by_row[label == c_idx].min(axis=0)
    np.fill_diagonal(cd, np.inf)
    nearest = np.argsort(cd, axis=1)[:, :k]
    return {frozenset((coalitions[a], coalitions[b])) for a in range(m) for b in nearest[a]}


def _merge_phase(st: _State, cache: dict[frozenset, tuple[float, Allocation | None]],
                 dist: NDArray[np.float64], neighbours: int) -> list[str]:
    """Merges in passes: evaluate the candidate pairs (cached), then apply the improving merges
    in decreasing order of gain, each coalition at most once per pass; repeat until no pair at
    all improves. A merge leaves every other pair's evaluation valid (caps are unchanged)."""
    ops = []
    restricted = neighbours > 0
    while True:
        allowed = _near_pairs(st, dist, neighbours) if restricted else None
        candidates: list[tuple[float, Coalition, Coalition, Allocation]] = []
        for a, b in itertools.combinations(list(st.alloc), 2):
            key = frozenset((a, b))
            if allowed is not None and key not in allowed and key not in cache:
                continue
            if key not in cache:
                if not st.can_trade(a, b):
                    cache[key] = (0.0, None)
                else:
                    res = st.solve(_merged(a, b))
                    cache[key] = (st.pareto([res]), res)
            gain, res = cache[key]
            if res is not None and gain > st.tol:
                candidates.append((gain, a, b, res))
        if not candidates:
            if restricted:
                restricted = False  # closing check over every pair
                continue
            return ops
        restricted = neighbours > 0
        # Group the improving pairs (best gain first): a coalition joins at most one group; a
        # group merges at once if its union is a Pareto improvement, else only its best pair.
        candidates.sort(key=lambda t: (-t[0], t[1], t[2]))
        group_of: dict[Coalition, int] = {}
        groups: list[list[Coalition]] = []
        best_pair: list[Allocation] = []
        for _, a, b, res in candidates:
            ga, gb = group_of.get(a), group_of.get(b)
            if ga is None and gb is None:
                group_of[a] = group_of[b] = len(groups)
                groups.append([a, b])
                best_pair.append(res)
            elif ga is not None and gb is None:
                group_of[b] = ga
                groups[ga].append(b)
            elif gb is not None and ga is None:
                group_of[a] = gb
                groups[gb].append(a)
        used: set[Coalition] = set()
        for members, pair_res in zip(groups, best_pair, strict=True):
            res = pair_res if len(members) == 2 else st.solve(tuple(sorted(sum(members, ()))))
            if res is None or st.pareto([res]) <= 0.0:
                res = pair_res  # fall back to the group's best pair (a Pareto improvement)
                members = [c for c in members if set(c) <= set(res.members)]
            used.update(members)
            for c in members:
                del st.alloc[c]
            st.set(res)
            ops.append("merge " + " + ".join(str(list(c)) for c in members))
        for key in [k for k in cache if any(c in used for c in k)]:
            del cache[key]


def _split_phase(st: _State, max_exact: int) -> list[str]:
    ops = []
    for s in list(st.alloc):
        if s not in st.alloc or not 2 <= len(s) <= max_exact:
            continue
        rest = s[1:]
        for r in range(0, len(rest)):
            for combo in itertools.combinations(rest, r):
                s1 = (s[0], *combo)
                s2 = tuple(m for m in s if m not in s1)
                if not s2:
                    continue
                a1, a2 = st.solve(s1), st.solve(s2)
                if st.pareto([a1, a2]) <= 0.0:
                    continue
                del st.alloc[s]
                st.set(a1)
                st.set(a2)
                ops.append(f"split {list(s)} -> {list(s1)} + {list(s2)}")
                break
            else:
                continue
            break
    return ops


def _move_phase(st: _State) -> list[str]:
    ops = []
    changed = True
    while changed:
        changed = False
        for s in list(st.alloc):
            if len(s) < 2 or s not in st.alloc:
                continue
            for i in s:
                seller = st.balance[i] > 0
                rest = tuple(m for m in s if m != i)
                for k in list(st.alloc):
                    if k == s or (seller and not st.has_buyer(k)) or (not seller and not st.has_seller(k)):
                        continue
                    a_rest, a_join = st.solve(rest), st.solve(_merged(k, (i,)))
                    if st.pareto([a_rest, a_join]) > 0.0:
                        del st.alloc[s], st.alloc[k]
                        st.set(a_rest)  # type: ignore[arg-type]
                        st.set(a_join)  # type: ignore[arg-type]
                        ops.append(f"move {i}: {list(s)} -> {list(k)}")
                        changed = True
                        break
                if changed:
                    break
            if changed:
                break
    return ops


def form_coalitions(balance_kwh: NDArray[np.float64], alone_loss_kwh: NDArray[np.float64],
                    dist_km: NDArray[np.float64], oracle: Oracle,
                    config: FormationConfig | None = None) -> FormationResult:
    """Algorithm 3 (coalition formation) for one time period."""
    cfg = config or FormationConfig()
    b = np.asarray(balance_kwh, dtype=float)
    n = len(b)
    st = _State(alone_loss_kwh, b, oracle, cfg.tol)
    for i in range(n):
        st.alloc[(i,)] = Allocation((i,), st.loss[[i]].copy(), float(st.loss[i]))
    rounds = [Round("singletons", st.partition(), st.loss.copy())]
    counts = {"initial pairs": 0, "merge": 0, "split": 0, "move": 0}

    ops = []
    for pair in initial_pairs(b, dist_km):
        res = st.solve(pair)
        if st.pareto([res]) > 0.0 and res is not None:
            for m in pair:
                del st.alloc[(m,)]
            st.set(res)
            ops.append(f"pair {list(pair)}")
    counts["initial pairs"] = len(ops)
    rounds.append(Round("initial pairs", st.partition(), st.loss.copy(), tuple(ops)))

    merge_cache: dict[frozenset, tuple[float, Allocation | None]] = {}
    for sweep in range(1, cfg.max_sweeps + 1):
        ops = _merge_phase(st, merge_cache, dist_km, cfg.merge_neighbours)
        counts["merge"] += len(ops)
        split_ops = _split_phase(st, cfg.split_exact_max)
        counts["split"] += len(split_ops)
        move_ops = _move_phase(st)
        counts["move"] += len(move_ops)
        all_ops = ops + split_ops + move_ops
        rounds.append(Round(f"sweep {sweep}", st.partition(), st.loss.copy(), tuple(all_ops)))
        if not all_ops:
            break
        merge_cache = {k: v for k, v in merge_cache.items() if all(c in st.alloc for c in k)}
    return FormationResult(partition=st.partition(), allocations=dict(st.alloc), member_loss=st.loss.copy(),
                           rounds=tuple(rounds), oracle_calls=st.calls, operations=counts)


@dataclass(frozen=True)
class Violation:
    prosumer: int
    source: Coalition
    target: Coalition
    gain_kwh: float


def stability_violations(result: FormationResult, oracle: Oracle, alone_loss_kwh: NDArray[np.float64],
                         tol: float = 1e-9) -> list[Violation]:
    """Every move of one prosumer to another coalition or to acting alone that is a Pareto
    improvement for the prosumers involved (Definition 3; a prosumer alone moving into a
    coalition is a merge); empty for a stable partition.
    Exhaustive: every prosumer, every destination, allocations recomputed by ``oracle``."""
    alone = np.asarray(alone_loss_kwh, dtype=float)
    loss = result.member_loss
    out: list[Violation] = []
    part = list(result.partition)

    def solve(members: Coalition) -> Allocation | None:
        return oracle(members, alone[list(members)]) if members else Allocation((), np.zeros(0), 0.0)

    for s in part:
        for i in s:
            rest = tuple(m for m in s if m != i)
            a_rest = solve(rest)
            for k in [*part, ()]:
                if k == s or (not rest and not k):
                    continue
                a_join = solve(tuple(sorted((*k, i))))
                if a_rest is None or a_join is None:
                    continue
                members = list(a_rest.members) + list(a_join.members)
                new = np.concatenate([a_rest.member_loss, a_join.member_loss])
                old = loss[members]
                if np.all(new <= old + tol * (1 + np.abs(old))) and old.sum() - new.sum() > tol:
                    out.append(Violation(i, s, k, float(old.sum() - new.sum())))
    return out
