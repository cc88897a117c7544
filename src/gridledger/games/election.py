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
# The on-chain election (contracts/src/ProofStaking.sol, ``elect`` and ``pick``) draws with a
# seed nobody chooses: the XOR of the validators' revealed secrets mixed with the chain's
# randomness of a block fixed in advance. These functions make exactly the same draws off chain,
# so that anyone can replay an election: integer weights (token units) are the stakes in staking
# order; draw a = keccak256(abi.encode(seed, a)) mod total stake hits one stake; a draw that hits
# the stake of an excluded validator (it did not reveal, or was slashed, eq. 3.24) is rejected and
# the next draw is made. Each eligible validator therefore wins with probability its stake over
# the eligible stake (eq. 3.16 / 4.18).


def seeded_draw(seed: bytes, attempt: int) -> int:
    """keccak256(abi.encode(bytes32 seed, uint32 attempt)) as an integer."""
    from eth_abi import encode
    from eth_utils import keccak

    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    return int.from_bytes(keccak(encode(["bytes32", "uint32"], [seed, attempt])), "big")


def seeded_selection(weights: list[int], seed: bytes, attempt: int = 0) -> int | None:
    """Index hit by draw ``attempt``: k with probability weights[k] / sum(weights), or None if all are 0."""
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative integers")
    total = sum(weights)
    if total == 0:
        return None
    x = seeded_draw(seed, attempt) % total
    acc = 0
    for k, w in enumerate(weights):
        acc += w
        if x < acc:
            return k
    raise AssertionError("unreachable: draw < total")


def seeded_election(weights: list[int], owners: list[int], eligible: Callable[[int], bool], seed: bytes,
                    attempt: int = 0, max_draws: int = 10_000, eligible_stake: int | None = None
                    ) -> tuple[int | None, int]:
    """The contract's rejection-sampled draw: stakes ``weights`` in staking order belong to
    validators ``owners``; draws from ``attempt`` on until one hits an eligible validator.
    ``eligible_stake`` (if known, e.g. the contract's) spares asking ``eligible`` about every owner.
    Returns (that validator or None when no eligible stake, the next attempt number)."""
    if len(weights) != len(owners):
        raise ValueError("weights and owners must have the same length")
    if eligible_stake is None:
        eligible_stake = sum(w for w, o in zip(weights, owners, strict=True) if eligible(o))
    if eligible_stake == 0:
        return None, attempt
    for a in range(attempt, attempt + max_draws):
        k = seeded_selection(weights, seed, a)
        assert k is not None
        if eligible(owners[k]):
            return owners[k], a + 1
    raise RuntimeError(f"no eligible validator in {max_draws} draws")


def election_entropy(reveals: list[tuple[str, bytes]]) -> bytes:
    """XOR of keccak256(abi.encode(validator, secret)) over the revealed secrets (order does not matter)."""
    from eth_abi import encode
    from eth_utils import keccak

    acc = 0
    for validator, secret in reveals:
        acc ^= int.from_bytes(keccak(encode(["address", "bytes32"], [validator, secret])), "big")
    return acc.to_bytes(32, "big")


def election_seed(entropy: bytes, beacon: bytes, contract: str, round_: int) -> bytes:
    """keccak256(abi.encode(entropy, beacon, contract, round)): the seed ``elect`` fixes."""
    from eth_abi import encode
    from eth_utils import keccak

    return keccak(encode(["bytes32", "bytes32", "address", "uint256"], [entropy, beacon, contract, round_]))
