"""`gridledger v2v`: the EV fleet trading vehicle-to-vehicle (thesis chapter 4)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridledger.cli.common import (
    ConfigOpt,
    DataDirOpt,
    JsonOpt,
    OutOpt,
    RpcOpt,
    SeedOpt,
    SetOpt,
    V2VData,
    console,
    on_chain,
    progress_display,
    user_errors,
    write_settlement,
)
from gridledger.config import gather
from gridledger.progress import Reporter
from gridledger.reporting import dumps, output_dir

app = typer.Typer(no_args_is_help=True, help="EV fleet trading vehicle-to-vehicle (thesis chapter 4).")

FLEET_PRESETS: dict[str, dict[str, object]] = {
    "real": {"price_source": "day-ahead"},
    "citylearn": {"price_source": "citylearn", "day_start_h": 12},
}
"""``--fleet NAME``: the env settings that come with a fleet source (a config file or --set wins)."""



class V2VAlgo(StrEnum):
    ppo = "ppo"
    a2c = "a2c"
    td3 = "td3"
    ddpg = "ddpg"
    sac = "sac"


class V2VMode(StrEnum):
    fedavg = "fedavg"
    fedprox = "fedprox"
    fedavg_ft = "fedavg-ft"
    independent = "independent"
    central = "central"


class V2VBackend(StrEnum):
    batched = "batched"
    flower = "flower"


class V2VReward(StrEnum):
    delta = "delta"
    money = "money"


class V2VMarket(StrEnum):
    site = "site"
    grid = "grid"
    pool = "pool"


@app.command("train")
@user_errors
def v2v_train(
    evs: Annotated[int, typer.Option("--evs", help="Number of EVs (local learners).")] = 10,
    sites: Annotated[int, typer.Option("--sites", help="Sites the EVs park at (trading happens within a site).")] = 1,
    rounds: Annotated[int, typer.Option("--rounds", help="Federated rounds.")] = 300,
    algo: Annotated[V2VAlgo, typer.Option("--algo", help="Local learner (all batched over EVs).")] = V2VAlgo.ppo,
    mode: Annotated[V2VMode, typer.Option("--mode", help="How the learners are combined.")] = V2VMode.fedavg,
    reward: Annotated[V2VReward, typer.Option(
        "--reward", help="delta: the thesis's eq. (4.14); money: cash + energy value - shortfall cost.")] =
    V2VReward.delta,
    market: Annotated[V2VMarket, typer.Option(
        "--market", help="site: EVs trade with each other; grid: no V2V (baseline1); pool: eq. (4.14) as printed.")] =
    V2VMarket.site,
    no_delta: Annotated[bool, typer.Option("--no-delta", help="No price factor delta (baseline2).")] = False,
    mining_reward: Annotated[bool, typer.Option(
        "--mining-reward", help="Fees and the mLAG's mining reward (eq. 4.20) enter the training reward.")] = False,
    fleet: Annotated[str, typer.Option(
        "--fleet", help="The EVs' identities and prices: thesis (Table 4.1 / 4.4.1 draws, generated), iid (the same "
        "without identities), real (V2G-capable EV models by Dutch registrations, ElaadNL habits, Dutch day-ahead "
        "prices) or citylearn (CityLearn 2022's EV schedules and tariff, days from noon).")] = "thesis",
    fleet_data: Annotated[Path | None, typer.Option(
        "--fleet-data", help="(--fleet real/citylearn) dataset directory; default $GRIDLEDGER_DATA or the shipped "
        "subset.")] = None,
    data: Annotated[V2VData, typer.Option("--data", help="Normal (nd) or uniform (ud) draws.")] = V2VData.nd,
    backend: Annotated[V2VBackend, typer.Option(
        "--backend", help="batched: one process, EVs as slices of a tensor; flower: Flower's simulation engine.")] =
    V2VBackend.batched,
    nodes: Annotated[int, typer.Option("--nodes", help="flower: virtual SuperNodes (0: one per EV).")] = 0,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Train a fleet (Algorithm 4): local learners at the site market, PoSOC mLAG, FedAvg, mining rewards."""
    from gridledger.config import merge
    from gridledger.scenarios.fleet.run import train, train_config

    env = {"data": data.value, "use_delta": not no_delta, "reward": reward.value, "market": market.value,
           **FLEET_PRESETS.get(fleet, {})}
    if fleet_data is not None:
        env["real"] = {"data_dir": str(fleet_data)}
    mapping = merge({"algo": algo.value, "env": env,
                     "federation": {"evs": evs, "sites": sites, "rounds": rounds, "mode": mode.value,
                                    "mining_reward": mining_reward, "fleet": fleet}},
                    gather(config, set_ or []))
    cfg = train_config(mapping)
    if backend == V2VBackend.flower:
        from gridledger.learn.fleet.distributed import check_flower_config, flower_model
        from gridledger.scenarios.fleet.federate import require_flower

        check_flower_config(cfg)
        check_nodes(nodes, cfg.federation.evs)
        require_flower()
        from gridledger.learn.fleet.flower import simulate

        g, recs, refusals, secs = simulate(cfg, seed, nodes or cfg.federation.evs)
        model = flower_model(cfg, seed, g, recs, secs)
        _train_output(cfg, model, seed, json_, out, "flower-simulation", refusals)
        return
    progress = progress_display(not json_)
    if progress is not None:
        with progress:
            adv = Reporter(progress).task(f"training {cfg.algo} fleet", cfg.federation.rounds)
            model = train(cfg, seed, lambda r: adv(1))
    else:
        model = train(cfg, seed)
    _train_output(cfg, model, seed, json_, out, "batched", [])


