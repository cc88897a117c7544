"""Real-data benchmark (run: python benchmarks/data.py).

For each source: the time to load it, and the time to build a community day from it (inputs:
daily totals of 10 prosumers, placement and loss fractions) and to run that day (formation,
election, Shapley shares); for the EV sources, the time to draw 1,000 EV-days. The baseline,
measured in the same run, is the shipped synthetic Ausgrid-format sample (load and day). The
full datasets come from $GRIDLEDGER_DATA or ../shared/data (skipped when absent); the shipped
subsets are always measured. Each time is the best of ``REPEATS`` runs, caches cleared, except
the network loads (simbench, IEEE European LV), measured once cold (then cached per process).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

REPEATS = 3


def best(fn: Callable[[], Any], repeats: int = REPEATS, before: Callable[[], None] | None = None) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        if before is not None:
            before()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def shared_data() -> Path | None:
    env = os.environ.get("GRIDLEDGER_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data" / "citylearn_2022").is_dir():
            return parent / "shared" / "data"
    return None


def main() -> None:
    from gridledger.data import fleet as fleet_data
    from gridledger.data.ausgrid import load_ausgrid
    from gridledger.data.citylearn import load_citylearn, load_citylearn_evs
    from gridledger.data.ev_nl import EV_SPECS_V2G, day_ahead_file, load_charging_stats, load_day_ahead, load_ev_models
    from gridledger.data.sources import CITYLEARN, EV_NL, shipped
    from gridledger.params import from_mapping
    from gridledger.scenarios.community.inputs import homes_input
    from gridledger.scenarios.community.reports import ausgrid_input, sample_path
    from gridledger.scenarios.community.run import CommunityConfig, run_community_day

    console = Console(width=140)
    full = shared_data()
    distance = CommunityConfig()
    powerflow = from_mapping(CommunityConfig, {"loss": {"model": "powerflow"}})
    rows: list[tuple[str, float | None, float | None, float | None, str]] = []

    def day(cfg: CommunityConfig, build: Callable[[np.random.Generator], Any]) -> tuple[float, float]:
        t_build, inputs = best(lambda: build(np.random.default_rng(0)))
        t_run, _ = best(lambda: run_community_day(cfg, inputs, np.random.default_rng(0)))
        return t_build, t_run

    # Baseline: the synthetic Ausgrid-format sample shipped with the package.
    t_load, _ = best(lambda: load_ausgrid(sample_path()))
    b_build, b_run = day(distance, lambda rng: ausgrid_input(distance, rng))
    rows.append(("Ausgrid-format synthetic sample (baseline)", t_load, b_build, b_run, "30 customers x 7 days, 1/2 h"))
    base_load = t_load

    cl_dirs = [("CityLearn 2022, shipped subset", shipped(CITYLEARN))]
    if full is not None:
        cl_dirs.append(("CityLearn 2022, full", full / CITYLEARN))
    homes_full = None
    for label, d in cl_dirs:
        t_load, data = best(lambda d=d: load_citylearn(d))
        homes = data.homes
        homes_full = homes
        t_build, t_run = day(distance, lambda rng, homes=homes: homes_input(distance, rng, homes))
        rows.append((label, t_load, t_build, t_run, f"{homes.n_homes} homes x {homes.n_days} days, 1 h"))
        t_ev, ev = best(lambda d=d: load_citylearn_evs(d))
        rows.append((f"{label}: EV schedules", t_ev, None, None, f"{len(ev.sessions)} sessions"))

    from gridledger.data.networks import ieee_eu_lv_feeder, simbench_feeder, simbench_profiles
    from gridledger.grid.highs import stdout_to_stderr

    t0 = time.perf_counter()
    with stdout_to_stderr():  # simbench's import makes a HiGHS object, whose banner goes to stdout
        import simbench  # noqa: F401  (its import time, once)

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    feeder = simbench_feeder("1-LV-rural1--0-sw")
    t_net = time.perf_counter() - t0
    t_prof, profiles = best(lambda: simbench_profiles(feeder))
    s_build, s_run = day(powerflow, lambda rng: homes_input(powerflow, rng, profiles, 160, feeder.name, feeder))
    rows.append(("simbench 1-LV-rural1--0-sw: grid (cold)", t_net, None, None, f"import simbench {t_import:.2f} s"))
    rows.append(("simbench 1-LV-rural1--0-sw: profiles, powerflow day", t_prof, s_build, s_run,
                 f"{profiles.n_homes} loads x {profiles.n_days} days, 15 min"))
    t0 = time.perf_counter()
    eu = ieee_eu_lv_feeder()
    t_eu = time.perf_counter() - t0
    homes = homes_full if homes_full is not None else load_citylearn(shipped(CITYLEARN)).homes
    e_build, e_run = day(powerflow, lambda rng: homes_input(powerflow, rng, homes, None, "ieee-eu-lv", eu))
    rows.append(("IEEE European LV feeder (cold) + CityLearn homes, powerflow day", t_eu, e_build, e_run,
                 f"{len(eu.net.bus)} buses, {eu.n_loads} loads"))

    ev_dirs = [("Dutch EV data, shipped subset (2024 prices)", shipped(EV_NL))]
    if full is not None:
        ev_dirs.append(("Dutch EV data, full (2015-2025 prices)", full / EV_NL))
    for label, d in ev_dirs:
        t_models, _ = best(lambda d=d: load_ev_models(d / EV_SPECS_V2G))
        t_stats, _ = best(lambda d=d: load_charging_stats(d))
        t_prices, prices = best(lambda d=d: load_day_ahead(day_ahead_file(d)), repeats=1 if "full" in label else 3)
        cfg = fleet_data.RealFleetConfig(data_dir=str(d))
        fleet_data._elaad(cfg.data_dir, "", "")  # loaded once; the draw is what is timed
        t_draw, _ = best(lambda cfg=cfg: fleet_data.draw_days(np.random.default_rng(0), 1000, cfg, 0.2, 0.8,
                                                               np.repeat(np.arange(10), 100)))
        rows.append((f"{label}: EV models", t_models, None, None, ""))
        rows.append((f"{label}: ElaadNL statistics", t_stats, None, None, ""))
        rows.append((f"{label}: day-ahead prices", t_prices, None, None, f"{len(prices):,} hours"))
        rows.append((f"{label}: draw 1,000 EV-days", None, t_draw, None, "fleet of 10 EVs"))

    table = Table(title="real data: load, build a community day (inputs), run it")
    for col in ("source", "load (s)", "build (s)", "run day (s)", "load / baseline", "size"):
        table.add_column(col, justify="left" if col in ("source", "size") else "right")
    for label, load, build, run, size in rows:
        table.add_row(label, "" if load is None else f"{load:.3f}", "" if build is None else f"{build:.3f}",
                      "" if run is None else f"{run:.3f}", "" if load is None else f"{load / base_load:.0f}x", size)
    console.print(table)
    if full is None:
        console.print("(full datasets not found: $GRIDLEDGER_DATA or ../shared/data; subsets only)")
    by = {r[0]: r for r in rows}
    cl = by.get("CityLearn 2022, full") or by["CityLearn 2022, shipped subset"]
    base_total = base_load + b_build + b_run
    cl_total = cl[1] + cl[2] + cl[3]
    sb_total = t_net + t_prof + s_build + s_run
    eu_total = t_eu + e_build + e_run
    console.print(
        f"ratios, files to a finished community day (load + build + run) against the synthetic Ausgrid sample in this "
        f"run ({base_total:.3f} s): {cl[0]} {cl_total / base_total:.0f}x ({cl_total:.2f} s); simbench rural1 cold "
        f"{sb_total / base_total:.0f}x ({sb_total:.2f} s), warm {(t_prof + s_build + s_run) / base_total:.1f}x; "
        f"IEEE EU LV cold {eu_total / base_total:.0f}x ({eu_total:.2f} s), warm {(e_build + e_run) / base_total:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
