"""CityLearn 2022 loader: the full published files, the shipped subset, and malformed copies."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from realdata import require_shared_data

from gridledger.data.citylearn import load_citylearn, load_citylearn_evs
from gridledger.data.sources import CITYLEARN, locate, shipped
from gridledger.errors import ConfigError, InputFileError


@pytest.fixture(scope="module")
def full():
    root = require_shared_data() / CITYLEARN
    return load_citylearn(root), root


def test_full_dataset_shape_dates_and_units(full):
    data, root = full
    homes = data.homes
    assert homes.n_homes == 17 and homes.slots_per_day == 24 and homes.measured and not homes.synthetic
    # The year starts with the last hour of 31 July and ends an hour short of 31 July: 364 whole days.
    assert homes.n_days == 364 and homes.dates[0] == dt.date(2016, 8, 1) and homes.dates[0].isoweekday() == 1
    assert homes.dates[-1] == dt.date(2017, 7, 30)
    # kWh from the file's own columns: row of 2016-08-01 12:00 is data row 13 (row 0 is 31 July, 23:00).
    with (root / "buildings" / "Building_1.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    row = rows[13]
    assert (int(row["month"]), int(row["hour"])) == (8, 13)
    assert homes.consumption_kwh[0, 0, 12] == pytest.approx(float(row["non_shiftable_load"]))
    pv_kw = json.loads((root / "buildings" / "schema.json").read_text())["buildings"]["Building_1"]["pv"][
        "attributes"]["nominal_power"]
    assert homes.pv_kw[0] == pv_kw == 4.0
    assert homes.generation_kwh[0, 0, 12] == pytest.approx(float(row["solar_generation"]) * pv_kw / 1000)
    # Home 1: about 10,583 kWh of load in the file's 8,760 hours (24 of them fall outside whole days).
    total = sum(float(r["non_shiftable_load"]) for r in rows)
    assert total == pytest.approx(10583.35, abs=0.1)
    assert homes.consumption_kwh[0].sum() == pytest.approx(total - sum(
        float(r["non_shiftable_load"]) for r in (rows[0], *rows[-23:])))
    assert 7000 < homes.generation_kwh[0].sum() < 7300
    assert np.all(homes.consumption_kwh >= 0) and np.all(homes.generation_kwh >= 0)
    # No generation at night (hours 0-4 and 21-23).
    assert np.all(homes.generation_kwh[:, :, [0, 1, 2, 3, 4, 21, 22, 23]] == 0)
    assert data.tariff.currency == "USD" and set(np.unique(data.tariff.price_per_kwh)) <= {0.21, 0.22, 0.4, 0.5, 0.54}
    assert data.weather is not None and len(data.weather.temperature_c) == 8760
    assert data.carbon_kg_per_kwh is not None and np.all(data.carbon_kg_per_kwh > 0)


def test_shipped_subset_is_a_slice_of_the_full_dataset(full):
    data, _ = full
    sub = load_citylearn(shipped(CITYLEARN))
    assert sub.homes.n_homes == 10 and sub.homes.n_days == 42
    first = data.homes.dates.index(sub.homes.dates[0])
    assert sub.homes.homes == data.homes.homes[:10]
    np.testing.assert_array_equal(sub.homes.consumption_kwh, data.homes.consumption_kwh[:10, first:first + 42])
    np.testing.assert_array_equal(sub.homes.generation_kwh, data.homes.generation_kwh[:10, first:first + 42])
    lo = int(np.searchsorted(data.tariff.local_times, sub.tariff.local_times[0]))
    np.testing.assert_array_equal(sub.tariff.price_per_kwh, data.tariff.price_per_kwh[lo:lo + len(sub.tariff)])


def test_shipped_subset_has_its_licence_and_note():
    d = shipped(CITYLEARN)
    assert "MIT License" in (d / "LICENSE").read_text()
    assert "Intelligent Environments Laboratory" in (d / "SUBSET.md").read_text()
    assert locate(CITYLEARN).subset or locate(CITYLEARN).path.is_dir()


def test_ev_schedules_keep_identities(full):
    _, root = full
    ev = load_citylearn_evs(root)
    assert ev.evs() == [f"Electric_Vehicle_{k}" for k in range(1, 9)]
    assert ev.capacity_kwh["Electric_Vehicle_3"] == 75.0
    assert ev.charger_kw["charger_1_1"] == (11.0, 7.2)
    for s in ev.sessions:
        assert s.departure_step > s.arrival_step
        assert 0 <= s.soc_arrival_frac <= 1
    # charger_10_1 starts with Electric_Vehicle_3 plugged in for 56 hours (rows 2-57 of the file).
    first = next(s for s in ev.sessions if s.charger == "charger_10_1")
    assert (first.ev, first.arrival_step, first.departure_step) == ("Electric_Vehicle_3", 0, 56)


def test_select_homes_and_bad_index():
    d = shipped(CITYLEARN)
    two = load_citylearn(d, homes=[1, 3])
    assert two.homes.homes == ("Building_2", "Building_4")
    with pytest.raises(ConfigError, match="homes"):
        load_citylearn(d, homes=[10])


# ---------------------------------------------------------------- malformed copies


def _plain_copy(tmp_path: Path) -> Path:
    """The shipped subset with every file decompressed (so that lines can be edited)."""
    src = shipped(CITYLEARN)
    dst = tmp_path / "citylearn"
    for f in src.rglob("*"):
        if f.is_dir():
            continue
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix == ".gz":
            out.with_suffix("").write_bytes(gzip.decompress(f.read_bytes()))
        else:
            shutil.copyfile(f, out)
    return dst


def _edit(path: Path, line: int, col: int, value: str) -> None:
    lines = path.read_text().splitlines()
    cells = lines[line - 1].split(",")
    cells[col - 1] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("file", "line", "col", "value", "needle"),
    [
        ("Building_1.csv", 17, 8, "abc", "non_shiftable_load 'abc' is not a number"),
        ("Building_3.csv", 40, 12, "-5", "solar_generation must be >= 0"),
        ("Building_1.csv", 9, 2, "25", "hour must be an integer in [1, 24]"),
        ("Building_1.csv", 30, 3, "3", "day_type 3 is not the weekday"),
        ("Building_2.csv", 200, 1, "9", "month differs from"),
        ("pricing.csv", 5, 1, "x", "electricity_pricing 'x' is not a number"),
        ("weather.csv", 11, 3, "", "diffuse_solar_irradiance '' is not a number"),
    ],
)
def test_malformed_building_files_name_file_line_and_column(tmp_path, file, line, col, value, needle):
    d = _plain_copy(tmp_path)
    path = d / "buildings" / file
    _edit(path, line, col, value)
    with pytest.raises(InputFileError) as info:
        load_citylearn(d)
    err = info.value
    assert (err.path, err.line, err.column) == (str(path), line, col), str(err)
    assert needle in str(err)


def test_short_and_misaligned_files(tmp_path):
    d = _plain_copy(tmp_path)
    pricing = d / "buildings" / "pricing.csv"
    pricing.write_text("\n".join(pricing.read_text().splitlines()[:-3]) + "\n")
    with pytest.raises(InputFileError, match=r"has 1005 data rows; .*Building_1\.csv has 1008"):
        load_citylearn(d)


def test_missing_column_and_file(tmp_path):
    d = _plain_copy(tmp_path)
    b = d / "buildings" / "Building_1.csv"
    b.write_text(b.read_text().replace("non_shiftable_load", "load", 1))
    with pytest.raises(InputFileError) as info:
        load_citylearn(d)
    assert info.value.line == 1 and "no column 'non_shiftable_load'" in str(info.value)
    (d / "buildings" / "Building_1.csv").unlink()
    with pytest.raises(InputFileError, match=r"Building_1\.csv: file not found"):
        load_citylearn(d)


def test_schema_errors_name_the_line(tmp_path):
    d = _plain_copy(tmp_path)
    schema = d / "buildings" / "schema.json"
    text = schema.read_text()
    schema.write_text(text.replace('"nominal_power": 4.0', '"nominal_power": "four"', 1))
    with pytest.raises(InputFileError) as info:
        load_citylearn(d)
    assert "Building_1.pv.attributes.nominal_power must be a number >= 0" in str(info.value)
    assert info.value.line is not None and '"Building_1"' in schema.read_text().splitlines()[info.value.line - 1]
    schema.write_text(text.replace('"buildings": {', '"buildings": {,', 1))
    with pytest.raises(InputFileError) as info:
        load_citylearn(d)
    assert "invalid JSON" in str(info.value) and info.value.line is not None and info.value.column is not None


def test_rows_without_a_change_of_month_cannot_be_dated(tmp_path):
    d = _plain_copy(tmp_path)
    for f in (d / "buildings").glob("*.csv"):
        f.write_text("\n".join(f.read_text().splitlines()[:200]) + "\n")  # 199 hours of March
    with pytest.raises(InputFileError, match="spans no change of month"):
        load_citylearn(d)
