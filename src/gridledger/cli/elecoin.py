"""`gridledger elecoin`: solve the paper's elecoin market and settle it on chain."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from gridledger.cli.common import (
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    Method,
    OutOpt,
    Pricing,
    RpcOpt,
    SeedOpt,
    SetOpt,
    console,
    on_chain,
    user_errors,
    with_reporter,
    write_settlement,
)
from gridledger.config import gather
from gridledger.reporting import dumps, output_dir

app = typer.Typer(no_args_is_help=True, help="The elecoin market of the paper (Stackelberg pricing).")



@app.command("solve")
@user_errors
def elecoin_solve(
    method: Annotated[Method, typer.Option("--method", help="Solution method.")] = Method.analytic,
    pricing: Annotated[Pricing, typer.Option("--pricing", help="One price for all, or one per prosumer.")] =
    Pricing.unified,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Solve the elecoin Stackelberg market (paper eqs. 1-7) with one method."""
    from gridledger.scenarios.elecoin.run import ElecoinConfig, not_converged_message

    cfg = ElecoinConfig.from_mapping(gather(config, set_ or []))
    sol = with_reporter(not json_, lambda reporter: _solve(cfg, method.value, pricing.value, seed, reporter))
    data = sol.to_json()
    warning = not_converged_message(sol)
    if out is not None:
        from gridledger.reporting import provenance

        with output_dir(out) as od:
            od.write_json("results.json", {"experiment": "elecoin-solve", **provenance(seed),
                                           "config": cfg.to_json(), "solution": data})
    if warning is not None:
        typer.echo(warning, err=True)
    if json_:
        typer.echo(dumps(data))
        return
    table = Table(title=f"elecoin market: {method.value}, {pricing.value} pricing")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    price = data["price"]
    table.add_row("price", f"{price:.4f}" if isinstance(price, float) else ", ".join(f"{p:.3f}" for p in price))
    table.add_row("demands", ", ".join(f"{x:.3f}" for x in data["demands"]))
    table.add_row("server utility", f"{data['server_utility']:.3f}")
    table.add_row("total prosumer utility", f"{data['total_prosumer_utility']:.3f}")
    table.add_row("price error vs analytic", f"{100 * data['relative_error']['price']:.3f}%")
    if "converged" in data:
        table.add_row("converged", "yes" if data["converged"] else "[bold red]no[/bold red]")
        table.add_row("price band (last observed)", f"{100 * data['band_width']:.3g}%")
    if "episodes" in data:
        table.add_row("episodes", f"{data['episodes']:,}")
    table.add_row("seconds", f"{data['seconds']:.3f}")
    console.print(table)


def _solve(cfg: Any, method: str, pricing: str, seed: int, reporter: Any) -> Any:
    from gridledger.scenarios.elecoin.run import solve_elecoin

    if method != "dma-ubrl":
        return solve_elecoin(cfg, method, pricing, np.random.default_rng(seed))
    advance = reporter.task("DMA-UBRL episodes", cfg.dma_ubrl.max_episodes)
    done = [0]

    def progress(_stage: int, episodes: int) -> None:
        advance(episodes - done[0])
        done[0] = episodes

    return solve_elecoin(cfg, method, pricing, np.random.default_rng(seed), progress=progress)


def settle_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"elecoin settlement on chain {result['chain']['chain_id']} ({result['chain']['backend']})")
    for col in ("account", "elecoins before", "elecoins after", "kWh before", "kWh after", "native coin change"):
        table.add_column(col, justify="right")
    for b, a in zip(result["accounts_before"], result["accounts_after"], strict=True):
        delta = (a["native_wei"] - b["native_wei"]) / 1e18
        table.add_row(a["name"], f"{b['elecoins']:.4f}", f"{a['elecoins']:.4f}", f"{b['avail_power_kwh']:.3f}",
                      f"{a['avail_power_kwh']:.3f}", f"{delta:+.6f}")
    return table


@app.command("settle")
@user_errors
def elecoin_settle(
    method: Annotated[Method, typer.Option("--method", help="How the market is solved.")] = Method.analytic,
    pricing: Annotated[Pricing, typer.Option("--pricing")] = Pricing.unified,
    rpc_url: RpcOpt = None,
    data_dir: DataDirOpt = None,
    retailers: Annotated[int, typer.Option("--retailers", help="Retailers with a smart meter.")] = 2,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Solve the elecoin market and settle it on chain through the ETSC (paper Algorithm 2)."""
    from gridledger.params import from_mapping
    from gridledger.scenarios.elecoin.chain import SettleConfig, settle_elecoin
    from gridledger.scenarios.elecoin.run import ElecoinConfig

    cfg = ElecoinConfig.from_mapping(gather(config, set_ or []))
    settle = from_mapping(SettleConfig, {"retailers": retailers})
    result = on_chain(rpc_url, data_dir, not json_, lambda chain, home, reporter: settle_elecoin(
        chain, home, cfg, method.value, pricing.value, np.random.default_rng(seed), settle, reporter))
    write_settlement(out, seed, result)
    if json_:
        typer.echo(dumps(result))
    else:
        console.print(settle_table(result))
        console.print(f"{result['transactions']} transactions in {result['seconds']:.2f} s")
