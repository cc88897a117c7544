"""Command-line interface (Typer). Entry points only: parse, call scenarios, print.

User mistakes (a :class:`~gridledger.errors.GridledgerError`) end the command with one line
on stderr and exit code 2; nothing is written.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from gridledger.config import gather
from gridledger.errors import GridledgerError
from gridledger.progress import SILENT, Reporter, rich_progress
from gridledger.reporting import dumps, output_dir

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="gridledger: blockchain-based P2P electricity trading with AI-driven markets.")
elecoin_app = typer.Typer(no_args_is_help=True, help="The elecoin market of the paper (Stackelberg pricing).")
app.add_typer(elecoin_app, name="elecoin")
chain_app = typer.Typer(no_args_is_help=True, help="The ledger: deploy contracts, inspect the chain.")
app.add_typer(chain_app, name="chain")
community_app = typer.Typer(no_args_is_help=True, help="Prosumer community of the thesis (chapter 3).")
app.add_typer(community_app, name="community")
v2v_app = typer.Typer(no_args_is_help=True, help="EV fleet trading vehicle-to-vehicle (thesis chapter 4).")
app.add_typer(v2v_app, name="v2v")
forecast_app = typer.Typer(no_args_is_help=True, help="Stacked-LSTM forecasts of consumption and generation.")
app.add_typer(forecast_app, name="forecast")

F = TypeVar("F", bound=Callable[..., Any])
console = Console()


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
    forecast = "forecast"


SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of every random generator used.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or JSON file overriding defaults.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override one key: --set theta=120 (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Directory for figures and reports.")]
RpcOpt = Annotated[str | None, typer.Option("--rpc-url", help="JSON-RPC URL of a node (default: embedded chain).")]
DataDirOpt = Annotated[Path | None, typer.Option(
    "--data-dir", help="Where the chain and deployment records live (default $GRIDLEDGER_DATA_DIR or ~/.gridledger).")]


def _progress(enabled: bool) -> Any:
    return rich_progress(transient=True) if enabled and sys.stderr.isatty() else None


def _with_reporter(show: bool, run: Any) -> Any:
    """``run(reporter)`` under a Rich progress display when ``show`` and stderr is a terminal."""
    progress = _progress(show)
    if progress is None:
        return run(SILENT)
    with progress:
        return run(Reporter(progress))


def _on_chain(rpc_url: str | None, data_dir: Path | None, show: bool, run: Any) -> Any:
    """``run(chain, data_dir, reporter)`` on the chain of ``rpc_url`` (or the embedded one), closed after."""
    from gridledger.ledger.chain import open_chain

    home = _data_dir(data_dir)
    chain = open_chain(rpc_url, home)
    try:
        return _with_reporter(show, lambda reporter: run(chain, home, reporter))
    finally:
        chain.close()


def _write_settlement(out: Path | None, seed: int, result: dict) -> None:
    if out is not None:
        from gridledger.reporting import provenance

        with output_dir(out) as od:
            od.write_json("settlement.json", {**provenance(seed), **result})


@elecoin_app.command("solve")
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
    from gridledger.scenarios.elecoin import ElecoinConfig, solve_elecoin

    cfg = ElecoinConfig.from_mapping(gather(config, set_ or []))
    sol = solve_elecoin(cfg, method.value, pricing.value, np.random.default_rng(seed))
    data = sol.to_json()
    if out is not None:
        from gridledger.reporting import provenance

        with output_dir(out) as od:
            od.write_json("results.json", {"experiment": "elecoin-solve", **provenance(seed),
                                           "config": cfg.to_json(), "solution": data})
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
    if "episodes" in data:
        table.add_row("episodes", f"{data['episodes']:,}")
    table.add_row("seconds", f"{data['seconds']:.3f}")
    console.print(table)


def _data_dir(data_dir: Path | None) -> Path:
    from gridledger.ledger.chain import default_data_dir

    return data_dir or default_data_dir()


account_app = typer.Typer(no_args_is_help=True, help="Encrypted local keystore accounts.")
chain_app.add_typer(account_app, name="account")
PASSWORD_ENV = "GRIDLEDGER_PASSWORD"


def _password(confirm: bool) -> str:
    import os

    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        return env
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=confirm))


def _keystore(home: Path) -> Any:
    from gridledger.ledger.keystore import Keystore

    return Keystore(home / "keystore")


@account_app.command("new")
@user_errors
def account_new(
    name: Annotated[str, typer.Option("--name", help="A name for the account.")],
    data_dir: DataDirOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create an account encrypted with a password (from $GRIDLEDGER_PASSWORD or a prompt)."""
    entry = _keystore(_data_dir(data_dir)).create(name, _password(confirm=True))
    if json_:
        typer.echo(dumps({"name": entry.name, "address": entry.address, "path": str(entry.path)}))
    else:
        console.print(f"{entry.name}: {entry.address} ({entry.path})")


