"""Every route of the JSON API: authentication, roles, CSRF, validation, no state change on refusal."""

import pytest
from fastapi.testclient import TestClient
from webapp import make_app, populate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    client = TestClient(make_app(tmp_path_factory.mktemp("web")))
    return populate(client)


def state(w):
    c = w.client
    m = c.get("/api/market").json()
    return (m["totals"], [c.get(f"/api/accounts/{a}").json() for a in (w.alice["address"], w.bob["address"])])


STATE_CHANGING = [
    ("POST", "/api/buy", {"server": "0x" + "11" * 20, "elecoins": 1}),
    ("POST", "/api/trade", {"retailer": "0x" + "11" * 20, "energy_kwh": 1}),
    ("POST", "/api/admin/users", {"address": "0x" + "22" * 20, "user_name": "x", "gen_right": True,
                                  "trans_right": True}),
    ("POST", "/api/admin/rights", {"address": "0x" + "22" * 20, "gen_right": True, "trans_right": True}),
    ("POST", "/api/admin/meters", {"user": "0x" + "22" * 20}),
    ("POST", "/api/admin/readings", {"meter": "0x" + "22" * 20, "kind": "generation", "energy_kwh": 1}),
    ("POST", "/api/server/price", {"price": 1.0}),
    ("POST", "/api/server/withdraw", None),
    ("POST", "/api/auth/logout", None),
]


@pytest.mark.parametrize(("method", "path", "body"), STATE_CHANGING)
def test_state_changing_routes_need_authentication(world, method, path, body):
    before = state(world)
    fresh = TestClient(world.client.app)  # no cookies
    r = fresh.request(method, path, json=body)
    assert r.status_code == 401
    r = fresh.request(method, path, json=body, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert state(world) == before


@pytest.mark.parametrize(("path", "body", "role"), [
    ("/api/admin/users", {"address": "0x" + "22" * 20, "user_name": "x", "gen_right": True, "trans_right": True},
     "admin"),
    ("/api/admin/rights", {"address": "0x" + "22" * 20, "gen_right": True, "trans_right": True}, "admin"),
    ("/api/admin/meters", {"user": "0x" + "22" * 20}, "admin"),
    ("/api/admin/readings", {"meter": "0x" + "22" * 20, "kind": "generation", "energy_kwh": 1}, "admin"),
    ("/api/server/price", {"price": 1.0}, "edge_server"),
    ("/api/server/withdraw", None, "edge_server"),
])
def test_role_restricted_routes_refuse_other_roles(world, path, body, role):
    before = state(world)
    for who in (world.alice, world.bob, world.carol):
        r = world.client.post(path, json=body, headers=world.h(who))
        assert r.status_code == 403 and role in r.json()["detail"]
    assert state(world) == before


def test_cookie_session_needs_the_csrf_token(world):
    c = TestClient(world.client.app)
    r = c.post("/api/auth/login", json={"name": "alice", "password": "alice-password"})
    assert r.status_code == 200 and "gl_session" in c.cookies and "gl_csrf" in c.cookies
    assert c.get("/api/me").status_code == 200  # reads need no CSRF token
    server = world.client.get("/api/market").json()["edge_servers"][0]["address"]
    before = state(world)
    r = c.post("/api/buy", json={"server": server, "elecoins": 1})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert state(world) == before
    r = c.post("/api/buy", json={"server": server, "elecoins": 1}, headers={"X-CSRF-Token": c.cookies["gl_csrf"]})
    assert r.status_code == 200


def test_login_errors_and_rate_limit(tmp_path):
    from fastapi.testclient import TestClient

    from gridledger.web.app import create_app
    from gridledger.web.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, keystore_kdf="pbkdf2", keystore_iterations=2,
                              login_attempts_per_minute=3))
    c = TestClient(app)
    assert c.post("/api/auth/login", json={"name": "admin", "password": "wrong"}).status_code == 401
    assert c.post("/api/auth/login", json={"name": "nobody", "password": "x"}).status_code == 401
    assert c.post("/api/auth/login", json={"name": "admin", "password": "wrong"}).status_code == 401
    r = c.post("/api/auth/login", json={"name": "admin", "password": "dev-admin-password"})
    assert r.status_code == 429
    assert "token" not in r.text and "private" not in r.text.lower()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/buy", {"server": "nope", "elecoins": 1}, "server"),
    ("/api/buy", {"server": "0x" + "11" * 20, "elecoins": -1}, "elecoins"),
    ("/api/trade", {"retailer": "0x" + "11" * 20, "energy_kwh": 0}, "energy_kwh"),
    ("/api/trade", {"retailer": "0x" + "11" * 20}, "energy_kwh"),
    ("/api/trade", {"retailer": "0x" + "11" * 20, "energy_kwh": 1, "extra": 1}, "extra"),
])
def test_validation_errors_name_the_field(world, path, body, field):
    before = state(world)
    r = world.client.post(path, json=body, headers=world.h(world.alice))
    assert r.status_code == 422
    assert any(field in d["loc"] for d in r.json()["detail"])
    assert state(world) == before


