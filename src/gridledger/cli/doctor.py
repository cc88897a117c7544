"""`gridledger doctor`: versions, CPU, threads, chain backends and browsers found."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridledger.cli.common import JsonOpt, console, user_errors
from gridledger.errors import ConfigError
from gridledger.reporting import dumps


@user_errors
def doctor(
    json_: JsonOpt = False,
    lock: Annotated[Path | None, typer.Option(
        "--check-lock", help="Also compare installed packages with this lock file (exit 1 on a difference).")]
    = None,
) -> None:
    """What this installation runs on: key versions, CPU, threads, chain backends, browsers."""
    import contextlib

    from gridledger.environment import environment, lock_differences

    for heavy in ("torch", "numba"):  # loaded here so that their kernels and threads can be reported
        with contextlib.suppress(ImportError):
            __import__(heavy)
    info = environment()
    if lock is not None and not lock.is_file():
        raise ConfigError("--check-lock", f"no lock file at {lock}")
    diff = lock_differences(lock) if lock is not None else None
    if diff is not None:
        info["lock_differences"] = diff
    if json_:
        typer.echo(dumps(info))
    else:
        table = Table(title=f"gridledger {info['gridledger']} on Python {info['python']}")
        table.add_column("item")
        table.add_column("value")
        for k, v in info["packages"].items():
            table.add_row(k, v or "not installed")
        cpu = info["cpu"]
        table.add_row("CPU", f"{cpu['model']} ({cpu['logical_cores']} logical cores, {cpu['isa']})")
        table.add_row("threads", ", ".join(f"{k} {v}" for k, v in info["threads"].items()))
        for k, v in info["chain_backends"].items():
            table.add_row(f"chain: {k}", v or "not found")
        for k, v in info["browsers"].items():
            table.add_row(f"browser: {k}", v or "not found")
        if diff is not None:
            table.add_row("lock", "matches" if not diff else f"{len(diff)} difference(s)")
        console.print(table)
        for line in diff or []:
            console.print(f"  {line}")
    if diff:
        raise typer.Exit(1)
