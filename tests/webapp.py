"""Helpers to build the web app on a fresh embedded chain and populate it with users and roles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from gridledger.web.app import create_app
from gridledger.web.settings import Settings


def make_app(data_dir: Path, **settings):
    """The app on a fresh embedded chain, with cheap key derivation and throttles out of the way."""
    kw = {"data_dir": data_dir, "keystore_kdf": "pbkdf2", "keystore_iterations": 2, "login_attempts_per_minute": 1000,
          "signups_per_minute": 1000, "rpc_calls_per_minute": 100_000}
    kw.update(settings)
    return create_app(Settings(**kw))


def vault_password_to_env(data_dir: Path) -> str:
    """What an operator does before ``--env prod``: the key vault's password moves from its file
    beside the vault to ``$GRIDLEDGER_PASSWORD`` (returned; the caller sets it) and the file is
    deleted."""
    from gridledger.ledger.accounts import PASSWORD_FILE, vault_dir

    file = vault_dir(data_dir) / PASSWORD_FILE
    password = file.read_text(encoding="utf-8").strip()
    file.unlink()
    return password


def admin_signer(gl):
    """The market administrator's signer: a random key in the data directory's key vault."""
    from gridledger.ledger.accounts import open_vault

    return open_vault(gl.settings.data_dir).find(gl.etsc.administrator(), gl.chain.chain_id)


def app_routes(app) -> list:
    """Every route of the app (FastAPI keeps included routers as branches; this app uses no prefixes)."""
    from starlette.routing import Route

    out = []

    def walk(routes):
        for r in routes:
            if hasattr(r, "original_router"):
                walk(r.original_router.routes)
            elif isinstance(r, Route):
                out.append(r)

    walk(app.router.routes)
    return out


@dataclass
class World:
    client: TestClient
    admin: dict
    server: dict
    alice: dict   # prosumer (trading right)
    bob: dict     # retailer (generation right) with a meter
    carol: dict   # signed-up, no rights
    meter: str

    def h(self, who: dict) -> dict:
        return {"Authorization": f"Bearer {who['token']}"}


def login(c: TestClient, name: str, password: str) -> dict:
    r = c.post("/api/auth/login", json={"name": name, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def populate(c: TestClient, funded: bool = True) -> World:
    admin = login(c, "admin", "dev-admin-password")
    server = login(c, "edge-server-1", "dev-admin-password")
    ah = {"Authorization": f"Bearer {admin['token']}"}
    users = {}
    for name in ("alice", "bob", "carol"):
        r = c.post("/api/accounts", json={"name": name, "password": f"{name}-password"})
        assert r.status_code == 201, r.text
        users[name] = r.json()["address"]
    assert c.post("/api/admin/users", json={"address": users["alice"], "user_name": "alice", "gen_right": False,
                                             "trans_right": True}, headers=ah).status_code == 200
    assert c.post("/api/admin/users", json={"address": users["bob"], "user_name": "bob", "gen_right": True,
                                             "trans_right": False}, headers=ah).status_code == 200
    meter = c.post("/api/admin/meters", json={"user": users["bob"]}, headers=ah).json()["meter"]
    if funded:
        assert c.post("/api/admin/readings", json={"meter": meter, "kind": "generation", "energy_kwh": 10},
                      headers=ah).status_code == 200
        assert c.post("/api/server/price", json={"price": 80.0},
                      headers={"Authorization": f"Bearer {server['token']}"}).status_code == 200
    return World(c, admin, server, login(c, "alice", "alice-password"), login(c, "bob", "bob-password"),
                 login(c, "carol", "carol-password"), meter)


def demo_chain(root: Path, days: int = 2, prosumers: int = 10) -> Path:
    """A chain and reports laid out as ``gridledger demo --out ROOT`` lays them out (ROOT/chain,
    ROOT/elecoin/settlement.json, ROOT/community/{results,ledger}.json, ROOT/v2v/{results,
    settlement}.json), made by the same scenario code. The fleet is :class:`situations.ScriptedFleet`
    (three EVs acting by a rule, EV 0 buying V2V with a profit every day, and selfish: its net
    profit stays held), so what the pages show does not depend on training; returns the data dir
    (ROOT/chain) to serve."""
    import numpy as np
    from situations import ScriptedFleet

    from gridledger.ledger.chain import open_chain
    from gridledger.reporting import output_dir
    from gridledger.scenarios.community.chain import record_community_day
    from gridledger.scenarios.community.reports import day_report, ledger_lines
    from gridledger.scenarios.community.run import CommunityConfig, synthetic_input
    from gridledger.scenarios.elecoin.chain import settle_elecoin
    from gridledger.scenarios.elecoin.run import ElecoinConfig
    from gridledger.scenarios.fleet.chain import FleetSettleConfig, settle_fleet
    from gridledger.scenarios.fleet.run import evaluate_fleet

    data = root / "chain"
    chain = open_chain(None, data)  # as gridledger demo: the chain under DATA/chain, its keys in DATA's vault
    try:
        settlement = settle_elecoin(chain, data, ElecoinConfig(), "analytic", "unified", np.random.default_rng(0))
        ccfg = CommunityConfig(prosumers=prosumers)
        rng = np.random.default_rng(0)
        day, ledger = record_community_day(chain, data, ccfg, synthetic_input(ccfg, rng), rng)
        fleet = ScriptedFleet()
        fleet_result = settle_fleet(chain, data, fleet, fleet.env_config, 1,
                                    FleetSettleConfig(evs=len(fleet.fleet), days=days, selfish=(0,)))
        evaluation = evaluate_fleet(fleet, days, seed=1, oracle=False, hourly_ev=True)  # the same days
    finally:
        chain.close()
    with output_dir(root / "elecoin") as od:
        od.write_json("settlement.json", settlement)
    with output_dir(root / "community") as od:
        day_report(day, od, 0, f"Community day: {prosumers} prosumers", ledger_lines(ledger))
        od.write_json("ledger.json", ledger)
    with output_dir(root / "v2v") as od:
        od.write_json("results.json", {"experiment": "thesis-fig4.6-4.9", "evaluation": evaluation})
        od.write_json("settlement.json", fleet_result)
    return data