def test_signup_validation_and_duplicates(world):
    c = world.client
    assert c.post("/api/accounts", json={"name": "dave", "password": "short"}).status_code == 422
    assert c.post("/api/accounts", json={"name": "bad/name", "password": "long enough"}).status_code == 422
    r = c.post("/api/accounts", json={"name": "alice", "password": "long enough"})
    assert r.status_code == 400 and "already exists" in r.json()["detail"]


def test_prosumer_flow_buy_check_trade_history(world):
    c, h = world.client, world.h(world.alice)
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    quote = c.get(f"/api/quote?server={server}&elecoins=2", headers=h).json()
    assert int(quote["wei"]) == 2 * 80 * 10**15
    r = c.post("/api/buy", json={"server": server, "elecoins": 2}, headers=h)
    assert r.status_code == 200 and r.json()["events"][-1]["name"] == "ElecoinsBought"
    q = c.get(f"/api/qualification?retailer={world.bob['address']}&energy_kwh=1", headers=h).json()
    assert q["qualification"] == "qualified" and q["qualified"] is True
    assert q["cost_elecoins"] == pytest.approx(0.6) and q["cost_display"] == "0.6 ELC"  # 1 kWh x Q, before sending
    before = c.get("/api/me", headers=h).json()
    r = c.post("/api/trade", json={"retailer": world.bob["address"], "energy_kwh": 1}, headers=h)
    assert r.status_code == 200
    after = c.get("/api/me", headers=h).json()
    assert after["avail_power_kwh"] == pytest.approx(before["avail_power_kwh"] + 1)
    assert after["elecoins"] == pytest.approx(before["elecoins"] - 0.6)
    names = [e["name"] for e in c.get(f"/api/accounts/{world.alice['address']}/history").json()["events"]]
    assert "Traded" in names and "ElecoinsBought" in names
    tx = c.get(f"/api/explorer/tx/{r.json()['tx_hash']}").json()
    assert tx["contract"] == "ETSC" and tx["method"] == "trade" and tx["events"][-1]["name"] == "Traded"


def test_contract_refusals_are_409_with_the_error_name_and_change_nothing(world):
    c, h = world.client, world.h(world.alice)
    before = state(world)
    r = c.post("/api/trade", json={"retailer": world.bob["address"], "energy_kwh": 1000}, headers=h)
    assert r.status_code == 409 and r.json()["detail"]["error"] == "ETSCInsufficientPower"
    q = c.get(f"/api/qualification?retailer={world.bob['address']}&energy_kwh=1000", headers=h).json()
    assert q["qualification"] == "insufficient_power"
    r = c.post("/api/buy", json={"server": world.bob["address"], "elecoins": 1}, headers=h)
    assert r.status_code == 409 and r.json()["detail"]["error"] == "ETSCNotEdgeServer"
    r = c.post("/api/trade", json={"retailer": world.alice["address"], "energy_kwh": 1}, headers=world.h(world.carol))
    assert r.status_code == 409 and r.json()["detail"]["error"] == "ETSCNotRegistered"
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    native = int(c.get(f"/api/accounts/{world.alice['address']}").json()["native_wei"])
    price = int(c.get("/api/market").json()["edge_servers"][0]["uniform_price_wei"])
    elecoins = native // price + 10  # more than her coin pays for (she holds 10 coin from the faucet)
    r = c.post("/api/buy", json={"server": server, "elecoins": elecoins}, headers=h)
    assert r.status_code == 409 and r.json()["detail"]["error"] == "InsufficientFunds"
    assert "native coin" in r.json()["detail"]["message"]
    assert state(world) == before


