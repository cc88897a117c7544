"""Shapley value (thesis eq. 3.3): exact for small games, permutation sampling for large ones.

phi_i = sum_{T subset of N minus i} |T|! (n - |T| - 1)! / n! [v(T + i) - v(T)].

The characteristic function ``value`` maps a frozenset of players to a real number (v of the
empty set is taken as 0). Values are cached, so each coalition is evaluated once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

Value = Callable[[frozenset], float]


def _cached(value: Value) -> Value:
    cache: dict[frozenset, float] = {frozenset(): 0.0}

    def v(s: frozenset) -> float:
        if s not in cache:
            cache[s] = float(value(s))
        return cache[s]

    return v


def shapley_exact(players: Sequence[Hashable], value: Value) -> dict[Hashable, float]:
    """Exact Shapley values (2^n evaluations of ``value``)."""
    n = len(players)
    v = _cached(value)
    fact = [math.factorial(k) for k in range(n + 1)]
    out: dict[Hashable, float] = {}
    for i in players:
        others = [p for p in players if p != i]
        total = 0.0
        for size in range(n):
            w = fact[size] * fact[n - size - 1] / fact[n]
            for subset in itertools.combinations(others, size):
                t = frozenset(subset)
                total += w * (v(t | {i}) - v(t))
        out[i] = total
    return out


@dataclass(frozen=True)
class SampledShapley:
    """Monte Carlo Shapley estimate: mean marginal contribution over random orders."""

    values: dict[Hashable, float]
    stderr: dict[Hashable, float]
    permutations: int


OrderValues = Callable[[Sequence[Hashable]], Sequence[float]]
BatchValue = Callable[[list[frozenset]], Sequence[float]]


def shapley_sampled(players: Sequence[Hashable], value: Value, rng: np.random.Generator,
                    permutations: int = 2000, rel_tol: float = 0.0, min_permutations: int = 20,
                    order_values: OrderValues | None = None, batch_value: BatchValue | None = None,
                    chunk: int = 20) -> SampledShapley:
    """Shapley values estimated from random orders, with standard errors.

    Orders come in antithetic pairs (an order and its reverse), which lowers the variance for
    the same cost. Sampling stops after ``permutations`` orders, or earlier (after at least
    ``min_permutations``) once every standard error is below ``rel_tol`` times the mean value
    v(N)/n. Each order's marginal contributions sum to v(N), so the estimates add up to v(N)
    exactly; each member's estimate carries its standard error. Faster evaluations, if given:
    ``order_values`` returns v of every prefix of an order at once (a game that grows a
    coalition incrementally), ``batch_value`` evaluates many coalitions in one call (orders are
    then drawn ``chunk`` at a time and their new prefixes evaluated together).
    """
    v = _cached(value)
    known: dict[frozenset, float] = {frozenset(): 0.0}
    n = len(players)
    idx = {p: k for k, p in enumerate(players)}
    rows: list[np.ndarray] = []
    scale = abs(v(frozenset(players))) / max(n, 1)
    while len(rows) < permutations:
        orders: list[np.ndarray] = []
        while len(orders) < (chunk if batch_value is not None else 2) and len(rows) + len(orders) < permutations:
            first = rng.permutation(n)
            orders.append(first)
            if len(rows) + len(orders) < permutations:
                orders.append(first[::-1])
        if batch_value is not None:
            prefixes = {frozenset(players[k] for k in order[:m]) for order in orders for m in range(1, n + 1)}
            todo = sorted((p for p in prefixes if p not in known), key=lambda p: sorted(map(str, p)))
            known.update(zip(todo, (float(x) for x in batch_value(todo)), strict=True))
        for order in orders:
            row = np.zeros(n)
            if batch_value is not None:
                prefix = [known[frozenset(players[k] for k in order[:m])] for m in range(1, n + 1)]
                row[order] = np.diff(np.concatenate([[0.0], prefix]))
            elif order_values is not None:
                pref = np.asarray(order_values([players[k] for k in order]), dtype=float)
                row[order] = np.diff(np.concatenate([[0.0], pref]))
            else:
                current: frozenset = frozenset()
                prev = 0.0
                for k in order:
                    current = current | {players[k]}
                    val = v(current)
                    row[k] = val - prev
                    prev = val
            rows.append(row)
        if rel_tol > 0 and len(rows) >= max(min_permutations, 4):
            pairs = np.asarray(rows[: len(rows) // 2 * 2]).reshape(-1, 2, n).mean(axis=1)
            se = pairs.std(axis=0, ddof=1) / math.sqrt(len(pairs))
            if np.all(se <= rel_tol * scale):
                break
    samples = np.asarray(rows)
    mean = samples.mean(axis=0)
    if len(samples) >= 4:
        pairs = samples[: len(samples) // 2 * 2].reshape(-1, 2, n).mean(axis=1)
        se = pairs.std(axis=0, ddof=1) / math.sqrt(len(pairs))
    else:
        se = np.full(n, np.inf)
    return SampledShapley({p: float(mean[idx[p]]) for p in players}, {p: float(se[idx[p]]) for p in players},
                          len(samples))
