"""Web benchmark (run: python benchmarks/web.py; needs Debian's wrk: apt-get install wrk).

Starts ``gridledger serve`` on loopback over a chain populated with users and trades, then
drives read endpoints and explorer pages with wrk for a fixed time each, printing requests/s,
p99 latency and errors. The baseline in the same run is /api/health (no chain or index work).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from webapp import make_app, populate

DURATION = os.environ.get("GRIDLEDGER_WRK_SECONDS", "5")


def wrk(url: str) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t", "2", "-c", "16", "-d", f"{DURATION}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    errs = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(g) for g in errors.groups()) if errors else 0)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale, "errors": errs}


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    data = Path(tempfile.mkdtemp(prefix="gridledger-web-bench-"))
    app = make_app(data)
    world = populate(TestClient(app))
    c = world.client
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    h = world.h(world.alice)
    c.post("/api/buy", json={"server": server, "elecoins": 5}, headers=h)
    trade = None
    for _ in range(5):
        trade = c.post("/api/trade", json={"retailer": world.bob["address"], "energy_kwh": 1}, headers=h).json()
    app.state.gl.chain.close()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "gridledger.cli", "serve", "--data-dir", str(data), "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        head = httpx.get(f"{base}/api/explorer/blocks").json()["head"]
        targets = {
            "/api/health (baseline)": "/api/health",
            "/api/market": "/api/market",
            "/api/explorer/blocks": "/api/explorer/blocks",
            "/api/explorer/blocks/{n}": f"/api/explorer/blocks/{head}",
            "/api/explorer/tx/{hash}": f"/api/explorer/tx/{trade['tx_hash']}",
            "/api/explorer/address/{a}": f"/api/explorer/address/{world.alice['address']}",
            "/explorer (page)": "/explorer",
        }
        results = {name: wrk(base + path) for name, path in targets.items()}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    table = Table(title=f"web app under wrk (2 threads, 16 connections, {DURATION} s each, loopback)")
    for col in ("endpoint", "requests/s", "p99 ms", "errors"):
        table.add_column(col, justify="right")
    for name, r in results.items():
        table.add_row(name, f"{r['rps']:,.0f}", f"{r['p99_ms']:.1f}", str(r["errors"]))
    Console(width=110).print(table)
    base_rps = results["/api/health (baseline)"]["rps"]
    print("ratios to /api/health: " + ", ".join(f"{k} {v['rps'] / base_rps:.2f}" for k, v in results.items()
                                               if "baseline" not in k))
    if any(r["errors"] for r in results.values()):
        sys.exit("errors under load")


if __name__ == "__main__":
    main()