@account_app.command("list")
@user_errors
def account_list(data_dir: DataDirOpt = None, json_: JsonOpt = False) -> None:
    """Accounts in the keystore (names and addresses; keys stay encrypted)."""
    entries = _keystore(_data_dir(data_dir)).list()
    if json_:
        typer.echo(dumps([{"name": e.name, "address": e.address} for e in entries]))
    else:
        for e in entries:
            console.print(f"{e.name}: {e.address}")


@chain_app.command("deploy")
@user_errors
def chain_deploy(
    rpc_url: RpcOpt = None,
    data_dir: DataDirOpt = None,
    account: Annotated[str | None, typer.Option(
        "--account", help="Keystore account that deploys and administers (default: the node's first dev account).")]
    = None,
    edge_server: Annotated[list[str] | None, typer.Option(
        "--edge-server", help="Edge server address (repeatable; default: dev accounts 1..M).")] = None,
    edge_servers: Annotated[int, typer.Option("--edge-servers", help="Edge servers (dev accounts 1..M).")] = 1,
    total_elecoins: Annotated[float, typer.Option("--total-elecoins", help="Elecoin supply.")] = 1_000_000.0,
    unit_power_price: Annotated[float, typer.Option("--unit-power-price", help="Q, elecoins per kWh.")] = 0.6,
    json_: JsonOpt = False,
) -> None:
    """Deploy Elecoin and the ETSC (idempotent: an existing deployment is returned)."""
    from gridledger.ledger.chain import open_chain
    from gridledger.ledger.deploy import MarketDeployment, deploy_market
    from gridledger.params import from_mapping

    params = from_mapping(MarketDeployment, {"edge_servers": edge_servers, "total_elecoins": total_elecoins,
                                             "unit_power_price": unit_power_price})
    home = _data_dir(data_dir)
    admin = _keystore(home).unlock(account, _password(confirm=False)) if account else None
    chain = open_chain(rpc_url, home)
    try:
        dep, new = deploy_market(chain, home, params, admin=admin, edge_servers=edge_server or None)
    finally:
        chain.close()
    data = {"chain_id": dep.chain_id, "backend": dep.backend, "contracts": dep.contracts,
            "abi_dir": dep.parameters["abi_dir"], "administrator": dep.administrator,
            "edge_servers": dep.edge_servers, "block_number": dep.block_number, "new": new}
    if json_:
        typer.echo(dumps(data))
    else:
        console.print(f"{'deployed' if new else 'already deployed'} on chain {dep.chain_id} ({dep.backend}): "
                      + ", ".join(f"{k} {v}" for k, v in dep.contracts.items()))


@chain_app.command("status")
@user_errors
def chain_status(rpc_url: RpcOpt = None, data_dir: DataDirOpt = None, json_: JsonOpt = False) -> None:
    """Backend, chain id, block number and the recorded contract addresses."""
    from gridledger.ledger.chain import open_chain
    from gridledger.ledger.deploy import load_deployment

    home = _data_dir(data_dir)
    chain = open_chain(rpc_url, home)
    try:
        dep = load_deployment(chain, home)
        data = {"backend": chain.backend, "chain_id": chain.chain_id, "block_number": chain.block_number(),
                "contracts": dep.contracts if dep else None,
                "data_dir": str(home), "rpc_url": rpc_url}
    finally:
        chain.close()
    if json_:
        typer.echo(dumps(data))
    else:
        console.print(f"{data['backend']} chain {data['chain_id']}, block {data['block_number']}; contracts: "
                      + (", ".join(f"{k} {v}" for k, v in dep.contracts.items()) if dep else "none deployed"))


