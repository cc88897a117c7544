"""Ledger benchmark (run: python benchmarks/ledger.py [--n 200]).

The same workload on the embedded py-evm chain and on a real anvil node started here on
loopback: deploy the ETSC; N registrations (empower); N buyToken; N trades; then one PoEG
staking round of the N prosumers (credit their scores in batches of 40, N stakes in coalitions
of 5, the seeded election, the UPOS reward, N unstakes), each transaction waiting for its
receipt. Prints ms per transaction (per member for credit) per phase and backend, and the ratio
embedded/anvil.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from rich.console import Console
from rich.table import Table

from gridledger.ledger.chain import Chain, EmbeddedChain, RPCChain
from gridledger.ledger.clients import ETSCClient, ETSCConfig, StakingClient, UPOSClient, seed_commitment
from gridledger.ledger.keys import random_signer
from gridledger.ledger.units import elecoins_to_units

ANVIL = Path(__file__).resolve().parents[1] / "contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
ETHER = 10**18


def workload(chain: Chain, n: int) -> dict[str, float]:
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

    upos_addr, _ = chain.deploy("UPOS", admin, admin.address)
    t = time.perf_counter()
    staking_addr, _ = chain.deploy("ProofStaking", admin, admin.address, upos_addr, 10_000, "PoEG")
    out["deploy staking"] = time.perf_counter() - t
    UPOSClient(chain, upos_addr).grant_minter(admin, staking_addr)
    st = StakingClient(chain, staking_addr)
    seed = bytes(range(32))
    st.open_round(admin, seed_commitment(seed))
    t = time.perf_counter()
    st.credit(admin, [p.address for p in prosumers], [10**18 + i for i in range(n)])
    out["credit (per member)"] = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for i, p in enumerate(prosumers):
        st.stake(p, prosumers[i - i % 5].address, 10**18 + i)
    out["stake"] = (time.perf_counter() - t) / n
    t = time.perf_counter()
    miner = st.elect(admin, seed).event("MinerElected").args["miner"]
    out["elect"] = time.perf_counter() - t
    coalition = st.backers(1, miner)
    t = time.perf_counter()
    st.pay_reward(admin, coalition, [10**15] * len(coalition))
    out["payReward"] = time.perf_counter() - t
    t = time.perf_counter()
    for p in prosumers:
        st.unstake(p, 1)
    out["unstake"] = (time.perf_counter() - t) / n
    assert st.epos.balance_of(st.address) == 0
    return out


def start_anvil() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            RPCChain(url)
            return proc, url
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("anvil did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    results = {}
    with TemporaryDirectory() as tmp:
        chain = EmbeddedChain(tmp)
        results["embedded (py-evm + SQLite)"] = workload(chain, args.n)
        chain.close()
    proc, url = start_anvil()
    try:
        results["anvil (JSON-RPC)"] = workload(RPCChain(url), args.n)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait()
    table = Table(title=f"ledger: ms per transaction (N = {args.n}, receipts awaited, preflight eth_call on)")
    table.add_column("phase")
    for name in results:
        table.add_column(name, justify="right")
    table.add_column("embedded / anvil", justify="right")
    emb, anv = results.values()
    for phase in emb:
        table.add_row(phase, *(f"{1e3 * r[phase]:.1f}" for r in results.values()), f"{emb[phase] / anv[phase]:.2f}")
    Console(width=120).print(table)
    per_tx = [emb[p] / anv[p] for p in ("register", "buyToken", "trade")]
    print(f"ratios embedded/anvil: register {per_tx[0]:.2f}, buyToken {per_tx[1]:.2f}, trade {per_tx[2]:.2f}")


if __name__ == "__main__":
    main()
