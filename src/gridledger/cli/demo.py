"""`gridledger demo`: the main job on embedded defaults (every market, on one chain)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from gridledger.cli.common import ConfigOpt, SeedOpt, SetOpt, console, progress_display, user_errors
from gridledger.cli.elecoin import settle_table
from gridledger.cli.v2v import fleet_table
from gridledger.config import gather
from gridledger.progress import Reporter
from gridledger.reporting import output_dir


@user_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for the demo's reports.")] = Path("out/demo"),
    seed: SeedOpt = 0,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """The main job on embedded defaults: every market, with reports and figures."""
    from gridledger.scenarios.elecoin.reports import elecoin_demo
    from gridledger.scenarios.elecoin.run import ElecoinConfig

    cfg = ElecoinConfig.from_mapping(gather(config, set_ or []))
    progress = progress_display(True)
    with output_dir(out / "elecoin") as od:
        if progress is not None:
            with progress:
                elecoin_demo(cfg, seed, od, Reporter(progress))
        else:
            elecoin_demo(cfg, seed, od)
    console.print(f"elecoin market: report written to [bold]{out / 'elecoin' / 'report.md'}[/bold]")

    from gridledger.scenarios.fleet.reports import reproduce_fig46_49
    from gridledger.scenarios.fleet.run import train_config

    # The fleet on real data (shipped subset unless $GRIDLEDGER_DATA names the full sets): V2G-capable EV
    # models by Dutch registrations, ElaadNL workplace sessions, Dutch day-ahead prices.
    vcfg = train_config({"env": {"fleet": "real"}})
    vprogress = progress_display(True)
    with output_dir(out / "v2v") as od:
        if vprogress is not None:
            with vprogress:
                reproduce_fig46_49(vcfg, seed, False, od, Reporter(vprogress))
        else:
            reproduce_fig46_49(vcfg, seed, False, od)
    from gridledger.data.fleet import data_label

    console.print(f"EV fleet (federated PPO, 10 EVs; real data, {data_label(vcfg.env.real)}: EV models by Dutch "
                  f"registrations, ElaadNL sessions, Dutch day-ahead prices): report written to "
                  f"[bold]{out / 'v2v' / 'report.md'}[/bold]")

    from gridledger.ledger.chain import open_chain
    from gridledger.scenarios.community.chain import record_community_day
    from gridledger.scenarios.community.inputs import citylearn_input
    from gridledger.scenarios.community.reports import day_report, ledger_lines, source_lines, thesis_table32_lines
    from gridledger.scenarios.community.run import CommunityConfig
    from gridledger.scenarios.elecoin.chain import settle_elecoin
    from gridledger.scenarios.fleet.chain import FleetSettleConfig, settle_fleet
    from gridledger.scenarios.fleet.run import load_fleet

    ccfg = CommunityConfig()

    chain = open_chain(None, out / "chain")  # its keys in out/chain/vault
    try:
        result = settle_elecoin(chain, out / "chain", cfg, "analytic", "unified", np.random.default_rng(seed))
        crng = np.random.default_rng(seed)
        cinputs = citylearn_input(ccfg, crng)  # measured homes (shipped subset unless $GRIDLEDGER_DATA)
        cday, ledger = record_community_day(chain, out / "chain", ccfg, cinputs, crng)
        fleet, fcfg = load_fleet(out / "v2v" / "model")
        fleet_result = settle_fleet(chain, out / "chain", fleet, fcfg.env, seed + 1, FleetSettleConfig(selfish=(3,)))
    finally:
        chain.close()
    with output_dir(out / "elecoin") as od:
        od.write_json("settlement.json", result)
    console.print(settle_table(result))
    console.print(f"settlement on the embedded chain ({out / 'chain'}): [bold]{out / 'elecoin' / 'settlement.json'}"
                  "[/bold]")
    with output_dir(out / "community") as od:
        subset = " (shipped subset)" if "shipped subset" in cinputs.source else ""
        day_report(cday, od, seed, f"Community day: 10 measured homes, CityLearn 2022{subset}",
                   [*source_lines(cinputs), *thesis_table32_lines("measured CityLearn 2022 homes"), "",
                    *ledger_lines(ledger)])
        od.write_json("ledger.json", ledger)
    console.print(f"community day ({cinputs.source.split(' (')[0].split(':')[0]}, {cinputs.labels[0].split(', ')[-1]}"
                  f"{subset}): report written to [bold]{out / 'community' / 'report.md'}[/bold]; on chain: "
                  f"round {ledger['round']}, miner {ledger['miner']}, reward {ledger['reward_upos']:.6f} UPOS")
    with output_dir(out / "v2v") as od:
        od.write_json("settlement.json", fleet_result)
    console.print(fleet_table(fleet_result))
    serve_cmd = f".venv/bin/gridledger serve --data-dir {out / 'chain'}"
    console.print(f"portal, explorer and dashboards on this chain: run [bold]{serve_cmd}[/bold] (admin password: "
                  "$GRIDLEDGER_ADMIN_PASSWORD, in dev: dev-admin-password), then open:")
    typer.echo("http://127.0.0.1:8000/")
