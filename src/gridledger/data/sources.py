"""Where the real datasets are: a directory the user names, ``$GRIDLEDGER_DATA``, or the small
attributed subsets shipped with the package.

The installed product never needs the full datasets: every loader also runs on the subsets in
``gridledger/data/samples/`` (``citylearn_2022/``: 10 homes over 6 weeks; ``ev_nl/``: the EV
tables, the ElaadNL statistics and the 2024 day-ahead prices), each with its licence and a
``SUBSET.md`` saying what was cut. ``--data DIR`` (or ``$GRIDLEDGER_DATA``, a directory holding
``citylearn_2022/`` and ``ev_nl/`` as in the project's ``../shared/data``) reads the full sets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gridledger.errors import InputFileError

ENV_VAR = "GRIDLEDGER_DATA"
CITYLEARN = "citylearn_2022"
EV_NL = "ev_nl"
KINDS = (CITYLEARN, EV_NL)


@dataclass(frozen=True)
class DataLocation:
    """A dataset's directory and whether it is the shipped subset."""

    path: Path
    subset: bool

    @property
    def label(self) -> str:
        return "shipped subset" if self.subset else str(self.path)


def samples_dir() -> Path:
    """The package's ``data/samples`` directory."""
    return Path(str(resources.files("gridledger.data").joinpath("samples")))


def shipped(kind: str) -> Path:
    return samples_dir() / kind


def locate(kind: str, path: str | Path | None = None) -> DataLocation:
    """The directory of dataset ``kind`` ("citylearn_2022" or "ev_nl").

    ``path``: a directory of that dataset, or a root holding ``kind/``. Without it,
    ``$GRIDLEDGER_DATA/kind`` if that exists, else the shipped subset.
    """
    if kind not in KINDS:
        raise ValueError(kind)
    if path is not None and str(path) != "":
        p = Path(path).expanduser()
        if (p / kind).is_dir():
            p = p / kind
        if not p.is_dir():
            raise InputFileError(str(p), f"not a directory (expected the {kind} dataset or a folder holding {kind}/)")
        return DataLocation(p, p.resolve() == shipped(kind).resolve())
    root = os.environ.get(ENV_VAR, "")
    if root:
        p = Path(root).expanduser() / kind
        if p.is_dir():
            return DataLocation(p, False)
    return DataLocation(shipped(kind), True)
