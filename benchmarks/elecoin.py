"""Benchmark of DMA-UBRL against the analytic solver over random elecoin markets.

Run: ``python benchmarks/elecoin.py [--markets 200] [--seed 0]``.

Markets come from the distribution of docs/elecoin.md (``MarketDistribution``: theta 1-500,
w_i 0.1-10, x_max 0.5-100, N 2-64, p_max/p_min 1.5-200, equilibria on the bounds), half under
unified and half under discriminated pricing. For each market: the analytic solve time; whether
DMA-UBRL ends within the 2% band of the analytic price, server utility and total prosumer
utility, and whether it says it converged; the episodes until its estimates enter the band for
good, and the seconds that took (the run's wall time times the share of its episodes).

Prints a table by size and pricing, then one line of ratios against baselines measured in the
same run: the analytic solver (time to the band / analytic solve time) and the numpy reference
learners (episodes per second of the compiled game / of the same learners stepped in numpy).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gridledger.games.stackelberg import ElecoinMarket, MarketDistribution, draw_market, solve
from gridledger.learn.elecoin.dma_ubrl import DMAUBRL, DMAUBRLConfig, within_band
from gridledger.learn.elecoin.env import ElecoinGame
from gridledger.learn.wolf import WoLFPHC

BAND = 0.02
TIME_GOAL_S = 10.0


def _median_time(fn, repeat=20):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _band_entry(result, ref) -> int | None:
    """First episode from which the learners' estimates stay within the band (None: not at the end)."""
    if not within_band(result.outcome, ref, BAND):
        return None
    tr = result.trace
    ok = (np.max(np.abs(tr.prices - ref.prices) / np.abs(ref.prices), axis=1) <= BAND) \
        & (np.abs(tr.server_utility - ref.server_utility) <= BAND * abs(ref.server_utility)) \
        & (np.abs(tr.prosumer_utility - ref.total_prosumer_utility) <= BAND * abs(ref.total_prosumer_utility))
    bad = np.flatnonzero(~ok)
    if len(bad) == 0:
        return int(tr.episodes[0]) if len(tr.episodes) else result.episodes
    if bad[-1] + 1 < len(ok):
        return int(tr.episodes[bad[-1] + 1])
    return result.episodes


def _numpy_reference_episodes_per_s(market, pricing, episodes=3000):
    """The same learners stepped with the numpy reference implementation (no compiled loop)."""
    cfg = DMAUBRLConfig()
    game = ElecoinGame(market, pricing)
    rng = np.random.default_rng(0)
    n = market.n_prosumers
    b = game.n_price_learners
    server = WoLFPHC(b, 1, cfg.price_levels, cfg.server, rng)
    pros = WoLFPHC(n, cfg.price_levels, cfg.demand_levels, cfg.prosumer, rng)
    pg = np.geomspace(market.p_min, market.p_max, cfg.price_levels)
    xg = np.linspace(market.x_min, market.x_max, cfg.demand_levels)
    of = np.zeros(n, dtype=np.int64) if pricing == "unified" else np.arange(n)
    s0 = np.zeros(b, dtype=np.int64)
    prev = None
    t = time.perf_counter()
    for _ in range(episodes):
        a = server.act(s0, 1.0)
        st = a[of]
        if prev is not None:
            pros.update(prev[0], prev[1], prev[2], st)
        d = pros.act(st, 0.2)
        r_s, r_p = game.rewards(pg[a], xg[d])
        server.update(s0, a, r_s, s0)
        prev = (st, d, r_p)
    return episodes / (time.perf_counter() - t)


