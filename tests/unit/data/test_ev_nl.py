"""Dutch EV data: EV models, ElaadNL statistics, day-ahead prices (full files, subset, malformed copies)."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from realdata import require_shared_data

from gridledger.data.ev_nl import (
    DAY_AHEAD,
    EV_SPECS_V2G,
    day_ahead_file,
    load_charging_stats,
    load_day_ahead,
    load_ev_models,
)
from gridledger.data.records import SITES
from gridledger.data.sources import EV_NL, shipped
from gridledger.errors import InputFileError


@pytest.fixture(scope="module")
def ev_dir() -> Path:
    return require_shared_data() / EV_NL


@pytest.fixture(scope="module")
def prices(ev_dir):
    return load_day_ahead(ev_dir / DAY_AHEAD)


# ---------------------------------------------------------------- EV models


def test_v2g_models_with_registrations(ev_dir):
    models = load_ev_models(ev_dir / EV_SPECS_V2G)
    names = [m.name for m in models.models]
    assert len(names) == 8 and names[0] == "Tesla Model 3"
    tesla = models.models[0]
    assert (tesla.registrations, tesla.battery_kwh, tesla.ac_charge_kw, tesla.ac_discharge_kw) == (47783, 57.5, 11, 11)
    assert models.shares().sum() == pytest.approx(1.0)
    assert models.shares()[0] == pytest.approx(47783 / sum(m.registrations for m in models.models))
    assert len(models.bidirectional().models) == 8


def test_wider_market_lists_models_without_v2g(ev_dir):
    models = load_ev_models(ev_dir / "ev_specs.json")
    assert len(models.models) == 13 and not models.bidirectional().models


def _spec_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = (shipped(EV_NL) / EV_SPECS_V2G).read_text()
    assert old in text
    p = tmp_path / EV_SPECS_V2G
    p.write_text(text.replace(old, new, 1))
    return p


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('"battery_capacity": 57.5', '"battery_capacity": -57.5',
         "Tesla Model 3: battery_capacity must be a number > 0"),
        ('"max_ac_charge_power": 11', '"max_ac_charge_power": "11"', "max_ac_charge_power must be a number > 0"),
        ('"number_of_registrations": 47783', '"number_of_registrations": null', "number_of_registrations must be"),
    ],
)
def test_malformed_ev_specs_name_line_and_column(tmp_path, old, new, needle):
    p = _spec_copy(tmp_path, old, new)
    with pytest.raises(InputFileError) as info:
        load_ev_models(p)
    err = info.value
    lines = p.read_text().splitlines()
    assert needle in str(err) and err.path == str(p)
    key = new.split(":")[0]
    assert key in lines[err.line - 1] and lines[err.line - 1].index(key) + 1 == err.column


def test_invalid_json_names_line_and_column(tmp_path):
    p = _spec_copy(tmp_path, '"Tesla Model Y": {', '"Tesla Model Y" {')
    with pytest.raises(InputFileError) as info:
        load_ev_models(p)
    assert "invalid JSON" in str(info.value) and info.value.line == 14 and info.value.column is not None


# ---------------------------------------------------------------- ElaadNL statistics


def test_elaad_statistics(ev_dir):
    st = load_charging_stats(ev_dir)
    assert st.arrival_weekday_pct.shape == (96, 3)
    np.testing.assert_allclose(np.nansum(st.arrival_weekday_pct, axis=0), 100.0, rtol=1e-6)
    np.testing.assert_allclose(np.nansum(st.arrival_weekend_pct[:, :2], axis=0), 100.0, rtol=1e-6)
    assert np.all(np.isnan(st.arrival_weekend_pct[:, SITES.index("workplace")]))  # not published
    # Percentile tables: 72 h is the longest connection, 0 at 100%; values fall with the percentage.
    assert np.all(st.connection_time_h[0] == 72) and np.all(st.connection_time_h[100] == 0)
    assert np.all(np.diff(st.connection_time_h, axis=0) <= 0) and np.all(np.diff(st.energy_kwh, axis=0) <= 0)
    # Means by arrival half hour, in the published (unsorted) order: 07:00 is half hour 14.
    w = SITES.index("workplace")
    assert st.mean_session_by_arrival_h[14, w] == 8.4 and np.isnan(st.mean_session_by_arrival_h[0, w])
    assert st.mean_energy_by_arrival_kwh[0, SITES.index("private")] == pytest.approx(30.8297799511002)


def _elaad_copy(tmp_path: Path) -> Path:
    d = tmp_path / "ev_nl"
    shutil.copytree(shipped(EV_NL), d)
    return d


@pytest.mark.parametrize(
    ("file", "line", "col", "value", "needle"),
    [
        ("distribution-of-arrival.csv", 5, 1, '"25:00"', "is not a time of day"),
        ("distribution-of-arrival.csv", 7, 3, "abc", "public 'abc' is not a number"),
        ("distribution-of-arrival-weekend.csv", 9, 2, "-1", "private must be >= 0"),
        ("distribution-of-connection-time.csv", 12, 2, "90", "private rises with the percentage"),
        ("distribution-of-energy-demand.csv", 5, 1, "2", "percentage 2 is listed twice"),
        ("mean-session-length-per.csv", 3, 1, '"05:10"', "is not on the 30-minute grid"),
    ],
)
def test_malformed_elaad_tables_name_file_line_and_column(tmp_path, file, line, col, value, needle):
    d = _elaad_copy(tmp_path)
    path = d / file
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    cells = lines[line - 1].split(",")
    cells[col - 1] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        load_charging_stats(d)
    err = info.value
    assert (err.path, err.line, err.column) == (str(path), line, col), str(err)
    assert needle in str(err)


def test_missing_time_row(tmp_path):
    d = _elaad_copy(tmp_path)
    path = d / "distribution-of-arrival.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text("\n".join(lines[:10] + lines[11:]) + "\n")
    with pytest.raises(InputFileError, match="no row for 02:15"):
        load_charging_stats(d)


# ---------------------------------------------------------------- day-ahead prices


def test_day_ahead_full_file_both_date_formats(prices):
    assert prices.currency == "EUR"
    # 2015-01-01 00:00 UTC (ISO part of the file): 34.94 EUR/MWh.
    assert prices.times_utc[0] == np.datetime64("2015-01-01T00", "h")
    assert prices.price_per_kwh[0] == pytest.approx(0.03494)
    # 07/01/2025 21:00 UTC (DD/MM/YYYY part): 82.2 EUR/MWh.
    k = int(np.flatnonzero(prices.times_utc == np.datetime64("2025-01-07T21", "h"))[0])
    assert prices.price_per_kwh[k] == pytest.approx(0.0822)
    # What the file holds, as reported: one row without dates, the overlap of the two formats, two lost hours.
    notes = " ".join(prices.notes)
    assert "line 76682" in notes and "6553 repeated hours" in notes and "2 hour(s) missing" in notes
    hours = (prices.times_utc[-1] - prices.times_utc[0]).astype(int) + 1
    assert len(prices) == hours - 2 == 87838
    assert np.all(np.diff(prices.times_utc).astype(int) >= 1)


def test_day_vectors_over_dst_changes(prices):
    spring = prices.day_vector(dt.date(2024, 3, 31))  # 23 local hours: 02:00 takes 01:00's price
    assert spring[2] == spring[1]
    autumn = prices.day_vector(dt.date(2024, 10, 27))  # 25 local hours: 02:00 is the mean of both
    local = prices.local_times == np.datetime64("2024-10-27T02", "h")
    assert local.sum() == 2 and autumn[2] == pytest.approx(prices.price_per_kwh[local].mean())
    two = prices.day_vector(dt.date(2024, 6, 15), 48)
    np.testing.assert_allclose(two[24:], prices.day_vector(dt.date(2024, 6, 16)))


def test_shipped_prices_are_2024_of_the_full_file(prices):
    sub = load_day_ahead(day_ahead_file(shipped(EV_NL)))
    assert sub.first_day == dt.date(2024, 1, 1) and sub.last_day == dt.date(2024, 12, 31)
    part = load_day_ahead(day_ahead_file(require_shared_data() / EV_NL), dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    np.testing.assert_array_equal(sub.price_per_kwh, part.price_per_kwh)
    np.testing.assert_array_equal(sub.times_utc, part.times_utc)


def _price_copy(tmp_path: Path, edits: dict[int, str]) -> Path:
    text = gzip.decompress((shipped(EV_NL) / "Netherlands_day-ahead-2024.csv.gz").read_bytes()).decode()
    lines = text.splitlines()
    for line, content in edits.items():
        lines[line - 1] = content
    p = tmp_path / "prices.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.mark.parametrize(
    ("edits", "line", "col", "needle"),
    [
        ({5: "Netherlands,2024/01/01 03:00,01/01/2024 04:00,50"}, 5, 2, "is not a date and time"),
        ({6: "Netherlands,01/01/2024 04:00,01/01/2024 05:00,n/a"}, 6, 4, "'n/a' is not a number"),
        ({7: "Netherlands,01/01/2024 05:00,01/01/2024 09:00,50"}, 7, 3, "is 4 h from UTC"),
        ({8: "Netherlands,01/01/2024 04:00,01/01/2024 05:00,1.5"}, 8, 4, "listed again with another price (1.5"),
    ],
)
def test_malformed_price_rows_name_file_line_and_column(tmp_path, edits, line, col, needle):
    p = _price_copy(tmp_path, edits)
    with pytest.raises(InputFileError) as info:
        load_day_ahead(p)
    err = info.value
    assert (err.path, err.line, err.column) == (str(p), line, col), str(err)
    assert needle in str(err)


def test_missing_price_column(tmp_path):
    p = tmp_path / "prices.csv"
    p.write_text("Country,Datetime (UTC),Datetime (Local),Cost\n"
                 "Netherlands,2024-01-01 00:00:00,2024-01-01 01:00:00,1\n")
    with pytest.raises(InputFileError) as info:
        load_day_ahead(p)
    assert info.value.line == 1 and "Price (EUR/MWhe)" in str(info.value)
