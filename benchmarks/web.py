"""Web benchmark (run: python benchmarks/web.py [all|load|pages] [--demo DIR]; needs Debian's wrk
(apt-get install wrk) and chromium).

Starts ``gridledger serve`` on loopback over a chain populated with users and trades, then, with
wrk for a fixed time each (GRIDLEDGER_WRK_SECONDS, default 5):

1. the read endpoints and explorer pages, 16 connections each;
2. 1,000 concurrent anonymous connections on /api/health alone and on a mix of the read
   endpoints, for at least 15 s (wrk's connect/read/write/timeout errors, with a 10 s timeout,
   and non-2xx answers must all be zero);
3. /api/health while the /rpc relay is under load: 32 connections sending endless-loop
   ``eth_call``s (each runs to the relay's gas cap; the executors are busy and the surplus gets
   429 at once), then 32 connections of cheap relay reads (``eth_blockNumber``).

Prints a table, then ratios against the baseline measured in the same run: /api/health alone
(requests/s for the endpoints; p99 latency for health under relay load). Exits non-zero if a
read run (1 or 2) or a health run (3) had any error.

``pages`` (run last by ``all``): the first load of the dashboard and explorer pages in headless
chromium, on a chain laid out as ``gridledger demo`` lays it out (tests/webapp.py ``demo_chain``:
its elecoin market settled, a community day and a scripted three-EV fleet's two days on chain,
with their reports; ``--demo DIR`` serves an existing ``gridledger demo --out DIR`` instead),
served by ``gridledger serve``:

- *first start*: the server has never indexed the chain (the index is built while pages load);
- *restart*: the index exists, the process starts with empty caches;
- *warm*: the same page loaded again (median of 5).

Each load is timed from navigation to the first contentful paint and to "ready" (every panel
drawn from the API: the pages set ``body[data-ready]``). Baseline: the home page (``/``) in the
same server state. The last line gives the ratios to it.
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
from webapp import demo_chain, make_app, populate

DURATION = os.environ.get("GRIDLEDGER_WRK_SECONDS", "5")
MANY = 1000
LOOP_CALL = '{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"data":"0x5b600056","gas":"0x3938700"},"latest"]}'
CHEAP_CALL = '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'


def wrk(url: str, connections: int = 16, script: str | None = None, seconds: int | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds or DURATION}s", "--timeout", "10s",
           "--latency"]
    if script is not None:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(g) for g in errors.groups()) if errors else 0
    total = re.search(r"(\d+) requests in", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": socket_errors, "requests": int(total.group(1)) if total else 0}


def lua(directory: Path, name: str, body: str) -> str:
    path = directory / f"{name}.lua"
    path.write_text(body)
    return str(path)


def post_script(directory: Path, name: str, payload: str) -> str:
    return lua(directory, name, f"wrk.method = \"POST\"\nwrk.body = '{payload}'\n"
                                "wrk.headers[\"Content-Type\"] = \"application/json\"\n")


def mix_script(directory: Path, paths: list[str]) -> str:
    listed = ", ".join(f'"{p}"' for p in paths)
    return lua(directory, "mix", f"local paths = {{{listed}}}\nlocal i = 0\n"
                                 "request = function()\n  i = i % #paths + 1\n"
                                 "  return wrk.format(\"GET\", paths[i])\nend\n")


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
    app.state.gl.close()
    app.state.gl.chain.close()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRIDLEDGER_KEYSTORE_KDF": "pbkdf2", "GRIDLEDGER_KEYSTORE_ITERATIONS": "2",
           "GRIDLEDGER_RPC_CALLS_PER_MINUTE": "1000000"}  # measure the relay's work, not its rate limit
    proc = subprocess.Popen([sys.executable, "-m", "gridledger", "serve", "--data-dir", str(data), "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    rows: dict[str, tuple[int, dict[str, float]]] = {}
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        head = httpx.get(f"{base}/api/explorer/blocks").json()["head"]
        reads = {
            "/api/health (baseline)": "/api/health",
            "/api/market": "/api/market",
            "/api/explorer/blocks": "/api/explorer/blocks",
            "/api/explorer/blocks/{n}": f"/api/explorer/blocks/{head}",
            "/api/explorer/tx/{hash}": f"/api/explorer/tx/{trade['tx_hash']}",
            "/api/explorer/address/{a}": f"/api/explorer/address/{world.alice['address']}",
            "/explorer (page)": "/explorer",
        }
        for name, path in reads.items():
            rows[name] = (16, wrk(base + path))
        scripts = data / "wrk"
        scripts.mkdir()
        # Long enough that every one of the 1,000 connections is answered many times.
        many_s = max(15, 3 * int(DURATION))
        rows["/api/health, 1,000 connections"] = (MANY, wrk(base + "/api/health", MANY, seconds=many_s))
        rows["read mix, 1,000 connections"] = (MANY, wrk(base + "/", MANY, mix_script(scripts, list(reads.values())),
                                                         seconds=many_s))

        for load_name, payload in (("endless eth_call", LOOP_CALL), ("eth_blockNumber", CHEAP_CALL)):
            loader = subprocess.Popen(["wrk", "-t", "1", "-c", "32", "-d", f"{int(DURATION) + 2}s", "--timeout",
                                       "30s", "-s", post_script(scripts, load_name.split()[-1], payload),
                                       base + "/rpc"], stdout=subprocess.PIPE, text=True)
            time.sleep(1)  # the relay is busy before health is measured
            rows[f"/api/health while /rpc {load_name} (32 conn.)"] = (16, wrk(base + "/api/health"))
            out = loader.communicate(timeout=int(DURATION) + 60)[0]
            served = re.search(r"(\d+) requests in", out)
            refused = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
            rows[f"  /rpc {load_name} itself"] = (32, {
                "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                "p99_ms": float("nan"), "non2xx": int(refused.group(1)) if refused else 0, "socket_errors": 0,
                "requests": int(served.group(1)) if served else 0, "load": 1})
        alive = proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)

    table = Table(title=f"web app under wrk ({DURATION} s each, loopback, 2 cores shared)")
    for col in ("run", "conn.", "requests", "requests/s", "p99 ms", "non-2xx", "socket errors"):
        table.add_column(col, justify="right")
    for name, (conns, r) in rows.items():
        p99 = "-" if r["p99_ms"] != r["p99_ms"] else f"{r['p99_ms']:.1f}"
        table.add_row(name, str(conns), f"{r['requests']:,}", f"{r['rps']:,.0f}", p99, str(r["non2xx"]),
                      str(r["socket_errors"]))
    Console(width=140).print(table)
    print("(the /rpc load rows count the relay's own answers: non-2xx there are 429s, 'busy' or rate-limited)")
    base_row = rows["/api/health (baseline)"][1]
    ratios = [f"{k} {v['rps'] / base_row['rps']:.2f}" for k, (_, v) in rows.items()
              if "baseline" not in k and "while" not in k and "load" not in v]
    p99s = [f"{k.split(' while ')[1].split(' (')[0]} {v['p99_ms'] / base_row['p99_ms']:.1f}x"
            for k, (_, v) in rows.items() if "while" in k]
    print("ratios of requests/s to /api/health: " + ", ".join(ratios))
    print("health p99 under relay load vs alone: " + ", ".join(p99s))
    bad = [k for k, (_, v) in rows.items()
           if "load" not in v and (v["non2xx"] or v["socket_errors"] or v["requests"] == 0)]
    if bad or not alive:
        sys.exit(f"errors under load: {bad}" if bad else "the server died under load")


PAGES = {"home (baseline)": "/", "dashboard": "/dashboard", "explorer": "/explorer",
         "explorer tokens": "/explorer/tokens", "explorer tx": None}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _serve(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRIDLEDGER_KEYSTORE_KDF": "pbkdf2", "GRIDLEDGER_KEYSTORE_ITERATIONS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "gridledger", "serve", "--data-dir", str(data), "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    sys.exit("the server did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _load(browser: object, url: str) -> tuple[float, float]:
    """(first contentful paint, ready) in seconds for one load in a fresh browser context."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = ctx.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.locator("body[data-ready='1']").wait_for(timeout=120_000)
    ready = time.perf_counter() - start
    fcp = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: NaN}).startTime")
    ctx.close()
    return float(fcp) / 1000, ready