def _pct(values, q):
    return float(np.percentile(values, q)) if len(values) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=200, help="random markets (half per pricing)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the market draws and the learners")
    args = parser.parse_args()
    if args.markets < 2:
        print("error: --markets must be at least 2", file=sys.stderr)
        raise SystemExit(2)

    console = Console(width=170)
    # Compile the kernels once before timing.
    DMAUBRL(ElecoinMarket(n_prosumers=2), "unified", DMAUBRLConfig(max_episodes=2000), np.random.default_rng(0)).run()
    dist = MarketDistribution()
    seeds = np.random.SeedSequence(args.seed).spawn(2 * args.markets)
    rows = []
    progress = Progress(TextColumn("[bold]random markets"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=True)
    with progress:
        task = progress.add_task("markets", total=args.markets)
        for j in range(args.markets):
            pricing = ("unified", "discriminated")[j % 2]
            market = draw_market(dist, np.random.default_rng(seeds[2 * j]), pricing)
            ref = solve(market, pricing)
            t_an = _median_time(lambda m=market, p=pricing: solve(m, p), repeat=5)
            res = DMAUBRL(market, pricing, DMAUBRLConfig(), np.random.default_rng(seeds[2 * j + 1])).run()
            entry = _band_entry(res, ref)
            rows.append({
                "n": market.n_prosumers, "pricing": pricing, "ok": within_band(res.outcome, ref, BAND),
                "converged": res.converged, "episodes": res.episodes, "seconds": res.seconds,
                "band_episodes": entry, "band_seconds": None if entry is None else res.seconds * entry / res.episodes,
                "analytic_s": t_an,
            })
            progress.advance(task)

    table = Table(title=f"elecoin market: DMA-UBRL against the analytic equilibrium over {args.markets} random "
                        f"markets (2% band, seed {args.seed})")
    for col in ("N", "pricing", "markets", "within 2%", "converged", "wrong but converged",
                "episodes to band (med / p95)", "s to band (med / p95)", f"within {TIME_GOAL_S:g} s",
                "analytic ms (med)", "to band / analytic (med)"):
        table.add_column(col, justify="right")
    groups = [(lo, hi, p) for (lo, hi) in ((2, 8), (9, 32), (33, 64)) for p in ("unified", "discriminated")]
    groups.append((2, 64, "both"))
    for lo, hi, pricing in groups:
        sel = [r for r in rows if lo <= r["n"] <= hi and pricing in (r["pricing"], "both")]
        if not sel:
            continue
        ok = [r for r in sel if r["ok"]]
        ep = [r["band_episodes"] for r in ok]
        sec = [r["band_seconds"] for r in ok]
        an = [r["analytic_s"] for r in sel]
        fast = sum(1 for r in ok if r["band_seconds"] <= TIME_GOAL_S)
        silent = sum(1 for r in sel if r["converged"] and not r["ok"])
        table.add_row(f"{lo}-{hi}", pricing, str(len(sel)), f"{100 * len(ok) / len(sel):.1f}%",
                      f"{100 * sum(r['converged'] for r in sel) / len(sel):.1f}%", str(silent),
                      f"{_pct(ep, 50):,.0f} / {_pct(ep, 95):,.0f}", f"{_pct(sec, 50):.2f} / {_pct(sec, 95):.2f}",
                      f"{100 * fast / len(sel):.1f}%", f"{1e3 * statistics.median(an):.3f}",
                      f"{_pct(sec, 50) / statistics.median(an):,.0f}x")
    console.print(table)

    # Baseline 2: the numpy reference learners on the same game (speed of the compiled loop).
    speed = []
    for n, pricing in ((8, "unified"), (64, "discriminated")):
        m = ElecoinMarket(n_prosumers=n)
        res = DMAUBRL(m, pricing, DMAUBRLConfig(), np.random.default_rng(1)).run()
        speed.append((res.episodes / res.seconds) / _numpy_reference_episodes_per_s(m, pricing))
    ok = [r for r in rows if r["ok"]]
    an = statistics.median(r["analytic_s"] for r in rows)
    sec = [r["band_seconds"] for r in ok]
    within_goal = sum(1 for r in ok if r["band_seconds"] <= TIME_GOAL_S) / len(rows)
    console.print(
        f"ratios (baselines measured in this run): within 2% {100 * len(ok) / len(rows):.1f}% of markets, "
        f"{100 * within_goal:.1f}% within {TIME_GOAL_S:g} s (goal 95%); DMA-UBRL time to the band / analytic solve "
        f"{_pct(sec, 50) / an:,.0f}x (median), {_pct(sec, 95) / an:,.0f}x (p95); compiled game / numpy reference "
        f"learners {speed[0]:.0f}x (N = 8, unified), {speed[1]:.0f}x (N = 64, discriminated) episodes per second")


if __name__ == "__main__":
    main()