def test_admin_and_server_routes(world):
    c, ha, hs = world.client, world.h(world.admin), world.h(world.server)
    r = c.post("/api/admin/rights", json={"address": world.carol["address"], "gen_right": False,
                                          "trans_right": True}, headers=ha)
    assert r.status_code == 409  # carol is not registered yet
    r = c.post("/api/admin/users", json={"address": world.carol["address"], "user_name": "carol", "gen_right": False,
                                         "trans_right": True}, headers=ha)
    assert r.status_code == 200
    r = c.post("/api/admin/rights", json={"address": world.carol["address"], "gen_right": True, "trans_right": True},
               headers=ha)
    assert r.status_code == 200 and r.json()["events"][0]["name"] == "RightsChanged"
    r = c.post("/api/admin/readings", json={"meter": world.meter, "kind": "consumption", "energy_kwh": 0.5},
               headers=ha)
    assert r.status_code == 200
    readings = c.get(f"/api/meters/{world.meter}/readings").json()["readings"]
    assert {x["kind"] for x in readings} == {"generation", "consumption"}
    r = c.post("/api/admin/readings", json={"meter": "0x" + "33" * 20, "kind": "generation", "energy_kwh": 1},
               headers=ha)
    assert r.status_code == 404
    r = c.post("/api/server/price", json={"price": 90.0, "prosumer": world.alice["address"]}, headers=hs)
    assert r.status_code == 200
    sales = c.get("/api/server/sales", headers=hs).json()
    assert isinstance(sales["sales"], list) and int(sales["proceeds_wei"]) >= 0
    if int(sales["proceeds_wei"]) > 0:
        assert c.post("/api/server/withdraw", headers=hs).status_code == 200
    assert c.post("/api/server/withdraw", headers=hs).status_code == 409


def test_read_routes_and_explorer(world):
    c = world.client
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    # alice's third transaction (after her funding and registration), whatever ran before
    assert c.post("/api/buy", json={"server": server, "elecoins": 1}, headers=world.h(world.alice)).status_code == 200
    assert c.get("/api/health").json()["status"] == "ok"
    blocks = c.get("/api/explorer/blocks?limit=5").json()
    assert len(blocks["blocks"]) == 5 and blocks["blocks"][0]["number"] == blocks["head"]
    older = c.get(f"/api/explorer/blocks?before={blocks['blocks'][-1]['number']}&limit=5").json()
    assert older["blocks"][0]["number"] == blocks["blocks"][-1]["number"] - 1
    b = c.get(f"/api/explorer/blocks/{blocks['head']}").json()
    assert b["number"] == blocks["head"] and b["transactions"]
    assert c.get("/api/explorer/blocks/999999").status_code == 404
    # Beyond the index's 64-bit block numbers: a validation error, not a server error.
    assert c.get(f"/api/explorer/blocks/{2**63}").status_code == 422
    assert c.get(f"/api/explorer/blocks?before={2**63}").status_code == 422
    assert c.get(f"/api/explorer/search?q={2**70}").status_code < 500
    assert c.get("/api/explorer/tx/0x" + "00" * 32).status_code == 404
    assert c.get("/api/explorer/tx/0x12").status_code == 422
    addr = c.get(f"/api/explorer/address/{world.alice['address']}?limit=2").json()
    assert addr["total"] >= 3 and len(addr["transactions"]) == 2 and addr["pages"] >= 2
    etsc = c.get("/api/health").json()["etsc"]
    assert c.get(f"/api/explorer/address/{etsc}").json()["contract"] == "ETSC"
    assert c.get(f"/api/explorer/search?q={blocks['head']}").json() == {"kind": "block", "key": blocks["head"]}
    assert c.get(f"/api/explorer/search?q={b['hash']}").json()["kind"] == "block"
    assert c.get(f"/api/explorer/search?q={b['transactions'][0]['hash']}").json()["kind"] == "tx"
    assert c.get(f"/api/explorer/search?q={world.alice['address'].lower()}").json()["kind"] == "address"
    assert c.get("/api/explorer/search?q=hello").json() == {"kind": None}
    assert c.get("/api/explorer/search?q=%C2%B9").json() == {"kind": None}  # a Unicode digit is not a block number
    assert c.get("/api/accounts/0x12").status_code == 422
    market = c.get("/api/market").json()
    assert market["unit_power_price_elecoins_per_kwh"] == pytest.approx(0.6)
    assert any(r["address"] == world.bob["address"] for r in market["retailers"])