def pages(demo: Path | None) -> None:
    from playwright.sync_api import sync_playwright

    if demo is None:
        root = Path(tempfile.mkdtemp(prefix="gridledger-web-pages-"))
        t = time.perf_counter()
        data = demo_chain(root)
        print(f"demo-like chain built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    else:
        root = Path(tempfile.mkdtemp(prefix="gridledger-web-pages-"))
        shutil.copytree(demo, root, dirs_exist_ok=True)
        data = root / "chain"
    shutil.rmtree(data / "explorer", ignore_errors=True)
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for state in ("first start", "restart"):
            proc, base = _serve(data)
            try:
                # on the first start this only begins the index (a read syncs for 0.3 s at most while
                # the background indexer runs): the pages below load while it is being built
                tx = httpx.get(f"{base}/api/explorer/blocks?limit=1", timeout=120).json()
                paths = {k: v or f"/explorer/tx/{tx['transactions'][0]['hash']}" for k, v in PAGES.items()} \
                    if tx["transactions"] else {k: v for k, v in PAGES.items() if v}
                results[state] = {k: _load(browser, base + v) for k, v in paths.items()}
                if state == "restart":
                    warm = {k: [_load(browser, base + v) for _ in range(5)] for k, v in paths.items()}
                    results["warm"] = {k: (sorted(x[0] for x in v)[2], sorted(x[1] for x in v)[2])
                                       for k, v in warm.items()}
                blocks = httpx.get(f"{base}/api/explorer/stats", timeout=60).json()["progress"]
            finally:
                _stop(proc)
        browser.close()
    shutil.rmtree(root, ignore_errors=True)
    table = Table(title=f"first load of the pages (headless chromium, chain of {blocks['head']} blocks)")
    for col in ("server", "page", "first paint ms", "ready ms", "ready / home"):
        table.add_column(col, justify="right")
    ratios = []
    for state, rows in results.items():
        base_ready = rows["home (baseline)"][1]
        for name, (fcp, ready) in rows.items():
            table.add_row(state, name, f"{1000 * fcp:.0f}", f"{1000 * ready:.0f}", f"{ready / base_ready:.2f}")
            if "baseline" not in name and name in ("dashboard", "explorer"):
                ratios.append(f"{state} {name} {ready / base_ready:.2f}")
    Console(width=120).print(table)
    print("ratios of time to ready to the home page's: " + ", ".join(ratios))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="gridledger web benchmark")
    ap.add_argument("part", nargs="?", choices=("all", "load", "pages"), default="all")
    ap.add_argument("--demo", type=Path, default=None, help="an existing `gridledger demo --out DIR`")
    args = ap.parse_args()
    if args.part in ("all", "load"):
        main()
    if args.part in ("all", "pages"):
        pages(args.demo)
