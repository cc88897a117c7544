"""Loaders for the Dutch EV data distributed with the EV2Gym package 2.0.0 (MIT licence).

- :func:`load_ev_models`: ``ev_specs*.json``, real EV models with their registrations in the
  Netherlands, battery (kWh) and AC/DC charge and discharge powers (kW).
  ``ev_specs_v2g_enabled2024.json`` holds the models that support bidirectional charging.
- :func:`load_charging_stats`: ElaadNL open statistics of Dutch charging sessions (private =
  home, public, workplace): arrivals per quarter hour (weekday, weekend), connection time and
  energy per session (percentile tables), and their means by arrival half hour.
- :func:`load_day_ahead`: ``Netherlands_day-ahead-2015-2024.csv``, real hourly day-ahead prices
  of the Dutch bidding zone (ENTSO-E), EUR/MWh, converted to EUR/kWh.

What the published price file holds, and what the loader does with it (each reported in
``PriceSeries.notes``): the date format changes from ISO (``2015-01-01 00:00:00``) to
``DD/MM/YYYY HH:MM`` (both are parsed; a cell in neither format is an error naming its line
and column); one row has no dates (skipped); the DD/MM/YYYY part starts again at 2022-12-31
23:00 and repeats 6,553 hours already listed, with the same prices (a repeated hour with the
same price is kept once; with a different price it is an error naming both lines); two hours
are missing (a day's vector fills them from the previous hour, :meth:`PriceSeries.day_vector`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.data.csvio import CsvTable, find_file, json_line, read_csv, read_json, read_text
from gridledger.data.records import SITES, ChargingStats, EVModel, EVModels, PriceSeries
from gridledger.errors import InputFileError

EV_SPECS_V2G = "ev_specs_v2g_enabled2024.json"
DAY_AHEAD = "Netherlands_day-ahead-2015-2024.csv"
SPECS_SOURCE = "EV models with Dutch registrations ({name}, EV2Gym 2.0.0 data; MIT licence)"
ELAAD_SOURCE = "ElaadNL charging-session statistics (EV2Gym 2.0.0 data; MIT licence)"
PRICE_SOURCE = "Dutch day-ahead prices, ENTSO-E transparency data (EV2Gym 2.0.0 data; MIT licence)"
ISO_FORMAT = "%Y-%m-%d %H:%M:%S"
DMY_FORMAT = "%d/%m/%Y %H:%M"


# --------------------------------------------------------------------------------------------
# EV models


def _spec_number(p: Path, text: str, name: str, spec: dict[str, Any], start: int, key: str, positive: bool,
                 default: float | None) -> float:
    """``spec[key]`` as a number >= 0 (> 0 if ``positive``); the error names the key's line and column."""
    value = spec.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value)) and value >= 0
    if ok and positive and value <= 0:
        ok = False
    if not ok:
        pos = text.find(f'"{key}"', max(start, 0))
        line = text.count("\n", 0, pos) + 1 if pos >= 0 else None
        col = pos - text.rfind("\n", 0, pos) if pos >= 0 else None
        bound = "> 0" if positive else ">= 0"
        raise InputFileError(str(p), f"{name}: {key} must be a number {bound} (got {value!r})", line, col)
    return float(value)


def load_ev_models(path: str | Path) -> EVModels:
    """EV models of an ``ev_specs*.json`` file (a table of model name -> specification)."""
    p = Path(path)
    data = read_json(p)
    text = read_text(p)
    if not isinstance(data, dict) or not data:
        raise InputFileError(str(p), "must be a JSON table of EV models (name -> specification)", 1)
    models = []
    for name, spec in data.items():
        start = text.find(f'"{name}"')
        if not isinstance(spec, dict):
            raise InputFileError(str(p), f"{name}: must be a table of specifications",
                                 text.count("\n", 0, start) + 1 if start >= 0 else None)

        def num(key: str, positive: bool = False, default: float | None = None, name: str = name,
                spec: dict[str, Any] = spec, start: int = start) -> float:
            return _spec_number(p, text, name, spec, start, key, positive, default)

        models.append(EVModel(
            name=name, registrations=int(num("number_of_registrations")),
            battery_kwh=num("battery_capacity", positive=True), ac_charge_kw=num("max_ac_charge_power", positive=True),
            ac_discharge_kw=num("max_ac_discharge_power", default=0.0),
            dc_charge_kw=num("max_dc_charge_power", default=0.0),
            dc_discharge_kw=num("max_dc_discharge_power", default=0.0)))
    if sum(m.registrations for m in models) <= 0:
        raise InputFileError(str(p), "the models have no registrations (number_of_registrations)",
                             json_line(text, "number_of_registrations"))
    return EVModels(SPECS_SOURCE.format(name=p.name.removesuffix(".gz")), tuple(models))


