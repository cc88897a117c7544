"""Coalition formation (thesis section 3.3.1, Algorithm 3, Definitions 1-4, Lemma 1), generic
over a coalition *oracle*.

The oracle is the coalition's optimisation, ``OptimizeLoss`` of Algorithm 3 (in gridledger the
dispatch LP of eqs. 3.9-3.15, :class:`gridledger.grid.dispatch.CoalitionLP`): given members and,
for each, an upper bound on the loss it may be attributed (its loss acting alone: the
individual rationality of eq. 3.10), it returns the loss-minimising plan with a *unique*
attribution of the loss to the members, or None if the bounds cannot all be met. A coalition's
allocation is therefore a function of its members only (a hedonic game), and a prosumer prefers
the coalition where its attributed loss is lower, i.e. its proof score (eq. 3.6) higher.

Operations:

- *initial pairs* (Algorithm 3, lines 8-18): a seller and a buyer nearer to each other than
  either is to the EDC, nearest pairs first, each accepted if neither loses;
- *merge* (Definition 4, Algorithm 3 line 26): two coalitions become one if nobody in them
  loses and the total loss falls (best gain first; improving pairs are grouped and merged at
  once when the group's union is itself a Pareto improvement);
- *move* (Definition 3): a prosumer leaves its coalition for another one if it strictly gains
  and nobody in the coalition it joins loses (its old coalition's members may lose: they have
  no say, which is what "individually stable" means). Each prosumer, in id order, takes its
  best such move; moves repeat until none is left.
- *split* (Algorithm 3 line 27) is never a Pareto improvement here: a coalition's LP can run the
  parts' plans side by side within the same individual-rationality caps, so its optimal total
  is at most theirs, and its leximin attribution cannot be Pareto-dominated by another plan of
  the same total. :func:`stability_violations` checks it exhaustively for small coalitions.

Guarantees, each enforced by construction:

- *Termination*: merges lower the number of coalitions and moves never raise it (moving alone
  never gains, by the caps). While the number is constant the moves are a deterministic walk on
  finitely many partitions; if it revisits one, the coalitions of the prosumers that moved in
  that cycle are merged ("merge (cycle)"), which lowers the number. So the loop ends, at a
  partition with no improving move and no Pareto-improving merge.
- *Never worse than a reference plan* (``floor``: the non-cooperative baseline's trades): if the
  final total exceeds the reference's, the coalitions joined by a reference trade are merged
  ("merge (floor)"); each coalition can then run its members' reference trades, so the total is
  at most the reference's. The loop then resumes; this too lowers the number of coalitions.

Candidate screening (exact): an oracle may offer ``merge_candidates`` and ``join_candidates``,
which exclude pairs by an LP-duality certificate (the two coalitions' optimal duals together
are feasible for their union, so the union cannot lose less; or every transfer between a
prosumer and a coalition has a positive reduced cost, so no optimal plan of the union trades
between them). Without them every pair that can trade is evaluated.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.params import check_int, check_number

Coalition = tuple[int, ...]

#: Improving merges that share a coalition are tried as one union only up to this many members
#: (a larger union is rarely a Pareto improvement and costs a large LP); else the best pair merges.
GROUP_MAX = 24


@dataclass(frozen=True)
class Allocation:
    """An oracle's answer for one coalition."""

    members: Coalition
    member_loss: NDArray[np.float64]
    total: float
    plan: Any = None
    potential: NDArray[np.float64] | None = None
    """Optimal dual price of each member's balance (for screening); None if unknown or if a
    cap changes the optimum."""


Oracle = Callable[[Coalition, "NDArray[np.float64] | None"], "Allocation | None"]


@dataclass(frozen=True)
class FormationConfig:
    """Settings of the formation loop."""

    tol: float = 1e-6
    """Smallest loss change (kWh) that counts as a gain or a loss: 10x HiGHS's feasibility
    tolerance (1e-7), so that solver noise never decides an operation."""
    max_sweeps: int = 10_000
    """Safety bound on the number of merge-move sweeps (termination is guaranteed anyway)."""
    moves: bool = True
    """Run Definition 3's moves to a fixed point (off: Algorithm 3's merges only)."""
    merge_partners: int = 8
    """Merge passes try each coalition with its most promising partners only (ranked by a
    duality bound on what one transfer between them could save); 0 = every pair."""
    merge_exhaustive_max: int = 150
    """While there are at most this many coalitions, a merge phase ends only after every pair
    (screened by duality) has been tried, so its result does not depend on the ranking."""

    def __post_init__(self) -> None:
        check_number("tol", self.tol, gt=0, lt=1)
        check_int("max_sweeps", self.max_sweeps, ge=1)
        check_int("merge_partners", self.merge_partners, ge=0)
        check_int("merge_exhaustive_max", self.merge_exhaustive_max, ge=0)


