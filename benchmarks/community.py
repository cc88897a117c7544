"""Community benchmark (run: python benchmarks/community.py [--exhaustive-1000]).

1. Whole community days (distance model, eq. 3.11) for 10, 50, 200 and 1,000 prosumers: seconds
   (the day, and the formation alone) and the formation's loss / the grand-coalition optimum, with
   the non-cooperative baseline and the stability proof.
2. The merge restriction at scale: each coalition merges with its 8 most promising partners once
   there are more than 150 coalitions; the same days with every pair tried (``--exhaustive-1000``
   adds the 1,000-prosumer day, several minutes) show what the restriction costs against the
   optimum.
3. LV-feeder days through the generic path (pandapower AC power flow per half hour, eqs. 3.1-3.2):
   simbench's 1-LV-rural1 (13 prosumers) and pandapower's IEEE European LV feeder (55), beside
   the distance model on the same geography.
4. Baseline measured in the same run: the same formation with the LP solved one coalition at a
   time and without the duality screens (every pair, every move evaluated), for 10 and 50
   prosumers; the final line gives the speed-ups.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from rich.console import Console
from rich.table import Table

from gridledger.games.coalitions import Floor, FormationConfig, form_coalitions
from gridledger.games.community_baselines import noncooperative
from gridledger.grid.dispatch import CoalitionLP, alone_losses
from gridledger.grid.losses import loss_fractions
from gridledger.grid.network import community_grid
from gridledger.scenarios.community.run import CommunityConfig, run_community_day, synthetic_input


class PlainLP:
    """The oracle without batching and screens: one LP per coalition, every pair evaluated."""

    def __init__(self, lp: CoalitionLP) -> None:
        self.lp = lp
        self.balance = lp.balance

    def __call__(self, members, caps):
        return self.lp(members, caps)


def formation_instance(n: int, seed: int):
    cfg = CommunityConfig(prosumers=n)
    rng = np.random.default_rng(seed)
    inp = synthetic_input(cfg, rng)
    grid = community_grid(inp.positions_km)
    f = loss_fractions(grid, cfg.loss)
    b = inp.production_kwh - inp.consumption_kwh
    alone = alone_losses(b, f[:n, n], f[n, :n])
    oracle = CoalitionLP(b, f)
    base = noncooperative(b, f, rng, oracle.share)
    return b, alone, grid, oracle, Floor(base.loss_kwh, base.edges())


def days_table(console: Console, sizes: dict[int, int]) -> tuple[dict[int, float], dict[int, float]]:
    """Whole days; wall seconds, and the CPU seconds of this process (HiGHS runs on one thread), which
    other programs on a shared machine do not inflate."""
    table = Table(title="community days, distance model (eq. 3.11): seconds and loss / optimum")
    for col in ("prosumers", "days", "day s (median)", "day s (max)", "day CPU s (median)", "formation s (median)",
                "coalitions",
                "saved", "optimum saves", "baseline saves", "loss / optimum (mean)", "loss / optimum (max)",
                "stable"):
        table.add_column(col, justify="right")
    medians: dict[int, float] = {}
    cpus: dict[int, float] = {}
    for n, draws in sizes.items():
        rows = []
        for seed in range(draws):
            cfg = CommunityConfig(prosumers=n)
            rng = np.random.default_rng(seed)
            inputs = synthetic_input(cfg, rng)
            t, cpu = time.perf_counter(), time.process_time()
            day = run_community_day(cfg, inputs, rng)
            secs, cpu = time.perf_counter() - t, time.process_time() - cpu
            d = day.to_json()
            rows.append((secs, day.formation_seconds, len(day.formation.partition), day.savings_pct,
                         d["optimum_savings_pct"], d["baseline_noncooperative"]["savings_pct"], day.loss_over_optimum,
                         day.stability.stable, cpu))
        a = np.array(rows, dtype=float)
        medians[n] = float(np.median(a[:, 0]))
        cpus[n] = float(np.median(a[:, 8]))
        table.add_row(str(n), str(draws), f"{np.median(a[:, 0]):.2f}", f"{a[:, 0].max():.2f}",
                      f"{np.median(a[:, 8]):.2f}", f"{np.median(a[:, 1]):.2f}", f"{a[:, 2].mean():.0f}",
                      f"{a[:, 3].mean():.1f}%",
                      f"{a[:, 4].mean():.1f}%", f"{a[:, 5].mean():.1f}%", f"{a[:, 6].mean():.4f}",
                      f"{a[:, 6].max():.4f}", "all" if a[:, 7].all() else f"{int(a[:, 7].sum())}/{draws}")
    console.print(table)
    return medians, cpus


def restriction_table(console: Console, cases: list[tuple[int, int]]) -> None:
    table = Table(title="merge restriction (8 ranked partners) vs every pair: loss / optimum and seconds")
    for col in ("prosumers", "seed", "ranked: loss / optimum", "ranked s", "every pair: loss / optimum",
                "every pair s", "difference"):
        table.add_column(col, justify="right")
    for n, seed in cases:
        b, alone, grid, oracle, floor = formation_instance(n, seed)
        optimum = oracle.total_loss(tuple(range(n)))
        out = []
        for cfg in (FormationConfig(merge_exhaustive_max=0), FormationConfig(merge_partners=0)):
            t = time.perf_counter()
            res = form_coalitions(b, alone, grid.dist_km, oracle, cfg, floor)
            out.append((res.total_loss / optimum, time.perf_counter() - t))
        table.add_row(str(n), str(seed), f"{out[0][0]:.4f}", f"{out[0][1]:.1f}", f"{out[1][0]:.4f}",
                      f"{out[1][1]:.1f}", f"{out[0][0] - out[1][0]:+.4f}")
    console.print(table)


def feeder_table(console: Console, days: int) -> None:
    import logging

    warnings.filterwarnings("ignore")
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    from gridledger.scenarios.community.feeder import feeder_community_day

    nets = []
    try:
        import simbench

        nets.append(("simbench 1-LV-rural1--0-sw", lambda: simbench.get_simbench_net("1-LV-rural1--0-sw")))
    except ImportError:
        console.print("simbench not installed: its feeder is skipped")
    import pandapower.networks as pn

    nets.append(("IEEE European LV", lambda: pn.ieee_european_lv_asymmetric("on_peak_566")))
    table = Table(title="LV-feeder days: AC power flow per half hour, eqs. (3.1)-(3.2), beside the distance model")
    for col in ("feeder", "prosumers", "day", "power flow s", "formation s", "coalitions", "saved (AC)",
                "optimum (AC)", "baseline (AC)", "loss / optimum", "stable", "distance model saves",
                "physical loss kWh"):
        table.add_column(col, justify="right")
    from gridledger.grid.powerflow import load_buses

    for name, make in nets:
        net = make()
        n = len(load_buses(net))
        cfg = CommunityConfig(prosumers=n)
        for seed in range(days):
            rng = np.random.default_rng(seed)
            fd = feeder_community_day(cfg, net, synthetic_input(cfg, rng), rng)
            d = fd.day.to_json()
            table.add_row(name, str(n), str(seed + 1), f"{fd.losses.seconds:.1f}", f"{fd.day.formation_seconds:.2f}",
                          str(len(fd.day.formation.partition)), f"{fd.day.savings_pct:.1f}%",
                          f"{d['optimum_savings_pct']:.1f}%", f"{d['baseline_noncooperative']['savings_pct']:.1f}%",
                          f"{fd.day.loss_over_optimum:.4f}", str(fd.day.stability.stable),
                          f"{fd.distance_day.savings_pct:.1f}%", f"{fd.losses.physical_loss_kwh:.2f}")
    console.print(table)


def baseline_table(console: Console, sizes: list[int]) -> list[tuple[str, float]]:
    table = Table(title="formation: batched LPs + duality screens vs one LP per coalition, every pair (same runs)")
    for col in ("prosumers", "LP solves", "seconds", "plain LP solves", "plain seconds", "same partition",
                "speed-up"):
        table.add_column(col, justify="right")
    ratios = []
    for n in sizes:
        b, alone, grid, oracle, floor = formation_instance(n, 0)
        t = time.perf_counter()
        fast = form_coalitions(b, alone, grid.dist_km, oracle, floor=floor)
        secs = time.perf_counter() - t
        plain_oracle = PlainLP(oracle)
        t = time.perf_counter()
        plain = form_coalitions(b, alone, grid.dist_km, plain_oracle, floor=floor)
        psecs = time.perf_counter() - t
        ratios.append((f"{n} prosumers", psecs / secs))
        table.add_row(str(n), f"{fast.oracle_calls:,}", f"{secs:.2f}", f"{plain.oracle_calls:,}", f"{psecs:.2f}",
                      "yes" if fast.partition == plain.partition else "no", f"{psecs / secs:.1f}x")
    console.print(table)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exhaustive-1000", action="store_true", help="also try every merge pair at 1,000")
    parser.add_argument("--feeder-days", type=int, default=2)
    args = parser.parse_args()
    console = Console(width=200)
    medians, cpus = days_table(console, {10: 10, 50: 5, 200: 3, 1000: 2})
    restriction_table(console, [(200, 0), (200, 1)] + ([(1000, 0)] if args.exhaustive_1000 else []))
    feeder_table(console, args.feeder_days)
    ratios = baseline_table(console, [10, 50])
    console.print("ratios plain/gridledger (formation time): " + ", ".join(f"{k} {v:.1f}x" for k, v in ratios)
                  + f"; 1,000-prosumer day: {medians[1000]:.1f} s wall, {cpus[1000]:.1f} s CPU (goal <= 60 s)")


if __name__ == "__main__":
    main()
