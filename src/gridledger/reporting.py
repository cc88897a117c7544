"""Writing results: provenance, atomic output directories, JSON with numpy values.

Everything a command writes goes through :class:`OutputDir`: files are first written to a
temporary directory next to the target and moved into place only when all of them exist, so a
failing command leaves nothing half-written.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import gridledger


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and paths recursively to JSON-ready values."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def dumps(value: Any, indent: int | None = 2) -> str:
    return json.dumps(to_jsonable(value), indent=indent, sort_keys=False)


def git_commit() -> str | None:
    """Commit of the gridledger source tree, if it is a git checkout."""
    here = Path(gridledger.__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance(seed: int | None, **extra: Any) -> dict[str, Any]:
    """Versions, seed, commit and time, for results.json."""
    from gridledger.environment import cpu_info, environment

    env = environment(probe=False)
    versions = {"gridledger": gridledger.__version__, "python": platform.python_version(),
                **{k: v for k, v in env["packages"].items() if v is not None}}
    return {"seed": seed, "versions": versions, "cpu": cpu_info(), "threads": env["threads"],
            "platform": env["platform"], "git_commit": git_commit(),
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"), **extra}


class OutputDir:
    """Collects files in a staging directory; :meth:`commit` moves them into ``target``."""

    def __init__(self, target: Path, staging: Path) -> None:
        self.target = target
        self.path = staging

    def write_text(self, name: str, text: str) -> Path:
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return self.target / name

    def write_json(self, name: str, value: Any) -> Path:
        return self.write_text(name, dumps(value) + "\n")

    def file(self, name: str) -> Path:
        """Staging path for a file that a library writes itself (e.g. a figure)."""
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def commit(self) -> None:
        self.target.mkdir(parents=True, exist_ok=True)
        for src in sorted(self.path.rglob("*")):
            if src.is_file():
                dst = self.target / src.relative_to(self.path)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(src, dst)


@contextmanager
def output_dir(target: str | Path) -> Iterator[OutputDir]:
    """Stage files for ``target``; they appear there only if the block succeeds."""
    target = Path(target)
    parent = target.parent if target.parent.exists() else Path(tempfile.gettempdir())
    staging = Path(tempfile.mkdtemp(prefix=".gridledger-", dir=parent))
    try:
        out = OutputDir(target, staging)
        yield out
        out.commit()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
