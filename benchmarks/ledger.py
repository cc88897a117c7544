"""Ledger benchmark (run: python benchmarks/ledger.py [--n 200] [--prosumers 1000] [--evs 1000]).

The same workloads on the embedded py-evm chain and on a real anvil node started here on
loopback, each transaction waiting for its receipt:

1. the elecoin market: deploy the ETSC; N registrations (empower), N buyToken, N trades;
2. a community day of P prosumers (thesis chapter 3) in coalitions of 5, through the same code
   as ``gridledger community run --chain`` (scenarios.community.chain): credit scores and
   savings, record the day's energy transactions, relay the members' signed stakes, reveal the
   validators' secrets, elect when due, seal, pay the pool M_r (eq. 3.23) after the challenge
   window;
3. a fleet day of E EVs (thesis chapter 4), through the code of ``gridledger v2v settle``
   (scenarios.fleet.chain): one PoSOC round (credit, relayed stakes, reveals, election, the
   mLAG's seal) and the settlement in batches (the fee deducted, the rest held for the EVs).
   The EVs' relayed subscriptions (once per EV) and the payouts pushed to every EV in batches
   (EVs may instead withdraw themselves, whenever they like) are timed apart.

Prints a table per workload and backend (gas per operation and per member), the days' seconds,
transactions per second and largest transaction, and a final line of ratios embedded/anvil.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
from eth_utils import keccak
from rich.console import Console
from rich.table import Table

from gridledger.ledger.chain import Chain, EmbeddedChain, RPCChain
from gridledger.ledger.clients import ETSCClient, ETSCConfig, StakingClient, TxResult, V2VSettlementClient
from gridledger.ledger.deploy import StakingDeployment, deploy_community_ledger, deploy_fleet_ledger, staking_operator
from gridledger.ledger.keys import random_signer
from gridledger.ledger.units import elecoins_to_units
from gridledger.scenarios.community.chain import elect_on_chain, pay_shares
from gridledger.scenarios.community.run import PreElection
from gridledger.scenarios.fleet.chain import FleetDay, record_fleet_days

ANVIL = Path(__file__).resolve().parents[1] / "contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
ETHER = 10**18
BLOCK_GAS = 30_000_000
DAY_GOAL_S = 60.0

# Which operation a transaction was, from the first event that names it; and what it counts per entry.
OPERATIONS = (("RoundOpened", "openRound"), ("ScoreCredited", "credit"), ("TradeRecorded", "recordTrades"),
              ("StakingOpened", "openStaking"), ("Staked", "stakeFor"), ("SecretRevealed", "reveal"),
              ("SeedDrawn", "elect"), ("MinerElected", "elect"), ("ElectionPending", "elect"),
              ("MinerSlashed", "slash"), ("RoundSealed", "seal"), ("RewardShared", "payReward"),
              ("Subscribed", "subscribeFor"), ("Settled", "settle"), ("Withdrawn", "release"))
PER_ENTRY = {"credit": "ScoreCredited", "recordTrades": "TradeRecorded", "stakeFor": "Staked",
             "reveal": "SecretRevealed", "payReward": "RewardShared", "subscribeFor": "Subscribed",
             "settle": "Settled", "release": "Withdrawn"}


def etsc_workload(chain: Chain, n: int) -> dict[str, float]:
    funder = chain.dev_signers()[0]
    admin, server, guardian = random_signer(), random_signer(), random_signer()
    prosumers = [random_signer() for _ in range(n)]
    retailer, meter = random_signer(), random_signer()
    for s in (admin, server, guardian, *prosumers, retailer, meter):  # funding is set-up, not timed
        chain.send_value(funder, s.address, (1_000 if s is admin else 10) * ETHER)
    out: dict[str, float] = {}
    t = time.perf_counter()
    etsc = ETSCClient.deploy(chain, admin, ETSCConfig(admin.address, guardian.address, elecoins_to_units(10**6),
                                                      6 * 10**14, 10**14, 10**17))
    out["deploy"] = time.perf_counter() - t
    etsc.add_edge_server(admin, server.address, elecoins_to_units(10**6))
    t = time.perf_counter()
    for i, p in enumerate(prosumers):
        etsc.empower(admin, f"p{i}", p.address, False, True)
    out["register"] = (time.perf_counter() - t) / n
    etsc.empower(admin, "retailer", retailer.address, True, False)
    etsc.register_meter(admin, meter.address, retailer.address, 1_000 * n)  # W: 1,000 n Wh per one-hour slot
    etsc.generation(meter, 1_000 * n)
    etsc.declare_price(server, 10**15)
    t = time.perf_counter()
    for p in prosumers:
        etsc.buy_token(p, server.address, elecoins_to_units(1))
    out["buyToken"] = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for p in prosumers:
        etsc.trade(p, retailer.address, 1_000)
    out["trade"] = (time.perf_counter() - t) / n
    assert etsc.totals().avail_power_wh == 1_000 * n
    return out


def operation_of(tx: TxResult) -> str:
    names = set(tx.event_names)
    for event, op in OPERATIONS:
        if event in names:
            return op
    return "other"


def gas_by_operation(txs: list[TxResult]) -> dict[str, dict[str, float]]:
    """Per operation: transactions, gas, entries (members, trades...), largest transaction."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: {"txs": 0, "gas": 0, "entries": 0, "max": 0})
    for tx in txs:
        op = operation_of(tx)
        row = out[op]
        row["txs"] += 1
        row["gas"] += tx.gas_used
        row["max"] = max(row["max"], tx.gas_used)
        row["entries"] += tx.event_names.count(PER_ENTRY[op]) if op in PER_ENTRY else 1
    return dict(out)