@dataclass(frozen=True)
class Floor:
    """A reference plan the formation must not do worse than (the non-cooperative baseline)."""

    loss_kwh: float
    edges: tuple[tuple[int, int], ...]
    """Pairs of prosumers that trade with each other in the reference plan."""


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
    merges_exhaustive: bool = True
    """Whether the last merge phase tried every pair of coalitions (screened by duality), so that
    no Pareto-improving merge is left (Definition 4); moves (Definition 3) are always exhaustive."""

    @property
    def total_loss(self) -> float:
        return float(sum(a.total for a in self.allocations.values()))


def initial_pairs(balance_kwh: NDArray[np.float64], dist: NDArray[np.float64]) -> list[Coalition]:
    """Algorithm 3, lines 8-18: pair sellers and buyers nearer to each other than to the EDC.

    Pairs are taken nearest first; ``dist`` is (N+1, N+1) with the EDC at index N (kilometres,
    or any measure of electrical distance such as the loss fractions).
    """
    b = np.asarray(balance_kwh, dtype=float)
    n = len(b)
    sellers = np.flatnonzero(b > 0)
    buyers = np.flatnonzero(b < 0)
    if len(sellers) == 0 or len(buyers) == 0:
        return []
    d = dist[np.ix_(sellers, buyers)]
    near = (d < dist[sellers, n][:, None]) & (d < dist[n, buyers][None, :])
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


def _merged(*cs: Coalition) -> Coalition:
    return tuple(sorted(m for c in cs for m in c))


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
        self.of: dict[int, Coalition] = {}
        self._solved: dict[Coalition, Allocation | None] = {}

    def solve(self, members: Coalition) -> Allocation | None:
        """The coalition's allocation under individual rationality (cached: it depends on the members only)."""
        if members not in self._solved:
            self.calls += 1
            self._solved[members] = self.oracle(members, self.alone[list(members)])
        return self._solved[members]

    def prefetch(self, coalitions: Sequence[Coalition]) -> None:
        """Solve the uncached coalitions together if the oracle can (``solve_many``)."""
        many = getattr(self.oracle, "solve_many", None)
        todo = sorted({c for c in coalitions if c not in self._solved})
        if many is None or len(todo) < 2:
            return
        self.calls += len(todo)
        for c, res in zip(todo, many(todo, [self.alone[list(c)] for c in todo]), strict=True):
            self._solved[c] = res

    def set(self, alloc: Allocation) -> None:
        self.alloc[alloc.members] = alloc
        self.loss[list(alloc.members)] = alloc.member_loss
        for m in alloc.members:
            self.of[m] = alloc.members

    def drop(self, *cs: Coalition) -> None:
        for c in cs:
            del self.alloc[c]

    def can_trade(self, a: Coalition, b: Coalition) -> bool:
        ba, bb = self.balance[list(a)], self.balance[list(b)]
        return bool((np.any(ba > 0) and np.any(bb < 0)) or (np.any(ba < 0) and np.any(bb > 0)))

    def pareto_gain(self, new: Allocation | None) -> float:
        """Gain (kWh) if ``new`` makes nobody among its members lose and lowers their total, else 0."""
        if new is None:
            return 0.0
        old = self.loss[list(new.members)]
        if np.any(new.member_loss > old + self.tol):
            return 0.0
        gain = float(old.sum() - new.member_loss.sum())
        return gain if gain > self.tol else 0.0

    def partition(self) -> tuple[Coalition, ...]:
        return tuple(sorted(self.alloc))

    def total(self) -> float:
        return float(sum(a.total for a in self.alloc.values()))


def _merge_candidates(st: _State, coalitions: list[Coalition], limit: int = 0) -> set[tuple[int, int]]:
    screen = getattr(st.oracle, "merge_candidates", None)
    if screen is not None:
        return set(screen([st.alloc[c] for c in coalitions], limit))
    return {(a, b) for a, b in itertools.combinations(range(len(coalitions)), 2)
            if st.can_trade(coalitions[a], coalitions[b])}