# --------------------------------------------------------------------------------------------
# ElaadNL charging statistics

SITE_ALIASES = {"private": ("private", "home"), "public": ("public",), "workplace": ("workplace", "work")}


def _clock(t: CsvTable, line: int, row: list[str], col: int) -> int:
    """Minutes after midnight of an ``HH:MM`` cell."""
    text = t.cell(line, row, col)
    try:
        h, m = text.split(":")
        minutes = int(h) * 60 + int(m)
        if not (0 <= int(h) < 24 and 0 <= int(m) < 60):
            raise ValueError
    except ValueError:
        raise t.error(line, col, f"{t.header[col]} {text!r} is not a time of day (HH:MM)") from None
    return minutes


def _by_clock(t: CsvTable, step_min: int, sites_required: tuple[str, ...]) -> NDArray[np.float64]:
    """(slots, 3) table indexed by the time column (first column), NaN where absent."""
    n = 24 * 60 // step_min
    out = np.full((n, len(SITES)), np.nan)
    seen = np.zeros(n, dtype=bool)
    cols = {}
    for s in SITES:
        try:
            cols[s] = t.column(SITE_ALIASES[s][0], SITE_ALIASES[s][1:])
        except InputFileError:
            if s in sites_required:
                raise
    for line, row in t.rows:
        minutes = _clock(t, line, row, 0)
        if minutes % step_min:
            raise t.error(line, 0, f"{t.header[0]} {row[0].strip()!r} is not on the {step_min}-minute grid")
        k = minutes // step_min
        if seen[k]:
            raise t.error(line, 0, f"{t.header[0]} {row[0].strip()!r} is listed twice")
        seen[k] = True
        for s, c in cols.items():
            out[k, SITES.index(s)] = t.number(line, row, c, minimum=0, blank=float("nan")) if c < len(row) else np.nan
    if not seen.all():
        missing = int(np.flatnonzero(~seen)[0]) * step_min
        raise InputFileError(t.name, f"no row for {missing // 60:02d}:{missing % 60:02d} (one row per {step_min} "
                             "minutes from 00:00 to 23:59)")
    return out


def _percentiles(t: CsvTable) -> NDArray[np.float64]:
    """(101, 3) table indexed by percentage 0..100 (first column)."""
    out = np.full((101, len(SITES)), np.nan)
    seen = np.zeros(101, dtype=bool)
    cols = {s: t.column(SITE_ALIASES[s][0], SITE_ALIASES[s][1:]) for s in SITES}
    for line, row in t.rows:
        k = t.integer(line, row, 0, minimum=0, maximum=100)
        if seen[k]:
            raise t.error(line, 0, f"percentage {k} is listed twice")
        seen[k] = True
        for s, c in cols.items():
            out[k, SITES.index(s)] = t.number(line, row, c, minimum=0)
    if not seen.all():
        raise InputFileError(t.name, f"no row for percentage {int(np.flatnonzero(~seen)[0])} (rows 0..100)")
    for s in SITES:  # the share of sessions exceeding a value falls as the value grows
        col = out[:, SITES.index(s)]
        bad = np.flatnonzero(np.diff(col) > 0)
        if len(bad):
            line = t.rows[[t.integer(ln, r, 0) for ln, r in t.rows].index(int(bad[0]) + 1)][0]
            raise t.error(line, cols[s], f"{t.header[cols[s]]} rises with the percentage (values must not increase "
                          "from 0% to 100%)")
    return out


def load_charging_stats(directory: str | Path) -> ChargingStats:
    """The ElaadNL tables of an ``ev_nl`` directory."""
    d = Path(directory)
    weekday = _by_clock(read_csv(find_file(d, "distribution-of-arrival.csv")), 15, SITES)
    weekend = _by_clock(read_csv(find_file(d, "distribution-of-arrival-weekend.csv")), 15, ("private", "public"))
    conn = _percentiles(read_csv(find_file(d, "distribution-of-connection-time.csv")))
    energy = _percentiles(read_csv(find_file(d, "distribution-of-energy-demand.csv")))
    mean_e = _by_clock(read_csv(find_file(d, "mean-demand-per-arrival.csv")), 30, ())
    mean_s = _by_clock(read_csv(find_file(d, "mean-session-length-per.csv")), 30, ())
    return ChargingStats(ELAAD_SOURCE, weekday, weekend, conn, energy, mean_e, mean_s)


