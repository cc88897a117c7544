"""Forecasting datasets from Ausgrid-format data or any :class:`~gridledger.data.records.HomeSeries`
(CityLearn's measured hourly homes, simbench profiles).

A dataset holds, per customer and day, S values of two series (S = 48 half hours for Ausgrid,
24 hours for CityLearn): consumption (GC + CL; ``non_shiftable_load``) and generation (GG;
``solar_generation`` x PV size), with calendar features per day (day of week, day of year). It
is split by date into train / validation / test periods (the targets of each period are days
of that period only; inputs may reach back into earlier days, which is not leakage: they are
observed before the target day). Normalisation (per customer or global, by the mean of the
train period) is fitted on the train period only and saved with the model.

Two encodings of the look-back window (``encoding``):
- ``daily`` (default): a sequence of ``lookback_days`` steps, each the day's 2 x S values plus
  calendar features -- the LSTM runs 7 steps per window;
- ``halfhourly``: a sequence of S x ``lookback_days`` steps (336 for a week of half hours), each
  one interval's 2 values plus calendar features -- the classic encoding, ~40x slower to train
  (the name stays for any interval).
The target is always the next day's 2 x S values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gridledger.data.ausgrid import SLOTS, AusgridData
from gridledger.data.records import HomeSeries
from gridledger.errors import ConfigError

SERIES = ("consumption", "generation")
N_CAL = 4  # sin/cos day of year, weekend flag, day of week / 6


@dataclass(frozen=True)
class SeriesData:
    """(customers, days, slots, 2) kWh per interval, with dates and customer ids."""

    values: NDArray[np.float32]
    dates: tuple[dt.date, ...]
    customers: tuple[int | str, ...]
    synthetic: bool
    source: str = ""
    """The dataset (one line), for reports."""

    @property
    def n_days(self) -> int:
        return len(self.dates)

    @property
    def slots(self) -> int:
        """Intervals per day (48 half hours, 24 hours, ...)."""
        return int(self.values.shape[2])


def from_homes(homes: HomeSeries) -> SeriesData:
    """A forecasting dataset from a :class:`HomeSeries` (its own interval length)."""
    if homes.n_days < 3:
        raise ConfigError("data", f"needs at least 3 days (found {homes.n_days})")
    vals = np.stack([homes.consumption_kwh, homes.generation_kwh], axis=3).astype(np.float32)
    return SeriesData(vals, homes.dates, homes.homes, homes.synthetic, homes.source)


def from_ausgrid(data: AusgridData) -> SeriesData:
    """Stack an Ausgrid dataset over the dates every customer has."""
    ids = sorted(data.customers)
    common = sorted(set.intersection(*(set(data.customers[c].days) for c in ids)))
    if len(common) < 3:
        raise ConfigError("data", f"needs at least 3 days common to all customers (found {len(common)})")
    vals = np.zeros((len(ids), len(common), SLOTS, 2), dtype=np.float32)
    for a, c in enumerate(ids):
        cs = data.customers[c]
        pos = [cs.days.index(d) for d in common]
        vals[a, :, :, 0] = cs.consumption()[pos]
        vals[a, :, :, 1] = cs.generation()[pos]
    return SeriesData(vals, tuple(common), tuple(ids), data.synthetic, data.title)


def calendar(dates: tuple[dt.date, ...] | list[dt.date]) -> NDArray[np.float32]:
    """(days, 4) calendar features: sin and cos of the day of year, weekend flag, weekday / 6."""
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
    wd = np.array([d.weekday() for d in dates], dtype=float)
    return np.stack([np.sin(2 * np.pi * doy / 365.25), np.cos(2 * np.pi * doy / 365.25), (wd >= 5).astype(float),
                     wd / 6.0], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Split:
    """Day indices where each period's targets fall."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]


def split_by_date(n_days: int, lookback: int, val_frac: float = 0.15, test_frac: float = 0.15) -> Split:
    """Chronological split of target days (the first ``lookback`` days only serve as inputs)."""
    usable = n_days - lookback
    if usable < 3:
        raise ConfigError("lookback_days", f"leaves {usable} target days of {n_days} (need at least 3)")
    n_test = max(1, round(usable * test_frac))
    n_val = max(1, round(usable * val_frac))
    n_train = usable - n_val - n_test
    if n_train < 1:
        raise ConfigError("data", f"too few days ({n_days}) for a look-back of {lookback} and three periods")
    a = lookback
    return Split((a, a + n_train), (a + n_train, a + n_train + n_val), (a + n_train + n_val, n_days))


@dataclass(frozen=True)
class Normaliser:
    """Divide each series by its mean over the train period (per customer, or one global mean)."""

    scale: NDArray[np.float32]  # (customers, 2) or (1, 2)
    mode: str

    @classmethod
    def fit(cls, data: SeriesData, split: Split, mode: str) -> Normaliser:
        train = data.values[:, : split.train[1]]
        if mode == "customer":
            scale = train.mean(axis=(1, 2))
        else:
            scale = np.broadcast_to(train.mean(axis=(0, 1, 2)), (1, 2)).copy()
        return cls(np.maximum(scale, 1e-3).astype(np.float32), mode)

    def apply(self, values: NDArray[np.float32]) -> NDArray[np.float32]:
        return values / self.scale[:, None, None, :]

    def invert(self, values: NDArray[np.float32], customers: NDArray[np.int64]) -> NDArray[np.float32]:
        """Back to kWh: values (n, 48, 2) of the given customers."""
        rows = np.zeros(len(customers), dtype=np.int64) if self.mode == "global" else customers
        return values * self.scale[rows][:, None, :]


def windows(norm: NDArray[np.float32], cal: NDArray[np.float32], days: tuple[int, int], lookback: int,
            encoding: str) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int64], NDArray[np.int64]]:
    """Inputs X, targets Y (n, 2 x slots), and the (customer, target day) of each window."""
    c, _, slots, _ = norm.shape
    target_days = np.arange(days[0], days[1])
    cust = np.repeat(np.arange(c), len(target_days))
    tday = np.tile(target_days, c)
    idx = tday[:, None] - lookback + np.arange(lookback)[None, :]  # (n, L) input days
    x = norm[cust[:, None], idx]                                   # (n, L, 48, 2)
    y = norm[cust, tday].reshape(len(cust), slots * 2)
    cal_in = cal[idx]                                              # (n, L, 4)
    cal_target = cal[tday]                                         # (n, 4) what day is forecast
    if encoding == "daily":
        flat = x.reshape(len(cust), lookback, slots * 2)
        feats = np.concatenate([flat, cal_in, np.repeat(cal_target[:, None, :], lookback, axis=1)], axis=2)
    else:
        hh = x.reshape(len(cust), lookback * slots, 2)
        slot = np.tile(np.arange(slots), lookback) / slots
        cal_hh = np.repeat(cal_in, slots, axis=1)
        feats = np.concatenate([hh, cal_hh, np.broadcast_to(slot[None, :, None], (len(cust), lookback * slots, 1)),
                                np.repeat(cal_target[:, None, :], lookback * slots, axis=1)], axis=2)
    return feats.astype(np.float32), y.astype(np.float32), cust, tday


def input_dim(encoding: str, slots: int = SLOTS) -> int:
    return slots * 2 + 2 * N_CAL if encoding == "daily" else 2 + N_CAL + 1 + N_CAL
