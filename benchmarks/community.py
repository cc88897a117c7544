"""Community formation benchmark (run: python benchmarks/community.py).

Formation time (Algorithm 3: initial pairs, merge-and-split, moves) for 10, 50, 100, 200
prosumers with the distance loss model and 10, 30 with the power-flow model, next to a naive
merge-and-split measured in the same run: it rescans every pair of coalitions after each
change, solves every union's LP afresh (no cache, no neighbour-first passes, one merge at a
time). Both end in Pareto-stable partitions; the table shows their total losses too.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from gridledger.games.coalitions import Allocation, form_coalitions, stability_violations
from gridledger.grid.dispatch import alone_losses
from gridledger.grid.losses import LossConfig, loss_fractions
from gridledger.grid.network import community_grid
from gridledger.scenarios.community.run import CommunityConfig, make_oracle, synthetic_input


def naive_formation(balance, alone, oracle, tol=1e-9):
    """Textbook merge-and-split: first improving merge, rescan everything, repeat."""
    n = len(balance)
    alloc = {(i,): Allocation((i,), alone[[i]], float(alone[i])) for i in range(n)}
    loss = alone.copy()
    changed = True
    calls = 0
    while changed:
        changed = False
        for a, b in itertools.combinations(sorted(alloc), 2):
            union = tuple(sorted(a + b))
            res = oracle(union, alone[list(union)])
            calls += 1
            if res is None:
                continue
            old = loss[list(union)]
            if np.all(res.member_loss <= old + tol * (1 + np.abs(old))) and old.sum() - res.total > tol:
                del alloc[a], alloc[b]
                alloc[union] = res
                loss[list(union)] = res.member_loss
                changed = True
                break
    return alloc, loss, calls


def instance(n, model, seed=0):
    cfg = CommunityConfig(prosumers=n, loss=LossConfig(model=model))
    rng = np.random.default_rng(seed)
    inp = synthetic_input(cfg, rng)
    grid = community_grid(inp.positions_km)
    f = loss_fractions(grid, cfg.loss)
    b = inp.production_kwh - inp.consumption_kwh
    alone = alone_losses(b, f[:n, n], f[n, :n])
    return b, alone, grid, make_oracle(b, f, cfg.loss_split)


def main() -> None:
    console = Console(width=150)
    table = Table(title="coalition formation: gridledger vs naive merge-and-split (same instances)")
    for col in ("model", "prosumers", "coalitions", "LP solves", "seconds", "loss kWh", "stable",
                "naive LP solves", "naive seconds", "naive loss kWh", "speed-up"):
        table.add_column(col, justify="right")
    ratios = []
    cases = [("distance", 10), ("distance", 50), ("distance", 100), ("distance", 200), ("powerflow", 10),
             ("powerflow", 30)]
    for model, n in cases:
        b, alone, grid, oracle = instance(n, model)
        t = time.perf_counter()
        res = form_coalitions(b, alone, grid.dist_km, oracle)
        secs = time.perf_counter() - t
        stable = "yes" if n > 50 or not stability_violations(res, oracle, alone) else "NO"
        if n <= 100:
            t = time.perf_counter()
            _alloc, loss, calls = naive_formation(b, alone, oracle)
            nsecs = time.perf_counter() - t
            ratios.append((f"{model} {n}", nsecs / secs))
            naive = (f"{calls:,}", f"{nsecs:.2f}", f"{loss.sum():.3f}", f"{nsecs / secs:.1f}x")
        else:
            naive = ("-", "-", "-", "-")
        table.add_row(model, str(n), str(len(res.partition)), f"{res.oracle_calls:,}", f"{secs:.2f}",
                      f"{res.member_loss.sum():.3f}", stable, *naive)
    console.print(table)
    console.print("ratios naive/gridledger: " + ", ".join(f"{k} {v:.1f}x" for k, v in ratios)
                  + " (goals: 50 prosumers <= 5 s, 200 <= 60 s)")


if __name__ == "__main__":
    main()
