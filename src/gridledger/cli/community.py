"""`gridledger community`: the prosumer community of the thesis (chapter 3)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.table import Table

from gridledger.cli.common import (
    ConfigOpt,
    DataDirOpt,
    Distribution,
    JsonOpt,
    LossModel,
    OutOpt,
    Profiles,
    RpcOpt,
    SeedOpt,
    SetOpt,
    console,
    on_chain,
    user_errors,
    with_reporter,
)
from gridledger.config import gather
from gridledger.reporting import dumps, output_dir

if TYPE_CHECKING:
    from gridledger.scenarios.community.run import CommunityConfig, CommunityInput

app = typer.Typer(no_args_is_help=True, help="Prosumer community of the thesis (chapter 3).")



@app.command("run")
@user_errors
def community_run(
    prosumers: Annotated[int, typer.Option("--prosumers", help="Number of prosumers.")] = 10,
    distribution: Annotated[Distribution, typer.Option("--distribution", help="Synthetic profiles.")] =
    Distribution.nde,
    loss_model: Annotated[LossModel, typer.Option("--loss-model", help="Loss model.")] = LossModel.distance,
    profiles: Annotated[Profiles, typer.Option(
        "--profiles", help="synthetic draws; daily totals from an Ausgrid-format file, measured CityLearn 2022 homes "
        "or a simbench grid's standard profiles; or day-ahead LSTM forecasts.")] = Profiles.synthetic,
    data: Annotated[Path | None, typer.Option(
        "--data", help="(ausgrid) CSV file, default the shipped synthetic sample; (citylearn) dataset directory, "
        "default $GRIDLEDGER_DATA or the shipped subset; (forecast) history: an Ausgrid file or a CityLearn "
        "directory, default synthetic.")] = None,
    day: Annotated[int | None, typer.Option(
        "--day", help="Day index in the data (default: ausgrid most sellers; citylearn/simbench sellers closest to "
        "half).")] = None,
    network: Annotated[str, typer.Option(
        "--network", help="ieee14 (the thesis's grid), ieee-eu-lv (IEEE European LV feeder) or a simbench LV grid "
        "code such as 1-LV-rural1--0-sw (prosumers on its load buses; --profiles simbench: that grid's own "
        "loads).")] = "ieee14",
    forecast_model: Annotated[Path | None, typer.Option(
        "--forecast-model", help="(--profiles forecast) a trained forecaster; default: train one.")] = None,
    price: Annotated[str, typer.Option(
        "--price", help="config: price_per_kwh as configured (0.10); data: the day's mean tariff of the data "
        "(--profiles citylearn: CityLearn's time-of-use tariff, USD/kWh).")] = "config",
    chain: Annotated[bool, typer.Option(
        "--chain", help="Record the day on chain: EPOS staking, miner election, slashing, UPOS rewards.")] = False,
    slash_bps: Annotated[int, typer.Option(
        "--slash-bps", help="(--chain) share of a refusing miner's stake burned, basis points.")] = 10_000,
    rpc_url: RpcOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """One community day: PoEG scores, merge-and-split coalitions, miner election, Shapley rewards."""
    from gridledger.config import merge
    from gridledger.params import from_mapping
    from gridledger.scenarios.community.reports import day_report, ledger_lines, source_lines
    from gridledger.scenarios.community.run import CommunityConfig, run_community_day

    mapping = merge({"prosumers": prosumers, "distribution": distribution.value,
                     "loss": {"model": loss_model.value}}, gather(config, set_ or []))
    cfg = from_mapping(CommunityConfig, mapping)
    ledger: dict | None = None
    if chain:
        from gridledger.ledger.deploy import StakingDeployment

        staking_params = from_mapping(StakingDeployment, {"slash_bps": slash_bps})
    rng = np.random.default_rng(seed)
    inputs = community_inputs(cfg, rng, profiles, data, day, network, forecast_model, seed, not json_)
    if price != "config":
        cfg = day_price(cfg, price, profiles, data, inputs)
    if chain:
        from gridledger.scenarios.community.chain import record_community_day

        result, ledger = on_chain(rpc_url, data_dir, not json_, lambda node, home, reporter: record_community_day(
            node, home, cfg, inputs, rng, staking_params, reporter))
    else:
        result = run_community_day(cfg, inputs, rng)
    if out is not None:
        with output_dir(out) as od:
            day_report(result, od, seed, f"Community day: {cfg.prosumers} prosumers",
                       [*source_lines(inputs), *(ledger_lines(ledger) if ledger else [])])
            if ledger:
                od.write_json("ledger.json", ledger)
    data_json = result.to_json()
    if ledger:
        data_json["ledger"] = ledger
    if json_:
        typer.echo(dumps(data_json))
        return
    table = Table(title=f"community of {cfg.prosumers} prosumers ({cfg.loss.model} losses, network "
                  f"{data_json['network']})")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("profiles", data_json["profiles_source"])
    table.add_row("coalitions", str(data_json["partition"]))
    table.add_row("loss alone / in coalitions (kWh)",
                  f"{data_json['loss_alone_kwh']:.3f} / {data_json['loss_coalition_kwh']:.3f}")
    table.add_row("loss saved", f"{data_json['savings_pct']:.1f}%")
    table.add_row("energy traded in coalitions", f"{data_json['traded_in_coalitions_pct']:.1f}%")
    table.add_row("miner", str(data_json["miner"]))
    table.add_row("mining reward (kWh)", f"{data_json['mining_reward']:.4f}")
    table.add_row("seconds", f"{data_json['seconds']:.2f}")
    if ledger:
        table.add_row("on chain", f"round {ledger['round']}, miner {ledger['miner']}, {ledger['transactions']} "
                      f"transactions, reward {ledger['reward_upos']:.6f} UPOS")
    console.print(table)


def community_inputs(cfg: CommunityConfig, rng: np.random.Generator, profiles: Profiles, data: Path | None,
                     day: int | None, network: str, forecast_model: Path | None, seed: int, show: bool
                     ) -> CommunityInput:
    """The day's inputs for the chosen profiles and network (one place for every source)."""
    from gridledger.errors import ConfigError
    from gridledger.scenarios.community.inputs import IEEE14, citylearn_input, simbench_input
    from gridledger.scenarios.community.reports import ausgrid_input
    from gridledger.scenarios.community.run import CommunityInput, synthetic_input

    if network != IEEE14 and profiles in (Profiles.synthetic, Profiles.ausgrid, Profiles.forecast):
        raise ConfigError("--network", f"--profiles {profiles.value} runs on ieee14 only (give --profiles citylearn "
                          "or simbench for a feeder)")
    if profiles is Profiles.ausgrid:
        return ausgrid_input(cfg, rng, data, day)
    if profiles is Profiles.citylearn:
        return citylearn_input(cfg, rng, data, day, network)
    if profiles is Profiles.simbench:
        if data is not None:
            raise ConfigError("--data", "--profiles simbench reads its grid from the simbench package (no --data)")
        from gridledger.data.networks import IEEE_EU_LV

        if network == IEEE_EU_LV:
            raise ConfigError("--network", "the IEEE European LV feeder has no profiles; give a simbench LV code")
        return simbench_input(cfg, rng, "1-LV-rural1--0-sw" if network == IEEE14 else network, day)
    if profiles is Profiles.forecast:
        from gridledger.forecast.model import load
        from gridledger.scenarios.forecast import day_ahead_profiles, load_series

        model = None
        if forecast_model is not None:
            model_dir = forecast_model / "model" if (forecast_model / "model" / "forecaster.json").exists() \
                else forecast_model
            model = load(model_dir)
        series = load_series(data, cfg.prosumers, 120, seed) if data is not None else None
        prod, cons, note = with_reporter(show, lambda reporter: day_ahead_profiles(
            cfg.prosumers, seed, model, series, reporter=reporter))
        pos = rng.uniform(0, cfg.loss.area_km, size=(cfg.prosumers, 2))
        return CommunityInput(prod, cons, pos, source=note)
    return synthetic_input(cfg, rng)


