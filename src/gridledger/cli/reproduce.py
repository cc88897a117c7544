"""`gridledger reproduce NAME`: regenerate a figure or table of the sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gridledger.cli.common import (
    ConfigOpt,
    Experiment,
    JsonOpt,
    SeedOpt,
    SetOpt,
    console,
    progress_display,
    user_errors,
)
from gridledger.config import gather
from gridledger.progress import Reporter
from gridledger.reporting import dumps, output_dir


@user_errors
def reproduce(
    name: Annotated[Experiment, typer.Argument(help="Figure or table to regenerate.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for results.json, figures and report.md.")] =
    Path("out/reproduce"),
    smoke: Annotated[bool, typer.Option("--smoke", help="Small, fast version (used by the tests).")] = False,
    data: Annotated[str | None, typer.Option(
        "--data", help="(thesis-fig3.4) synthetic (default), citylearn (the measured CityLearn 2022 homes from "
        "$GRIDLEDGER_DATA, else the shipped subset), or a CityLearn or Ausgrid-format path.")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """Regenerate a figure of the sources next to the published statements."""
    mapping = gather(config, set_ or [])
    if data is not None and name.value != "thesis-fig3.4":
        from gridledger.errors import ConfigError

        raise ConfigError("--data", f"only thesis-fig3.4 takes --data (got {name.value})")
    if name.value.startswith("paper-"):
        from gridledger.scenarios.elecoin.reports import reproduce_paper_fig3, reproduce_paper_fig4
        from gridledger.scenarios.elecoin.run import ElecoinConfig

        cfg: Any = ElecoinConfig.from_mapping(mapping)
        runner: Any = {Experiment.paper_fig3: reproduce_paper_fig3, Experiment.paper_fig4: reproduce_paper_fig4}[name]
    elif name.value == "thesis-fig3.4":
        import functools

        from gridledger.forecast.model import ForecastConfig
        from gridledger.params import from_mapping
        from gridledger.scenarios.forecast import reproduce_fig34

        cfg = from_mapping(ForecastConfig, mapping)
        runner = functools.partial(reproduce_fig34, data=data)
    elif name.value.startswith("thesis-fig4"):
        from gridledger.scenarios.fleet.reports import reproduce_fig46_49, reproduce_fig410, reproduce_fig411_412
        from gridledger.scenarios.fleet.run import train_config

        cfg = train_config(mapping)
        runner = {"thesis-fig4.10": reproduce_fig410, "thesis-fig4.11": reproduce_fig411_412,
                  "thesis-fig4.12": reproduce_fig411_412}.get(name.value, reproduce_fig46_49)
    else:
        from gridledger.params import from_mapping
        from gridledger.scenarios.community.reports import reproduce_fig39, reproduce_fig311, reproduce_table32
        from gridledger.scenarios.community.run import CommunityConfig

        cfg = from_mapping(CommunityConfig, mapping)
        runner = {Experiment.thesis_table3_2: reproduce_table32, Experiment.thesis_fig3_5: reproduce_table32,
                  Experiment.thesis_fig3_9: reproduce_fig39, Experiment.thesis_fig3_11: reproduce_fig311}[name]
    progress = progress_display(not json_)
    with output_dir(out) as od:
        if progress is not None:
            with progress:
                results = runner(cfg, seed, smoke, od, Reporter(progress))
        else:
            results = runner(cfg, seed, smoke, od)
    if json_:
        typer.echo(dumps(results))
    else:
        console.print(f"{name.value}: report written to [bold]{out / 'report.md'}[/bold]")
