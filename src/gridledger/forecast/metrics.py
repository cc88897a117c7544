"""Forecast errors: MAE, RMSE and daily-energy error, per series and overall."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gridledger.forecast.dataset import SERIES


def errors(pred: NDArray[np.float64], actual: NDArray[np.float64]) -> dict[str, dict[str, float]]:
    """pred, actual: (n, 48, 2) kWh per half hour. Daily-energy error: mean |sum over the day| difference."""
    out: dict[str, dict[str, float]] = {}
    for k, name in enumerate(SERIES):
        d = pred[..., k] - actual[..., k]
        out[name] = {"mae_kwh": float(np.abs(d).mean()), "rmse_kwh": float(np.sqrt((d ** 2).mean())),
                     "daily_energy_error_kwh": float(np.abs(d.sum(axis=-1)).mean())}
    d = pred - actual
    out["overall"] = {"mae_kwh": float(np.abs(d).mean()), "rmse_kwh": float(np.sqrt((d ** 2).mean())),
                      "daily_energy_error_kwh": float(np.abs(d.sum(axis=-2)).mean())}
    return out