def _join_candidates(st: _State, coalitions: list[Coalition]) -> set[tuple[int, int]]:
    screen = getattr(st.oracle, "join_candidates", None)
    if screen is not None:
        return set(screen([st.alloc[c] for c in coalitions], st.tol))
    out = set()
    for i in range(len(st.loss)):
        for k, c in enumerate(coalitions):
            if i not in c and st.can_trade((i,), c):
                out.add((i, k))
    return out


def _merge_phase(st: _State, partners: int, exhaustive_max: int) -> tuple[list[str], bool]:
    """Pareto merges in passes: evaluate the screened pairs (each coalition with its ``partners``
    best partners), apply the improving merges in decreasing order of gain, each coalition at
    most once per pass; repeat until none improves. While there are at most ``exhaustive_max``
    coalitions, a closing pass tries every screened pair. Returns (operations, whether the
    final pass was exhaustive)."""
    ops: list[str] = []
    while True:
        coalitions = st.partition()
        exhaustive = partners == 0 or len(coalitions) <= exhaustive_max
        limit = partners
        candidates: list[tuple[float, Coalition, Coalition, Allocation]] = []
        while True:
            pairs = sorted(_merge_candidates(st, list(coalitions), limit))
            st.prefetch([_merged(coalitions[a], coalitions[b]) for a, b in pairs])
            for a, b in pairs:
                ca, cb = coalitions[a], coalitions[b]
                res = st.solve(_merged(ca, cb))
                gain = st.pareto_gain(res)
                if res is not None and gain > 0:
                    candidates.append((gain, ca, cb, res))
            if candidates or not exhaustive or limit == 0:
                break
            limit = 0  # closing pass over every screened pair
        if not candidates:
            return ops, exhaustive
        del limit
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
        for members, pair_res in zip(groups, best_pair, strict=True):
            union = _merged(*members)
            res = st.solve(union) if len(members) > 2 and len(union) <= GROUP_MAX else None
            if res is None or st.pareto_gain(res) <= 0.0:
                res = pair_res  # the group's best pair alone (a Pareto improvement)
                members = [c for c in members if set(c) <= set(res.members)]
            st.drop(*members)
            st.set(res)
            ops.append("merge " + " + ".join(str(list(c)) for c in members))


def _move_gain(st: _State, i: int, dest: Coalition) -> tuple[float, Allocation] | None:
    """(gain, new allocation) if ``i`` strictly gains by joining ``dest`` and nobody in ``dest`` loses."""
    res = st.solve(_merged(dest, (i,)))
    if res is None:
        return None
    pos = res.members.index(i)
    gain = float(st.loss[i] - res.member_loss[pos])
    if gain <= st.tol:
        return None
    others = np.delete(res.member_loss, pos)
    if np.any(others > st.loss[list(dest)] + st.tol):
        return None
    return gain, res


def _move_phase(st: _State) -> list[str]:
    """Definition 3's moves to a fixed point: passes over the prosumers in id order, each taking its
    best move; a cycle of partitions is merged (see the module's docstring)."""
    ops: list[str] = []
    seen: dict[tuple[Coalition, ...], int] = {st.partition(): 0}
    history: list[tuple[int, Coalition, Coalition]] = []  # (mover, source, destination) per move
    while True:
        coalitions = st.partition()
        by_mover: dict[int, list[Coalition]] = {}
        for i, k in sorted(_join_candidates(st, list(coalitions))):
            by_mover.setdefault(i, []).append(coalitions[k])
        st.prefetch([_merged(d, (i,)) for i, ds in by_mover.items() for d in ds if i not in d])
        moved = False
        for i in sorted(by_mover):
            best: tuple[float, Coalition, Allocation] | None = None
            for dest in by_mover[i]:
                if dest not in st.alloc or i in dest:
                    continue  # changed earlier in this pass: the next pass looks again
                found = _move_gain(st, i, dest)
                if found is not None and (best is None or found[0] > best[0] + st.tol):
                    best = (found[0], dest, found[1])
            if best is None:
                continue
            gain, dest, res = best
            src = st.of[i]
            rest = tuple(m for m in src if m != i)
            st.drop(src, dest)
            if rest:
                rest_alloc = st.solve(rest)
                assert rest_alloc is not None  # a subset of a feasible coalition stays feasible alone
                st.set(rest_alloc)
            st.set(res)
            moved = True
            ops.append(f"move {i}: {list(src)} -> {list(dest)} (gains {gain * 1000:.3f} Wh)")
            history.append((i, src, dest))
            part = st.partition()
            if part in seen:
                involved = {m for _, s_, d_ in history[seen[part]:] for m in (*s_, *d_)}
                group = sorted({st.of[m] for m in involved})
                merged = st.solve(_merged(*group))
                assert merged is not None  # members' alone plans meet every cap
                st.drop(*group)
                st.set(merged)
                ops.append("merge (cycle) " + " + ".join(str(list(c)) for c in group))
                seen = {st.partition(): len(history)}
            else:
                seen[part] = len(history)
        if not moved:
            return ops


