"""PoW mining model of the elecoin market (paper section II.B.1, eq. (1)).

Solving the PoW puzzle is a Poisson process; edge server j holds the hashing share
beta_j = alpha_j / sum(alpha) and wins a block with probability
rho_j = beta_j * exp(-lambda * l * s). Its mining utility is
U_j^m = (R_f + r * s) * rho_j  (eq. 1).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def hash_shares(alpha: ArrayLike) -> NDArray[np.float64]:
    """Hashing shares beta_j = alpha_j / sum_j alpha_j (paper II.B.1); they sum to 1."""
    a = np.asarray(alpha, dtype=float)
    if a.ndim != 1 or a.size == 0 or np.any(a <= 0) or not np.all(np.isfinite(a)):
        raise ValueError("alpha must be a non-empty vector of positive hash powers")
    return a / a.sum()


def success_probability(alpha: ArrayLike, lam: float, l: float, s: float) -> NDArray[np.float64]:
    """Probability that each server mines the next block, rho_j = beta_j exp(-lambda l s).

    ``lam`` is the propagation factor lambda, ``l`` the puzzle metric, ``s`` the block size
    (transactions per block); paper II.B.1.
    """
    return hash_shares(alpha) * np.exp(-lam * l * s)


def mining_utility(alpha: ArrayLike, R_f: float, r: float, s: float, lam: float,
                   l: float) -> NDArray[np.float64]:
    """Mining utility of each edge server, U_j^m = (R_f + R_p) beta_j e^{-lambda l s}, R_p = r s (eq. 1)."""
    return (R_f + r * s) * success_probability(alpha, lam, l, s)