def _settle_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"elecoin settlement on chain {result['chain']['chain_id']} ({result['chain']['backend']})")
    for col in ("account", "elecoins before", "elecoins after", "kWh before", "kWh after", "native coin change"):
        table.add_column(col, justify="right")
    for b, a in zip(result["accounts_before"], result["accounts_after"], strict=True):
        delta = (a["native_wei"] - b["native_wei"]) / 1e18
        table.add_row(a["name"], f"{b['elecoins']:.4f}", f"{a['elecoins']:.4f}", f"{b['avail_power_kwh']:.3f}",
                      f"{a['avail_power_kwh']:.3f}", f"{delta:+.6f}")
    return table


@elecoin_app.command("settle")
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
    from gridledger.scenarios.elecoin import ElecoinConfig
    from gridledger.scenarios.elecoin_settle import SettleConfig, settle_elecoin

    cfg = ElecoinConfig.from_mapping(gather(config, set_ or []))
    settle = from_mapping(SettleConfig, {"retailers": retailers})
    result = _on_chain(rpc_url, data_dir, not json_, lambda chain, home, reporter: settle_elecoin(
        chain, home, cfg, method.value, pricing.value, np.random.default_rng(seed), settle, reporter))
    _write_settlement(out, seed, result)
    if json_:
        typer.echo(dumps(result))
    else:
        console.print(_settle_table(result))
        console.print(f"{result['transactions']} transactions in {result['seconds']:.2f} s")


@community_app.command("run")
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
    from gridledger.scenarios.community import CommunityConfig, run_community_day, synthetic_input
    from gridledger.scenarios.community_reports import ausgrid_input, day_report, ledger_lines

    mapping = merge({"prosumers": prosumers, "distribution": distribution.value,
                     "loss": {"model": loss_model.value}}, gather(config, set_ or []))
    cfg = from_mapping(CommunityConfig, mapping)
    ledger: dict | None = None
    if chain:
        from gridledger.ledger.deploy import StakingDeployment

        staking_params = from_mapping(StakingDeployment, {"slash_bps": slash_bps})
    rng = np.random.default_rng(seed)
    inputs = ausgrid_input(cfg, rng, data, day) if profiles is Profiles.ausgrid else synthetic_input(cfg, rng)
    if chain:
        from gridledger.scenarios.community_chain import record_community_day

        result, ledger = _on_chain(rpc_url, data_dir, not json_, lambda node, home, reporter: record_community_day(
            node, home, cfg, inputs, rng, staking_params, reporter))
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


@community_app.command("optimize")
@user_errors
def community_optimize(
    input_: Annotated[Path, typer.Option("--input", help="JSON file: loss_per_km, edc, prosumers.")],
    json_: JsonOpt = False,
) -> None:
    """One coalition's loss-minimising dispatch LP (thesis eqs. 3.11-3.15)."""
    from gridledger.config import load_config_file
    from gridledger.scenarios.community_optimize import optimize_coalition

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


