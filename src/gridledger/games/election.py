"""Miner election by weighted random selection (thesis eq. 3.16, Algorithm 2) and the penalty
for a miner that refuses to seal (eq. 3.24).

Probability of coalition k: P_k = PS_k / sum_j PS_j. If the drawn coalition refuses to mine,
its staked proof score is slashed, its reward withheld, and it is removed from the candidates
(eq. 3.24: wP* <- P* minus P_Sk); a new miner is drawn from the remaining coalitions.
The same selection serves the EV fleet's mLAG (thesis eq. 4.18).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridledger.errors import GridledgerError


class NoEligibleMinerError(GridledgerError):
    """Every candidate has a zero score or was excluded."""


def selection_probabilities(scores: ArrayLike) -> NDArray[np.float64]:
    """P_k = PS_k / sum_j PS_j (eq. 3.16); negative scores count as zero."""
    s = np.clip(np.asarray(scores, dtype=float), 0.0, None)
    total = s.sum()
    if total <= 0:
        raise NoEligibleMinerError("no candidate has a positive proof score")
    return s / total


def weighted_random_selection(scores: ArrayLike, rng: np.random.Generator) -> int:
    """Draw one index with probability proportional to its score (Algorithm 2)."""
    p = selection_probabilities(scores)
    return int(rng.choice(len(p), p=p))


@dataclass(frozen=True)
class ElectionAttempt:
    candidate: int
    probability: float
    refused: bool


@dataclass(frozen=True)
class ElectionResult:
    miner: int | None
    """Elected index, or None if every candidate refused."""
    attempts: tuple[ElectionAttempt, ...]
    slashed: tuple[int, ...] = field(default=())
    """Indices whose stake was slashed and reward withheld (eq. 3.24)."""


def elect_with_penalties(scores: ArrayLike, refuses: Callable[[int], bool], rng: np.random.Generator
                         ) -> ElectionResult:
    """Draw miners until one seals the block; each refusing candidate is slashed and removed."""
    s = np.clip(np.asarray(scores, dtype=float), 0.0, None).copy()
    attempts: list[ElectionAttempt] = []
    slashed: list[int] = []
    while s.sum() > 0:
        p = s / s.sum()
        k = int(rng.choice(len(p), p=p))
        refused = bool(refuses(k))
        attempts.append(ElectionAttempt(k, float(p[k]), refused))
        if not refused:
            return ElectionResult(k, tuple(attempts), tuple(slashed))
        slashed.append(k)
        s[k] = 0.0
    return ElectionResult(None, tuple(attempts), tuple(slashed))
