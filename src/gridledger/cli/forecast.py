"""`gridledger forecast`: stacked-LSTM forecasts of consumption and generation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridledger.cli.common import ConfigOpt, JsonOpt, OutOpt, SeedOpt, SetOpt, console, progress_display, user_errors
from gridledger.config import gather
from gridledger.progress import Reporter
from gridledger.reporting import dumps, output_dir

app = typer.Typer(no_args_is_help=True, help="Stacked-LSTM forecasts of consumption and generation.")



@app.command("train")
@user_errors
def forecast_train(
    data: Annotated[Path | None, typer.Option(
        "--data", help="citylearn (CityLearn 2022 homes from $GRIDLEDGER_DATA, else the shipped subset), a "
        "CityLearn directory, or an Ausgrid-format CSV file or directory.")] = None,
    synthetic: Annotated[bool, typer.Option("--synthetic", help="Train on generated (synthetic) history.")] = False,
    customers: Annotated[int | None, typer.Option("--customers", help="Use the first N customers.")] = None,
    days: Annotated[int, typer.Option("--days", help="(--synthetic) days of history.")] = 365,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Most training epochs.")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Train the stacked LSTM; metrics on the test period for it, seasonal naive and a linear model."""
    from gridledger.config import merge
    from gridledger.errors import ConfigError
    from gridledger.forecast.model import ForecastConfig, save
    from gridledger.params import check_int, from_mapping
    from gridledger.scenarios.forecast import load_series, train

    if (data is None) == (not synthetic):
        raise ConfigError("--data/--synthetic", "give exactly one of --data FILE_OR_DIR and --synthetic")
    mapping = gather(config, set_ or [])
    if epochs is not None:
        mapping = merge(mapping, {"epochs": epochs})
    cfg = from_mapping(ForecastConfig, mapping)
    if customers is not None:
        check_int("customers", customers, ge=1)
    check_int("days", days, ge=cfg.lookback_days + 3, le=100_000)
    dataset = load_series(data, customers or 30, days, seed)
    progress = progress_display(not json_)
    if progress is not None:
        with progress:
            model, series = train(dataset, cfg, seed, customers, Reporter(progress))
    else:
        model, series = train(dataset, cfg, seed, customers)
    result = {"metrics": model.metrics, "epochs_run": len(model.history), "seconds": model.seconds,
              "customers": len(series.customers), "days": series.n_days, "synthetic_data": series.synthetic,
              "data": series.source, "slots_per_day": series.slots,
              "model": str(out / "model") if out is not None else None}
    if out is not None:
        from gridledger.reporting import provenance

        with output_dir(out) as od:
            save(model, od.file("model/forecaster.json").parent)
            od.write_json("results.json", {**provenance(seed), **result, "history": model.history})
    if json_:
        typer.echo(dumps(result))
        return
    tag = " - SYNTHETIC data" if series.synthetic else ""
    unit = {48: "half hour", 24: "hour", 96: "quarter hour"}.get(series.slots, "interval")
    table = Table(title=f"forecast test-period MAE (kWh per {unit}){tag}")
    for col in ("model", "consumption", "generation"):
        table.add_column(col, justify="right")
    for name in ("lstm", "naive_yesterday", "naive_last_week", "linear"):
        if name in model.metrics:
            e = model.metrics[name]
            table.add_row(name, f"{e['consumption']['mae_kwh']:.4f}", f"{e['generation']['mae_kwh']:.4f}")
    console.print(table)


@app.command("predict")
@user_errors
def forecast_predict(
    model: Annotated[Path, typer.Option("--model", help="Directory written by `forecast train --out`.")],
    data: Annotated[Path | None, typer.Option(
        "--data", help="History: citylearn, a CityLearn directory or an Ausgrid-format file (default: synthetic).")
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Days to forecast after the history.")] = 7,
    history_days: Annotated[int, typer.Option("--history-days", help="(synthetic) days of history.")] = 365,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """Forecast the days after the data's last day for every customer the model knows."""
    from gridledger.errors import ConfigError
    from gridledger.forecast.model import load
    from gridledger.params import check_int
    from gridledger.scenarios.forecast import forecast_days, load_series, prediction_json

    check_int("days", days, ge=1, le=365)
    model_dir = model / "model" if (model / "model" / "forecaster.json").exists() else model
    fm = load(model_dir)
    series = load_series(data, len(fm.customers), history_days, seed)
    if series.slots != fm.slots:
        raise ConfigError("--data", f"the model forecasts {fm.slots} intervals a day; the data has {series.slots}")
    known = [c for c in series.customers if c in fm.customers]
    fc, dates = forecast_days(fm, series, series.n_days, days, known)
    result = prediction_json(fc, dates, known, series.synthetic)
    if json_:
        typer.echo(dumps(result))
        return
    table = Table(title=f"daily forecast (kWh){' - SYNTHETIC history' if series.synthetic else ''}")
    table.add_column("customer")
    for d in result["dates"]:
        table.add_column(d, justify="right")
    for c in result["customers"]:
        table.add_row(str(c["customer"]), *(f"{x:.1f}/{g:.1f}" for x, g in
                                             zip(c["daily_consumption_kwh"], c["daily_generation_kwh"], strict=True)))
    console.print(table)
    console.print("cells: consumption / generation")
