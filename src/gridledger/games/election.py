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


# --------------------------------------------------------------------------- seeded draw
# The on-chain election (contracts/src/ProofStaking.sol, ``pick``) draws with a revealed
# 32-byte seed instead of a random generator, so that anyone can replay it. These functions
# make exactly the same draw off chain: integer weights (token units), in the order the
# validators staked, draw = keccak256(abi.encode(seed, round, attempt)) mod total.


def seeded_draw(seed: bytes, round_: int, attempt: int) -> int:
    """keccak256(abi.encode(bytes32 seed, uint256 round, uint32 attempt)) as an integer."""
    from eth_abi import encode
    from eth_utils import keccak

    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    return int.from_bytes(keccak(encode(["bytes32", "uint256", "uint32"], [seed, round_, attempt])), "big")


def seeded_selection(weights: list[int], seed: bytes, round_: int, attempt: int = 0) -> int | None:
    """Index drawn with probability weights[k] / sum(weights) (eq. 3.16 / 4.18), or None if all are 0."""
    total = sum(weights)
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative integers")
    if total == 0:
        return None
    draw = seeded_draw(seed, round_, attempt) % total
    acc = 0
    for k, w in enumerate(weights):
        acc += w
        if draw < acc:
            return k
    raise AssertionError("unreachable: draw < total")


def elect_with_penalties_seeded(weights: list[int], refuses: Callable[[int], bool], seed: bytes, round_: int
                                ) -> ElectionResult:
    """:func:`elect_with_penalties` with the on-chain draw: attempt a = 0, 1, ... until a
    candidate seals; a refusing candidate is excluded (its weight set to 0)."""
    w = [int(x) for x in weights]
    attempts: list[ElectionAttempt] = []
    slashed: list[int] = []
    attempt = 0
    while sum(w) > 0:
        k = seeded_selection(w, seed, round_, attempt)
        assert k is not None
        refused = bool(refuses(k))
        attempts.append(ElectionAttempt(k, w[k] / sum(w), refused))
        attempt += 1
        if not refused:
            return ElectionResult(k, tuple(attempts), tuple(slashed))
        slashed.append(k)
        w[k] = 0
    return ElectionResult(None, tuple(attempts), tuple(slashed))
