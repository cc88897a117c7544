"""Baselines and the reference of the thesis's community experiments (section 3.4.6).

- *Acting alone*: every prosumer trades only with the EDC (eq. 3.8).
- *Non-cooperative trading* (the thesis's reference [7], game-theoretic but non-cooperative):
  buyers, in random order, each buy from the seller that leaves them the least attributed loss
  among those with surplus left, if the trade is better than the EDC for *both* sides (a
  seller is not forced into a trade that costs it more than selling to the EDC); whatever is
  left goes to or comes from the EDC. Each buyer best-responds to the current offers; nobody
  optimises the community's loss. (Our model of [7]; the thesis gives no algorithm, see
  docs/decisions.md.)
- *The grand-coalition optimum*: the dispatch LP of eqs. (3.11)-(3.15) over all prosumers, the
  least loss any partition can reach under the loss model (coalitions only restrict who may
  trade with whom): the reference for the formation's loss.
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

    def edges(self, tol: float = 1e-9) -> tuple[tuple[int, int], ...]:
        """Pairs of prosumers that trade with each other."""
        n = self.flows.shape[0] - 1
        s, j = np.nonzero(self.flows[:n, :n] > tol)
        return tuple((int(a), int(b)) for a, b in zip(s, j, strict=True))


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


def noncooperative(balance_kwh: NDArray[np.float64], f: NDArray[np.float64], rng: np.random.Generator,
                   seller_share: float | NDArray[np.float64] = 0.5) -> TradeOutcome:
    """Sequential best responses of buyers, trading only when both sides gain (model of ref. [7]).

    ``seller_share`` is the seller's share of a transfer's loss (a number or an (N+1, N+1)
    matrix, as in :func:`gridledger.grid.dispatch.attributed_losses`)."""
    b = np.asarray(balance_kwh, dtype=float)
    n = len(b)
    share = np.full(f.shape, float(seller_share)) if np.ndim(seller_share) == 0 else np.asarray(seller_share)
    flows = np.zeros((n + 1, n + 1))
    supply = np.where(b > 0, b, 0.0)
    buyer_cost = (1 - share) * f           # buyer's loss per kWh bought from s
    seller_ok = share * f < f[:, n][:, None]  # the seller loses less than selling to the EDC
    for j in rng.permutation(np.flatnonzero(b < 0)):
        need = -b[j]
        while need > 1e-12:
            avail = np.flatnonzero((supply > 1e-12) & seller_ok[:n, j] & (buyer_cost[:n, j] < f[n, j]))
            if len(avail) == 0:
                break
            s = avail[np.argmin(buyer_cost[avail, j])]
            x = min(need, supply[s])
            flows[s, j] += x
            supply[s] -= x
            need -= x
        if need > 1e-12:
            flows[n, j] += need
    sellers = np.flatnonzero(supply > 1e-12)
    flows[sellers, n] += supply[sellers]
    return _outcome(flows, f)