# --------------------------------------------------------------------------------------------
# Day-ahead prices


def day_ahead_file(directory: str | Path) -> Path:
    """The day-ahead price file of an ``ev_nl`` directory (``Netherlands_day-ahead-*.csv[.gz]``)."""
    d = Path(directory)
    found = sorted(d.glob("Netherlands_day-ahead-*.csv")) + sorted(d.glob("Netherlands_day-ahead-*.csv.gz"))
    if not found:
        raise InputFileError(str(d / DAY_AHEAD), "file not found (Netherlands_day-ahead-*.csv)")
    return found[0]


def _when(t: CsvTable, line: int, row: list[str], col: int) -> dt.datetime | None:
    text = t.cell(line, row, col)
    if text == "":
        return None
    try:  # the two published layouts, read without strptime (~10x faster); anything else is checked below
        if len(text) == 19 and text[4] == "-" and text[13] == ":":
            return dt.datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
                               int(text[17:19]))
        if len(text) == 16 and text[2] == "/" and text[5] == "/" and text[13] == ":":
            return dt.datetime(int(text[6:10]), int(text[3:5]), int(text[:2]), int(text[11:13]), int(text[14:16]))
    except ValueError:
        pass
    for fmt in (ISO_FORMAT, DMY_FORMAT):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise t.error(line, col, f"{t.header[col]} {text!r} is not a date and time (expected YYYY-MM-DD HH:MM:SS or "
                  "DD/MM/YYYY HH:MM)")


def load_day_ahead(path: str | Path, start: dt.date | None = None, end: dt.date | None = None) -> PriceSeries:
    """Hourly day-ahead prices in EUR/kWh (the file's EUR/MWh / 1,000), sorted by UTC hour.

    ``start``/``end`` (inclusive, local dates) keep a part of the file.
    """
    t = read_csv(path)
    cu = t.column("Datetime (UTC)")
    cl = t.column("Datetime (Local)")
    cp = t.column("Price (EUR/MWhe)", ("Price (EUR/MWh)",))
    by_utc: dict[dt.datetime, tuple[dt.datetime, float, int]] = {}
    skipped: list[int] = []
    repeats = 0
    for line, row in t.rows:
        utc = _when(t, line, row, cu)
        local = _when(t, line, row, cl)
        if utc is None or local is None:
            skipped.append(line)
            continue
        price = t.number(line, row, cp) / 1000.0
        offset = (local - utc).total_seconds() / 3600
        if offset not in (1.0, 2.0):
            raise t.error(line, cl, f"local time {local} is {offset:g} h from UTC {utc} (Amsterdam is UTC+1 or UTC+2)")
        if (start is not None and local.date() < start) or (end is not None and local.date() > end):
            continue
        if utc in by_utc:
            prev = by_utc[utc]
            if abs(prev[1] - price) > 1e-9:
                raise t.error(line, cp, f"hour {utc} UTC is listed again with another price ({price * 1000:g} EUR/MWh; "
                              f"line {prev[2]}: {prev[1] * 1000:g})")
            repeats += 1
            continue
        by_utc[utc] = (local, price, line)
    if not by_utc:
        raise InputFileError(t.name, "no prices in the requested dates" if (start or end) else "no prices")
    keys = sorted(by_utc)
    utc_arr = np.array([np.datetime64(k, "h") for k in keys])
    local_arr = np.array([np.datetime64(by_utc[k][0], "h") for k in keys])
    prices = np.array([by_utc[k][1] for k in keys])
    order = np.argsort(local_arr, kind="stable")
    gaps = int(((np.diff(utc_arr) > np.timedelta64(1, "h")).sum()) if len(utc_arr) > 1 else 0)
    missing = int(((utc_arr[-1] - utc_arr[0]).astype(int) + 1) - len(utc_arr))
    notes = []
    if skipped:
        notes.append(f"{len(skipped)} row(s) without dates skipped (line {', '.join(map(str, skipped[:5]))})")
    if repeats:
        notes.append(f"{repeats} repeated hours with the same price kept once")
    if missing:
        notes.append(f"{missing} hour(s) missing in {gaps} gap(s); a day's prices fill them from the hour before")
    return PriceSeries(PRICE_SOURCE, "EUR", local_arr[order], prices[order], utc_arr[order], tuple(notes))
