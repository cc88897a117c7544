"""The Ausgrid solar home format: the shipped synthetic sample and malformed files."""

import numpy as np
import pytest

from gridledger.data.ausgrid import load_ausgrid, slot_labels, write_ausgrid
from gridledger.data.synthetic import MEAN_CONSUMPTION_KWH, MEAN_GENERATION_KWH, synthetic_ausgrid
from gridledger.errors import InputFileError
from gridledger.scenarios.community.reports import sample_path

HEADER = "Customer,Postcode,Generator Capacity,Consumption Category,date," + ",".join(slot_labels()) + ",Row Quality"


def _row(cat="GC", date="1/07/2012", value="0.1", customer="1", capacity="2.0"):
    return f"{customer},2000,{capacity},{cat},{date}," + ",".join([value] * 48) + ","


def _write(tmp_path, *rows, title="Solar home half-hour data"):
    p = tmp_path / "data.csv"
    p.write_text("\n".join([title, HEADER, *rows]) + "\n")
    return p


def test_shipped_sample_loads_and_is_labelled_synthetic():
    data = load_ausgrid(sample_path())
    assert data.synthetic and "SYNTHETIC" in data.title
    ids, dates, prod, cons = data.daily_totals()
    assert len(ids) >= 10 and len(dates) >= 7
    assert np.all(prod >= 0) and np.all(cons > 0)
    # Solar generation only between 7:30 and 17:00 (thesis 3.4).
    gen = data.customers[ids[0]].generation()
    labels = slot_labels()
    night = [k for k, lab in enumerate(labels) if lab in ("0:30", "5:00", "7:00", "18:00", "23:30")]
    assert np.all(gen[:, night] == 0)


def test_daily_totals_sum_gc_and_cl(tmp_path):
    p = _write(tmp_path, _row("GC", value="0.1"), _row("CL", value="0.05"), _row("GG", value="0.2"))
    ids, _dates, prod, cons = load_ausgrid(p).daily_totals()
    assert ids == [1] and prod[0, 0] == pytest.approx(9.6) and cons[0, 0] == pytest.approx(7.2)


@pytest.mark.seed_sensitive
def test_synthetic_generator_matches_thesis_means():
    data = synthetic_ausgrid(100, 365, np.random.default_rng(0))
    _, _, prod, cons = data.daily_totals()
    assert prod.mean() == pytest.approx(MEAN_GENERATION_KWH, rel=0.05)
    assert cons.mean() == pytest.approx(MEAN_CONSUMPTION_KWH, rel=0.05)


@pytest.mark.seed_sensitive
def test_round_trip(tmp_path):
    data = synthetic_ausgrid(3, 4, np.random.default_rng(1))
    write_ausgrid(data, tmp_path / "x.csv")
    back = load_ausgrid(tmp_path / "x.csv")
    for c in data.customers:
        np.testing.assert_allclose(back.customers[c].consumption(), data.customers[c].consumption(), atol=1e-3)
        np.testing.assert_allclose(back.customers[c].generation(), data.customers[c].generation(), atol=1e-3)


@pytest.mark.parametrize(
    ("row", "line", "column", "needle"),
    [
        (_row(cat="XX"), 3, 4, "Consumption Category 'XX'"),
        (_row(date="31/02/2012"), 3, 5, "is not a date"),
        (_row(value="abc"), 3, 6, "half-hour kWh 'abc' is not a number"),
        (_row(value="-1"), 3, 6, "must be a finite number >= 0"),
        (_row(customer="x1"), 3, 1, "Customer 'x1' is not an integer"),
        (_row(capacity="-2"), 3, 3, "Generator Capacity"),
        ("1,2000,2.0,GC,1/07/2012,0.1,0.2", 3, None, "row has 7 columns"),
    ],
)
def test_malformed_rows_name_file_line_and_column(tmp_path, row, line, column, needle):
    p = _write(tmp_path, row)
    with pytest.raises(InputFileError) as info:
        load_ausgrid(p)
    err = info.value
    assert err.line == line and err.column == column and needle in str(err)
    assert str(p) in str(err)


def test_duplicate_row_and_bad_header(tmp_path):
    with pytest.raises(InputFileError, match="second GC row"):
        load_ausgrid(_write(tmp_path, _row(), _row()))
    p = tmp_path / "h.csv"
    p.write_text("title\nCustomer,Zip,Generator Capacity\n")
    with pytest.raises(InputFileError) as info:
        load_ausgrid(p)
    assert info.value.line == 2


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputFileError, match="cannot open"):
        load_ausgrid(tmp_path / "none.csv")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(InputFileError, match="before the header"):
        load_ausgrid(tmp_path / "e.csv")
