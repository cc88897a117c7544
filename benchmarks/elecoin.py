"""Benchmark of the elecoin market solvers (run: python benchmarks/elecoin.py).

Prints, for N = 8 and N = 32 and both pricing mechanisms: the analytic solve time, DMA-UBRL's
total time and episodes, the episodes and seconds until it enters (for good) the 2% band
around the analytic equilibrium, and the ratio to the analytic solve. It also times the
compiled DMA-UBRL inner loop against the numpy reference learners on the same stage, in the
same run.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from gridledger.games.stackelberg import ElecoinMarket, outcome, solve
from gridledger.learn.elecoin.dma_ubrl import DMAUBRL, DMAUBRLConfig, within_band
from gridledger.learn.elecoin.env import ElecoinGame
from gridledger.learn.wolf import WoLFPHC


def _time(fn, repeat=20):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _band_entry(market, pricing, result, ref):
    tr = result.trace
    ok = [within_band(outcome(market, pricing, tr.prices[i], tr.demands[i]), ref) for i in range(len(tr.episodes))]
    first = len(ok)
    for i in range(len(ok) - 1, -1, -1):
        if not ok[i]:
            break
        first = i
    return int(tr.episodes[first]) if first < len(ok) else None


def _numpy_reference_episodes_per_s(market, pricing, episodes=3000):
    """The same learners stepped with the numpy reference implementation (no compiled loop)."""
    cfg = DMAUBRLConfig()
    game = ElecoinGame(market, pricing)
    rng = np.random.default_rng(0)
    n = market.n_prosumers
    b = game.n_price_learners
    server = WoLFPHC(b, 1, cfg.price_levels, cfg.server, rng)
    pros = WoLFPHC(n, cfg.price_levels, cfg.demand_levels, cfg.prosumer, rng)
    pg = np.linspace(market.p_min, market.p_max, cfg.price_levels)
    xg = np.linspace(market.x_min, market.x_max, cfg.demand_levels)
    of = np.zeros(n, dtype=np.int64) if pricing == "unified" else np.arange(n)
    s0 = np.zeros(b, dtype=np.int64)
    prev = None
    t = time.perf_counter()
    for _ in range(episodes):
        a = server.act(s0, 0.5)
        st = a[of]
        if prev is not None:
            pros.update(prev[0], prev[1], prev[2], st)
        d = pros.act(st, 0.2)
        r_s, r_p = game.rewards(pg[a], xg[d])
        server.update(s0, a, r_s, s0)
        prev = (st, d, r_p)
    return episodes / (time.perf_counter() - t)


def main() -> None:
    console = Console(width=170)
    # Compile the kernels once before timing.
    DMAUBRL(ElecoinMarket(n_prosumers=2), "unified", DMAUBRLConfig(stages=1), np.random.default_rng(0)).run()
    table = Table(title="elecoin market: analytic vs DMA-UBRL (2% band)")
    for col in ("N", "pricing", "analytic ms", "DMA-UBRL s", "episodes", "episodes to band", "s to band",
                "to band / analytic", "kernel ep/s", "numpy ep/s", "kernel / numpy"):
        table.add_column(col, justify="right")
    worst_band_s = 0.0
    for n in (8, 32):
        for pricing in ("unified", "discriminated"):
            m = ElecoinMarket(n_prosumers=n)
            ref = solve(m, pricing)
            t_an = _time(lambda m=m, pricing=pricing: solve(m, pricing))
            res = DMAUBRL(m, pricing, DMAUBRLConfig(), np.random.default_rng(1)).run()
            band = _band_entry(m, pricing, res, ref)
            s_band = res.seconds * band / res.episodes if band is not None else float("nan")
            worst_band_s = max(worst_band_s, s_band)
            kernel_eps = res.episodes / res.seconds
            numpy_eps = _numpy_reference_episodes_per_s(m, pricing)
            table.add_row(str(n), pricing, f"{1e3 * t_an:.3f}", f"{res.seconds:.2f}", f"{res.episodes:,}",
                          f"{band:,}" if band is not None else "never", f"{s_band:.2f}", f"{s_band / t_an:,.0f}x",
                          f"{kernel_eps:,.0f}", f"{numpy_eps:,.0f}", f"{kernel_eps / numpy_eps:.0f}x")
    console.print(table)
    console.print(f"ratios: DMA-UBRL needs at most {worst_band_s:.2f} s to enter the 2% band (target: N = 32 "
                  "within 10 s); time ratios to the analytic solver and kernel/numpy speed-ups are in the table.")


if __name__ == "__main__":
    main()