def synthetic_community(n: int, rng: np.random.Generator) -> PreElection:
    """A community day of ``n`` prosumers in coalitions of 5: in each, one seller supplies four
    buyers and sells its surplus to the EDC (the shape of the thesis's P2P transactions)."""
    part = tuple(tuple(range(k, min(k + 5, n))) for k in range(0, n, 5))
    scores = rng.uniform(0.5, 12.0, n)
    savings = rng.uniform(0.0, 0.8, n)
    transactions: list[dict[str, Any]] = []
    for c in part:
        seller = c[0]
        for buyer in c[1:]:
            transactions.append({"from": seller, "to": buyer, "energy_kwh": float(rng.uniform(0.5, 4.0)),
                                 "loss_kwh": float(rng.uniform(0.01, 0.1))})
        transactions.append({"from": seller, "to": "EDC", "energy_kwh": float(rng.uniform(0.1, 2.0)),
                             "loss_kwh": float(rng.uniform(0.01, 0.1))})
    return PreElection(part, scores, savings, transactions, frozenset())


def community_day(chain: Chain, n: int, data_dir: str) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    dep, _ = deploy_community_ledger(chain, data_dir, StakingDeployment())
    staking = StakingClient(chain, dep.contracts["ProofStaking"])
    staking.preflight_batches = False
    op = staking_operator(chain, data_dir, dep)  # the deployment's operator: a random key in the vault
    members = [random_signer() for _ in range(n)]  # they sign; the operator relays
    pre = synthetic_community(n, rng)
    t = time.perf_counter()
    e = elect_on_chain(chain, staking, op, members, pre)
    txs = list(e.txs)
    if e.result.miner is not None:
        coalition = list(pre.partition[e.result.miner])
        _, paid = pay_shares(chain, staking, op, e.round, [m.address for m in members], coalition,
                             [float(pre.member_scores[i]) for i in coalition])
        txs.extend(paid)
    seconds = time.perf_counter() - t
    info = staking.round_info(e.round)
    assert info.reward == info.fee_pool and staking.outcome(e.round)[0]
    return {"seconds": seconds, "txs": txs, "members": n}


def fleet_day(chain: Chain, n: int, data_dir: str) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    dep, _ = deploy_fleet_ledger(chain, data_dir, StakingDeployment())
    settlement = V2VSettlementClient(chain, dep.contracts["V2VSettlement"])
    staking = settlement.staking
    settlement.preflight_batches = staking.preflight_batches = False
    scores = [int(x * 1e18) for x in rng.uniform(0.0, 30.0, n)]
    profits = [int(x * 1e15) for x in rng.uniform(0.0, 50.0, n)]
    op = staking_operator(chain, data_dir, dep, deposit_wei=sum(profits))  # a vault key, funded for the deposits
    evs = [random_signer() for _ in range(n)]
    t = time.perf_counter()
    subscribed = settlement.subscribe_for(op, evs)
    subscribe_s = time.perf_counter() - t
    day = FleetDay(scores, profits, keccak(b"global model"))
    t = time.perf_counter()
    txs: list[TxResult] = []
    record_fleet_days(chain, staking, settlement, op, evs, [day], txs=txs)
    seconds = time.perf_counter() - t
    t = time.perf_counter()
    paid = settlement.release(op, [e.address for e in evs])
    payout_s = time.perf_counter() - t
    assert settlement.total_owed() == chain.balance(settlement.address) == 0
    return {"seconds": seconds, "txs": txs, "members": n,
            "extras": [("subscriptions (once per EV)", subscribe_s, subscribed),
                       ("payouts (pushed in batches)", payout_s, paid)]}


