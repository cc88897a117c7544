"""Reading the published CSV and JSON files with errors that name the file, line and column.

Every loader in :mod:`gridledger.data` reads through these helpers, so that a malformed file
ends with one :class:`~gridledger.errors.InputFileError` such as
``Building_3.csv, line 17, column 8: non_shiftable_load 'abc' is not a number`` (lines and
columns 1-based, the header being line 1) rather than a traceback. Files ending in ``.gz`` are
read through gzip (the package's shipped subsets are stored that way); a UTF-8 byte-order mark
(the ElaadNL files start with one) is dropped.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gridledger.errors import InputFileError


def open_text(path: Path) -> io.TextIOBase:
    """Open a text file (plain or ``.gz``) for reading, or raise InputFileError."""
    try:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
        return path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(str(path), f"cannot open file ({exc.strerror or exc})") from None


def find_file(directory: Path, name: str) -> Path:
    """``directory/name``, or ``directory/name.gz`` when only the compressed copy exists."""
    plain = directory / name
    if plain.exists():
        return plain
    packed = directory / (name + ".gz")
    if packed.exists():
        return packed
    raise InputFileError(str(plain), "file not found")


class CsvTable:
    """A CSV file read whole: the header (stripped) and rows with their 1-based line numbers."""

    def __init__(self, path: Path, rows: list[tuple[int, list[str]]], header: list[str]) -> None:
        self.path = path
        self.name = str(path)
        self.rows = rows
        self.header = header

    def column(self, name: str, aliases: Sequence[str] = ()) -> int:
        """0-based index of a header column (case-insensitive), or an error naming the header line."""
        wanted = [name, *aliases]
        lower = [h.lower() for h in self.header]
        for w in wanted:
            if w.lower() in lower:
                return lower.index(w.lower())
        raise InputFileError(self.name, f"the header has no column {name!r} (columns: {', '.join(self.header)})", 1)

    def error(self, line: int, col: int | None, message: str) -> InputFileError:
        return InputFileError(self.name, message, line, None if col is None else col + 1)

    def cell(self, line: int, row: list[str], col: int) -> str:
        if col >= len(row):
            raise self.error(line, None, f"row has {len(row)} columns, expected {len(self.header)}")
        return row[col].strip()

    def number(self, line: int, row: list[str], col: int, *, minimum: float | None = None,
               maximum: float | None = None, blank: float | None = None) -> float:
        """The cell as a finite float within the bounds; ``blank`` (if not None) stands for an empty cell."""
        text = self.cell(line, row, col)
        what = self.header[col]
        if text == "" and blank is not None:
            return blank
        try:
            value = float(text)
        except ValueError:
            raise self.error(line, col, f"{what} {text!r} is not a number") from None
        if not math.isfinite(value):
            raise self.error(line, col, f"{what} must be a finite number (got {text})")
        if minimum is not None and value < minimum:
            raise self.error(line, col, f"{what} must be >= {minimum:g} (got {text})")
        if maximum is not None and value > maximum:
            raise self.error(line, col, f"{what} must be <= {maximum:g} (got {text})")
        return value

    def integer(self, line: int, row: list[str], col: int, *, minimum: int | None = None,
                maximum: int | None = None) -> int:
        text = self.cell(line, row, col)
        what = self.header[col]
        try:
            value = int(float(text))
            if float(text) != value:
                raise ValueError
        except ValueError:
            raise self.error(line, col, f"{what} {text!r} is not an integer") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            lo = "-inf" if minimum is None else str(minimum)
            hi = "inf" if maximum is None else str(maximum)
            raise self.error(line, col, f"{what} must be an integer in [{lo}, {hi}] (got {text})")
        return value


    def numbers(self, col: int, *, minimum: float | None = None, maximum: float | None = None,
                blank: float | None = None) -> NDArray[np.float64]:
        """A whole column as floats (vectorised; the first bad cell raises the per-cell error)."""
        cells = [r[col].strip() if col < len(r) else None for _, r in self.rows]
        try:
            if blank is not None:
                cells = [blank if c == "" else c for c in cells]  # type: ignore[misc]
            arr = np.asarray(cells, dtype=float)
            ok = np.isfinite(arr)
            if minimum is not None:
                ok &= arr >= minimum
            if maximum is not None:
                ok &= arr <= maximum
            if ok.all():
                return arr
            first = int(np.flatnonzero(~ok)[0])
        except (ValueError, TypeError):
            first = 0
        for line, row in self.rows[first:]:
            self.number(line, row, col, minimum=minimum, maximum=maximum, blank=blank)
        raise AssertionError("unreachable: a bad cell was found above")  # pragma: no cover

    def integers(self, col: int, *, minimum: int | None = None, maximum: int | None = None) -> NDArray[np.int64]:
        """A whole column as integers (vectorised, per-cell errors as :meth:`integer`)."""
        try:
            arr = self.numbers(col)
            if np.all(arr == np.round(arr)) and (minimum is None or arr.min() >= minimum) and (
                    maximum is None or arr.max() <= maximum):
                return arr.astype(np.int64)
        except InputFileError:
            pass
        for line, row in self.rows:
            self.integer(line, row, col, minimum=minimum, maximum=maximum)
        raise AssertionError("unreachable: a bad cell was found above")  # pragma: no cover


def read_csv(path: str | Path, *, min_rows: int = 1) -> CsvTable:
    """Read a whole CSV file; blank lines are skipped; the first line is the header."""
    p = Path(path)
    with open_text(p) as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputFileError(str(p), "file is empty (expected a header line)") from None
        except csv.Error as exc:
            raise InputFileError(str(p), f"not a CSV file ({exc})", 1) from None
        rows: list[tuple[int, list[str]]] = []
        try:
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                rows.append((reader.line_num, row))
        except csv.Error as exc:
            raise InputFileError(str(p), f"not a CSV file ({exc})", reader.line_num) from None
        except UnicodeDecodeError:
            raise InputFileError(str(p), "not a UTF-8 text file", reader.line_num + 1) from None
    if len(rows) < min_rows:
        raise InputFileError(str(p), f"has {len(rows)} data rows after the header (needs at least {min_rows})")
    return CsvTable(p, rows, header)


def iter_rows(table: CsvTable) -> Iterator[tuple[int, list[str]]]:
    yield from table.rows


def read_text(path: str | Path) -> str:
    """A whole text file (plain or ``.gz``)."""
    p = Path(path)
    with open_text(p) as handle:
        try:
            return handle.read()
        except (UnicodeDecodeError, OSError, EOFError):
            raise InputFileError(str(p), "not a UTF-8 text file") from None


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; a syntax error names the line and column."""
    p = Path(path)
    text = read_text(p)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(str(p), f"invalid JSON ({exc.msg})", exc.lineno, exc.colno) from None


def json_number(path: Path, text: str, key_path: str, value: Any, *, minimum: float | None = None,
                positive: bool = False) -> float:
    """A number read from JSON at ``key_path``; errors give the line of the key in the file."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and minimum is not None and value < minimum:
        ok = False
    if ok and positive and value <= 0:
        ok = False
    if not ok:
        bound = " > 0" if positive else (f" >= {minimum:g}" if minimum is not None else "")
        line = json_line(text, key_path.rsplit(".", 1)[-1])
        raise InputFileError(str(path), f"{key_path} must be a number{bound} (got {value!r})", line)
    return float(value)


def json_line(text: str, key: str) -> int | None:
    """1-based line of the first ``"key":`` in a JSON text (for error messages)."""
    needle = f'"{key}"'
    pos = text.find(needle)
    return None if pos < 0 else text.count("\n", 0, pos) + 1