def _floor_merge(st: _State, floor: Floor) -> list[str]:
    """Join the coalitions linked by a reference trade (each can then run those trades)."""
    parent = {c: c for c in st.alloc}

    def find(c: Coalition) -> Coalition:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for i, j in floor.edges:
        a, b = find(st.of[i]), find(st.of[j])
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[Coalition, list[Coalition]] = {}
    for c in list(st.alloc):
        groups.setdefault(find(c), []).append(c)
    ops = []
    for group in groups.values():
        if len(group) < 2:
            continue
        res = st.solve(_merged(*group))
        assert res is not None
        st.drop(*group)
        st.set(res)
        ops.append("merge (floor) " + " + ".join(str(list(c)) for c in sorted(group)))
    return ops


def form_coalitions(balance_kwh: NDArray[np.float64], alone_loss_kwh: NDArray[np.float64],
                    dist: NDArray[np.float64], oracle: Oracle, config: FormationConfig | None = None,
                    floor: Floor | None = None) -> FormationResult:
    """Algorithm 3 (coalition formation) for one time period, to a Definition 3 fixed point."""
    cfg = config or FormationConfig()
    b = np.asarray(balance_kwh, dtype=float)
    n = len(b)
    st = _State(alone_loss_kwh, b, oracle, cfg.tol)
    for i in range(n):
        single = st.solve((i,))
        assert single is not None  # acting alone meets its own cap
        st.set(single)
    rounds = [Round("singletons", st.partition(), st.loss.copy())]
    counts = {"initial pairs": 0, "merge": 0, "move": 0, "merge (cycle)": 0, "merge (floor)": 0}

    ops = []
    for pair in initial_pairs(b, dist):
        res = st.solve(pair)
        if res is not None and st.pareto_gain(res) > 0.0:
            st.drop(*[(m,) for m in pair])
            st.set(res)
            ops.append(f"pair {list(pair)}")
    counts["initial pairs"] = len(ops)
    rounds.append(Round("initial pairs", st.partition(), st.loss.copy(), tuple(ops)))

    merges_exhaustive = True
    for sweep in range(1, cfg.max_sweeps + 1):
        all_ops, merges_exhaustive = _merge_phase(st, cfg.merge_partners, cfg.merge_exhaustive_max)
        if cfg.moves:
            all_ops += _move_phase(st)
        if not all_ops and floor is not None and st.total() > floor.loss_kwh + st.tol:
            all_ops = _floor_merge(st, floor)
        for op in all_ops:
            kind = op.split(" ")[0] if not op.startswith("merge (") else op[:op.index(")") + 1]
            counts[kind] = counts.get(kind, 0) + 1
        if not all_ops:
            break
        rounds.append(Round(f"sweep {sweep}", st.partition(), st.loss.copy(), tuple(all_ops)))
    if sorted(m for c in st.alloc for m in c) != list(range(n)):
        raise RuntimeError("formation lost or duplicated a prosumer")  # a bug, never a user error
    return FormationResult(partition=st.partition(), allocations=dict(st.alloc), member_loss=st.loss.copy(),
                           rounds=tuple(rounds), oracle_calls=st.calls, operations=counts,
                           merges_exhaustive=merges_exhaustive)


@dataclass(frozen=True)
class Violation:
    """An operation that would still improve on a partition."""

    kind: str
    """"move" (Definition 3), "alone", "merge" or "split" (Definition 4)."""
    prosumer: int | None
    source: Coalition
    target: Coalition
    gain_kwh: float