@v2v_app.command("train")
@user_errors
def v2v_train(
    evs: Annotated[int, typer.Option("--evs", help="Number of EVs (local learners).")] = 10,
    rounds: Annotated[int, typer.Option("--rounds", help="Federated rounds.")] = 300,
    algo: Annotated[Algo, typer.Option("--algo", help="ppo (ours, batched) or SB3's sac, a2c, ddpg.")] = Algo.ppo,
    no_federation: Annotated[bool, typer.Option(
        "--no-federation", help="One central agent on all EVs' days (baseline1 with ddpg).")] = False,
    no_delta: Annotated[bool, typer.Option("--no-delta", help="No price factor delta (baseline2).")] = False,
    data: Annotated[V2VData, typer.Option("--data", help="Normal (nd) or uniform (ud) draws.")] = V2VData.nd,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Train a fleet (Algorithm 4): local learners, FedAvg, mLAG by PoSOC, mining rewards."""
    from gridledger.config import merge
    from gridledger.scenarios.v2v import (
        convergence_point,
        records_json,
        save_fleet,
        train,
        train_config,
    )

    mapping = merge({"algo": algo.value, "env": {"data": data.value, "use_delta": not no_delta},
                     "federation": {"evs": evs, "rounds": rounds, "federated": not no_federation}},
                    gather(config, set_ or []))
    cfg = train_config(mapping)
    progress = _progress(not json_)
    if progress is not None:
        with progress:
            adv = Reporter(progress).task(f"training {cfg.algo} fleet", cfg.federation.rounds)
            fleet = train(cfg, seed, lambda r: adv(1))
    else:
        fleet = train(cfg, seed)
    recs = fleet.records
    result = {"algo": cfg.algo, "evs": cfg.federation.evs, "federated": cfg.federation.federated,
              "use_delta": cfg.env.use_delta, "data": cfg.env.data, "rounds": len(recs),
              "learning_curve": [{"round": r.round, "episodes": r.episodes, "env_steps": r.env_steps,
                                  "mean_return": r.mean_return} for r in recs],
              "rounds_record": [{"round": r.round, "mlag": r.mlag, "scores": r.scores,
                                 "mining_reward": r.mining_reward, "model_hash": r.model_hash} for r in recs],
              "final_returns": recs[-1].ev_returns, "convergence": convergence_point(recs),
              "seconds": fleet.seconds, "env_steps": recs[-1].env_steps, "episodes": recs[-1].episodes}
    if out is not None:
        from gridledger.reporting import provenance

        with output_dir(out) as od:
            save_fleet(fleet, cfg, od.file("model/model.json").parent)
            od.write_json("results.json", {**provenance(seed), **result, "records": records_json(recs)})
    if json_:
        typer.echo(dumps(result))
    else:
        console.print(f"{cfg.algo} fleet of {cfg.federation.evs} EVs: final mean return {recs[-1].mean_return:.2f}, "
                      f"{result['env_steps']:,} steps, {result['episodes']:,} EV-days in {fleet.seconds:.1f} s"
                      + (f"; model saved in {out / 'model'}" if out is not None else ""))


@v2v_app.command("evaluate")
@user_errors
def v2v_evaluate(
    model: Annotated[Path, typer.Option("--model", help="Directory written by `v2v train --out`.")],
    evs: Annotated[int, typer.Option("--evs", help="EVs to simulate.")] = 10,
    days: Annotated[int, typer.Option("--days", help="Held-out days per EV.")] = 1,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """A trained fleet on held-out days: actions, SOC, profit vs grid, proof scores, miner, payoffs."""
    from gridledger.scenarios.v2v import evaluate_fleet, load_fleet

    model_dir = model / "model" if (model / "model" / "model.json").exists() else model
    fleet, cfg = load_fleet(model_dir)
    result = evaluate_fleet(fleet, cfg.env, evs, seed, days=days, beta=cfg.federation.beta)
    if json_:
        typer.echo(dumps(result))
        return
    table = Table(title=f"held-out evaluation ({evs} EVs, {days} day(s)); miner: EV {result['miner']}")
    for col in ("EV", "return", "profit vs grid", "proof score", "payoff"):
        table.add_column(col, justify="right")
    for e in result["evs"]:
        table.add_row(str(e["ev"]) + (" *" if e["miner"] else ""), f"{e['return']:.2f}",
                      f"{e['profit_vs_grid']:.2f}", f"{e['proof_score']:.2f}", f"{e['payoff']:.2f}")
    console.print(table)
    m = result["mean_return"]
    console.print(f"mean return: trained {m['trained']:.2f}, grid-only {m['grid_only']:.2f}, random {m['random']:.2f}")


@v2v_app.command("settle")
@user_errors
def v2v_settle(
    model: Annotated[Path, typer.Option("--model", help="Directory written by `v2v train --out`.")],
    evs: Annotated[int, typer.Option("--evs", help="EVs to simulate.")] = 10,
    days: Annotated[int, typer.Option("--days", help="Held-out days, one on-chain round each.")] = 3,
    selfish: Annotated[list[int] | None, typer.Option(
        "--selfish", help="An EV that never pays its fee (repeat the option for several).")] = None,
    beta_bps: Annotated[int, typer.Option("--beta-bps", help="beta of eq. (4.20), basis points.")] = 500,
    rpc_url: RpcOpt = None,
    data_dir: DataDirOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Settle a trained fleet's held-out days on chain: PoSOC staking, mLAG election, fees (Fig. 4.5)."""
    from gridledger.params import from_mapping
    from gridledger.scenarios.v2v import load_fleet
    from gridledger.scenarios.v2v_chain import FleetSettleConfig, settle_fleet

    settle = from_mapping(FleetSettleConfig, {"evs": evs, "days": days, "selfish": tuple(selfish or ()),
                                              "beta_bps": beta_bps})
    model_dir = model / "model" if (model / "model" / "model.json").exists() else model
    fleet, cfg = load_fleet(model_dir)
    result = _on_chain(rpc_url, data_dir, not json_, lambda chain, home, reporter: settle_fleet(
        chain, home, fleet, cfg.env, seed, settle, reporter))
    _write_settlement(out, seed, result)
    if json_:
        typer.echo(dumps(result))
        return
    console.print(_fleet_table(result))


def _fleet_table(result: dict) -> Table:
    wei = result["wei_per_money"]
    table = Table(title=f"fleet settlement on chain {result['chain']['chain_id']} ({result['chain']['backend']}), "
                  f"beta {result['beta_bps'] / 100:.2f}%; miners by round: "
                  + ", ".join(f"EV {r.get('miner_ev')}" for r in result["rounds"]))
    for col in ("EV", "profit", "fee owed", "paid", "withdrawn", "held (confiscated)", "fees received"):
        table.add_column(col, justify="right")
    for e in result["evs"]:
        table.add_row(f"{e['ev']}{' (selfish)' if e['selfish'] else ''}", f"{e['profit_wei'] / wei:.3f}",
                      f"{e['fee_owed_wei'] / wei:.3f}", f"{e.get('fee_paid_wei', 0) / wei:.3f}",
                      f"{e.get('withdrawn_wei', 0) / wei:.3f}", f"{e['held_wei'] / wei:.3f}",
                      f"{e['fees_received_wei'] / wei:.3f}")
    return table


@forecast_app.command("train")
@user_errors
def forecast_train(
    data: Annotated[Path | None, typer.Option("--data", help="Ausgrid-format CSV file or directory.")] = None,
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
    from gridledger.scenarios.forecast import load_data, train

    if (data is None) == (not synthetic):
        raise ConfigError("--data/--synthetic", "give exactly one of --data FILE_OR_DIR and --synthetic")
    mapping = gather(config, set_ or [])
    if epochs is not None:
        mapping = merge(mapping, {"epochs": epochs})
    cfg = from_mapping(ForecastConfig, mapping)
    if customers is not None:
        check_int("customers", customers, ge=1)
    check_int("days", days, ge=cfg.lookback_days + 3, le=100_000)
    dataset = load_data(data, customers or 30, days, seed)
    progress = _progress(not json_)
    if progress is not None:
        with progress:
            model, series = train(dataset, cfg, seed, customers, Reporter(progress))
    else:
        model, series = train(dataset, cfg, seed, customers)
    result = {"metrics": model.metrics, "epochs_run": len(model.history), "seconds": model.seconds,
              "customers": len(series.customers), "days": series.n_days, "synthetic_data": series.synthetic,
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
    table = Table(title=f"forecast test-period MAE (kWh per half hour){tag}")
    for col in ("model", "consumption", "generation"):
        table.add_column(col, justify="right")
    for name in ("lstm", "naive_yesterday", "naive_last_week", "linear"):
        if name in model.metrics:
            e = model.metrics[name]
            table.add_row(name, f"{e['consumption']['mae_kwh']:.4f}", f"{e['generation']['mae_kwh']:.4f}")
    console.print(table)


@forecast_app.command("predict")
@user_errors
def forecast_predict(
    model: Annotated[Path, typer.Option("--model", help="Directory written by `forecast train --out`.")],
    data: Annotated[Path | None, typer.Option("--data", help="Ausgrid-format history (default: synthetic).")] = None,
    days: Annotated[int, typer.Option("--days", help="Days to forecast after the history.")] = 7,
    history_days: Annotated[int, typer.Option("--history-days", help="(synthetic) days of history.")] = 365,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """Forecast the days after the data's last day for every customer the model knows."""
    from gridledger.forecast.dataset import from_ausgrid
    from gridledger.forecast.model import load
    from gridledger.params import check_int
    from gridledger.scenarios.forecast import forecast_days, load_data, prediction_json

    check_int("days", days, ge=1, le=365)
    model_dir = model / "model" if (model / "model" / "forecaster.json").exists() else model
    fm = load(model_dir)
    dataset = load_data(data, len(fm.customers), history_days, seed)
    series = from_ausgrid(dataset)
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


@app.command("serve")
@user_errors
def serve(
    rpc_url: RpcOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    env: Annotated[str, typer.Option("--env", help="dev (placeholder secrets allowed) or prod.")] = "dev",
) -> None:
    """Serve the prosumer portal, the explorer and the dashboards (embedded chain by default)."""
    import uvicorn
    from pydantic import ValidationError

    from gridledger.errors import ConfigError
    from gridledger.params import check_choice, check_int
    from gridledger.web.app import create_app
    from gridledger.web.settings import Settings

    check_int("port", port, ge=1, le=65535)
    check_choice("env", env, ("dev", "prod"))
    try:
        settings = Settings(env=env, data_dir=_data_dir(data_dir), rpc_url=rpc_url)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(".".join(str(p) for p in first["loc"]) or "settings", first["msg"]) from None
    application = create_app(settings)
    console.print(f"gridledger web app on http://{host}:{port}/ ({application.state.gl.chain.backend} chain)")
    uvicorn.run(application, host=host, port=port, log_level="warning")


@app.command("reproduce")
@user_errors
def reproduce(
    name: Annotated[Experiment, typer.Argument(help="Figure or table to regenerate.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for results.json, figures and report.md.")] =
    Path("out/reproduce"),
    smoke: Annotated[bool, typer.Option("--smoke", help="Small, fast version (used by the tests).")] = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """Regenerate a figure of the sources next to the published statements."""
    mapping = gather(config, set_ or [])
    if name.value.startswith("paper-"):
        from gridledger.scenarios.elecoin import ElecoinConfig
        from gridledger.scenarios.elecoin_reports import reproduce_paper_fig3, reproduce_paper_fig4

        cfg: Any = ElecoinConfig.from_mapping(mapping)
        runner: Any = {Experiment.paper_fig3: reproduce_paper_fig3, Experiment.paper_fig4: reproduce_paper_fig4}[name]
    elif name.value == "thesis-fig3.4":
        from gridledger.forecast.model import ForecastConfig
        from gridledger.params import from_mapping
        from gridledger.scenarios.forecast import reproduce_fig34

        cfg = from_mapping(ForecastConfig, mapping)
        runner = reproduce_fig34
    elif name.value.startswith("thesis-fig4"):
        from gridledger.scenarios.v2v import train_config
        from gridledger.scenarios.v2v_reports import reproduce_fig46_49, reproduce_fig410, reproduce_fig411_412

        cfg = train_config(mapping)
        runner = {"thesis-fig4.10": reproduce_fig410, "thesis-fig4.11": reproduce_fig411_412,
                  "thesis-fig4.12": reproduce_fig411_412}.get(name.value, reproduce_fig46_49)
    else:
        from gridledger.params import from_mapping
        from gridledger.scenarios.community import CommunityConfig
        from gridledger.scenarios.community_reports import reproduce_fig39, reproduce_fig311, reproduce_table32

        cfg = from_mapping(CommunityConfig, mapping)
        runner = {Experiment.thesis_table3_2: reproduce_table32, Experiment.thesis_fig3_5: reproduce_table32,
                  Experiment.thesis_fig3_9: reproduce_fig39, Experiment.thesis_fig3_11: reproduce_fig311}[name]
    progress = _progress(not json_)
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


@app.command("demo")
@user_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for the demo's reports.")] = Path("out/demo"),
    seed: SeedOpt = 0,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """The main job on embedded defaults: every market, with reports and figures."""
    from gridledger.scenarios.elecoin import ElecoinConfig
    from gridledger.scenarios.elecoin_reports import elecoin_demo

    cfg = ElecoinConfig.from_mapping(gather(config, set_ or []))
    progress = _progress(True)
    with output_dir(out / "elecoin") as od:
        if progress is not None:
            with progress:
                elecoin_demo(cfg, seed, od, Reporter(progress))
        else:
            elecoin_demo(cfg, seed, od)
    console.print(f"elecoin market: report written to [bold]{out / 'elecoin' / 'report.md'}[/bold]")

    from gridledger.scenarios.v2v import train_config
    from gridledger.scenarios.v2v_reports import reproduce_fig46_49

    vprogress = _progress(True)
    with output_dir(out / "v2v") as od:
        if vprogress is not None:
            with vprogress:
                reproduce_fig46_49(train_config({}), seed, False, od, Reporter(vprogress))
        else:
            reproduce_fig46_49(train_config({}), seed, False, od)
    console.print(f"EV fleet (federated PPO, 10 EVs): report written to [bold]{out / 'v2v' / 'report.md'}[/bold]")

    from gridledger.ledger.chain import EmbeddedChain
    from gridledger.scenarios.community import CommunityConfig
    from gridledger.scenarios.community_chain import record_community_day
    from gridledger.scenarios.community_reports import THESIS_TABLE_32, ausgrid_input, day_report, ledger_lines
    from gridledger.scenarios.elecoin_settle import settle_elecoin
    from gridledger.scenarios.v2v import load_fleet
    from gridledger.scenarios.v2v_chain import FleetSettleConfig, settle_fleet

    ccfg = CommunityConfig()

    chain = EmbeddedChain(out / "chain" / "chain")
    try:
        result = settle_elecoin(chain, out / "chain", cfg, "analytic", "unified", np.random.default_rng(seed))
        crng = np.random.default_rng(seed)
        cday, ledger = record_community_day(chain, out / "chain", ccfg, ausgrid_input(ccfg, crng), crng)
        fleet, fcfg = load_fleet(out / "v2v" / "model")
        fleet_result = settle_fleet(chain, out / "chain", fleet, fcfg.env, seed + 1, FleetSettleConfig(selfish=(3,)))
    finally:
        chain.close()
    with output_dir(out / "elecoin") as od:
        od.write_json("settlement.json", result)
    console.print(_settle_table(result))
    console.print(f"settlement on the embedded chain ({out / 'chain'}): [bold]{out / 'elecoin' / 'settlement.json'}"
                  "[/bold]")
    with output_dir(out / "community") as od:
        day_report(cday, od, seed, "Community day: 10 prosumers (synthetic Ausgrid-format sample)",
                   [*THESIS_TABLE_32, "", *ledger_lines(ledger)])
        od.write_json("ledger.json", ledger)
    console.print(f"community day: report written to [bold]{out / 'community' / 'report.md'}[/bold]; on chain: "
                  f"round {ledger['round']}, miner {ledger['miner']}, reward {ledger['reward_upos']:.6f} UPOS")
    with output_dir(out / "v2v") as od:
        od.write_json("settlement.json", fleet_result)
    console.print(_fleet_table(fleet_result))
    serve_cmd = f".venv/bin/gridledger serve --data-dir {out / 'chain'}"
    console.print(f"portal, explorer and dashboards on this chain: run [bold]{serve_cmd}[/bold] (admin password: "
                  "dev-admin-password), then open:")
    typer.echo("http://127.0.0.1:8000/")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
