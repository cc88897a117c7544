"""V2V benchmark (run: python benchmarks/v2v.py [--quick]).

Measured in one run:

- the market-cleared batched environment (torch) with 1,000-EV sites: EV-steps per second
  (present EVs that acted and were cleared; slots including absent EVs in brackets), stepping
  whole days with random actions; the days are drawn beforehand and the drawing timed apart;
- the single-EV Gymnasium env (``gridledger/V2VSite-v0``: one EV + 9 rule-based EVs at its site,
  cleared every hour) and the PettingZoo site env, steps per second, as the baseline;
- training: env steps per second of our batched federated PPO for 10 EVs, and the wall time for
  the 10-EV fleet to reach 95% of its final training return (trailing mean over 10 rounds);
- the backends (``--backends``; needs ``gridledger[flower-simulation]``): rounds per second and
  seconds to 95% of the final score for 10, 100 and 1,000 EVs on the batched backend and on
  Flower's simulation engine, and for 10 and 100 EVs over separate processes (a SuperLink and 10
  SuperNodes on 127.0.0.1), against the batched backend in the same run. Every backend computes
  the same rounds (same seed and data, tests/unit/learn/test_fleet_distributed.py), so the round
  that reaches 95% is the batched run's and a Flower backend's seconds to it are that many rounds
  at its measured rate; the Flower runs are a few rounds each (a round over processes costs one
  ClientApp process per SuperNode and round).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from gridledger.data.fleet import sample_fleet_days, synthetic_fleet, tou_price_days
from gridledger.learn.fleet.env import FleetMarketEnv, V2VConfig, V2VEnv, V2VSiteParallelEnv
from gridledger.learn.fleet.federated import FederationConfig, train_fleet
from gridledger.scenarios.fleet.run import convergence_point


def batched_rate(site_evs: int, sites: int, worlds: int, days: int) -> tuple[float, float, float, float]:
    """(present EV-steps/s, slot-steps/s, seconds to draw one day of the fleet, present EV-steps per
    CPU-second of this process: the rate a machine shared with other work would give undisturbed)."""
    rng = np.random.default_rng(0)
    fleet = synthetic_fleet(site_evs * sites, sites, rng)
    env = FleetMarketEnv(fleet, V2VConfig(), worlds, seed=0)
    t = time.perf_counter()
    plans = [(sample_fleet_days(fleet, worlds, rng), tou_price_days(worlds, rng)) for _ in range(days)]
    draw = (time.perf_counter() - t) / days
    actions = torch.from_numpy(rng.uniform(-1, 1, (len(fleet), worlds)))
    present = slots = 0
    cpu = time.process_time()
    t = time.perf_counter()
    for fd, pd in plans:
        env.start_day(fd, pd)
        while not env.day_over:
            r = env.step(actions)
            present += int(r.present.sum())
            slots += r.present.numel()
    dt = time.perf_counter() - t
    return present / dt, slots / dt, draw, present / (time.process_time() - cpu)


def single_env_rate(steps: int) -> float:
    env = V2VEnv()
    env.reset(seed=0)
    a = np.zeros(1, dtype=np.float32)
    t = time.perf_counter()
    for _ in range(steps):
        _, _, done, _, _ = env.step(a)
        if done:
            env.reset()
    return steps / (time.perf_counter() - t)


def parallel_env_rate(days: int) -> float:
    env = V2VSiteParallelEnv(evs=10)
    steps = 0
    t = time.perf_counter()
    for d in range(days):
        env.reset(seed=d)
        while env.agents:
            env.step({a: np.zeros(1, dtype=np.float32) for a in env.agents})
            steps += len(env.agents)
    return steps / (time.perf_counter() - t)


def backends(quick: bool) -> tuple[Table, str]:
    """Rounds/s and seconds to 95% for the batched backend, Flower simulation and separate processes."""
    import importlib.util

    from gridledger.scenarios.fleet.run import train_config

    have_flower = importlib.util.find_spec("flwr") is not None
    have_ray = importlib.util.find_spec("ray") is not None
    worlds = 4
    sizes = (10, 100) if quick else (10, 100, 1000)
    batched_rounds = {10: 60, 100: 40, 1000: 15} if not quick else {10: 20, 100: 10}
    flower_rounds = {10: 4, 100: 3, 1000: 2} if not quick else {10: 2, 100: 2}
    table = Table(title=f"V2V backends: federated PPO, FedAvg, {worlds} worlds (days at once) per round")
    for col in ("EVs", "backend", "nodes", "rounds run", "rounds/s", "round to 95%", "s to 95%", "s/round vs batched"):
        table.add_column(col, justify="right")
    ratios = []
    for n in sizes:
        def cfg(rounds: int, n: int = n) -> object:
            return train_config({"algo": "ppo", "federation": {"evs": n, "rounds": rounds, "worlds": worlds}})

        m = train_fleet("ppo", cfg(batched_rounds[n]).env, cfg(batched_rounds[n]).federation, seed=0)
        conv = convergence_point(m.records)
        b_rate = len(m.records) / m.seconds
        table.add_row(f"{n:,}", "batched", "-", str(len(m.records)), f"{b_rate:.2f}", str(conv["round"]),
                      f"{conv['seconds']:.1f}", "1.0x")
        nodes = min(n, 10)
        runs = []
        if have_flower and have_ray:
            from gridledger.learn.fleet.flower import simulate

            _, recs, _, secs = simulate(cfg(flower_rounds[n]), 0, nodes=nodes, cpus_per_node=1.0)
            runs.append(("Flower simulation (Ray)", len(recs) / secs, len(recs)))
        if have_flower and n <= 100:
            from gridledger.scenarios.fleet.federate import LocalFederation

            t = time.perf_counter()
            with LocalFederation(nodes) as fed:
                started = time.perf_counter() - t
                res = fed.run(cfg(flower_rounds[n]), 0)
            runs.append((f"separate processes (start {started:.0f} s)", len(res["records"]) / res["seconds"],
                         len(res["records"])))
        for name, rate, k in runs:
            ratio = b_rate / rate
            ratios.append(f"{n} EVs {name.split(' (')[0]} {ratio:,.0f}x")
            table.add_row(f"{n:,}", name, str(nodes), str(k), f"{rate:.3f}", str(conv["round"]),
                          f"{(conv['round'] + 1) / rate:.1f}", f"{ratio:,.0f}x")
    if not have_flower:
        ratios.append("Flower rows not measured (pip install 'gridledger[flower-simulation]')")
    return table, "seconds per round against the batched backend (the cost of real distribution): " + ", ".join(ratios)


def main() -> None:
    quick = "--quick" in sys.argv
    if "--backends" in sys.argv:
        torch.set_num_threads(1)
        console = Console(width=150)
        table, line = backends(quick)
        console.print(table)
        console.print(line)
        return
    torch.set_num_threads(1)
    console = Console(width=130)
    days = 2 if quick else 5
    b1 = batched_rate(1000, 1, 8, days)
    b8 = batched_rate(1000, 8, 4, days)
    single = single_env_rate(2_000 if quick else 20_000)
    par = parallel_env_rate(5 if quick else 50)
    rounds = 20 if quick else 150
    model = train_fleet("ppo", V2VConfig(), FederationConfig(evs=10, rounds=rounds, worlds=32), seed=0)
    conv = convergence_point(model.records)
    train_rate = model.records[-1].env_steps / model.seconds
    table = Table(title="V2V: market-cleared environments and training (2 cores, 1 torch thread)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("batched env, 1 site x 1,000 EVs x 8 worlds: EV-steps/s (slot-steps/s) [per CPU-s]",
                  f"{b1[0]:,.0f} ({b1[1]:,.0f}) [{b1[3]:,.0f}]")
    table.add_row("batched env, 8 sites x 1,000 EVs x 4 worlds: EV-steps/s (slot-steps/s) [per CPU-s]",
                  f"{b8[0]:,.0f} ({b8[1]:,.0f}) [{b8[3]:,.0f}]")
    table.add_row("drawing one day of 8,000 EVs x 4 worlds (s, not in the rates)", f"{b8[2]:.3f}")
    table.add_row("single-EV Gymnasium env (V2VSite-v0, 10-EV site), steps/s", f"{single:,.0f}")
    table.add_row("PettingZoo site env (10 EVs), EV-steps/s", f"{par:,.0f}")
    table.add_row("federated PPO training, 10 EVs x 32 worlds: EV-steps/s", f"{train_rate:,.0f}")
    table.add_row(f"10-EV fleet to 95% of its final return: rounds / EV-days / seconds (of {rounds} rounds, "
                  f"{model.seconds:.0f} s)", f"{conv['round']} / {conv['episodes']:,} / {conv['seconds']:.1f}")
    console.print(table)
    best = max(b1[0], b8[0])
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    console.print(f"ratios: batched/single env {best / single:,.0f}x, batched/PettingZoo {best / par:,.0f}x; "
                  f"goal >= 1,000,000 EV-steps/s at 1,000-EV sites: {'met' if best >= 1e6 else 'NOT met'} "
                  f"({best / 1e6:.2f}x wall clock, {max(b1[3], b8[3]) / 1e6:.2f}x per CPU-second; load average "
                  f"{load})")


if __name__ == "__main__":
    main()
