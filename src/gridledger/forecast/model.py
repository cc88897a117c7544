"""Stacked LSTM forecaster (thesis section 3.4: "a stacked LSTM ... to forecast the energy
consumption and generation for ten prosumers"), baselines and evaluation.

The network: ``layers`` stacked LSTM layers of ``hidden`` units over the look-back window, then
a linear head to the next day's 2 x 48 values (normalised), trained with Adam on the MSE,
early stopping on the validation MAE. Deterministic under a seed (one thread, fixed
generators). Saved as a torch state dict plus ``forecaster.json`` (configuration, normaliser,
metrics); :func:`load` restores it for inference.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gridledger.data.ausgrid import SLOTS
from gridledger.errors import InputFileError
from gridledger.forecast.baselines import RidgeForecaster, seasonal_naive
from gridledger.forecast.dataset import (
    Normaliser,
    SeriesData,
    calendar,
    input_dim,
    split_by_date,
    windows,
)
from gridledger.forecast.metrics import errors
from gridledger.forecast.quantiles import ResidualQuantiles, calibration, reliability
from gridledger.params import check_choice, check_int, check_number, from_mapping, to_mapping


@dataclass(frozen=True)
class ForecastConfig:
    """Forecaster settings."""

    layers: int = 2
    """Stacked LSTM layers."""
    hidden: int = 64
    """Units per layer."""
    lookback_days: int = 7
    """Days of history in each window (one week)."""
    horizon_days: int = 7
    """Days forecast by ``predict`` (recursively, one day at a time; thesis Fig. 3.4: 7)."""
    encoding: str = "daily"
    """"daily" (7 steps of 2 x 48 values) or "halfhourly" (336 steps of 2 values)."""
    normalisation: str = "customer"
    """"customer" (each customer's train-period means) or "global"."""
    epochs: int = 60
    """Most training epochs."""
    patience: int = 10
    """Stop after this many epochs without a better validation MAE."""
    batch_size: int = 256
    lr: float = 1e-3
    val_frac: float = 0.15
    test_frac: float = 0.15
    ridge_alpha: float = 1.0
    """L2 penalty of the linear baseline."""
    threads: int = 2

    def __post_init__(self) -> None:
        check_int("layers", self.layers, ge=1, le=8)
        check_int("hidden", self.hidden, ge=4, le=2048)
        check_int("lookback_days", self.lookback_days, ge=1, le=60)
        check_int("horizon_days", self.horizon_days, ge=1, le=60)
        check_choice("encoding", self.encoding, ("daily", "halfhourly"))
        check_choice("normalisation", self.normalisation, ("customer", "global"))
        check_int("epochs", self.epochs, ge=1, le=10_000)
        check_int("patience", self.patience, ge=1)
        check_int("batch_size", self.batch_size, ge=1)
        check_number("lr", self.lr, gt=0, lt=1)
        check_number("val_frac", self.val_frac, gt=0, lt=0.5)
        check_number("test_frac", self.test_frac, gt=0, lt=0.5)
        check_number("ridge_alpha", self.ridge_alpha, ge=0)
        check_int("threads", self.threads, ge=1, le=256)


class StackedLSTM(nn.Module):
    """Stacked LSTM whose head predicts the correction to the look-back window's mean day
    profile (a residual design: the network starts from the weekly average, a better day-ahead
    guess than any single past day, and learns what to change)."""

    def __init__(self, n_in: int, hidden: int, layers: int, encoding: str = "daily", slots: int = SLOTS) -> None:
        super().__init__()
        self.encoding = encoding
        self.slots = slots
        self.lstm = nn.LSTM(n_in, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, slots * 2)

    def base_profile(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over the look-back days of each interval and series, (B, 2 x slots)."""
        s = self.slots
        if self.encoding == "daily":
            return x[:, :, : s * 2].mean(dim=1)
        b, steps, _ = x.shape
        per_day = x[:, :, :2].reshape(b, steps // s, s, 2)
        return per_day.mean(dim=1).reshape(b, s * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.base_profile(x) + self.head(out[:, -1])


@dataclass
class Forecaster:
    config: ForecastConfig
    net: StackedLSTM
    normaliser: Normaliser
    customers: tuple[int | str, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    synthetic: bool = False
    quantiles: ResidualQuantiles | None = None
    """Residual quantiles (P10/P50/P90) fitted on the validation period."""

    @property
    def slots(self) -> int:
        return self.net.slots

    def predict_next_day(self, values_kwh: np.ndarray, cust: np.ndarray, dates: list[Any]) -> np.ndarray:
        """values_kwh (n, lookback, slots, 2) of customers ``cust`` (row in the training set); the
        day after ``dates[-1]`` is forecast: (n, slots, 2) kWh, clipped at 0."""
        import datetime as dt

        norm = values_kwh / self.normaliser.scale[
            np.zeros(len(cust), dtype=np.int64) if self.normaliser.mode == "global" else cust][:, None, None, :]
        all_dates = [*dates, dates[-1] + dt.timedelta(days=1)]
        cal = calendar(all_dates)
        n, lb = values_kwh.shape[0], values_kwh.shape[1]
        stacked = np.concatenate([norm, np.zeros((n, 1, self.slots, 2), dtype=np.float32)], axis=1)
        fake_cust = np.arange(n)
        x, _, _, _ = windows(stacked.astype(np.float32), cal, (lb, lb + 1), lb, self.config.encoding)
        del fake_cust
        with torch.no_grad():
            y = self.net(torch.from_numpy(x)).numpy().reshape(n, self.slots, 2)
        return np.clip(self.normaliser.invert(y, cust), 0.0, None)

    def forecast(self, history_kwh: np.ndarray, cust: np.ndarray, dates: list[Any], days: int) -> np.ndarray:
        """Recursive multi-day forecast: (n, days, slots, 2) kWh after the history's last date."""
        import datetime as dt

        lb = self.config.lookback_days
        hist = history_kwh[:, -lb:].astype(np.float32)
        d = list(dates[-lb:])
        out = []
        for _ in range(days):
            nxt = self.predict_next_day(hist, cust, d).astype(np.float32)
            out.append(nxt)
            hist = np.concatenate([hist[:, 1:], nxt[:, None]], axis=1)
            d = [*d[1:], d[-1] + dt.timedelta(days=1)]
        return np.stack(out, axis=1)


def train_forecaster(data: SeriesData, config: ForecastConfig, seed: int,
                     progress: Callable[[int, float], None] | None = None) -> Forecaster:
    """Train the stacked LSTM with early stopping; evaluate it and the baselines on the test period.

    Denormals slow the LSTM backward ~10x on CPU, so they are flushed to zero while training;
    the processor's flush-to-zero mode is process-wide, so it is switched off again afterwards
    (other code, e.g. hypothesis's float strategies, needs IEEE subnormals)."""
    torch.set_flush_denormal(True)
    try:
        return _train(data, config, seed, progress)
    finally:
        torch.set_flush_denormal(False)


def _train(data: SeriesData, config: ForecastConfig, seed: int,
           progress: Callable[[int, float], None] | None) -> Forecaster:
    torch.set_num_threads(config.threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    c = config
    split = split_by_date(data.n_days, c.lookback_days, c.val_frac, c.test_frac)
    normaliser = Normaliser.fit(data, split, c.normalisation)
    norm = normaliser.apply(data.values)
    cal = calendar(data.dates)
    xtr, ytr, _, _ = windows(norm, cal, split.train, c.lookback_days, c.encoding)
    xva, yva, cva, _ = windows(norm, cal, split.val, c.lookback_days, c.encoding)
    net = StackedLSTM(input_dim(c.encoding, data.slots), c.hidden, c.layers, c.encoding, data.slots)
    opt = torch.optim.Adam(net.parameters(), lr=c.lr)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    xv, yv = torch.from_numpy(xva), torch.from_numpy(yva)
    best, best_state, bad = float("inf"), None, 0
    history = []
    start = time.perf_counter()
    for epoch in range(c.epochs):
        t0 = time.perf_counter()
        net.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for k in range(0, len(xt), c.batch_size):
            idx = perm[k:k + c.batch_size]
            loss = nn.functional.mse_loss(net(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        net.eval()
        with torch.no_grad():
            val_mae = float((net(xv) - yv).abs().mean())
        history.append({"epoch": epoch, "train_mse": total / len(xt), "val_mae": val_mae,
                        "seconds": time.perf_counter() - t0})
        if progress is not None:
            progress(epoch, val_mae)
        if val_mae < best - 1e-6:
            best, bad = val_mae, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= c.patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    model = Forecaster(c, net, normaliser, data.customers, history=history, seconds=time.perf_counter() - start,
                       synthetic=data.synthetic)
    model.metrics = evaluate_all(model, data, split, norm, cal)
    del cva
    return model


def _point_forecasts(model: Forecaster, data: SeriesData, split: Any, norm: np.ndarray, cal: np.ndarray,
                     days: tuple[int, int], ridge: RidgeForecaster) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                                            np.ndarray]:
    """Each model's forecasts (kWh) of the target days ``days``, the actual values, and the
    customers' scale (n, 2) of each window."""
    c = model.config
    s = data.slots
    x, _, cust, tday = windows(norm, cal, days, c.lookback_days, c.encoding)
    actual = data.values[cust, tday].astype(np.float64)
    with torch.no_grad():
        lstm = model.normaliser.invert(model.net(torch.from_numpy(x)).numpy().reshape(-1, s, 2), cust)
    xd, _, _, _ = windows(norm, cal, days, c.lookback_days, "daily")
    lin = model.normaliser.invert(ridge.predict(xd).reshape(-1, s, 2).astype(np.float32), cust)
    out = {"lstm": np.clip(lstm, 0, None).astype(np.float64), "linear": np.clip(lin, 0, None).astype(np.float64),
           "naive_yesterday": seasonal_naive(data.values, cust, tday, 1).astype(np.float64)}
    if tday.min() >= 7:
        out["naive_last_week"] = seasonal_naive(data.values, cust, tday, 7).astype(np.float64)
    rows = np.zeros(len(cust), dtype=np.int64) if model.normaliser.mode == "global" else cust
    scale = model.normaliser.scale[rows].astype(np.float64)
    return out, actual, scale


def evaluate_all(model: Forecaster, data: SeriesData, split: Any, norm: np.ndarray, cal: np.ndarray
                 ) -> dict[str, Any]:
    """Test-period errors of the LSTM, seasonal naive (1 day, 7 days) and ridge; each model's
    P10/P50/P90 from its validation residuals (:mod:`gridledger.forecast.quantiles`) and their
    calibration on the test period."""
    c = model.config
    xtr_d, ytr_d, _, _ = windows(norm, cal, split.train, c.lookback_days, "daily")
    ridge = RidgeForecaster(c.ridge_alpha).fit(xtr_d, ytr_d)
    val, actual_val, scale_val = _point_forecasts(model, data, split, norm, cal, split.val, ridge)
    test, actual, scale = _point_forecasts(model, data, split, norm, cal, split.test, ridge)
    out: dict[str, Any] = {}
    quantile_report: dict[str, Any] = {}
    reliability_report: dict[str, Any] = {}
    for name, pred in test.items():
        out[name] = errors(pred, actual)
        if name not in val:
            continue
        rq = ResidualQuantiles.fit((actual_val - val[name]) / scale_val[:, None, :])
        quantile_report[name] = calibration(rq.apply(pred, scale), actual)
        if name in ("lstm", "linear"):
            reliability_report[name] = reliability(val[name], actual_val, scale_val, pred, actual, scale)
        if name == "lstm":
            model.quantiles = rq
    out["quantiles"] = quantile_report
    out["reliability"] = reliability_report
    out["test_windows"] = len(actual)
    out["validation_windows"] = len(actual_val)
    out["test_period"] = [str(data.dates[split.test[0]]), str(data.dates[split.test[1] - 1])]
    out["validation_period"] = [str(data.dates[split.val[0]]), str(data.dates[split.val[1] - 1])]
    out["slots_per_day"] = data.slots
    return out


def save(model: Forecaster, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(model.net.state_dict(), directory / "lstm.pt")
    meta = {"format": "gridledger-forecaster-1", "config": to_mapping(model.config),
            "normaliser": {"mode": model.normaliser.mode, "scale": model.normaliser.scale.tolist()},
            "customers": list(model.customers), "metrics": model.metrics, "history": model.history,
            "seconds": model.seconds, "synthetic_training_data": model.synthetic, "slots": model.slots,
            "quantiles": model.quantiles.to_json() if model.quantiles is not None else None}
    (directory / "forecaster.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def load(directory: Path) -> Forecaster:
    path = Path(directory) / "forecaster.json"
    if not path.exists():
        raise InputFileError(str(path), "not a gridledger forecaster directory (forecaster.json missing)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        cfg = from_mapping(ForecastConfig, meta["config"])
        norm = Normaliser(np.asarray(meta["normaliser"]["scale"], dtype=np.float32), meta["normaliser"]["mode"])
    except (KeyError, ValueError, TypeError) as exc:
        raise InputFileError(str(path), f"malformed forecaster description ({exc})") from None
    try:
        slots = int(meta.get("slots", SLOTS))
        rq = ResidualQuantiles.from_json(meta["quantiles"]) if meta.get("quantiles") else None
    except (KeyError, ValueError, TypeError) as exc:
        raise InputFileError(str(path), f"malformed forecaster description ({exc})") from None
    net = StackedLSTM(input_dim(cfg.encoding, slots), cfg.hidden, cfg.layers, cfg.encoding, slots)
    net.load_state_dict(torch.load(Path(directory) / "lstm.pt", weights_only=True))
    net.eval()
    return Forecaster(cfg, net, norm, tuple(meta["customers"]), meta.get("metrics", {}), meta.get("history", []),
                      meta.get("seconds", 0.0), bool(meta.get("synthetic_training_data", False)), rq)
