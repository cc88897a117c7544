"""A real ``gridledger serve`` process on loopback: prod mode, an endless eth_call, hostile requests,
20 concurrent buys with exact balances, and kill -9 during a write burst.

The prod server runs on a chain prepared with privileged keys of its own (random, in the
encrypted keystore) and no faucet, as a pilot would run it; ``serve --env prod`` refuses the
embedded chain's default development keys (test_web_findings.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from webapp import vault_password_to_env

from gridledger.ledger.chain import open_chain
from gridledger.ledger.clients import ETSCClient
from gridledger.ledger.deploy import MarketDeployment, deploy_market
from gridledger.ledger.keys import is_well_known, random_signer
from gridledger.ledger.keystore import Keystore
from gridledger.ledger.units import elecoins_to_units

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "a strong admin secret"
METER_PASSWORD = "a strong meter secret"
PROSUMERS = 4
LOOP = "0x5b600056"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m gridledger serve`` in a subprocess, stopped with SIGTERM (or killed)."""

    def __init__(self, data_dir: Path, env: str = "dev", password: str | None = None, **settings: object) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environ = {**os.environ, "GRIDLEDGER_ADMIN_PASSWORD": ADMIN_PASSWORD if env == "prod" else "dev-admin-password",
                   "GRIDLEDGER_METER_PASSWORD": METER_PASSWORD if env == "prod" else "dev-meter-password",
                   "GRIDLEDGER_KEYSTORE_KDF": "pbkdf2", "GRIDLEDGER_KEYSTORE_ITERATIONS": "2"}
        environ.update({f"GRIDLEDGER_{k.upper()}": str(v) for k, v in settings.items()})
        if password is not None:
            environ["GRIDLEDGER_PASSWORD"] = password  # the key vault's, from the environment only
        self.log = data_dir.parent / f"serve-{self.port}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "gridledger", "serve", "--env", env, "--data-dir",
                                      str(data_dir), "--port", str(self.port)], env=environ,
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        deadline = time.time() + 240
        while True:
            assert self.proc.poll() is None, f"the server exited: {self.log.read_text()[-2000:]}"
            assert time.time() < deadline, "the server did not start"
            try:
                if httpx.get(f"{self.base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def prepare_pilot_chain(data: Path) -> dict:
    """A data dir whose administrator and edge server have random keys (keystore, admin password),
    with PROSUMERS funded, registered prosumers and a declared price; the faucet stays off."""
    chain = open_chain(data_dir=data)  # the chain under data/chain, its genesis keys in data's vault
    try:
        dev = chain.dev_signers()
        admin, edge = random_signer(), random_signer()
        users = [random_signer() for _ in range(PROSUMERS)]
        for s in (admin, edge, *users):
            chain.send_value(dev[0], s.address, 1_000 * 10**18)
        dep, _ = deploy_market(chain, data, MarketDeployment(), admin=admin, edge_servers=[edge.address])
        etsc = ETSCClient(chain, dep.contracts["ETSC"])
        ks = Keystore(data / "keystore", kdf="pbkdf2", iterations=2)
        ks.create("admin", ADMIN_PASSWORD, private_key=bytes(admin.account.key))
        ks.create("edge-server-1", ADMIN_PASSWORD, private_key=bytes(edge.account.key))
        for i, u in enumerate(users):
            ks.create(f"prosumer {i}", f"prosumer password {i}", private_key=bytes(u.account.key))
            etsc.empower(admin, f"prosumer {i}", u.address, False, True)
        etsc.declare_price(edge, 80 * 10**15)
        assert not any(is_well_known(a) for a in (admin.address, edge.address))
        return {"edge": edge.address, "etsc": etsc.address, "users": [u.address for u in users],
                "redemption_price_wei": etsc.redemption_price()}
    finally:
        chain.close()


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    data = tmp_path_factory.mktemp("pilot") / "data"
    info = prepare_pilot_chain(data)
    # A gas cap high enough that the endless loop runs for seconds: the health check must answer meanwhile.
    server = Server(data, env="prod", password=vault_password_to_env(data), faucet_ether=0, rpc_gas_cap=10_000_000,
                    rpc_timeout_seconds=60, rpc_executors=2, rpc_calls_per_minute=10_000)
    yield server, info
    server.stop()


def test_prod_health_answers_while_an_endless_eth_call_runs(pilot):
    server, _ = pilot
    answer: dict = {}

    def endless():
        r = httpx.post(f"{server.base}/rpc", timeout=300,
                       json={"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                             "params": [{"data": LOOP, "gas": hex(60_000_000)}, "latest"]})
        answer["rpc"] = r.json()

    t = threading.Thread(target=endless)
    t.start()
    healthy_while_running = 0
    page_while_running = False
    with httpx.Client(base_url=server.base, timeout=60) as c:
        while t.is_alive():
            r = c.get("/api/health")
            assert r.status_code == 200 and r.json()["status"] == "ok"
            page_while_running |= c.get("/static/style.css").status_code == 200 and t.is_alive()
            if t.is_alive():
                healthy_while_running += 1
    t.join()
    assert healthy_while_running >= 3 and page_while_running
    # The loop ran until the relay stopped it: at its gas cap, or (on a slow machine) at its timeout.
    err = answer["rpc"]["error"]
    assert (err["code"] == -32000 and "out of gas" in err["message"]) or err["code"] == -32002
    assert server.alive()


HOSTILE = [
    ("/api/auth/login", b"[" * 100_000 + b"]" * 100_000),
    ("/rpc", b"[" * 100_000 + b"]" * 100_000),
    ("/rpc", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    ("/api/accounts", b'{"name": NaN, "password": Infinity}'),
    ("/api/buy", b'{"server": "0x1111111111111111111111111111111111111111", "elecoins": 1e400}'),
    ("/api/buy", b'{"server": "0x1111111111111111111111111111111111111111", "elecoins": true}'),
    ("/api/wallet/prepare", b'{"action": "buy", "amount": ' + b"9" * 5000 + b"}"),
    ("/api/auth/login", b"\xff\xfe" * 1000),
    ("/api/auth/login", b" " * (3 << 20)),
    ("/rpc", b'{"jsonrpc":"2.0","id":1,"method":"eth_estimateGas","params":[{"data":"0x5b600056","gas":"0x3938700"}]}'),
]


def test_prod_process_survives_every_hostile_request(pilot):
    server, _ = pilot
    with httpx.Client(base_url=server.base, timeout=300) as c:
        for path, body in HOSTILE:
            r = c.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code < 500, (path, body[:40], r.status_code)
        for path in ("/api/explorer/search?q=%C2%B2", "/api/explorer/tx/%ff", "/docs", "/redoc", "/portal"):
            assert c.get(path).status_code < 500
        assert c.head("/portal").status_code == 200
        assert server.alive()
        assert c.get("/api/health").json()["status"] == "ok"


def test_prod_20_concurrent_buys_leave_exact_balances(pilot):
    server, info = pilot
    with httpx.Client(base_url=server.base, timeout=120) as c:
        tokens = [c.post("/api/auth/login", json={"name": f"prosumer {i}", "password": f"prosumer password {i}"})
                  .json()["token"] for i in range(PROSUMERS)]
        before = {a: c.get(f"/api/accounts/{a}").json() for a in [*info["users"], info["edge"]]}
        reserve = c.get("/api/market").json()["totals"]["elecoin_reserve"]

    def buy(k: int) -> int:
        with httpx.Client(base_url=server.base, timeout=300) as c:
            return c.post("/api/buy", json={"server": info["edge"], "elecoins": 1},
                          headers={"Authorization": f"Bearer {tokens[k % PROSUMERS]}"}).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(buy, range(20)))
    assert statuses == [200] * 20
    with httpx.Client(base_url=server.base, timeout=120) as c:
        after = {a: c.get(f"/api/accounts/{a}").json() for a in [*info["users"], info["edge"]]}
        market = c.get("/api/market").json()
    per_user = 20 // PROSUMERS
    for a in info["users"]:
        assert elecoins_to_units(after[a]["elecoins"]) - elecoins_to_units(before[a]["elecoins"]) \
            == elecoins_to_units(per_user)
    # Each elecoin pays the declared price: its redemption backing stays in the contract, the rest is proceeds.
    price_wei = 80 * 10**15
    assert 0 < info["redemption_price_wei"] < price_wei
    assert int(after[info["edge"]]["proceeds_wei"]) - int(before[info["edge"]]["proceeds_wei"]) \
        == 20 * (price_wei - info["redemption_price_wei"])
    assert elecoins_to_units(reserve) - elecoins_to_units(market["totals"]["elecoin_reserve"]) \
        == elecoins_to_units(20)


def test_kill_9_during_a_write_burst_loses_nothing_acknowledged(tmp_path):
    data = tmp_path / "data"
    server = Server(data)
    with httpx.Client(base_url=server.base, timeout=120) as c:
        admin = {"Authorization": "Bearer " + c.post("/api/auth/login", json={"name": "admin",
                                                     "password": "dev-admin-password"}).json()["token"]}
        user = c.post("/api/accounts", json={"name": "gina", "password": "gina-password"}).json()["address"]
        assert c.post("/api/admin/users", json={"address": user, "user_name": "gina", "gen_right": True,
                                                "trans_right": False}, headers=admin).status_code == 200
        meter = c.post("/api/admin/meters", json={"user": user}, headers=admin).json()["meter"]
    acked = 0
    stop = threading.Event()

    def burst():
        nonlocal acked
        with httpx.Client(base_url=server.base, timeout=60) as c:
            while not stop.is_set():
                try:
                    r = c.post("/api/admin/readings", json={"meter": meter, "kind": "generation",
                                                            "energy_kwh": 0.001}, headers=admin)
                except httpx.HTTPError:
                    return  # the server died mid-request: not acknowledged
                assert r.status_code == 200, r.text
                acked += 1

    t = threading.Thread(target=burst)
    t.start()
    while acked < 15 and t.is_alive():
        time.sleep(0.05)
    server.kill9()  # while the burst is still sending
    stop.set()
    t.join()
    assert acked >= 15
    again = Server(data)
    try:
        with httpx.Client(base_url=again.base, timeout=120) as c:
            generated_wh = round(c.get(f"/api/accounts/{user}").json()["total_gen_kwh"] * 1000)
            assert acked <= generated_wh <= acked + 1  # every acknowledged reading; at most the one in flight
            r = c.post("/api/admin/readings", json={"meter": meter, "kind": "generation", "energy_kwh": 0.001},
                       headers={"Authorization": "Bearer " + c.post("/api/auth/login", json={
                           "name": "admin", "password": "dev-admin-password"}).json()["token"]})
            assert r.status_code == 200
    finally:
        again.stop()
