"""`gridledger community`: the prosumer community of the thesis (chapter 3)."""

from __future__ import annotations

from enum import StrEnum
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



class Reading(StrEnum):
    linear = "linear"
    clipped = "clipped"
    affine = "affine"


@app.command("run")
@user_errors
def community_run(
    prosumers: Annotated[int, typer.Option("--prosumers", help="Number of prosumers.")] = 10,
    distribution: Annotated[Distribution, typer.Option("--distribution", help="Synthetic profiles.")] =
    Distribution.nde,
    loss_model: Annotated[LossModel, typer.Option(
        "--loss-model", help="distance (eq. 3.11); powerflow: AC power flow with eqs. (3.1)-(3.2) of the network "
        "(IEEE 14-bus, or per slot on a feeder); feeder: the latter, on a feeder only.")] = LossModel.distance,
    reading: Annotated[Reading, typer.Option(
        "--reading", help="(distance) eq. (3.11) C x d, or the clipped / affine reading of 1.8%-5.6%.")] =
    Reading.linear,
    profiles: Annotated[Profiles, typer.Option(
        "--profiles", help="synthetic draws; an Ausgrid-format file, measured CityLearn 2022 homes or a simbench "
        "grid's standard profiles; or day-ahead LSTM forecasts.")] = Profiles.synthetic,
    data: Annotated[Path | None, typer.Option(
        "--data", help="(ausgrid) CSV file, default the shipped synthetic sample; (citylearn) dataset directory, "
        "default $GRIDLEDGER_DATA or the shipped subset; (forecast) history: an Ausgrid file or a CityLearn "
        "directory, default synthetic.")] = None,
    day: Annotated[int | None, typer.Option(
        "--day", help="(First) day index in the data (default for one day: ausgrid the most sellers, "
        "citylearn/simbench the sellers closest to half; for several days: 0).")] = None,
    days: Annotated[int, typer.Option("--days", help="Consecutive days; the miner of day t runs day t+1.")] = 1,
    network: Annotated[str, typer.Option(
        "--network", help="ieee14 (the thesis's grid), ieee-eu-lv (IEEE European LV feeder, three-phase) or a "
        "simbench LV grid code such as 1-LV-rural1--0-sw (prosumers on its loads; --profiles simbench: that grid's "
        "own loads).")] = "ieee14",
    forecast_model: Annotated[Path | None, typer.Option(
        "--forecast-model", help="(--profiles forecast) a trained forecaster; default: train one.")] = None,
    price: Annotated[str, typer.Option(
        "--price", help="config: price_per_kwh as configured (0.10); data: each day's mean tariff of the data "
        "(--profiles citylearn: CityLearn's time-of-use tariff, USD/kWh).")] = "config",
    chain: Annotated[bool, typer.Option(
        "--chain", help="Record the day on chain: EPOS staking, commit-reveal miner election, slashing of a "
        "miner that does not seal (its coalition's whole stake, eq. 3.24), UPOS rewards (delta x savings).")] = False,
    rpc_url: RpcOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Community days: PoEG scores, coalitions to a stable partition, the optimum, miner election,
    fee-funded Shapley rewards."""
    from gridledger.config import merge
    from gridledger.errors import ConfigError
    from gridledger.params import check_int, from_mapping
    from gridledger.scenarios.community.inputs import day_inputs
    from gridledger.scenarios.community.reports import day_report, ledger_lines, series_report, source_lines
    from gridledger.scenarios.community.run import CommunityConfig, run_community_day, run_community_days

    check_int("days", days, ge=1, le=3650)
    if chain and days > 1:
        raise ConfigError("days", "--chain records one day; run it once per day (got --days "
                                  f"{days})")
    if price not in ("config", "data"):
        raise ConfigError("--price", f"must be config or data (got {price!r})")
    if price == "data" and profiles is not Profiles.citylearn:
        raise ConfigError("--price", "data prices come with --profiles citylearn (CityLearn's tariff)")
    mapping = merge({"prosumers": prosumers, "distribution": distribution.value,
                     "loss": {"model": loss_model.value, "reading": reading.value}}, gather(config, set_ or []))
    cfg = from_mapping(CommunityConfig, mapping)
    if cfg.loss.model == "feeder" and network == "ieee14":
        raise ConfigError("--loss-model", "feeder needs a feeder network (--network ieee-eu-lv or a simbench LV code)")
    ledger: dict | None = None
    if chain:
        from gridledger.scenarios.community.chain import delta_bps

        delta_bps(cfg.delta)  # the contract holds delta in basis points: refuse anything else up front
    rng = np.random.default_rng(seed)
    inputs_of = with_reporter(not json_, lambda reporter: day_inputs(
        profiles.value, cfg, rng, days, data, day, forecast_model, network, reporter))
    priced = (lambda inputs: day_price(cfg, data, inputs)) if price == "data" else None
    if days > 1:
        series = run_community_days(cfg, inputs_of, days, rng, day_config=priced)
        if out is not None:
            with output_dir(out) as od:
                series_report(series, od, seed, f"Community: {cfg.prosumers} prosumers, {days} days")
        data_json = series.to_json(days_in_full=False)
        if json_:
            typer.echo(dumps(data_json))
            return
        c = data_json["cumulative"]
        table = Table(title=f"community of {cfg.prosumers} prosumers, {days} days ({data_json['loss_model']} losses, "
                      f"network {data_json['network']})")
        for col in ("day", "date", "run by", "coalitions", "saved", "loss / optimum", "miner", "stable"):
            table.add_column(col, justify="right")
        for t, d in enumerate(data_json["per_day"], start=1):
            table.add_row(str(t), _date_of(d["profiles_source"]), f"P{d['operator']}", str(d["coalitions"]),
                          f"{d['savings_pct']:.1f}%", f"{d['loss_over_optimum']:.4f}", str(d["miner"]),
                          str(d["stable"]))
        console.print(table)
        console.print(f"profiles (day 1): {data_json['per_day'][0]['profiles_source']}")
        console.print(f"total loss {c['loss_coalition_kwh']:.3f} kWh (alone {c['loss_alone_kwh']:.3f}, optimum "
                      f"{c['optimum_kwh']:.3f}, baseline {c['baseline_loss_kwh']:.3f}); payoffs "
                      f"{sum(c['payoffs']):.4f}")
        return
    inputs = inputs_of(0, rng)
    if priced is not None:
        cfg = priced(inputs)
    if chain:
        from gridledger.scenarios.community.chain import record_community_day

        result, ledger = on_chain(rpc_url, data_dir, not json_, lambda node, home, reporter: record_community_day(
            node, home, cfg, inputs, rng, None, reporter))
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
    table = Table(title=f"community of {cfg.prosumers} prosumers ({data_json['loss_model']} losses, network "
                  f"{data_json['network']})")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("profiles", data_json["profiles_source"])
    table.add_row("coalitions", str(data_json["partition"]) if cfg.prosumers <= 30 else
                  f"{len(data_json['partition'])} coalitions")
    table.add_row("loss alone / in coalitions / optimum (kWh)",
                  f"{data_json['loss_alone_kwh']:.3f} / {data_json['loss_coalition_kwh']:.3f} / "
                  f"{data_json['optimum_kwh']:.3f}")
    base = data_json["baseline_noncooperative"]["savings_pct"]
    table.add_row("loss saved (optimum, baseline)", f"{data_json['savings_pct']:.1f}% "
                  f"({data_json['optimum_savings_pct']:.1f}%, {base:.1f}%)")
    table.add_row("formation's loss / optimum", f"{data_json['loss_over_optimum']:.4f}")
    table.add_row("P2P share per prosumer / of the energy", f"{data_json['p2p_share_per_prosumer_pct']:.1f}% / "
                  f"{data_json['p2p_share_of_energy_pct']:.1f}%")
    if data_json["stability"] is not None:
        table.add_row("stable (Definition 3, proved)", str(data_json["stability"]["stable"]))
    table.add_row("miner", str(data_json["miner"]))
    table.add_row("mining reward, paid out of savings (kWh)", f"{data_json['mining_reward']:.4f}")
    table.add_row("seconds", f"{data_json['seconds']:.2f}")
    if ledger:
        table.add_row("on chain", f"round {ledger['round']}, miner {ledger['miner']}, {ledger['transactions']} "
                      f"transactions, reward {ledger['reward_upos']:.6f} UPOS")
    console.print(table)


def _date_of(source: str) -> str:
    """The day a profile source names ("..., day 3 = 2017-03-23; network ..." -> "2017-03-23")."""
    head = source.split(";")[0]
    if " = " in head:
        return head.rsplit(" = ", 1)[-1]
    if "forecast for " in head:
        return head.split("forecast for ", 1)[1].split(" ", 1)[0] + " (forecast)"
    return "-"


def day_price(cfg: CommunityConfig, data: Path | None, inputs: CommunityInput) -> CommunityConfig:
    """``price_per_kwh`` from CityLearn's tariff on the day of ``inputs`` (``--price data``)."""
    from dataclasses import replace

    from gridledger.scenarios.community.inputs import citylearn_day_price

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