@dataclass(frozen=True)
class StabilityReport:
    """What :func:`check_stability` examined and found."""

    violations: tuple[Violation, ...]
    moves_checked: int
    """(prosumer, destination) pairs examined: solved, or excluded by a duality certificate."""
    moves_solved: int
    merges_checked: int
    splits_checked: int
    """Bipartitions evaluated (coalitions up to ``split_max`` members)."""
    split_unchecked: tuple[Coalition, ...]
    """Coalitions larger than ``split_max`` (covered by the superadditivity argument only)."""

    @property
    def stable(self) -> bool:
        return not self.violations


def check_stability(result: FormationResult, oracle: Oracle, alone_loss_kwh: NDArray[np.float64],
                    tol: float = 1e-6, split_max: int = 10, merges: bool = True) -> StabilityReport:
    """Prove (or refute) that a partition is stable.

    - Definition 3, exhaustively: every prosumer, every other coalition and acting alone; the
      destination's allocation is recomputed by ``oracle`` unless a duality certificate of the
      oracle (``join_candidates``) shows that no optimal plan of the union trades with the mover.
    - Definition 4's merge rule: every pair of coalitions (screened the same way).
    - Splits: every bipartition of every coalition of at most ``split_max`` members
      (2^(k-1) - 1 of them); larger coalitions are listed in ``split_unchecked``.
    """
    alone = np.asarray(alone_loss_kwh, dtype=float)
    loss = result.member_loss
    part = list(result.partition)
    st = _State(alone, np.zeros(len(alone)), oracle, tol)
    for c in part:
        st.set(result.allocations[c])
    st.balance = _balances(result, oracle, len(alone))
    out: list[Violation] = []
    for i in range(len(alone)):
        if loss[i] > alone[i] + tol:
            out.append(Violation("alone", i, st.of[i], (i,), float(loss[i] - alone[i])))
    candidates = _join_candidates(st, part)
    st.prefetch([_merged(part[k], (i,)) for i, k in candidates if i not in part[k]])
    solved = 0
    for i, k in sorted(candidates):
        dest = part[k]
        if i in dest:
            continue
        solved += 1
        res = st.solve(_merged(dest, (i,)))
        if res is None:
            continue
        pos = res.members.index(i)
        gain = float(loss[i] - res.member_loss[pos])
        others = [q for q in range(len(res.members)) if q != pos]
        if gain > tol and not np.any(res.member_loss[others] > loss[list(dest)] + tol):
            out.append(Violation("move", i, st.of[i], dest, gain))
    moves_checked = len(alone) * (len(part) - 1)
    merges_checked = 0
    if merges:
        pairs = sorted(_merge_candidates(st, part))
        st.prefetch([_merged(part[a], part[b]) for a, b in pairs])
        for a, b in pairs:
            merges_checked += 1
            res = st.solve(_merged(part[a], part[b]))
            gain = st.pareto_gain(res)
            if gain > 0:
                out.append(Violation("merge", None, part[a], part[b], gain))
    splits = 0
    unchecked = []
    for c in part:
        if len(c) > split_max:
            unchecked.append(c)
            continue
        rest = c[1:]
        for r in range(len(rest)):
            for combo in itertools.combinations(rest, r):
                s1 = (c[0], *combo)
                s2 = tuple(m for m in c if m not in s1)
                if not s2:
                    continue
                splits += 1
                a1, a2 = st.solve(s1), st.solve(s2)
                if a1 is None or a2 is None:
                    continue
                new = np.concatenate([a1.member_loss, a2.member_loss])
                old = loss[list(s1) + list(s2)]
                gain = float(old.sum() - new.sum())
                if np.all(new <= old + tol) and gain > tol:
                    out.append(Violation("split", None, c, s1, gain))
    return StabilityReport(tuple(out), moves_checked, solved, merges_checked, splits, tuple(unchecked))


def _balances(result: FormationResult, oracle: Oracle, n: int) -> NDArray[np.float64]:
    b = getattr(oracle, "balance", None)
    if b is not None:
        return np.asarray(b, dtype=float)
    return np.zeros(n)


def stability_violations(result: FormationResult, oracle: Oracle, alone_loss_kwh: NDArray[np.float64],
                         tol: float = 1e-6) -> list[Violation]:
    """The violations found by :func:`check_stability` (empty for a stable partition)."""
    return list(check_stability(result, oracle, alone_loss_kwh, tol).violations)
