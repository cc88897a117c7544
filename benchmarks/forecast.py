"""Forecasting benchmark (run: python benchmarks/forecast.py).

Training time per epoch of the stacked LSTM over 300 customer-years (daily encoding: 7 steps
of 2 x 48 values per window), inference time per prosumer-day, and, at smoke size, the daily
encoding against the classic half-hourly encoding (336 steps per window): time per epoch and
test MAE after the same number of epochs, measured in the same run.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from gridledger.data.synthetic import synthetic_ausgrid
from gridledger.forecast.dataset import from_ausgrid
from gridledger.forecast.model import ForecastConfig, train_forecaster


def main() -> None:
    console = Console(width=120)
    big = from_ausgrid(synthetic_ausgrid(300, 365, np.random.default_rng(0)))
    m = train_forecaster(big, ForecastConfig(epochs=2, patience=5), seed=0)
    epoch_s = float(np.mean([h["seconds"] for h in m.history]))
    # Inference: one day ahead for every customer, timed.
    hist = big.values[:, -7:]
    dates = list(big.dates[-7:])
    t = time.perf_counter()
    reps = 5
    for _ in range(reps):
        m.forecast(hist, np.arange(len(big.customers)), dates, 1)
    infer_ms = 1e3 * (time.perf_counter() - t) / (reps * len(big.customers))

    small = from_ausgrid(synthetic_ausgrid(20, 120, np.random.default_rng(1)))
    rows = {}
    for enc in ("daily", "halfhourly"):
        cfg = ForecastConfig(encoding=enc, epochs=8, patience=100, lr=3e-3)
        res = train_forecaster(small, cfg, seed=0)
        rows[enc] = (float(np.mean([h["seconds"] for h in res.history])), res.metrics["lstm"],
                     res.metrics["naive_yesterday"])
    table = Table(title="forecasting: stacked LSTM (2 x 64)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("epoch over 300 customer-years, daily encoding (s)", f"{epoch_s:.1f}")
    table.add_row("windows per epoch", f"{len(big.customers) * (big.n_days - 7) * 0.7:,.0f}")
    table.add_row("inference per prosumer-day (ms)", f"{infer_ms:.3f}")
    for enc, (sec, lstm, _naive) in rows.items():
        table.add_row(f"smoke ({enc}): epoch s / MAE consumption / MAE generation",
                      f"{sec:.2f} / {lstm['consumption']['mae_kwh']:.4f} / {lstm['generation']['mae_kwh']:.4f}")
    naive = rows["daily"][2]
    table.add_row("smoke seasonal naive (yesterday): MAE consumption / generation",
                  f"{naive['consumption']['mae_kwh']:.4f} / {naive['generation']['mae_kwh']:.4f}")
    console.print(table)
    d, h = rows["daily"], rows["halfhourly"]
    console.print(f"ratios: half-hourly/daily epoch time {h[0] / d[0]:.0f}x; MAE daily/half-hourly consumption "
                  f"{d[1]['consumption']['mae_kwh'] / h[1]['consumption']['mae_kwh']:.2f}, generation "
                  f"{d[1]['generation']['mae_kwh'] / h[1]['generation']['mae_kwh']:.2f} (goal: epoch over 300 "
                  "customer-years <= 30 s)")


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
