"""Regression tests of the web server's security findings (issue: the server as a pilot would run it).

Each test names the finding it pins: 1 (public privileged keys: prod refuses them), 3 (deep
nesting), 4 (endless EVM executions, the dashboard's cache), 5 (nonces, atomic sign-up), 6
(names), 7 (throttling), 8 (the same work for unknown names), 9 (strict input, headers, docs).
Finding 2 (derivable demo keys) belongs to the key generation of the ledger and demo.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from webapp import app_routes, make_app, populate, vault_password_to_env

from gridledger.errors import ConfigError
from gridledger.ledger.keys import is_well_known
from gridledger.ledger.keystore import Keystore
from gridledger.web.app import create_app
from gridledger.web.settings import Settings

pytestmark = pytest.mark.integration

STRONG = {"admin_password": "a strong admin secret", "meter_password": "a strong meter secret"}
LOOP = "0x5b600056"  # JUMPDEST PUSH1 0 JUMP: an endless loop


def fast_settings(tmp_path, **kw) -> Settings:
    base = {"data_dir": tmp_path, "keystore_kdf": "pbkdf2", "keystore_iterations": 2,
            "login_attempts_per_minute": 1000, "signups_per_minute": 1000}
    base.update(kw)
    return Settings(**base)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return populate(TestClient(make_app(tmp_path_factory.mktemp("findings"))))


def rpc(c, method, *params, rid=1):
    return c.post("/rpc", json={"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)})


def admin_key(world) -> Account:
    ks = Keystore(world.client.app.state.gl.keystore.directory)
    return ks.unlock("admin", "dev-admin-password").account


# ---------------------------------------------------------------- finding 1
def _deployed_by_a_public_key(tmp_path, monkeypatch) -> str:
    """A data dir deployed before keys were random: its administrator is eth-tester's key 1."""
    from gridledger.ledger import deploy
    from gridledger.ledger.chain import LocalSigner, open_chain

    public = LocalSigner(Account.from_key((1).to_bytes(32, "big")))
    assert is_well_known(public.address)
    chain = open_chain(None, tmp_path)
    try:
        chain.send_value(chain.dev_signers()[0], public.address, 10**20)
        with monkeypatch.context() as m:  # an older deploy that did not refuse public keys
            m.setattr(deploy, "is_well_known", lambda address: False)
            deploy.deploy_market(chain, tmp_path, admin=public)
    finally:
        chain.close()
    return public.address


def test_1_prod_refuses_a_chain_whose_administrator_key_is_public(tmp_path, monkeypatch):
    public = _deployed_by_a_public_key(tmp_path, monkeypatch)
    monkeypatch.setenv("GRIDLEDGER_PASSWORD", vault_password_to_env(tmp_path))
    with pytest.raises(ConfigError) as err:
        create_app(fast_settings(tmp_path, env="prod", **STRONG))
    assert f"administrator {public}" in str(err.value)