def test_dashboard_serves_the_cli_results(world):
    """The first request starts the one DMA-UBRL computation in another process and answers at
    once; requests while it runs start nothing more; then the result is served: both pricings,
    the analytic equilibrium of the default market beside what was learned."""
    import math

    from gridledger.games.stackelberg import solve
    from gridledger.scenarios.elecoin.run import ElecoinConfig, market_with
    from gridledger.web.jobs import DONE
    from gridledger.web.routes.dashboard import elecoin_job

    first = world.client.get("/api/dashboard/elecoin").json()  # starts the computation, never waits for it
    job = elecoin_job(world.client.app.state.gl)
    for _ in range(5):
        world.client.get("/api/dashboard/elecoin")
    assert job.wait(600) and job.status == DONE and job.runs == 1
    d = world.client.get("/api/dashboard/elecoin").json()
    assert first in ({"pending": True}, d)
    for pricing in ("unified", "discriminated"):
        assert d[pricing]["episodes"] and len(d[pricing]["demands"]) == 4
        assert all(math.isfinite(p) and p > 0 for ys in d[pricing]["prices"] for p in ys)
    market = market_with(ElecoinConfig(), n_prosumers=4).market  # the dashboard's market: four prosumers
    assert d["unified"]["analytic"]["price"] == pytest.approx(solve(market, "unified").price)


def test_wallet_prepare_and_rpc_relay_send_a_signed_trade(world):
    """What a browser wallet does: ask for the transaction, sign it, send it raw through /rpc."""
    from eth_account import Account

    from gridledger.ledger.keystore import Keystore

    c = world.client
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    ks = Keystore(c.app.state.gl.keystore.directory)
    key = ks.unlock("alice", "alice-password").account
    tx = c.post("/api/wallet/prepare", json={"action": "buy", "server": server, "amount": 1,
                                             "sender": key.address}).json()
    rpc = lambda m, *p: c.post("/rpc", json={"jsonrpc": "2.0", "id": 7, "method": m, "params": list(p)}).json()  # noqa: E731
    assert rpc("eth_chainId")["result"] == tx["chainId"]
    nonce = int(rpc("eth_getTransactionCount", key.address, "pending")["result"], 16)
    gas_price = int(rpc("eth_gasPrice")["result"], 16)
    signed = Account.sign_transaction({"to": tx["to"], "data": tx["data"], "value": int(tx["value"], 16),
                                       "gas": 300_000, "gasPrice": gas_price, "nonce": nonce,
                                       "chainId": int(tx["chainId"], 16)}, key.key)
    res = rpc("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
    assert res["id"] == 7 and res["result"].startswith("0x")
    receipt = rpc("eth_getTransactionReceipt", res["result"])["result"]
    assert receipt["status"] == "0x1"
    assert c.get(f"/api/explorer/tx/{res['result']}").json()["method"] == "buyToken"
    assert rpc("eth_sign", key.address, "0x00")["error"]["code"] == -32601
    assert "private" not in str(tx).lower()


def test_pages_are_served(world):
    for path in ("/", "/login", "/portal", "/admin", "/server", "/explorer", "/dashboard", "/explorer/block/1",
                 "/explorer/tx/0xab", "/explorer/address/0xab"):
        r = world.client.get(path)
        assert r.status_code == 200 and "<html" in r.text


def test_settings_refuse_placeholder_secrets_outside_dev(tmp_path):
    from pydantic import ValidationError

    from gridledger.web.settings import Settings

    with pytest.raises(ValidationError, match="admin_password"):
        Settings(env="prod", data_dir=tmp_path)
    Settings(env="prod", data_dir=tmp_path, admin_password="a real long secret", meter_password="another secret!")


def test_every_page_links_the_icon_it_serves(world):
    c = world.client
    icon = c.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    for path in ("/", "/login", "/portal", "/admin", "/server", "/explorer", "/dashboard", "/docs", "/redoc"):
        assert 'rel="icon" href="/static/favicon.svg"' in c.get(path).text, path
