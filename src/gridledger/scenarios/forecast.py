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
from gridledger.forecast.dataset import SeriesData, from_ausgrid, from_homes, split_by_date
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


def is_citylearn(path: str | Path) -> bool:
    """A CityLearn dataset directory (``schema.json`` here or in ``buildings/``)?"""
    p = Path(path)
    return any((q / "schema.json").exists() or (q / "schema.json.gz").exists() for q in (p, p / "buildings",
                                                                                         p / "citylearn_2022" /
                                                                                         "buildings"))


def load_series(data: str | Path | None, synthetic_customers: int = 30, synthetic_days: int = 365,
                seed: int = 0) -> SeriesData:
    """A forecasting dataset from ``data``: None or "synthetic" (generated, Ausgrid format);
    "citylearn" (CityLearn 2022 from ``$GRIDLEDGER_DATA``, else the shipped subset); a CityLearn
    directory; an Ausgrid-format file or a directory of them."""
    from gridledger.data.citylearn import load_citylearn
    from gridledger.data.sources import CITYLEARN, locate

    if data is None or str(data) == "synthetic":
        return from_ausgrid(load_data(None, synthetic_customers, synthetic_days, seed))
    if str(data) == "citylearn":
        loc = locate(CITYLEARN)
        homes = load_citylearn(loc.path).homes
        return _labelled(from_homes(homes), loc.subset)
    if Path(data).is_dir() and is_citylearn(data):
        loc = locate(CITYLEARN, data)
        return _labelled(from_homes(load_citylearn(loc.path).homes), loc.subset)
    return from_ausgrid(load_data(data))


def _labelled(series: SeriesData, subset: bool) -> SeriesData:
    if not subset:
        return series
    return SeriesData(series.values, series.dates, series.customers, series.synthetic,
                      series.source + " [shipped subset]")


def train(data: SeriesData | AusgridData, config: ForecastConfig, seed: int, customers: int | None = None,
          reporter: Reporter = SILENT) -> tuple[Forecaster, SeriesData]:
    series = data if isinstance(data, SeriesData) else from_ausgrid(data)
    if customers is not None:
        if customers > len(series.customers):
            raise ConfigError("customers", f"the data has {len(series.customers)} customers (asked for {customers})")
        series = SeriesData(series.values[:customers], series.dates, series.customers[:customers], series.synthetic,
                            series.source)
    advance = reporter.task("training the stacked LSTM", config.epochs)
    model = train_forecaster(series, config, seed, lambda e, v: advance(1))
    return model, series


def forecast_days(model: Forecaster, series: SeriesData, start_index: int, days: int,
                  customers: list[int | str] | None = None) -> tuple[np.ndarray, list[dt.date]]:
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


def prediction_json(fc: np.ndarray, dates: list[dt.date], customers: list[int | str], synthetic: bool
                    ) -> dict[str, Any]:
    out = []
    for k, c in enumerate(customers):
        out.append({"customer": c,
                    "consumption_kwh": fc[k, :, :, 0].round(4).tolist(),
                    "generation_kwh": fc[k, :, :, 1].round(4).tolist(),
                    "daily_consumption_kwh": fc[k, :, :, 0].sum(axis=1).tolist(),
                    "daily_generation_kwh": fc[k, :, :, 1].sum(axis=1).tolist()})
    return {"dates": [str(d) for d in dates], "synthetic_data": synthetic, "customers": out}


def day_ahead_profiles(n: int, seed: int, model: Forecaster | None = None,
                       data: SeriesData | AusgridData | None = None, history_days: int = 120,
                       reporter: Reporter = SILENT) -> tuple[np.ndarray, np.ndarray, str]:
    """Day-ahead daily production and consumption of n prosumers from the stacked LSTM (the
    thesis's flow): train on the history (synthetic unless ``data`` is given) unless a model
    is given, then forecast the day after the history. Returns (production, consumption, note)."""
    if data is None:
        data = synthetic_ausgrid(n, history_days, np.random.default_rng(seed), start=SYNTHETIC_START)
    series = data if isinstance(data, SeriesData) else from_ausgrid(data)
    if n > len(series.customers):
        raise ConfigError("prosumers", f"the data has {len(series.customers)} customers (asked for {n})")
    if model is None:
        cfg = ForecastConfig(epochs=40, patience=8, lr=3e-3)
        model, _ = train(series, cfg, seed, reporter=reporter)
    elif model.slots != series.slots:
        raise ConfigError("forecast_model", f"the model forecasts {model.slots} intervals a day; the data has "
                          f"{series.slots}")
    fc, dates = forecast_days(model, series, series.n_days, 1, list(series.customers[:n]))
    kind = "SYNTHETIC " if series.synthetic else ""
    note = (f"day-ahead LSTM forecast for {dates[0]} from {kind}history {series.dates[0]}..{series.dates[-1]}"
            f" ({series.source or 'synthetic Ausgrid-format data'})")
    day = fc[:, 0].astype(np.float64)
    return day[:, :, 1].sum(axis=1), day[:, :, 0].sum(axis=1), note


