"""`gridledger v2v`: the EV fleet trading vehicle-to-vehicle (thesis chapter 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gridledger.cli.common import (
    Algo,
    ConfigOpt,
    DataDirOpt,
    Fleet,
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



@app.command("train")
@user_errors
def v2v_train(
    evs: Annotated[int, typer.Option("--evs", help="Number of EVs (local learners).")] = 10,
    rounds: Annotated[int, typer.Option("--rounds", help="Federated rounds.")] = 300,
    algo: Annotated[Algo, typer.Option("--algo", help="ppo (ours, batched) or SB3's sac, a2c, ddpg.")] = Algo.ppo,
    no_federation: Annotated[bool, typer.Option(
        "--no-federation", help="One central agent on all EVs' days (baseline1 with ddpg).")] = False,
    no_delta: Annotated[bool, typer.Option("--no-delta", help="No price factor delta (baseline2).")] = False,
    data: Annotated[V2VData, typer.Option("--data", help="Normal (nd) or uniform (ud) draws.")] = V2VData.nd,
    fleet: Annotated[Fleet, typer.Option(
        "--fleet", help="thesis (Table 4.1 draws), real (V2G-capable EV models by Dutch registrations, ElaadNL "
        "sessions, Dutch day-ahead prices) or citylearn (CityLearn 2022's EV schedules and tariff).")] = Fleet.thesis,
    fleet_data: Annotated[Path | None, typer.Option(
        "--fleet-data", help="(--fleet real/citylearn) dataset directory; default $GRIDLEDGER_DATA or the shipped "
        "subset.")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Train a fleet (Algorithm 4): local learners, FedAvg, mLAG by PoSOC, mining rewards."""
    from gridledger.config import merge
    from gridledger.scenarios.fleet.run import (
        convergence_point,
        records_json,
        save_fleet,
        train,
        train_config,
    )

    env: dict = {"data": data.value, "use_delta": not no_delta}
    if fleet is not Fleet.thesis:
        env |= {"fleet": "real", "real": {"source": "elaad" if fleet is Fleet.real else "citylearn",
                                          "data_dir": str(fleet_data or "")}}
    mapping = merge({"algo": algo.value, "env": env,
                     "federation": {"evs": evs, "rounds": rounds, "federated": not no_federation}},
                    gather(config, set_ or []))
    cfg = train_config(mapping)
    progress = progress_display(not json_)
    if progress is not None:
        with progress:
            adv = Reporter(progress).task(f"training {cfg.algo} fleet", cfg.federation.rounds)
            fleet = train(cfg, seed, lambda r: adv(1))
    else:
        fleet = train(cfg, seed)
    recs = fleet.records
    result = {"algo": cfg.algo, "evs": cfg.federation.evs, "federated": cfg.federation.federated,
              "use_delta": cfg.env.use_delta, "data": cfg.env.data, "fleet": fleet_json(cfg.env, cfg.federation.evs),
              "rounds": len(recs),
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


@app.command("evaluate")
@user_errors
def v2v_evaluate(
    model: Annotated[Path, typer.Option("--model", help="Directory written by `v2v train --out`.")],
    evs: Annotated[int, typer.Option("--evs", help="EVs to simulate.")] = 10,
    days: Annotated[int, typer.Option("--days", help="Held-out days per EV.")] = 1,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
) -> None:
    """A trained fleet on held-out days: actions, SOC, profit vs grid, proof scores, miner, payoffs."""
    from gridledger.scenarios.fleet.run import evaluate_fleet, load_fleet

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


@app.command("settle")
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
    from gridledger.scenarios.fleet.chain import FleetSettleConfig, settle_fleet
    from gridledger.scenarios.fleet.run import load_fleet

    settle = from_mapping(FleetSettleConfig, {"evs": evs, "days": days, "selfish": tuple(selfish or ()),
                                              "beta_bps": beta_bps})
    model_dir = model / "model" if (model / "model" / "model.json").exists() else model
    fleet, cfg = load_fleet(model_dir)
    result = on_chain(rpc_url, data_dir, not json_, lambda chain, home, reporter: settle_fleet(
        chain, home, fleet, cfg.env, seed, settle, reporter))
    write_settlement(out, seed, result)
    if json_:
        typer.echo(dumps(result))
        return
    console.print(fleet_table(result))


def fleet_json(env: object, evs: int) -> dict:
    """The fleet's data source and, for real fleets, each EV's model."""
    from gridledger.data.fleet import data_label, fleet_models

    if getattr(env, "fleet", "thesis") != "real":
        return {"kind": "thesis", "source": "Table 4.1 / section 4.4.1 draws"}
    real = env.real  # type: ignore[attr-defined]
    return {"kind": real.source, "site": real.site, "data": data_label(real), "ev_models": fleet_models(real, evs)}


def fleet_table(result: dict) -> Table:
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