def check_nodes(nodes: int, evs: int) -> None:
    from gridledger.params import check_int

    check_int("nodes", nodes, ge=0, le=evs)


def _train_output(cfg, model, seed: int, json_: bool, out: Path | None, backend: str,
                  refusals: list) -> None:
    from gridledger.scenarios.fleet.run import convergence_point, records_json, save_fleet

    recs = model.records
    if not recs:
        from gridledger.errors import GridledgerError

        raise GridledgerError("no round was recorded (every update was refused)")
    last = recs[-1]
    result = {"algo": cfg.algo, "mode": cfg.federation.mode, "evs": cfg.federation.evs,
              "sites": cfg.federation.sites, "reward": cfg.env.reward, "market": cfg.env.market,
              "use_delta": cfg.env.use_delta, "data": cfg.env.data, "rounds": len(recs), "backend": backend,
              "fleet_source": fleet_source(model),
              "fleet": [e.to_mapping() for e in model.fleet],
              "learning_curve": [{"round": r.round, "episodes": r.episodes, "env_steps": r.env_steps,
                                  "mean_return": r.mean_return, "mean_money": r.mean_money} for r in recs],
              "rounds_record": [{"round": r.round, "mlag": r.mlag, "rejected": r.rejected, "scores": r.scores,
                                 "fees": r.fees, "mining_reward": r.mining_reward, "model_hash": r.model_hash,
                                 "v2v_kwh": r.v2v_kwh, "grid_import_kwh": r.grid_import_kwh,
                                 "grid_export_kwh": r.grid_export_kwh, "dropped": r.dropped} for r in recs],
              "refusals": refusals,
              "final_returns": last.ev_returns, "convergence": convergence_point(recs),
              "model_hash": model.model_hash(), "seconds": model.seconds, "env_steps": last.env_steps,
              "episodes": last.episodes, "optimizer_steps": last.optimizer_steps,
              "sample_gradients": last.sample_gradients}
    if out is not None:
        from gridledger.reporting import provenance

        with output_dir(out) as od:
            save_fleet(model, cfg, od.file("model/model.json").parent)
            od.write_json("results.json", {**provenance(seed), **result, "records": records_json(recs)})
    if json_:
        typer.echo(dumps(result))
    else:
        console.print(f"{cfg.algo} fleet of {cfg.federation.evs} EVs ({cfg.federation.mode}, {backend}): final mean "
                      f"return {last.mean_return:.2f}, money {last.mean_money:.2f} per EV-day, "
                      f"{result['env_steps']:,} EV-steps, {result['episodes']:,} EV-days in {model.seconds:.1f} s"
                      + (f"; {len(refusals)} update(s) refused" if refusals else "")
                      + (f"; model saved in {out / 'model'}" if out is not None else ""))


