"""Quantile forecasts (P10/P50/P90) and their calibration.

The community plans a day on forecasts; how wrong they may be matters as much as their level.
Every point forecaster here (the stacked LSTM, ridge, seasonal naive) gets quantiles the same
way, from its own errors on the validation period (after training, before the test period):

    P_tau = max(0, point + q_tau(residual | interval of the day, series) x scale of the customer)

with residual = (actual - point) / scale in the normaliser's units (each customer's mean over
the train period), q_tau the empirical tau-quantile of the validation residuals at that interval
of the day, pooled over customers (a split-conformal / empirical-quantile construction). The
quantiles are monotone in tau by construction. Calibration on the test period:

- hit rate of P_tau: the share of actual values at or below P_tau (nominal: tau);
- coverage of [P10, P90] (nominal 80%) and its mean width in kWh;
- pinball (quantile) loss averaged over the levels, in kWh.

A zero floor makes generation a mixed distribution (a mass at zero at night, dawn and dusk),
and a quantile inside that mass (P_tau = 0) cannot be judged by hits: any outcome is "at or below"
it or tied with it. Hit rates of P_tau are therefore taken over the points where the forecast
puts P_tau above zero, coverage over the points where P10 > 0; the selection depends on the
forecast only, so a calibrated forecast still scores tau and 80% there. The pinball loss, a
proper score, is taken over all points. Points left out are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.forecast.dataset import SERIES

LEVELS = (0.1, 0.5, 0.9)
RELIABILITY_LEVELS = tuple(round(x, 2) for x in np.arange(0.05, 0.96, 0.05))


@dataclass(frozen=True)
class ResidualQuantiles:
    """Empirical quantiles of normalised residuals per interval of the day and series."""

    levels: tuple[float, ...]
    q: NDArray[np.float64]
    """(levels, slots, 2) residual quantiles in normalised units."""

    @classmethod
    def fit(cls, residual: NDArray[np.float64], levels: tuple[float, ...] = LEVELS) -> ResidualQuantiles:
        """residual: (n, slots, 2) = (actual - point) / scale over the validation windows."""
        return cls(tuple(levels), np.quantile(residual, levels, axis=0))

    def apply(self, point_kwh: NDArray[np.float64], scale: NDArray[np.float64]) -> NDArray[np.float64]:
        """(levels, n, slots, 2) quantile forecasts in kWh, >= 0; ``scale`` (n, 2) per window."""
        out = point_kwh[None] + self.q[:, None] * scale[None, :, None, :]
        return np.clip(out, 0.0, None)

    def to_json(self) -> dict[str, Any]:
        return {"levels": list(self.levels), "q": self.q.round(6).tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResidualQuantiles:
        return cls(tuple(data["levels"]), np.asarray(data["q"], dtype=float))


def pinball(pred: NDArray[np.float64], actual: NDArray[np.float64], tau: float) -> NDArray[np.float64]:
    """Pinball loss of a tau-quantile forecast, elementwise."""
    d = actual - pred
    return np.maximum(tau * d, (tau - 1.0) * d)


def _hit_rate(q: NDArray[np.float64], actual: NDArray[np.float64]) -> tuple[float, int]:
    """Share of actual values at or below a quantile forecast, over the points where it is above zero."""
    assessable = q > 1e-9
    if not assessable.any():
        return float("nan"), 0
    return float((actual[assessable] <= q[assessable] + 1e-12).mean()), int(assessable.sum())


def calibration(qpred: NDArray[np.float64], actual: NDArray[np.float64],
                levels: tuple[float, ...] = LEVELS) -> dict[str, dict[str, Any]]:
    """Per series: hit rate per level, [first, last] level coverage, mean width, pinball loss.

    qpred (levels, n, slots, 2), actual (n, slots, 2) in kWh.
    """
    out: dict[str, dict[str, Any]] = {}
    lo, hi = qpred[0], qpred[-1]
    for k, name in enumerate(SERIES):
        a = actual[..., k]
        hits, counts = {}, {}
        for j, t in enumerate(levels):
            hits[f"p{round(100 * t)}"], counts[f"p{round(100 * t)}"] = _hit_rate(qpred[j][..., k], a)
        inside = lo[..., k] > 1e-9
        lov, hiv, av = lo[..., k][inside], hi[..., k][inside], a[inside]
        loss = np.mean([pinball(qpred[j][..., k], a, t).mean() for j, t in enumerate(levels)])
        out[name] = {"hit_rate": hits, "hit_points": counts,
                     "coverage": float(((av >= lov - 1e-12) & (av <= hiv + 1e-12)).mean()) if inside.any()
                     else float("nan"),
                     "nominal_coverage": float(levels[-1] - levels[0]),
                     "mean_width_kwh": float((hi[..., k] - lo[..., k]).mean()),
                     "pinball_kwh": float(loss),
                     "points": int(inside.sum()), "excluded_zero_points": int((~inside).sum())}
    return out


def reliability(point_val: NDArray[np.float64], actual_val: NDArray[np.float64], scale_val: NDArray[np.float64],
                point_test: NDArray[np.float64], actual_test: NDArray[np.float64], scale_test: NDArray[np.float64]
                ) -> dict[str, list[float]]:
    """Observed share at or below each quantile of ``RELIABILITY_LEVELS`` on the test period
    (quantiles fitted on validation), per series: a reliability curve."""
    rq = ResidualQuantiles.fit((actual_val - point_val) / scale_val[:, None, :], RELIABILITY_LEVELS)
    qp = rq.apply(point_test, scale_test)
    out: dict[str, list[float]] = {"levels": list(RELIABILITY_LEVELS)}
    for k, name in enumerate(SERIES):
        out[name] = [_hit_rate(qp[j][..., k], actual_test[..., k])[0] for j in range(len(RELIABILITY_LEVELS))]
    return out
