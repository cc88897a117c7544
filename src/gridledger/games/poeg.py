"""Proof of Energy Generation (thesis section 3.2.4 and 3.3): proof scores of prosumers and
coalitions.

- Singleton score, eq. (3.4) / Algorithm 1: PS_i = (P_i - C_i) - E_id^lo if P_i > C_i, else 0,
  E_id^lo being the loss of shipping the surplus to the EDC.
- Score of i inside coalition S, eq. (3.6): PS_Si = PS_i + (E_i^loss - E_Si^loss) for a seller
  with PS_i > 0, and E_i^loss - E_Si^loss otherwise: the loss i saves by trading in S.
  (Since PS_i = 0 whenever the second case applies, both cases read PS_i + saving.)
- Coalition score, eq. (3.5): PS_S = sum of its members' scores.
- Losses: E_i^loss (eq. 3.8) is i's loss trading only with the EDC; E_Si^loss (eq. 3.7) is its
  attributed loss in S (see :mod:`gridledger.grid.dispatch` for how a prosumer-to-prosumer
  transfer's loss is shared between seller and buyer).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def singleton_proof_scores(production_kwh: ArrayLike, consumption_kwh: ArrayLike,
                           loss_to_edc_kwh: ArrayLike) -> NDArray[np.float64]:
    """PS_i of every prosumer acting alone, eq. (3.4) (Algorithm 1)."""
    bal = np.asarray(production_kwh, dtype=float) - np.asarray(consumption_kwh, dtype=float)
    return np.where(bal > 0, bal - np.asarray(loss_to_edc_kwh, dtype=float), 0.0)


def member_proof_scores(singleton: ArrayLike, loss_alone_kwh: ArrayLike, loss_in_coalition_kwh: ArrayLike
                        ) -> NDArray[np.float64]:
    """PS_Si = PS_i + (E_i^loss - E_Si^loss), eq. (3.6)."""
    ps = np.asarray(singleton, dtype=float)
    saving = np.asarray(loss_alone_kwh, dtype=float) - np.asarray(loss_in_coalition_kwh, dtype=float)
    return np.where(ps > 0, ps + saving, saving)


def coalition_proof_score(member_scores: ArrayLike) -> float:
    """PS_S, eq. (3.5)."""
    return float(np.sum(member_scores))