def day_price(cfg: CommunityConfig, price: str, profiles: Profiles, data: Path | None, inputs: CommunityInput
              ) -> CommunityConfig:
    """``price_per_kwh`` from the data's tariff on the day (``--price data``)."""
    from dataclasses import replace

    from gridledger.errors import ConfigError
    from gridledger.scenarios.community.inputs import citylearn_day_price

    if price != "data":
        raise ConfigError("--price", f"must be config or data (got {price!r})")
    if profiles is not Profiles.citylearn:
        raise ConfigError("--price", "data prices come with --profiles citylearn (CityLearn's tariff)")
    date = inputs.labels[0].rsplit(", ", 1)[-1]
    value, _currency = citylearn_day_price(data, date)
    return replace(cfg, price_per_kwh=value)


@app.command("optimize")
@user_errors
def community_optimize(
    input_: Annotated[Path, typer.Option("--input", help="JSON file: loss_per_km, edc, prosumers.")],
    json_: JsonOpt = False,
) -> None:
    """One coalition's loss-minimising dispatch LP (thesis eqs. 3.11-3.15)."""
    from gridledger.config import load_config_file
    from gridledger.scenarios.community.optimize import optimize_coalition

    result = optimize_coalition(load_config_file(input_))
    if json_:
        typer.echo(dumps(result))
        return
    table = Table(title=f"coalition dispatch: loss {result['loss_kwh']:.4f} kWh")
    for col in ("from", "to", "energy (kWh)", "loss (kWh)"):
        table.add_column(col)
    for t in result["transactions"]:
        table.add_row(str(t["from"]), str(t["to"]), f"{t['energy_kwh']:.3f}", f"{t['loss_kwh']:.4f}")
    console.print(table)
