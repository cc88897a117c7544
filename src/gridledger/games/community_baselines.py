"""Baselines of the thesis's community experiments (section 3.4.6).

- *Acting alone*: every prosumer trades only with the EDC (eq. 3.8).
- *Non-cooperative trading* (the thesis's reference [7], game-theoretic but non-cooperative):
  buyers, in random order, each buy from the seller that loses them the least energy among
  those with surplus left, if that beats buying from the EDC; whatever is left goes to or
  comes from the EDC. Each buyer best-responds to the current offers; nobody optimises the
  community's loss. (Our model of [7]; the thesis gives no algorithm, see docs/decisions.md.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class TradeOutcome:
    flows: NDArray[np.float64]
    """(N+1, N+1) energy moved, index N = EDC."""
    loss_kwh: float
    p2p_kwh: float
    edc_kwh: float


def _outcome(flows: NDArray[np.float64], f: NDArray[np.float64]) -> TradeOutcome:
    n = flows.shape[0] - 1
    return TradeOutcome(flows, float((flows * f).sum()), float(flows[:n, :n].sum()),
                        float(flows[:n, n].sum() + flows[n, :n].sum()))


def acting_alone(balance_kwh: NDArray[np.float64], f: NDArray[np.float64]) -> TradeOutcome:
    b = np.asarray(balance_kwh, dtype=float)
    n = len(b)
    flows = np.zeros((n + 1, n + 1))
    flows[np.flatnonzero(b > 0), n] = b[b > 0]
    flows[n, np.flatnonzero(b < 0)] = -b[b < 0]
    return _outcome(flows, f)


def noncooperative(balance_kwh: NDArray[np.float64], f: NDArray[np.float64], rng: np.random.Generator
                   ) -> TradeOutcome:
    """Sequential best responses of buyers (model of the thesis's reference [7])."""
    b = np.asarray(balance_kwh, dtype=float)
    n = len(b)
    flows = np.zeros((n + 1, n + 1))
    supply = np.where(b > 0, b, 0.0)
    for j in rng.permutation(np.flatnonzero(b < 0)):
        need = -b[j]
        while need > 1e-12:
            avail = np.flatnonzero(supply > 1e-12)
            if len(avail) == 0:
                break
            s = avail[np.argmin(f[avail, j])]
            # Buying from s beats the EDC round trip for the buyer only if its loss is lower.
            if f[s, j] >= f[n, j]:
                break
            x = min(need, supply[s])
            flows[s, j] += x
            supply[s] -= x
            need -= x
        if need > 1e-12:
            flows[n, j] += need
    sellers = np.flatnonzero(supply > 1e-12)
    flows[sellers, n] += supply[sellers]
    return _outcome(flows, f)