MODELS = ("lstm", "linear", "naive_yesterday", "naive_last_week")


def _customer_scale(model: Forecaster, cust: np.ndarray) -> np.ndarray:
    rows = np.zeros(len(cust), dtype=np.int64) if model.normaliser.mode == "global" else cust
    return model.normaliser.scale[rows].astype(np.float64)


def day_ahead_band(model: Forecaster, series: SeriesData, start: int, days: int, shown: list[int | str]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive day-ahead forecasts (each from the actual history up to the day before) of
    ``days`` days from day ``start``: point (n, days, slots, 2) and quantiles (levels, n, days,
    slots, 2), in kWh."""
    points, bands = [], []
    known = {c: k for k, c in enumerate(model.customers)}
    cust = np.array([known[c] for c in shown])
    for d in range(days):
        fc, _ = forecast_days(model, series, start + d, 1, shown)
        points.append(fc[:, 0])
        if model.quantiles is not None:
            bands.append(model.quantiles.apply(fc[:, 0].astype(np.float64), _customer_scale(model, cust)))
    point = np.stack(points, axis=1)
    band = np.stack(bands, axis=2) if bands else np.repeat(point[None], 3, axis=0)
    return point, band


def _metrics_rows(m: dict[str, Any]) -> list[str]:
    lines = ["| model | consumption MAE | consumption RMSE | generation MAE | generation RMSE | daily energy error |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in MODELS:
        if name in m:
            e = m[name]
            lines.append(f"| {name} | {e['consumption']['mae_kwh']:.4f} | {e['consumption']['rmse_kwh']:.4f} | "
                         f"{e['generation']['mae_kwh']:.4f} | {e['generation']['rmse_kwh']:.4f} | "
                         f"{e['overall']['daily_energy_error_kwh']:.3f} |")
    return lines


def _quantile_rows(m: dict[str, Any]) -> list[str]:
    q = m.get("quantiles", {})
    lines = ["| model | series | P10 hit rate | P50 hit rate | P90 hit rate | P10-P90 coverage (nominal 80%) | "
             "mean width (kWh) | pinball (kWh) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in MODELS:
        for series in ("consumption", "generation"):
            if name in q:
                c = q[name][series]
                h = c["hit_rate"]
                lines.append(f"| {name} | {series} | {h['p10']:.3f} | {h['p50']:.3f} | {h['p90']:.3f} | "
                             f"{100 * c['coverage']:.1f}% | {c['mean_width_kwh']:.3f} | {c['pinball_kwh']:.4f} |")
    return lines


def winners(m: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The model with the lowest MAE, RMSE and pinball loss on each series (test period)."""
    out: dict[str, dict[str, str]] = {}
    for series in ("consumption", "generation"):
        names = [n for n in MODELS if n in m]
        out[series] = {"mae": min(names, key=lambda n: m[n][series]["mae_kwh"]),
                       "rmse": min(names, key=lambda n: m[n][series]["rmse_kwh"]),
                       "pinball": min((n for n in names if n in m.get("quantiles", {})),
                                      key=lambda n: m["quantiles"][n][series]["pinball_kwh"])}
    return out


def reproduce_fig34(config: ForecastConfig, seed: int, smoke: bool, out: OutputDir,
                    reporter: Reporter = SILENT, data: str | Path | None = None) -> dict[str, Any]:
    """Fig. 3.4: 10 prosumers' 7-day forecasts vs actuals on held-out data, with the baselines,
    P10/P50/P90 quantiles and their calibration.

    ``data``: None/"synthetic" (generated Ausgrid-format history), "citylearn" (the 17 measured
    CityLearn 2022 homes from ``$GRIDLEDGER_DATA``, else the shipped subset) or a directory.
    """
    cfg = config if not smoke else ForecastConfig(**{**config.__dict__, "epochs": min(config.epochs, 40),
                                                     "lr": 3e-3, "patience": 8})
    if data is None or str(data) == "synthetic":
        customers, days = (20, 120) if smoke else (100, 365)
        series = load_series(None, customers, days, seed)
        data_line = (f"Data: **synthetic** Ausgrid-format history ({customers} customers, {days} days; not Ausgrid "
                     "measurements).")
    else:
        series = load_series(data)
        kind = "measured" if "measured" in series.source or "CityLearn" in series.source else "real"
        data_line = (f"Data: {series.source} ({kind}; {len(series.customers)} homes, {series.n_days} days "
                     f"{series.dates[0]} to {series.dates[-1]}, {series.slots} intervals a day). Attribution and "
                     "licence: docs/data.md.")
    model, series = train(series, cfg, seed, reporter=reporter)
    split = split_by_date(series.n_days, cfg.lookback_days, cfg.val_frac, cfg.test_frac)
    start = split.test[0]
    horizon = min(cfg.horizon_days, series.n_days - start)
    n_shown = min(10, len(series.customers))
    shown = list(series.customers[:n_shown])
    recursive, _ = forecast_days(model, series, start, horizon, shown)
    point, band = day_ahead_band(model, series, start, horizon, shown)
    actual = series.values[:n_shown, start:start + horizon]
    dates = [series.dates[start + d] for d in range(horizon)]
    slots = series.slots
    fig, axes = plt.subplots(n_shown, 2, figsize=(14, 2.2 * n_shown), sharex=True, squeeze=False)
    t = np.arange(horizon * slots) / slots
    tag = "synthetic" if series.synthetic else "measured"
    for k in range(n_shown):
        for s_, name in enumerate(("consumption", "generation")):
            ax = axes[k, s_]
            ax.fill_between(t, band[0, k, :, :, s_].ravel(), band[-1, k, :, :, s_].ravel(), color="tab:orange",
                            alpha=0.25, lw=0, label="LSTM P10-P90")
            ax.plot(t, actual[k, :, :, s_].ravel(), lw=0.8, color="tab:blue", label=f"actual ({tag})")
            ax.plot(t, point[k, :, :, s_].ravel(), lw=0.8, color="tab:orange", label="LSTM day-ahead")
            ax.set_ylabel(f"{shown[k]}\nkWh", fontsize=7)
            if k == 0:
                ax.set_title(f"{name}: {horizon} day-ahead forecasts from {dates[0]}")
                ax.legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("days")
    fig.tight_layout()
    fig.savefig(out.file("thesis_fig3_4.png"), dpi=90)
    plt.close(fig)
    m = model.metrics
    rel = m.get("reliability", {})
    if rel:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for s_, name in enumerate(("consumption", "generation")):
            ax = axes[s_]
            ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="perfect")
            for mname, r in rel.items():
                ax.plot(r["levels"], r[name], marker=".", label=mname)
            ax.set_title(f"{name}: reliability on the test period")
            ax.set_xlabel("nominal quantile level")
            ax.set_ylabel("observed share at or below")
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out.file("reliability.png"), dpi=90)
        plt.close(fig)
    win = winners(m)
    results = {"experiment": "thesis-fig3.4", "smoke": smoke, **provenance(seed),
               "data": SYNTHETIC_TITLE if series.synthetic else series.source, "synthetic_data": series.synthetic,
               "customers": len(series.customers), "days": series.n_days, "slots_per_day": slots,
               "metrics": m, "winners": win, "epochs_run": len(model.history), "seconds": model.seconds,
               "seven_day_mae": {"consumption": float(np.abs(recursive[..., 0] - actual[..., 0]).mean()),
                                 "generation": float(np.abs(recursive[..., 1] - actual[..., 1]).mean())},
               "day_ahead_mae_shown": {"consumption": float(np.abs(point[..., 0] - actual[..., 0]).mean()),
                                       "generation": float(np.abs(point[..., 1] - actual[..., 1]).mean())}}
    out.write_json("results.json", results)
    unit = {48: "half hour", 24: "hour", 96: "quarter hour"}.get(slots, "interval")
    lines = [f"# Thesis Fig. 3.4: stacked-LSTM forecasts of {n_shown} prosumers for {horizon} days", "",
             data_line, f"Split by date: train to {series.dates[split.train[1] - 1]}, validation "
             f"{m['validation_period'][0]} to {m['validation_period'][1]}, test {m['test_period'][0]} to "
             f"{m['test_period'][1]} ({m['test_windows']} home-days). Errors in kWh per {unit}, day-ahead.", "",
             "![Fig. 3.4](thesis_fig3_4.png)", "", "## Point forecasts (test period)", "", *_metrics_rows(m), "",
             "## Quantile forecasts and calibration (test period)", "",
             "Each model's P10/P50/P90 come from its own residuals on the validation period, per interval of the "
             "day (docs/forecast.md). A hit rate is the share of actual values at or below the quantile (nominal: "
             "0.1, 0.5, 0.9), over the points where that quantile is above zero; coverage over the points where "
             "P10 > 0 (a quantile at the zero floor, e.g. generation at night, cannot be judged by hits). The "
             "pinball loss covers every point.", "", *_quantile_rows(m), ""]
    if rel:
        lines += ["![reliability](reliability.png)", ""]
    lines += ["## What wins", "", "| series | lowest MAE | lowest RMSE | lowest pinball loss |",
              "| --- | --- | --- | --- |"]
    for series_name, w in win.items():
        lines.append(f"| {series_name} | {w['mae']} | {w['rmse']} | {w['pinball']} |")
    beats = all(m["lstm"][s]["mae_kwh"] < m["naive_yesterday"][s]["mae_kwh"] for s in ("consumption", "generation"))
    lines += ["", "| thesis (section 3.4) | ours |", "| --- | --- |",
              f"| a stacked LSTM forecasts 7 days of consumption and generation for 10 prosumers | "
              f"{len(model.history)} epochs, {model.seconds:.1f} s; LSTM "
              f"{'beats' if beats else 'does not beat'} seasonal naive (yesterday) on both series (MAE) |"]
    out.write_text("report.md", "\n".join(lines) + "\n")
    return results