def test_1_serve_env_prod_exits_2_naming_the_public_keys(tmp_path, monkeypatch):
    import os

    public = _deployed_by_a_public_key(tmp_path, monkeypatch)
    env = {"GRIDLEDGER_ADMIN_PASSWORD": STRONG["admin_password"],
           "GRIDLEDGER_METER_PASSWORD": STRONG["meter_password"], "PATH": "/usr/bin:/bin",
           "PYTHONPATH": os.environ.get("PYTHONPATH", ""), "GRIDLEDGER_PASSWORD": vault_password_to_env(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "gridledger", "serve", "--env", "prod", "--data-dir",
                           str(tmp_path), "--port", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2
    assert f"administrator {public}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_1_prod_refuses_a_chain_whose_staking_operator_key_is_public(tmp_path, monkeypatch):
    """The community's staking contracts count as much as the market: an operator (or any other
    role holder) with a public key is refused too, named by contract and role."""
    from gridledger.ledger import deploy
    from gridledger.ledger.chain import LocalSigner, open_chain

    public = LocalSigner(Account.from_key((3).to_bytes(32, "big")))
    chain = open_chain(None, tmp_path)
    try:
        with monkeypatch.context() as m:  # an older deploy that did not refuse public keys
            m.setattr(deploy, "is_well_known", lambda address: False)
            deploy.deploy_community_ledger(chain, tmp_path, operator=public)
    finally:
        chain.close()
    monkeypatch.setenv("GRIDLEDGER_PASSWORD", vault_password_to_env(tmp_path))
    with pytest.raises(ConfigError) as err:
        create_app(fast_settings(tmp_path, env="prod", **STRONG))
    assert f"community ProofStaking operator {public.address}" in str(err.value)
    assert "community ProofStaking administrator" not in str(err.value)  # a random vault key: not flagged


def _serve_prod(data_dir, **env):
    import os

    base = {"GRIDLEDGER_ADMIN_PASSWORD": STRONG["admin_password"],
            "GRIDLEDGER_METER_PASSWORD": STRONG["meter_password"], "PATH": "/usr/bin:/bin",
            "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "gridledger", "serve", "--env", "prod", "--data-dir", str(data_dir),
                           "--port", "1"], capture_output=True, text=True, env={**base, **env}, timeout=300)


def test_1_prod_takes_the_vault_password_from_the_environment_only(tmp_path, monkeypatch):
    """The key vault holds every privileged key: in prod its password may not lie beside it (whoever
    copies the data directory would hold the keys), nor be missing; refused before anything is
    created or opened, with exit code 2 and the variable's name."""
    from gridledger.ledger.accounts import vault_dir

    monkeypatch.delenv("GRIDLEDGER_PASSWORD", raising=False)
    fresh = tmp_path / "fresh"
    proc = _serve_prod(fresh)
    assert proc.returncode == 2 and "GRIDLEDGER_PASSWORD" in proc.stderr and "not set" in proc.stderr
    assert "Traceback" not in proc.stderr and not fresh.exists()  # nothing written
    with pytest.raises(ConfigError) as err:
        create_app(fast_settings(fresh, env="prod", **STRONG))
    assert err.value.field == "GRIDLEDGER_PASSWORD" and not fresh.exists()

    data = tmp_path / "data"
    from gridledger.ledger.chain import open_chain

    open_chain(None, data).close()  # a data dir made by the demo or a dev server: its password in a file
    file = vault_dir(data) / ".password"
    assert file.exists()
    with pytest.raises(ConfigError) as err:
        create_app(fast_settings(data, env="prod", **STRONG))
    assert str(file) in str(err.value) and "delete the file" in str(err.value)
    proc = _serve_prod(data, GRIDLEDGER_PASSWORD=file.read_text().strip())  # set, but the file is still there
    assert proc.returncode == 2 and "still holds a password" in proc.stderr and "Traceback" not in proc.stderr
    password = vault_password_to_env(data)
    monkeypatch.setenv("GRIDLEDGER_PASSWORD", password)
    app = create_app(fast_settings(data, env="prod", **STRONG))  # as the docs say: accepted
    app.state.gl.close()
    app.state.gl.chain.close()
    assert not file.exists()


# ---------------------------------------------------------------- finding 3
@pytest.mark.parametrize("path", ["/api/auth/login", "/rpc", "/api/accounts", "/api/wallet/prepare"])
def test_3_a_body_nested_100000_levels_is_refused_before_parsing(world, path):
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000, b"[" * 500_000):
        r = world.client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400
        text = r.text
        assert "nested too deeply" in text and "at most 32" in text
    assert world.client.get("/api/health").json()["status"] == "ok"


def test_3_nesting_inside_strings_does_not_count(world):
    r = world.client.post("/api/auth/login", json={"name": "nobody", "password": "[" * 200})
    assert r.status_code == 401


# ---------------------------------------------------------------- finding 4
def test_4_endless_eth_call_and_estimate_are_capped(world):
    c = world.client
    for method in ("eth_call", "eth_estimateGas"):
        r = rpc(c, method, {"data": LOOP, "gas": hex(60_000_000)}, "latest")
        assert r.status_code == 200
        err = r.json()["error"]
        assert err["code"] == -32000 and "out of gas" in err["message"]
    # Calls within the cap still answer like a node: a result, or a revert with its data.
    gl = c.app.state.gl
    price = gl.etsc.contract.encode_abi("unitPowerPrice", args=[])
    r = rpc(c, "eth_call", {"to": gl.etsc.address, "data": price}, "latest").json()
    assert int(r["result"], 16) == gl.etsc.unit_power_price()
    assert 21_000 < int(rpc(c, "eth_estimateGas", {"to": gl.etsc.address, "data": price}).json()["result"], 16) \
        < 1_000_000
    r = rpc(c, "eth_call", {"to": gl.etsc.address, "data": "0x12345678"}, "latest").json()
    assert r["error"]["code"] == 3 and r["error"]["message"] == "execution reverted"


