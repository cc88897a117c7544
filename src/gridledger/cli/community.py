"""`gridledger community`: the prosumer community of the thesis (chapter 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
)
from gridledger.config import gather
from gridledger.reporting import dumps, output_dir

app = typer.Typer(no_args_is_help=True, help="Prosumer community of the thesis (chapter 3).")



@app.command("run")
@user_errors
def community_run(
    prosumers: Annotated[int, typer.Option("--prosumers", help="Number of prosumers.")] = 10,
    distribution: Annotated[Distribution, typer.Option("--distribution", help="Synthetic profiles.")] =
    Distribution.nde,
    loss_model: Annotated[LossModel, typer.Option("--loss-model", help="Loss model.")] = LossModel.distance,
    profiles: Annotated[Profiles, typer.Option(
        "--profiles", help="synthetic draws, or daily totals from an Ausgrid-format file.")] = Profiles.synthetic,
    data: Annotated[Path | None, typer.Option(
        "--data", help="Ausgrid-format CSV (default: the shipped synthetic sample).")] = None,
    day: Annotated[int | None, typer.Option("--day", help="Day index in the data (default: most sellers).")] = None,
    forecast_model: Annotated[Path | None, typer.Option(
        "--forecast-model", help="(--profiles forecast) a trained forecaster; default: train one.")] = None,
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
    """One community day: PoEG scores, merge-and-split coalitions, miner election, Shapley rewards."""
    from gridledger.config import merge
    from gridledger.params import from_mapping
    from gridledger.scenarios.community.reports import ausgrid_input, day_report, ledger_lines
    from gridledger.scenarios.community.run import CommunityConfig, run_community_day, synthetic_input

    mapping = merge({"prosumers": prosumers, "distribution": distribution.value,
                     "loss": {"model": loss_model.value}}, gather(config, set_ or []))
    cfg = from_mapping(CommunityConfig, mapping)
    ledger: dict | None = None
    if chain:
        from gridledger.scenarios.community.chain import delta_bps

        delta_bps(cfg.delta)  # the contract holds delta in basis points: refuse anything else up front
    rng = np.random.default_rng(seed)
    inputs = ausgrid_input(cfg, rng, data, day) if profiles is Profiles.ausgrid else synthetic_input(cfg, rng)
    if chain:
        from gridledger.scenarios.community.chain import record_community_day

        result, ledger = on_chain(rpc_url, data_dir, not json_, lambda node, home, reporter: record_community_day(
            node, home, cfg, inputs, rng, None, reporter))
    else:
        result = run_community_day(cfg, inputs, rng)
    if out is not None:
        with output_dir(out) as od:
            day_report(result, od, seed, f"Community day: {cfg.prosumers} prosumers",
                       ledger_lines(ledger) if ledger else None)
            if ledger:
                od.write_json("ledger.json", ledger)
    data_json = result.to_json()
    if ledger:
        data_json["ledger"] = ledger
    if json_:
        typer.echo(dumps(data_json))
        return
    table = Table(title=f"community of {cfg.prosumers} prosumers ({cfg.loss.model} losses)")
    table.add_column("quantity")
    table.add_column("value", justify="right")
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
