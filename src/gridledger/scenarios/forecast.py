"""Forecasting scenarios: data sources, training, prediction, the community's day-ahead
profiles, and the thesis's Fig. 3.4."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from gridledger.data.ausgrid import AusgridData, CustomerSeries, load_ausgrid
from gridledger.data.synthetic import SYNTHETIC_TITLE, synthetic_ausgrid
from gridledger.errors import ConfigError, InputFileError
from gridledger.forecast.dataset import SeriesData, from_ausgrid, split_by_date
from gridledger.forecast.model import ForecastConfig, Forecaster, train_forecaster
from gridledger.progress import SILENT, Reporter
from gridledger.reporting import OutputDir, provenance

SYNTHETIC_START = dt.date(2012, 7, 1)


def load_data(path: str | Path | None, synthetic_customers: int = 30, synthetic_days: int = 365,
              seed: int = 0) -> AusgridData:
    """An Ausgrid file, a directory of them (customers merged), or synthetic data (path None)."""
    if path is None:
        return synthetic_ausgrid(synthetic_customers, synthetic_days, np.random.default_rng(seed),
                                 start=SYNTHETIC_START)
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.csv"))
        if not files:
            raise InputFileError(str(p), "directory holds no .csv files")
        parts = [load_ausgrid(f) for f in files]
        customers: dict[int, CustomerSeries] = {}
        for part in parts:
            for c, cs in part.customers.items():
                if c in customers:
                    raise InputFileError(str(p), f"customer {c} appears in more than one file")
                customers[c] = cs
        return AusgridData(parts[0].title, customers, any(x.synthetic for x in parts))
    return load_ausgrid(p)


def train(data: AusgridData, config: ForecastConfig, seed: int, customers: int | None = None,
          reporter: Reporter = SILENT) -> tuple[Forecaster, SeriesData]:
    series = from_ausgrid(data)
    if customers is not None:
        if customers > len(series.customers):
            raise ConfigError("customers", f"the data has {len(series.customers)} customers (asked for {customers})")
        series = SeriesData(series.values[:customers], series.dates, series.customers[:customers], series.synthetic)
    advance = reporter.task("training the stacked LSTM", config.epochs)
    model = train_forecaster(series, config, seed, lambda e, v: advance(1))
    return model, series


def forecast_days(model: Forecaster, series: SeriesData, start_index: int, days: int,
                  customers: list[int] | None = None) -> tuple[np.ndarray, list[dt.date]]:
    """Forecast ``days`` days from day ``start_index`` (history: the look-back days before it)."""
    lb = model.config.lookback_days
    if start_index < lb:
        raise ConfigError("start", f"needs {lb} days of history before the first forecast day")
    rows = [series.customers.index(c) for c in customers] if customers else list(range(len(series.customers)))
    known = {c: k for k, c in enumerate(model.customers)}
    missing = [series.customers[r] for r in rows if series.customers[r] not in known]
    if missing and model.normaliser.mode == "customer":
        raise ConfigError("customers", f"the model was not trained on customers {missing[:5]} (per-customer scales)")
    cust = np.array([known.get(series.customers[r], 0) for r in rows])
    history = series.values[rows, start_index - lb:start_index]
    dates = list(series.dates[start_index - lb:start_index])
    fc = model.forecast(history, cust, dates, days)
    return fc, [dates[-1] + dt.timedelta(days=k + 1) for k in range(days)]


def prediction_json(fc: np.ndarray, dates: list[dt.date], customers: list[int], synthetic: bool) -> dict[str, Any]:
    out = []
    for k, c in enumerate(customers):
        out.append({"customer": c,
                    "consumption_kwh": fc[k, :, :, 0].round(4).tolist(),
                    "generation_kwh": fc[k, :, :, 1].round(4).tolist(),
                    "daily_consumption_kwh": fc[k, :, :, 0].sum(axis=1).tolist(),
                    "daily_generation_kwh": fc[k, :, :, 1].sum(axis=1).tolist()})
    return {"dates": [str(d) for d in dates], "synthetic_data": synthetic, "customers": out}


def day_ahead_profiles(n: int, seed: int, model: Forecaster | None = None, data: AusgridData | None = None,
                       history_days: int = 120, reporter: Reporter = SILENT
                       ) -> tuple[np.ndarray, np.ndarray, str]:
    """Day-ahead daily production and consumption of n prosumers from the stacked LSTM (the
    thesis's flow): train on the history (synthetic unless ``data`` is given) unless a model
    is given, then forecast the day after the history. Returns (production, consumption, note)."""
    if data is None:
        data = synthetic_ausgrid(n, history_days, np.random.default_rng(seed), start=SYNTHETIC_START)
    series = from_ausgrid(data)
    if n > len(series.customers):
        raise ConfigError("prosumers", f"the data has {len(series.customers)} customers (asked for {n})")
    if model is None:
        cfg = ForecastConfig(epochs=40, patience=8, lr=3e-3)
        model, _ = train(data, cfg, seed, reporter=reporter)
    fc, dates = forecast_days(model, series, series.n_days, 1, list(series.customers[:n]))
    note = (f"day-ahead LSTM forecast for {dates[0]} from {'SYNTHETIC ' if series.synthetic else ''}history "
            f"{series.dates[0]}..{series.dates[-1]}")
    return fc[:, 0, :, 1].sum(axis=1), fc[:, 0, :, 0].sum(axis=1), note


def reproduce_fig34(config: ForecastConfig, seed: int, smoke: bool, out: OutputDir,
                    reporter: Reporter = SILENT) -> dict[str, Any]:
    """Fig. 3.4: 10 prosumers' 7-day forecasts vs actuals on held-out synthetic data."""
    customers, days = (20, 120) if smoke else (100, 365)
    cfg = config if not smoke else ForecastConfig(**{**config.__dict__, "epochs": min(config.epochs, 40),
                                                     "lr": 3e-3, "patience": 8})
    data = synthetic_ausgrid(customers, days, np.random.default_rng(seed), start=SYNTHETIC_START)
    model, series = train(data, cfg, seed, reporter=reporter)
    split = split_by_date(series.n_days, cfg.lookback_days, cfg.val_frac, cfg.test_frac)
    start = split.test[0]
    horizon = min(cfg.horizon_days, series.n_days - start)
    shown = list(series.customers[:10])
    fc, dates = forecast_days(model, series, start, horizon, shown)
    actual = series.values[:10, start:start + horizon]
    fig, axes = plt.subplots(10, 2, figsize=(14, 22), sharex=True)
    t = np.arange(horizon * 48) / 48
    for k in range(10):
        for s, name in enumerate(("consumption", "generation")):
            ax = axes[k, s]
            ax.plot(t, actual[k, :, :, s].ravel(), lw=0.8, label="actual (synthetic)")
            ax.plot(t, fc[k, :, :, s].ravel(), lw=0.8, label="LSTM forecast")
            ax.set_ylabel(f"P{k} kWh")
            if k == 0:
                ax.set_title(f"{name}: {horizon}-day forecast from {dates[0]}")
                ax.legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("days")
    fig.tight_layout()
    fig.savefig(out.file("thesis_fig3_4.png"), dpi=90)
    plt.close(fig)
    m = model.metrics
    results = {"experiment": "thesis-fig3.4", "smoke": smoke, **provenance(seed), "data": SYNTHETIC_TITLE,
               "customers": customers, "days": days, "metrics": m, "epochs_run": len(model.history),
               "seconds": model.seconds,
               "seven_day_mae": {"consumption": float(np.abs(fc[..., 0] - actual[..., 0]).mean()),
                                 "generation": float(np.abs(fc[..., 1] - actual[..., 1]).mean())}}
    out.write_json("results.json", results)
    lines = ["# Thesis Fig. 3.4: stacked-LSTM forecasts of 10 prosumers for 7 days", "",
             f"Data: **synthetic** Ausgrid-format history ({customers} customers, {days} days; not Ausgrid "
             f"measurements). Test period {m['test_period'][0]} to {m['test_period'][1]}; day-ahead errors in kWh "
             "per half hour.", "", "![Fig. 3.4](thesis_fig3_4.png)", "",
             "| model | consumption MAE | generation MAE | consumption RMSE | generation RMSE | daily energy error |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in ("lstm", "naive_yesterday", "naive_last_week", "linear"):
        if name in m:
            e = m[name]
            lines.append(f"| {name} | {e['consumption']['mae_kwh']:.4f} | {e['generation']['mae_kwh']:.4f} | "
                         f"{e['consumption']['rmse_kwh']:.4f} | {e['generation']['rmse_kwh']:.4f} | "
                         f"{e['overall']['daily_energy_error_kwh']:.3f} |")
    beats = all(m["lstm"][s]["mae_kwh"] < m["naive_yesterday"][s]["mae_kwh"] for s in ("consumption", "generation"))
    lines += ["", "| thesis (section 3.4) | ours |", "| --- | --- |",
              f"| a stacked LSTM forecasts 7 days of consumption and generation for 10 prosumers | "
              f"{len(model.history)} epochs, {model.seconds:.1f} s; LSTM "
              f"{'beats' if beats else 'does not beat'} seasonal naive on both series (MAE) |"]
    out.write_text("report.md", "\n".join(lines) + "\n")
    return results
