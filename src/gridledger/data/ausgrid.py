"""Loader (and writer) for the Ausgrid "Solar home electricity data" CSV format (thesis Table 3.1).

Format: one title line, then a header ``Customer, Postcode, Generator Capacity, Consumption
Category, date, <48 half-hour columns>, Row Quality``, then one row per customer, day and
category: GC (general consumption), CL (controlled load), GG (gross generation), with the kWh
of each half hour. The real files (published by Ausgrid) load through :func:`load_ausgrid`
unchanged; gridledger ships a *synthetic* sample in the same format
(:mod:`gridledger.data.synthetic`), clearly labelled as such in its title line.

Every problem in a file is reported with the file, line and column (1-based).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gridledger.errors import InputFileError

CATEGORIES = ("GC", "CL", "GG")
FIXED_COLUMNS = ("Customer", "Postcode", "Generator Capacity", "Consumption Category", "date")
SLOTS = 48
DATE_FORMATS = ("%d/%m/%Y", "%d%m%Y", "%Y-%m-%d", "%d-%b-%y", "%d/%m/%y")


def slot_labels() -> list[str]:
    """Half-hour column labels as in the published files: 0:30, 1:00, ..., 23:30, 0:00."""
    out = []
    for k in range(1, SLOTS + 1):
        minutes = (k * 30) % (24 * 60)
        out.append(f"{minutes // 60}:{minutes % 60:02d}")
    return out


@dataclass
class CustomerSeries:
    """Half-hourly kWh of one customer: ``days`` (sorted dates) x 48 slots per category."""

    customer: int
    postcode: str
    capacity_kwp: float
    days: list[dt.date] = field(default_factory=list)
    series: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    def consumption(self) -> NDArray[np.float64]:
        """(days, 48) consumption = GC + CL."""
        z = np.zeros((len(self.days), SLOTS))
        return self.series.get("GC", z) + self.series.get("CL", z)

    def generation(self) -> NDArray[np.float64]:
        """(days, 48) gross generation GG."""
        return self.series.get("GG", np.zeros((len(self.days), SLOTS)))


@dataclass(frozen=True)
class AusgridData:
    title: str
    customers: dict[int, CustomerSeries]
    synthetic: bool

    def daily_totals(self) -> tuple[list[int], list[dt.date], NDArray[np.float64], NDArray[np.float64]]:
        """(customer ids, dates, production (C, D), consumption (C, D)) in kWh per day, over
        the dates every customer has."""
        ids = sorted(self.customers)
        common = sorted(set.intersection(*(set(self.customers[c].days) for c in ids))) if ids else []
        prod = np.zeros((len(ids), len(common)))
        cons = np.zeros((len(ids), len(common)))
        for a, c in enumerate(ids):
            cs = self.customers[c]
            pos = [cs.days.index(d) for d in common]
            prod[a] = cs.generation()[pos].sum(axis=1)
            cons[a] = cs.consumption()[pos].sum(axis=1)
        return ids, common, prod, cons


def _parse_date(text: str, path: str, line: int, col: int) -> dt.date:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise InputFileError(path, f"date {text!r} is not a date (expected DD/MM/YYYY or DDMMYYYY)", line, col)


def _number(text: str, what: str, path: str, line: int, col: int, minimum: float = 0.0) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputFileError(path, f"{what} {text!r} is not a number", line, col) from None
    if not np.isfinite(value) or value < minimum:
        raise InputFileError(path, f"{what} must be a finite number >= {minimum:g} (got {text})", line, col)
    return value


def load_ausgrid(path: str | Path) -> AusgridData:
    """Read an Ausgrid solar home CSV file (real or the synthetic sample)."""
    p = Path(path)
    ps = str(p)
    try:
        handle = p.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(ps, f"cannot open file ({exc.strerror or exc})") from None
    raw: dict[int, dict[str, dict[dt.date, NDArray[np.float64]]]] = defaultdict(lambda: defaultdict(dict))
    meta: dict[int, tuple[str, float]] = {}
    with handle:
        reader = csv.reader(handle)
        try:
            title_row = next(reader)
            header = next(reader)
        except StopIteration:
            raise InputFileError(ps, "file ends before the header (a title line, then the header)") from None
        title = ",".join(title_row).strip()
        header = [h.strip() for h in header]
        n_cols = len(FIXED_COLUMNS) + SLOTS + 1
        if len(header) < len(FIXED_COLUMNS) + SLOTS:
            raise InputFileError(ps, f"header has {len(header)} columns, expected {n_cols} (Customer, Postcode, "
                                 "Generator Capacity, Consumption Category, date, 48 half hours, Row Quality)", 2)
        for k, name in enumerate(FIXED_COLUMNS):
            if header[k].lower() != name.lower():
                raise InputFileError(ps, f"column {k + 1} of the header is {header[k]!r}, expected {name!r}", 2,
                                     k + 1)
        for line_no, row in enumerate(reader, start=3):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < len(FIXED_COLUMNS) + SLOTS:
                raise InputFileError(ps, f"row has {len(row)} columns, expected {n_cols}", line_no)
            try:
                customer = int(row[0])
            except ValueError:
                raise InputFileError(ps, f"Customer {row[0]!r} is not an integer", line_no, 1) from None
            capacity = _number(row[2], "Generator Capacity", ps, line_no, 3)
            category = row[3].strip()
            if category not in CATEGORIES:
                raise InputFileError(ps, f"Consumption Category {category!r} is not one of GC, CL, GG", line_no, 4)
            day = _parse_date(row[4], ps, line_no, 5)
            values = np.array([_number(row[5 + k] or "0", "half-hour kWh", ps, line_no, 6 + k)
                               for k in range(SLOTS)])
            if day in raw[customer][category]:
                raise InputFileError(ps, f"second {category} row for customer {customer} on {day:%d/%m/%Y}",
                                     line_no, 4)
            raw[customer][category][day] = values
            meta.setdefault(customer, (row[1].strip(), capacity))
    if not raw:
        raise InputFileError(ps, "no data rows after the header")
    customers: dict[int, CustomerSeries] = {}
    for c, cats in raw.items():
        days = sorted(set().union(*(set(v) for v in cats.values())))
        cs = CustomerSeries(c, meta[c][0], meta[c][1], days)
        for cat, by_day in cats.items():
            arr = np.zeros((len(days), SLOTS))
            for a, d in enumerate(days):
                if d in by_day:
                    arr[a] = by_day[d]
            cs.series[cat] = arr
        customers[c] = cs
    return AusgridData(title=title, customers=customers, synthetic="synthetic" in title.lower())


def write_ausgrid(data: AusgridData, path: str | Path) -> None:
    """Write data in the published format (title line, header, one row per customer/day/category)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([data.title])
        w.writerow([*FIXED_COLUMNS, *slot_labels(), "Row Quality"])
        for c in sorted(data.customers):
            cs = data.customers[c]
            for a, day in enumerate(cs.days):
                for cat in CATEGORIES:
                    if cat not in cs.series:
                        continue
                    vals = [f"{v:.3f}" for v in cs.series[cat][a]]
                    w.writerow([c, cs.postcode, f"{cs.capacity_kwp:g}", cat, f"{day.day}/{day.month:02d}/{day.year}",
                                *vals, ""])