def test_4_an_execution_holds_no_write_lock_is_busy_elsewhere_and_is_stopped_at_its_timeout(tmp_path):
    # A cap high enough that the loop would run for many seconds, one executor, a timeout that stops it.
    app = create_app(fast_settings(tmp_path, rpc_gas_cap=60_000_000, rpc_timeout_seconds=3, rpc_executors=1))
    c = TestClient(app)
    gl = app.state.gl
    answers: dict[str, object] = {}

    def call():
        # The probes below may take the one executor first (the first also starts its worker
        # process): retry until the endless call is admitted rather than refused as busy.
        while True:
            answer = rpc(c, "eth_call", {"data": LOOP, "gas": hex(60_000_000)}, "latest").json()
            if answer.get("error", {}).get("code") != -32005:
                answers["first"] = answer
                return
            time.sleep(0.01)

    t = threading.Thread(target=call)
    t.start()
    while t.is_alive() and gl.reader._free:  # the endless call holds the one executor (else a probe could take it)
        time.sleep(0.01)
    took_lock_while_running = busy_while_running = False
    while t.is_alive() and not (took_lock_while_running and busy_while_running):
        if gl.lock.acquire(timeout=0.05):
            took_lock_while_running |= t.is_alive()
            gl.lock.release()
        other = rpc(c, "eth_call", {"data": LOOP, "gas": hex(100_000)}, "latest")
        busy_while_running |= other.status_code == 429 and other.json()["error"]["code"] == -32005 and t.is_alive()
    t.join()
    assert took_lock_while_running and busy_while_running
    assert answers["first"]["error"]["code"] == -32002  # stopped at the timeout, its worker killed
    # The executor was replaced: the next call runs at once (and ends at its own gas).
    after = rpc(c, "eth_call", {"data": LOOP, "gas": hex(100_000)}, "latest")
    assert after.status_code == 200 and "out of gas" in after.json()["error"]["message"], after.text
    assert c.get("/api/health").status_code == 200
    gl.close()
    gl.chain.close()


def test_4_ledger_dashboard_reads_a_closed_round_once_whatever_rounds_is(tmp_path):
    import numpy as np

    from gridledger.scenarios.community.chain import record_community_day
    from gridledger.scenarios.community.run import CommunityConfig, synthetic_input

    app = make_app(tmp_path)
    c = TestClient(app)
    gl = app.state.gl
    cfg = CommunityConfig(prosumers=4)
    rng = np.random.default_rng(0)
    with gl.lock:
        record_community_day(gl.chain, gl.settings.data_dir, cfg, synthetic_input(cfg, rng), rng)
    first = c.get("/api/dashboard/ledger?rounds=3").json()
    assert [r["round"] for r in first["community"]["rounds"]] == [1]
    assert first["community"]["rounds"][0]["phase"] == "closed"
    kept = dict(gl.rounds)
    assert len(kept) == 1
    world = populate(c, funded=False)  # new blocks: the head moves
    for n in (1, 57, 100):
        again = c.get(f"/api/dashboard/ledger?rounds={n}").json()
        assert again["community"]["rounds"] == first["community"]["rounds"]
    assert all(gl.rounds[k] is v for k, v in kept.items())  # served from the closed-round cache
    assert world.admin["name"] == "admin"
    gl.close()
    gl.chain.close()


# A stand-in computation the test controls: it records each start in a file, then waits until the
# test releases it (a file appears), then writes its result where the job asks.
HELD_COMPUTATION = """
import json, os, sys, time
runs, release, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(runs, "a") as f:
    f.write(f"{os.getpid()}\\n")
for _ in range(6000):
    if os.path.exists(release):
        break
    time.sleep(0.01)
else:
    sys.exit(3)
if open(release).read() == "fail":
    sys.exit(1)
json.dump({"unified": {"from": "the test's computation"}}, open(out, "w"))
"""


