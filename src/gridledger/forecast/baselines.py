"""Forecast baselines: seasonal naive (same slot yesterday, same slot last week) and a ridge
linear model on the same look-back window."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def seasonal_naive(values: NDArray[np.float32], cust: NDArray[np.int64], tday: NDArray[np.int64],
                   lag_days: int) -> NDArray[np.float32]:
    """The same half hour ``lag_days`` earlier: (n, 48, 2)."""
    return values[cust, tday - lag_days]


class RidgeForecaster:
    """Y = [X, 1] W with an L2 penalty on W (closed form), on flattened windows."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.w: NDArray[np.float64] | None = None

    def fit(self, x: NDArray[np.float32], y: NDArray[np.float32]) -> RidgeForecaster:
        a = np.hstack([x.reshape(len(x), -1).astype(np.float64), np.ones((len(x), 1))])
        reg = self.alpha * np.eye(a.shape[1])
        reg[-1, -1] = 0.0
        self.w = np.linalg.solve(a.T @ a + reg, a.T @ y.astype(np.float64))
        return self

    def predict(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        assert self.w is not None
        a = np.hstack([x.reshape(len(x), -1).astype(np.float64), np.ones((len(x), 1))])
        return a @ self.w