def start_anvil(states: str) -> tuple[subprocess.Popen, str]:
    """anvil on a free port; the states it persists go to ``states`` (removed by the caller), not
    to ~/.foundry, where every run would leave gigabytes behind."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent",
                             "--cache-path", states], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            RPCChain(url)
            return proc, url
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("anvil did not start")


def run_backend(make_chain, args) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.n:
        out["etsc"] = etsc_workload(make_chain(), args.n)
    with TemporaryDirectory() as tmp:
        if args.prosumers:
            out["community"] = community_day(make_chain(), args.prosumers, tmp + "/c")
        if args.evs:
            out["fleet"] = fleet_day(make_chain(), args.evs, tmp + "/f")
    return out


def day_table(title: str, results: dict[str, dict[str, Any]], console: Console) -> None:
    for backend, r in results.items():
        ops = gas_by_operation(r["txs"] + [t for _, _, extra in r.get("extras", []) for t in extra])
        table = Table(title=f"{title}, {backend}: gas per operation and per entry")
        for col in ("operation", "txs", "entries", "gas", "gas / entry", "largest tx"):
            table.add_column(col, justify="right")
        for op, row in ops.items():
            table.add_row(op, str(row["txs"]), str(row["entries"]), f"{row['gas']:,.0f}",
                          f"{row['gas'] / max(row['entries'], 1):,.0f}", f"{row['max']:,.0f}")
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200, help="ETSC workload size (0: skip)")
    parser.add_argument("--prosumers", type=int, default=1000, help="community day size (0: skip)")
    parser.add_argument("--evs", type=int, default=1000, help="fleet day size (0: skip)")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with TemporaryDirectory() as tmp:
        chains: list[Chain] = []

        def embedded() -> Chain:
            chains.append(EmbeddedChain(Path(tmp) / f"chain{len(chains)}"))
            return chains[-1]

        results["embedded (py-evm + SQLite)"] = run_backend(embedded, args)
        for c in chains:
            c.close()
    with TemporaryDirectory(prefix="anvil-states-") as states:
        proc, url = start_anvil(states)
        try:
            results["anvil (JSON-RPC)"] = run_backend(lambda: RPCChain(url), args)
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait()

    console = Console(width=130)
    names = list(results)
    if args.n:
        table = Table(title=f"elecoin market: ms per transaction (N = {args.n}, receipts awaited)")
        table.add_column("phase")
        for name in names:
            table.add_column(name, justify="right")
        table.add_column("embedded / anvil", justify="right")
        emb, anv = (results[k]["etsc"] for k in names)
        for phase in emb:
            table.add_row(phase, *(f"{1e3 * results[k]['etsc'][phase]:.1f}" for k in names),
                          f"{emb[phase] / anv[phase]:.2f}")
        console.print(table)
    days = [d for d in ("community", "fleet") if d in results[names[0]]]
    for d in days:
        day_table(f"{d} day", {k: results[k][d] for k in names}, console)
    if days:
        table = Table(title=f"days on chain (goal: each day in {DAY_GOAL_S:.0f} s or less on the embedded chain, "
                      f"every transaction under {BLOCK_GAS / 1e6:.0f}M gas)")
        for col in ("day", "backend", "members", "seconds", "transactions", "tx/s", "gas", "gas / member",
                    "largest tx", "goal"):
            table.add_column(col, justify="right")
        for d in days:
            for k in names:
                r = results[k][d]
                txs = r["txs"]
                gas = sum(t.gas_used for t in txs)
                largest = max(t.gas_used for t in txs)
                ok = largest < BLOCK_GAS and (r["seconds"] <= DAY_GOAL_S or not k.startswith("embedded"))
                table.add_row(d, k, str(r["members"]), f"{r['seconds']:.1f}", str(len(txs)),
                              f"{len(txs) / r['seconds']:.1f}", f"{gas:,}", f"{gas / r['members']:,.0f}",
                              f"{largest:,}", "met" if ok else "MISSED")
                for label, sec, extra in r.get("extras", []):
                    ok = max(t.gas_used for t in extra) < BLOCK_GAS
                    table.add_row(f"  {label}", k, str(r["members"]), f"{sec:.1f}", str(len(extra)),
                                  f"{len(extra) / sec:.1f}", f"{sum(t.gas_used for t in extra):,}",
                                  f"{sum(t.gas_used for t in extra) / r['members']:,.0f}",
                                  f"{max(t.gas_used for t in extra):,}", "met" if ok else "MISSED")
        console.print(table)
    ratios = []
    if args.n:
        emb, anv = (results[k]["etsc"] for k in names)
        ratios += [f"{p} {emb[p] / anv[p]:.2f}" for p in ("register", "buyToken", "trade")]
    for d in days:
        emb, anv = (results[k][d]["seconds"] for k in names)
        ratios.append(f"{d} day {emb / anv:.2f}")
    print("ratios embedded/anvil (baseline: anvil, same run): " + ", ".join(ratios))


if __name__ == "__main__":
    main()