def hammer(c, n: int = 64) -> list[dict]:
    """``n`` concurrent anonymous GET /api/dashboard/elecoin (32 at once); each must answer by
    itself (a request waiting for the computation would never return: the test releases it after)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(c.get, "/api/dashboard/elecoin") for _ in range(n)]
        answers = [f.result(timeout=120) for f in futures]
    assert {a.status_code for a in answers} == {200}
    return [a.json() for a in answers]


def test_4_elecoin_dashboard_runs_one_computation_whatever_the_requests(tmp_path):
    """An anonymous client hammering /api/dashboard/elecoin costs one computation in total per
    version: started by the server's start-up or the first request (a guarded trigger), in
    another process; requests answer {"pending": true} meanwhile, then the kept result, also after
    a restart; a failed computation is not repeated by requests."""
    from gridledger.web.jobs import DONE, ProcessJob
    from gridledger.web.routes.dashboard import elecoin_job

    script = tmp_path / "held.py"
    script.write_text(HELD_COMPUTATION)
    runs, release = tmp_path / "runs.txt", tmp_path / "release"

    def held_job() -> ProcessJob:
        return ProcessJob([sys.executable, str(script), str(runs), str(release)])

    def started() -> list[str]:
        return runs.read_text().split() if runs.exists() else []

    app = make_app(tmp_path / "data")
    gl = app.state.gl
    job = gl.jobs["elecoin"] = held_job()
    with TestClient(app) as c:  # the lifespan: the server's start-up path starts it too
        assert hammer(c) == [{"pending": True}] * 64
        assert hammer(c) == [{"pending": True}] * 64
        assert elecoin_job(gl) is job and job.runs == 1
        assert len(started()) == 1
        release.write_text("ok")
        assert job.wait(120) and job.status == DONE
        expected = {"unified": {"from": "the test's computation"}}
        assert hammer(c) == [expected] * 64
        assert len(started()) == 1
    gl.close()
    gl.chain.close()

    # a restart of the same version reads it from the index: no computation at all
    app = make_app(tmp_path / "data")
    gl = app.state.gl
    job = gl.jobs["elecoin"] = held_job()
    with TestClient(app) as c:
        assert hammer(c, 32) == [expected] * 32
    assert job.runs == 0 and len(started()) == 1
    gl.close()
    gl.chain.close()

    # a computation that fails is reported, not started again by the next requests
    runs.unlink()
    release.write_text("fail")
    app = make_app(tmp_path / "other")
    gl = app.state.gl
    job = gl.jobs["elecoin"] = held_job()
    c = TestClient(app)  # no lifespan: the first request is the trigger
    hammer(c, 32)
    assert job.wait(120)
    answers = hammer(c, 32)
    assert all(a["pending"] is False and "exited with code 1" in a["unavailable"] for a in answers)
    assert job.runs == 1 and len(started()) == 1
    gl.close()
    gl.chain.close()


# ---------------------------------------------------------------- finding 5
def test_5_the_server_sends_after_a_raw_transaction_from_its_own_account(world):
    c = world.client
    key = admin_key(world)
    chain_id = int(rpc(c, "eth_chainId").json()["result"], 16)
    for _ in range(2):  # two foreign transactions: the server's view of the nonce is two behind
        nonce = int(rpc(c, "eth_getTransactionCount", key.address, "pending").json()["result"], 16)
        price = int(rpc(c, "eth_gasPrice").json()["result"], 16)
        signed = Account.sign_transaction({"to": key.address, "value": 0, "gas": 21_000, "gasPrice": price,
                                           "nonce": nonce, "chainId": chain_id}, key.key)
        r = rpc(c, "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
        assert r.json()["result"].startswith("0x")
    r = c.post("/api/admin/rights", json={"address": world.bob["address"], "gen_right": True, "trans_right": False},
               headers=world.h(world.admin))
    assert r.status_code == 200, r.text


def test_5_the_chain_retries_once_when_another_writer_took_the_nonce(tmp_path):
    """Chain.transact: a raw transaction slips in between the nonce read and the send."""
    from gridledger.ledger.chain import EmbeddedChain

    chain = EmbeddedChain(tmp_path / "chain")
    try:
        me, other = chain.dev_signers()[3], chain.dev_signers()[4]
        real = chain._pending_nonce
        slipped = []

        def racing(address):
            n = real(address)
            if not slipped:  # the first time only: another party sends with the same key
                signed = me.account.sign_transaction({"to": other.address, "value": 1, "gas": 21_000,
                                                      "gasPrice": chain.w3.eth.gas_price, "nonce": n,
                                                      "chainId": chain.chain_id})
                chain.w3.eth.send_raw_transaction(signed.raw_transaction)
                slipped.append(n)
            return n

        chain._pending_nonce = racing
        receipt = chain.send_value(me, other.address, 5)
        assert receipt["status"] == 1 and slipped
        assert chain.w3.eth.get_transaction_count(me.address) == slipped[0] + 2
    finally:
        chain.close()


def test_5_signup_is_atomic_and_can_be_retried(world):
    c, gl = world.client, world.client.app.state.gl
    before = {e.name for e in gl.keystore.list()}
    gl.settings.faucet_ether = 10.0**9  # more than the faucet holds: funding fails on chain
    try:
        r = c.post("/api/accounts", json={"name": "erin", "password": "erin-password"})
        assert r.status_code == 409 and "nothing was created" in r.json()["detail"]
        assert {e.name for e in gl.keystore.list()} == before
    finally:
        gl.settings.faucet_ether = 10.0
    r = c.post("/api/accounts", json={"name": "erin", "password": "erin-password"})
    assert r.status_code == 201
    assert int(rpc(c, "eth_getBalance", r.json()["address"], "latest").json()["result"], 16) == 10 * 10**18


# ---------------------------------------------------------------- finding 6
def test_6_meter_names_are_reserved_and_counted_without_case_collisions(world):
    c, gl = world.client, world.client.app.state.gl
    for name in ("Meter-3", "meter-7", "ADMIN", "Edge-Server-1", " admin "):
        r = c.post("/api/accounts", json={"name": name, "password": "long enough"})
        assert r.status_code == 422 and "reserved" in r.text
    # An entry left by an older version (taken before names were reserved) must not block meters.
    gl.keystore.create("Meter-3", "long enough")
    gl.keystore.create("meter-2x", "long enough")
    made = []
    for _ in range(3):
        r = c.post("/api/admin/meters", json={"user": world.bob["address"]}, headers=world.h(world.admin))
        assert r.status_code == 201, r.text
        made.append(r.json()["meter"])
    names = [e.name.lower() for e in gl.keystore.list()]
    assert len(names) == len(set(names))
    assert all(sum(1 for e in gl.keystore.list() if e.address == m and e.name.startswith("meter-")) == 1
               for m in made)


def test_6_names_are_normalised_once(world):
    c = world.client
    r = c.post("/api/accounts", json={"name": "  Frank   Lee ", "password": "frank-password"})
    assert r.status_code == 201 and r.json()["name"] == "Frank Lee"
    assert c.post("/api/accounts", json={"name": "frank lee", "password": "frank-password"}).status_code == 400
    assert c.post("/api/auth/login", json={"name": "FRANK  LEE", "password": "frank-password"}).status_code == 200


# ---------------------------------------------------------------- finding 7
def _client(app, ip):
    return TestClient(app, client=(ip, 40000))


def test_7_attackers_elsewhere_cannot_lock_the_owner_out_of_a_known_device(tmp_path):
    app = create_app(fast_settings(tmp_path, login_failures_per_account=5, login_failures_per_device=3))
    owner = _client(app, "10.0.0.1")
    assert owner.post("/api/auth/login", json={"name": "admin", "password": "dev-admin-password"}).status_code == 200
    assert owner.cookies.get("gl_device")
    statuses = []
    for i in range(2, 9):  # six and more wrong passwords from other addresses
        attacker = _client(app, f"10.0.0.{i}")
        for _ in range(2):
            statuses.append(attacker.post("/api/auth/login", json={"name": "admin", "password": "guess"}).status_code)
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}  # the attackers are slowed down
    # A new device needs the account's budget back (OWASP's trade-off)...
    newcomer = _client(app, "10.0.0.99")
    assert newcomer.post("/api/auth/login", json={"name": "admin", "password": "dev-admin-password"}).status_code \
        == 429
    # ...but the owner's known device signs in at once.
    r = owner.post("/api/auth/login", json={"name": "admin", "password": "dev-admin-password"})
    assert r.status_code == 200
    # A device has its own budget: guessing from it locks that device only.
    for _ in range(3):
        assert owner.post("/api/auth/login", json={"name": "admin", "password": "guess"}).status_code == 401
    assert owner.post("/api/auth/login", json={"name": "admin", "password": "dev-admin-password"}).status_code == 429
    app.state.gl.chain.close()


def test_7_one_counter_per_account_whatever_the_identifier(tmp_path):
    app = create_app(fast_settings(tmp_path, login_failures_per_account=4))
    address = app.state.gl.keystore.find("admin").address
    for i, ident in enumerate((address, address.lower(), "ADMIN", "admin")):
        r = _client(app, f"10.1.0.{i}").post("/api/auth/login", json={"name": ident, "password": "guess"})
        assert r.status_code == 401
    for ident in ("admin", address):
        r = _client(app, "10.1.0.50").post("/api/auth/login", json={"name": ident, "password": "dev-admin-password"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # Unknown names are throttled alike (the lock-out tells nothing about existence).
    for i in range(4):
        assert _client(app, f"10.2.0.{i}").post("/api/auth/login", json={"name": "ghost", "password": "x"}) \
            .status_code == 401
    assert _client(app, "10.2.0.9").post("/api/auth/login", json={"name": "ghost", "password": "x"}).status_code \
        == 429
    app.state.gl.chain.close()


def test_7_a_forged_device_cookie_is_ignored(tmp_path):
    app = create_app(fast_settings(tmp_path, login_failures_per_account=2))
    for i in range(2):
        _client(app, f"10.3.0.{i}").post("/api/auth/login", json={"name": "admin", "password": "guess"})
    address = app.state.gl.keystore.find("admin").address
    forged = app.state.gl.devices.issue(address)[:-4] + "AAAA"
    c = _client(app, "10.3.0.9")
    c.cookies.set("gl_device", forged, path="/api/auth")
    assert c.post("/api/auth/login", json={"name": "admin", "password": "dev-admin-password"}).status_code == 429
    app.state.gl.chain.close()


# ---------------------------------------------------------------- finding 8
def test_8_unknown_and_known_names_cost_one_key_derivation_each(world):
    c, gl = world.client, world.client.app.state.gl
    for name in ("admin", "nobody-at-all", "0x" + "ab" * 20, gl.keystore.find("alice").address):
        before = gl.passwords.kdf_runs
        assert c.post("/api/auth/login", json={"name": name, "password": "wrong password"}).status_code == 401
        assert gl.passwords.kdf_runs == before + 1


def test_8_the_decoy_uses_the_keystores_kdf_and_parameters(tmp_path):
    from gridledger.web.security import PasswordChecker

    ks = Keystore(tmp_path / "ks")  # the default: scrypt
    entry = ks.create("real", "a password of some length")
    real = json.loads(entry.path.read_text())["crypto"]
    decoy = PasswordChecker(ks, 1, 1).decoy["crypto"]
    assert decoy["kdf"] == real["kdf"] == "scrypt"
    strip = lambda p: {k: v for k, v in p.items() if k != "salt"}  # noqa: E731
    assert strip(decoy["kdfparams"]) == strip(real["kdfparams"])
    assert decoy["kdfparams"]["salt"] != real["kdfparams"]["salt"]


# ---------------------------------------------------------------- forged events
def _forging_creation(sig: str, topics: list[str], words: list[int]) -> str:
    """Creation code of a contract that only emits, while it is created, a log with the event
    signature ``sig``, the indexed ``topics`` (addresses) and ``words`` as data: what anybody
    with a little native coin can send."""
    from eth_utils import keccak

    code = b""
    for k, w in enumerate(words):  # PUSH32 w PUSH1 32k MSTORE
        code += b"\x7f" + w.to_bytes(32, "big") + b"\x60" + bytes([32 * k]) + b"\x52"
    for t in reversed([keccak(text=sig), *[bytes.fromhex(a[2:]).rjust(32, b"\0") for a in topics]]):
        code += b"\x7f" + t  # PUSH32 topic (the last topic first)
    code += b"\x60" + bytes([32 * len(words)]) + b"\x60\x00" + bytes([0xa0 + 1 + len(topics)]) + b"\x00"
    return "0x" + code.hex()  # ... PUSH1 size PUSH1 0 LOGn STOP


def test_forged_market_events_from_another_contract_are_not_the_markets(tmp_path):
    """Anybody may deploy a contract that emits ``Traded``/``ElecoinsBought``/``PriceDeclared``
    with the ETSC's signatures (the explorer decodes them by signature). The portal's history,
    daily totals and CSV, the edge server's sales and the dashboard's live market read only the
    ETSC's own events."""
    w = populate(TestClient(make_app(tmp_path)))
    c = w.client
    gl = c.app.state.gl
    alice, bob, server = w.alice["address"], w.bob["address"], w.server["address"]
    before = {path: c.get(path, headers=w.h(w.server)).json() for path in (
        f"/api/accounts/{alice}/history", f"/api/accounts/{alice}/daily", "/api/server/sales", "/api/dashboard/market")}
    csv_before = c.get(f"/api/accounts/{alice}/history.csv").text
    key = Keystore(gl.keystore.directory).unlock("carol", "carol-password").account  # a plain funded user
    forged = [("Traded(address,address,uint256,uint256)", [alice, bob], [5_000, 3 * 10**18]),
              ("ElecoinsBought(address,address,uint256,uint256)", [alice, server], [7 * 10**18, 10**18]),
              ("PriceDeclared(address,uint256)", [server], [10**15])]
    sent = []
    for nonce_offset, (sig, topics, words) in enumerate(forged):
        nonce = int(rpc(c, "eth_getTransactionCount", key.address, "pending").json()["result"], 16)
        signed = Account.sign_transaction({"data": _forging_creation(sig, topics, words), "value": 0, "gas": 200_000,
                                           "gasPrice": int(rpc(c, "eth_gasPrice").json()["result"], 16),
                                           "nonce": nonce, "chainId": gl.chain.chain_id}, key.key)
        res = rpc(c, "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex(), rid=nonce_offset).json()
        assert res["result"].startswith("0x"), res
        sent.append(res["result"])
    gl.index.sync()
    for h in sent:  # on chain and decoded by the explorer, but emitted by the forging contract
        t = c.get(f"/api/explorer/tx/{h}").json()
        assert t["status"] == 1 and len(t["events"]) == 1
        assert t["events"][0]["name"] in ("Traded", "ElecoinsBought", "PriceDeclared")
        assert t["events"][0]["address"] != gl.etsc.address
    after = {path: c.get(path, headers=w.h(w.server)).json() for path in before}
    assert after == before
    assert c.get(f"/api/accounts/{alice}/history.csv").text == csv_before


# ---------------------------------------------------------------- finding 9
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 5000])
@pytest.mark.parametrize("path", ["/api/buy", "/api/auth/login", "/api/admin/readings", "/rpc", "/api/server/price"])
def test_9_non_finite_and_overflowing_numbers_are_400(world, path, literal):
    body = f'{{"elecoins": {literal}, "energy_kwh": {literal}, "price": {literal}, "id": {literal}}}'
    r = world.client.post(path, content=body, headers={"content-type": "application/json", **world.h(world.admin)})
    assert r.status_code == 400, r.text
    assert ("NaN" in r.text or "out of range" in r.text or "malformed" in r.text)