@app.command("federate")
@user_errors
def v2v_federate(
    evs: Annotated[int, typer.Option("--evs", help="Number of EVs.")] = 10,
    nodes: Annotated[int, typer.Option("--nodes", help="SuperNodes (each hosts a group of EVs); 0: one per EV.")]
    = 0,
    sites: Annotated[int, typer.Option("--sites", help="Sites the EVs park at.")] = 1,
    rounds: Annotated[int, typer.Option("--rounds", help="Federated rounds.")] = 300,
    algo: Annotated[V2VAlgo, typer.Option("--algo", help="Local learner (ppo or a2c).")] = V2VAlgo.ppo,
    mode: Annotated[V2VMode, typer.Option("--mode", help="fedavg or fedprox.")] = V2VMode.fedavg,
    reward: Annotated[V2VReward, typer.Option("--reward", help="delta or money.")] = V2VReward.delta,
    market: Annotated[V2VMarket, typer.Option("--market", help="site, grid or pool.")] = V2VMarket.site,
    fleet: Annotated[str, typer.Option(
        "--fleet", help="The EVs' identities and prices: thesis, iid, real or citylearn.")] = "thesis",
    fleet_data: Annotated[Path | None, typer.Option(
        "--fleet-data", help="(--fleet real/citylearn) dataset directory; default $GRIDLEDGER_DATA or the shipped "
        "subset.")] = None,
    data: Annotated[V2VData, typer.Option("--data", help="Normal (nd) or uniform (ud) draws.")] = V2VData.nd,
    round_timeout: Annotated[float, typer.Option(
        "--round-timeout", help="Seconds the aggregator waits for a round's updates.")] = 600.0,
    write_app: Annotated[Path | None, typer.Option(
        "--write-app", help="Only write the Flower app (for flwr run against a SuperLink elsewhere) to DIR.")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Train a fleet over separate processes: a Flower SuperLink and SuperNodes on 127.0.0.1 (docs/v2v.md)."""
    from gridledger.config import merge
    from gridledger.learn.fleet.distributed import check_flower_config, flower_model, records_from_json
    from gridledger.scenarios.fleet.federate import LocalFederation, require_flower
    from gridledger.scenarios.fleet.run import train_config

    env = {"data": data.value, "reward": reward.value, "market": market.value, **FLEET_PRESETS.get(fleet, {})}
    if fleet_data is not None:
        env["real"] = {"data_dir": str(fleet_data)}
    mapping = merge({"algo": algo.value, "env": env,
                     "federation": {"evs": evs, "sites": sites, "rounds": rounds, "mode": mode.value,
                                    "fleet": fleet}},
                    gather(config, set_ or []))
    cfg = train_config(mapping)
    check_flower_config(cfg)
    check_nodes(nodes, cfg.federation.evs)
    from gridledger.params import check_number

    check_number("round_timeout", round_timeout, gt=0)
    require_flower()
    n_nodes = nodes or cfg.federation.evs
    if write_app is not None:
        from gridledger.scenarios.fleet.federate import write_app as write

        write(write_app, cfg, seed, "", round_timeout, 0)
        typer.echo(f"Flower app written to {write_app}", err=True)
        if json_:
            typer.echo(dumps({"app": str(write_app)}))
        return
    with LocalFederation(n_nodes) as fed:
        if not json_:
            console.print(f"SuperLink on 127.0.0.1:{fed.ports['superlink']}, {n_nodes} SuperNodes; logs in {fed.dir}")
        res = fed.run(cfg, seed, round_timeout)
    import numpy as np

    recs = records_from_json(res["records"])
    model = flower_model(cfg, seed, {k: np.asarray(v) for k, v in res["global"].items()}, recs, res["seconds"])
    _train_output(cfg, model, seed, json_, out, "flower-processes", res["refusals"])


@app.command("evaluate")
@user_errors
def v2v_evaluate(
    model: Annotated[Path, typer.Option("--model", help="Directory written by `v2v train --out`.")],
    days: Annotated[int, typer.Option("--days", help="Held-out days.")] = 1,
    oracle: Annotated[bool, typer.Option("--oracle/--no-oracle", help="Also score the perfect-foresight optimum.")]
    = True,
    hourly: Annotated[bool, typer.Option("--hourly", help="Per EV energy and SOC by hour.")] = False,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """A trained fleet on held-out days: per day and hour V2V, grid import and export; per EV cash,
    money, departure SOC, delta-weighted return; the round the chain records; rule and optimum beside."""
    from gridledger.scenarios.fleet.run import evaluate_fleet, load_fleet

    model_dir = model / "model" if (model / "model" / "model.json").exists() else model
    fleet, _cfg = load_fleet(model_dir)
    result = evaluate_fleet(fleet, days=days, seed=seed, oracle=oracle, hourly_ev=hourly)
    if json_:
        typer.echo(dumps(result))
        return
    summ = result["summary"]
    table = Table(title=f"held-out evaluation: {len(result['fleet'])} EVs, {days} day(s), per EV-day")
    for col in ("policy", "net money", "cash", "energy value", "shortfall cost", "violations", "delta return",
                "V2V kWh/day"):
        table.add_column(col, justify="right")
    for name, s in summ.items():
        table.add_row(name, f"{s['net']:.2f}", f"{s['cash']:.2f}", f"{s['energy_value']:.2f}",
                      f"{s['shortfall_cost']:.2f}", f"{100 * s['violation_rate']:.0f}%", f"{s['delta_return']:.2f}",
                      f"{s['v2v_kwh_per_day']:.1f}")
    console.print(table)
    r0 = result["days"][0]["round"]
    console.print(f"day 0: mLAG {r0['mlag_ev']}, {len(r0['trades'])} V2V trades, mining reward "
                  f"{r0['mining_reward']:.3f}")


@app.command("settle")
@user_errors
def v2v_settle(
    model: Annotated[Path, typer.Option("--model", help="Directory written by `v2v train --out`.")],
    evs: Annotated[int, typer.Option("--evs", help="EVs to simulate.")] = 10,
    days: Annotated[int, typer.Option("--days", help="Held-out days, one on-chain round each.")] = 3,
    selfish: Annotated[list[int] | None, typer.Option(
        "--selfish", help="An EV that would never pay its fee and never acts on chain; its fee is deducted at "
        "settlement all the same (repeat the option for several).")] = None,
    beta_bps: Annotated[int, typer.Option("--beta-bps", help="beta of eq. (4.20), basis points.")] = 500,
    rpc_url: RpcOpt = None,
    data_dir: DataDirOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Settle a trained fleet's held-out days on chain: PoSOC staking, mLAG election, fees (Fig. 4.5)."""
    from gridledger.params import from_mapping
    from gridledger.scenarios.fleet.chain import FleetSettleConfig, check_fleet_size, settle_fleet
    from gridledger.scenarios.fleet.run import load_fleet

    settle = from_mapping(FleetSettleConfig, {"evs": evs, "days": days, "selfish": tuple(selfish or ()),
                                              "beta_bps": beta_bps})
    model_dir = model / "model" if (model / "model" / "model.json").exists() else model
    fleet, cfg = load_fleet(model_dir)
    check_fleet_size(settle, fleet)
    result = on_chain(rpc_url, data_dir, not json_, lambda chain, home, reporter: settle_fleet(
        chain, home, fleet, cfg.env, seed, settle, reporter))
    write_settlement(out, seed, result)
    if json_:
        typer.echo(dumps(result))
        return
    console.print(fleet_table(result))


def fleet_source(model: Any) -> dict[str, Any]:
    """Where a trained fleet's EVs and prices come from (for the JSON)."""
    from gridledger.data.fleet import describe

    env = model.env_config
    return {"name": model.federation.fleet, "price_source": env.price_source, "day_start_h": env.day_start_h,
            "description": describe(model.fleet, env.price_source, env.real)}


def fleet_table(result: dict) -> Table:
    wei = result["wei_per_money"]
    table = Table(title=f"fleet settlement on chain {result['chain']['chain_id']} ({result['chain']['backend']}), "
                  f"beta {result['beta_bps'] / 100:.2f}%; miners by round: "
                  + ", ".join(f"EV {r.get('miner_ev')}" for r in result["rounds"]))
    for col in ("EV", "profit", "fee (deducted)", "fees received (mLAG)", "paid out", "uncollected"):
        table.add_column(col, justify="right")
    for e in result["evs"]:
        table.add_row(f"{e['ev']}{' (selfish)' if e['selfish'] else ''}", f"{e['profit_wei'] / wei:.3f}",
                      f"{e['fee_paid_wei'] / wei:.3f}", f"{e['fees_received_wei'] / wei:.3f}",
                      f"{e['withdrawn_wei'] / wei:.3f}", f"{(e['held_wei'] + e['fees_held_wei']) / wei:.3f}")
    return table
