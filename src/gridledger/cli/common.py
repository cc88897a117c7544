"""Shared pieces of the command groups: options, choices, the user-error handler, progress.

User mistakes (a :class:`~gridledger.errors.GridledgerError`) end a command with one line on
stderr and exit code 2; nothing is written.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from gridledger.errors import GridledgerError
from gridledger.progress import SILENT, Reporter, rich_progress
from gridledger.reporting import output_dir

F = TypeVar("F", bound=Callable[..., Any])
console = Console()
"""Human-readable output (tables) on stdout; never used when ``--json`` is given."""


def user_errors(func: F) -> F:
    """Turn GridledgerError into a one-line message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GridledgerError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


class Method(StrEnum):
    analytic = "analytic"
    dma_ubrl = "dma-ubrl"
    ga_prosumers = "ga-prosumers"
    ga_server = "ga-server"
    random = "random"


class Pricing(StrEnum):
    unified = "unified"
    discriminated = "discriminated"


class Experiment(StrEnum):
    paper_fig3 = "paper-fig3"
    paper_fig4 = "paper-fig4"
    thesis_table3_2 = "thesis-table3.2"
    thesis_fig3_5 = "thesis-fig3.5"
    thesis_fig3_9 = "thesis-fig3.9"
    thesis_fig3_11 = "thesis-fig3.11"
    thesis_fig3_4 = "thesis-fig3.4"
    thesis_fig4_6 = "thesis-fig4.6"
    thesis_fig4_7 = "thesis-fig4.7"
    thesis_fig4_8 = "thesis-fig4.8"
    thesis_fig4_9 = "thesis-fig4.9"
    thesis_fig4_10 = "thesis-fig4.10"
    thesis_fig4_11 = "thesis-fig4.11"
    thesis_fig4_12 = "thesis-fig4.12"


class Algo(StrEnum):
    ppo = "ppo"
    sac = "sac"
    a2c = "a2c"
    ddpg = "ddpg"


class V2VData(StrEnum):
    nd = "nd"
    ud = "ud"


class Distribution(StrEnum):
    nde = "nde"
    ude = "ude"
    lde = "lde"


class LossModel(StrEnum):
    distance = "distance"
    powerflow = "powerflow"


class Profiles(StrEnum):
    synthetic = "synthetic"
    ausgrid = "ausgrid"
    citylearn = "citylearn"
    simbench = "simbench"
    forecast = "forecast"


class Fleet(StrEnum):
    thesis = "thesis"
    real = "real"
    citylearn = "citylearn"


SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of every random generator used.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or JSON file overriding defaults.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override one key: --set theta=120 (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Directory for figures and reports.")]
RpcOpt = Annotated[str | None, typer.Option("--rpc-url", help="JSON-RPC URL of a node (default: embedded chain).")]
DataDirOpt = Annotated[Path | None, typer.Option(
    "--data-dir", help="Where the chain and deployment records live (default $GRIDLEDGER_DATA_DIR or ~/.gridledger).")]



def progress_display(enabled: bool) -> Any:
    return rich_progress(transient=True) if enabled and sys.stderr.isatty() else None


def with_reporter(show: bool, run: Any) -> Any:
    """``run(reporter)`` under a Rich progress display when ``show`` and stderr is a terminal."""
    progress = progress_display(show)
    if progress is None:
        return run(SILENT)
    with progress:
        return run(Reporter(progress))


def on_chain(rpc_url: str | None, data_dir: Path | None, show: bool, run: Any) -> Any:
    """``run(chain, data_dir, reporter)`` on the chain of ``rpc_url`` (or the embedded one), closed after."""
    from gridledger.ledger.chain import open_chain

    home = data_dir_or_default(data_dir)
    chain = open_chain(rpc_url, home)
    try:
        return with_reporter(show, lambda reporter: run(chain, home, reporter))
    finally:
        chain.close()


def write_settlement(out: Path | None, seed: int, result: dict) -> None:
    if out is not None:
        from gridledger.reporting import provenance

        with output_dir(out) as od:
            od.write_json("settlement.json", {**provenance(seed), **result})


def data_dir_or_default(data_dir: Path | None) -> Path:
    from gridledger.ledger.chain import default_data_dir

    return data_dir or default_data_dir()