def test_9_a_bool_is_not_a_number(world):
    c, h = world.client, world.h(world.alice)
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    before = c.get("/api/me", headers=h).json()["elecoins"]
    for bad in (True, "1", [1], {"v": 1}, None):
        r = c.post("/api/buy", json={"server": server, "elecoins": bad}, headers=h)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "elecoins"]
    r = c.post("/api/admin/users", json={"address": world.carol["address"], "user_name": "carol", "gen_right": 1,
                                         "trans_right": "true"}, headers=world.h(world.admin))
    assert r.status_code == 422
    assert c.get("/api/me", headers=h).json()["elecoins"] == before


@pytest.mark.parametrize("q", ["²", "٣", "①", "𝟘", "\u202e", "ｅ", "0x²" + "1" * 39, "%00", "\x00"])
def test_9_unicode_search_is_never_a_server_error(world, q):
    r = world.client.get("/api/explorer/search", params={"q": q})
    assert r.status_code in (200, 422) and (r.status_code == 422 or r.json() == {"kind": None})


def test_9_bodies_are_limited_in_size(world):
    c = world.client
    r = c.post("/api/auth/login", content=b"x" * (2 << 20), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["detail"]

    def chunks():
        for _ in range(40):
            yield b" " * 65536

    r = c.post("/rpc", content=chunks(), headers={"content-type": "application/json"})  # no Content-Length
    assert r.status_code == 413 and r.json()["error"]["code"] == -32600
    r = c.post("/api/auth/login", content=b"name=a", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


def test_9_security_headers_on_pages_api_and_refusals(world):
    c = world.client
    for r in (c.get("/portal"), c.get("/api/health"), c.get("/api/nope"), c.post("/rpc", content=b"[" * 100),
              c.get("/static/app.js")):
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "'unsafe-inline'" not in r.headers["content-security-policy"].split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_9_pages_have_no_inline_script_and_answer_head(world):
    import re

    c = world.client
    for path in ("/", "/login", "/portal", "/admin", "/server", "/explorer", "/dashboard", "/docs", "/redoc",
                 "/explorer/block/1"):
        head = c.head(path)
        assert head.status_code == 200 and head.content == b""
        html = c.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # every script has a src
        assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers
    assert c.head("/api/health").status_code == 200


def test_9_docs_load_only_local_assets(world):
    import re

    c = world.client
    for path in ("/docs", "/redoc"):
        html = c.get(path).text
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs and all(ref.startswith("/static/") for ref in refs), refs
        for ref in refs:
            r = c.get(ref)
            assert r.status_code == 200 and len(r.content) > 50
    assert "validatorUrl: null" in c.get("/static/js/docs.js").text
    assert c.get("/openapi.json").status_code == 200


# ---------------------------------------------------------------- kept: authentication on every route
PUBLIC_WRITES = {"/api/auth/login", "/api/accounts", "/api/wallet/prepare", "/rpc"}


def test_every_state_changing_route_needs_a_session(world):
    fresh = TestClient(world.client.app)
    checked = 0
    for route in app_routes(world.client.app):
        if route.path in PUBLIC_WRITES:
            continue
        for method in route.methods - {"GET", "HEAD"}:
            r = fresh.request(method, route.path.replace("{address}", "0x" + "11" * 20), json={})
            assert r.status_code == 401, (method, route.path, r.status_code)
            checked += 1
    assert checked >= 9


def test_rpc_whitelist_and_errors_are_json_rpc(world):
    c = world.client
    for method in ("eth_sign", "eth_accounts", "personal_unlockAccount", "debug_traceTransaction", "evm_mine",
                   "eth_sendTransaction", "admin_peers", 7, None):
        r = c.post("/rpc", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": []})
        assert r.json()["error"]["code"] == -32601
    assert c.post("/rpc", json=[{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}]).status_code == 400
    r = rpc(c, "eth_getBalance", "0x12", "latest")
    assert r.json()["error"]["code"] == -32602
    r = rpc(c, "eth_getTransactionReceipt", "0x" + "00" * 32)
    assert r.json() == {"jsonrpc": "2.0", "id": 1, "result": None}
    big = Account.create()
    tx = Account.sign_transaction({"to": big.address, "value": 0, "gas": 30_000_000, "gasPrice": 10**9, "nonce": 0,
                                   "chainId": int(rpc(c, "eth_chainId").json()["result"], 16)}, big.key)
    r = rpc(c, "eth_sendRawTransaction", "0x" + tx.raw_transaction.hex())
    assert r.json()["error"]["code"] == -32602 and "cap" in r.json()["error"]["message"]


def test_rpc_is_rate_limited_per_client(tmp_path):
    app = create_app(fast_settings(tmp_path, rpc_calls_per_minute=3))
    a, b = _client(app, "10.9.0.1"), _client(app, "10.9.0.2")
    assert [rpc(a, "eth_chainId").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert rpc(b, "eth_chainId").status_code == 200
    app.state.gl.chain.close()


def test_health_answers_while_a_write_holds_the_lock(world):
    gl = world.client.app.state.gl
    done = threading.Event()
    with gl.lock:
        t = threading.Thread(target=lambda: (world.client.get("/api/health"), done.set()))
        t.start()
        assert done.wait(timeout=60)  # answered although the write lock is held by this thread
    t.join()
