"""The explorer index against the chain itself: emitting contracts, tokens (supply, holders,
transfers), transaction details (time, nonce, gas, fee), revert reasons, value moved inside a
call, contract creations, labels and counters; cold starts and an index of an older schema."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient
from webapp import make_app, populate

from gridledger.ledger.units import elecoins_to_units

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = populate(TestClient(make_app(tmp_path_factory.mktemp("explorer"))))
    c = w.client
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    assert c.post("/api/buy", json={"server": server, "elecoins": 3}, headers=w.h(w.alice)).status_code == 200
    assert c.post("/api/trade", json={"retailer": w.bob["address"], "energy_kwh": 2},
                  headers=w.h(w.alice)).status_code == 200
    return w


def gl(world):
    return world.client.app.state.gl


def test_every_log_records_its_emitting_contract(world):
    g = gl(world)
    rows = g.index._q("SELECT address, contract, name FROM events")
    assert rows, "the populated chain has events"
    etsc, elecoin = g.etsc.address, g.etsc.elecoin.address
    for r in rows:
        assert r["contract"] == {etsc: "ETSC", elecoin: "Elecoin"}[r["address"]], r
    transfers = [r for r in rows if r["name"] == "Transfer"]
    assert transfers and all(r["address"] == elecoin for r in transfers)


def test_token_supply_holders_and_transfers_match_the_chain(world):
    g, c = gl(world), world.client
    elecoin = g.etsc.elecoin
    tokens = c.get("/api/explorer/tokens").json()["tokens"]
    assert [t["symbol"] for t in tokens] == ["ELC"]
    t = c.get(f"/api/explorer/token/{elecoin.address}").json()
    tok = t["token"]
    assert int(tok["supply"]) == elecoin.total_supply() and tok["supply_display"] == "1,000,000 ELC"
    holders = c.get(f"/api/explorer/token/{elecoin.address}/holders?limit=100").json()["holders"]
    assert sum(int(h["balance"]) for h in holders) == elecoin.total_supply()
    for h in holders:
        assert int(h["balance"]) == elecoin.balance_of(h["holder"])
    assert tok["holders"] == len(holders) == 3  # ETSC's reserve, alice, bob
    n_logs = g.index._q("SELECT COUNT(*) AS n FROM events WHERE name = 'Transfer'")[0]["n"]
    assert tok["transfers"] == n_logs == len(t["transfers"])
    assert t["transfers"][-1]["sender"] == "0x" + "0" * 40  # the mint in the ETSC's constructor
    assert c.get("/api/explorer/token/0x" + "12" * 20).status_code == 404


def test_transaction_page_has_time_nonce_gas_fee_and_decoded_input(world):
    g, c = gl(world), world.client
    alice = world.alice["address"]
    h = c.get(f"/api/accounts/{alice}/history").json()["events"][0]["tx"]  # the trade (newest first)
    t = c.get(f"/api/explorer/tx/{h}").json()
    w3 = g.chain.w3
    tx = w3.eth.get_transaction(h)
    receipt = w3.eth.get_transaction_receipt(h)
    block = w3.eth.get_block(receipt["blockNumber"])
    assert t["timestamp"] == block["timestamp"] and t["nonce"] == tx["nonce"]
    assert t["gas_used"] == receipt["gasUsed"] and t["gas_limit"] == tx["gas"]
    assert int(t["fee"]) == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    n = receipt["blockNumber"]
    spent = w3.eth.get_balance(alice, n - 1) - w3.eth.get_balance(alice, n)
    assert spent == int(t["fee"]) + int(t["value"])  # what the sender paid, nothing else
    assert t["call"] == "ETSC.trade" and t["status"] == 1 and t["error"] is None
    assert {i["name"]: i.get("display") for i in t["inputs"]} == {"retailer": None, "energyWh": "2 kWh"}
    assert next(i.get("label") for i in t["inputs"]) == "bob"
    assert [(e["contract"], e["name"]) for e in t["events"]] == [("Elecoin", "Transfer"), ("ETSC", "Traded")]
    traded = {d["name"]: d.get("display") for d in t["events"][1]["display"]}
    assert traded["energyWh"] == "2 kWh" and traded["elecoins"] == "1.2 ELC"  # Q = 0.6 ELC/kWh
    assert [(x["sender"], x["recipient"], x["value_display"]) for x in t["transfers"]] == [
        (alice, world.bob["address"], "1.2 ELC")]


def test_a_failed_transaction_shows_its_decoded_revert_reason(world):
    g, c = gl(world), world.client
    carol = world.carol["address"]
    data = g.etsc.contract.encode_abi("trade", args=[world.bob["address"], 1000])
    signer = g.sessions[world.carol["token"]].signer
    with g.lock, pytest.raises(Exception):  # noqa: B017 - mined with status 0: the client raises
        g.chain.transact(signer, g.etsc.address, data, preflight=False)
    failed = [t for t in c.get(f"/api/explorer/address/{carol}").json()["transactions"] if t["status"] == 0]
    assert len(failed) == 1
    t = c.get(f"/api/explorer/tx/{failed[0]['hash']}").json()
    assert t["error"]["name"] == "ETSCNotRegistered" and t["error"]["args"] == {"account": carol}
    assert "not registered" in t["error"]["message"] and "administrator" in t["error"]["hint"]
    assert c.get("/api/explorer/stats").json()["counters"]["failed"] == 1


def test_value_moved_inside_withdraw_proceeds(world):
    g, c = gl(world), world.client
    server = world.server["address"]
    proceeds = g.etsc.account(server).proceeds_wei
    assert proceeds > 0
    r = c.post("/api/server/withdraw", headers=world.h(world.server))
    assert r.status_code == 200
    t = c.get(f"/api/explorer/tx/{r.json()['tx_hash']}").json()
    assert [(m["sender"], m["recipient"], int(m["value"]), m["source"]) for m in t["moves"]] == [
        (g.etsc.address, server, proceeds, "balance")]
    assert t["value_display"] == "0 ETH"
    # the move makes the transaction part of the server's history
    assert any(x["hash"] == t["hash"] for x in c.get(f"/api/explorer/address/{server}").json()["transactions"])


def test_contract_creation_is_named_with_the_contracts_it_creates(world):
    g, c = gl(world), world.client
    created_in = c.get(f"/api/explorer/address/{g.etsc.address}").json()["contract_info"]["tx"]
    t = c.get(f"/api/explorer/tx/{created_in}").json()
    assert t["recipient"] is None and t["call"] == "create ETSC"
    assert [(x["name"], x["address"]) for x in t["contracts_created"]] == [
        ("ETSC", g.etsc.address), ("Elecoin", g.etsc.elecoin.address)]
    shown = {i["name"]: i.get("display") for i in t["inputs"]}  # the constructor's Config, field by field
    assert shown["cfg.totalElecoins"] == "1,000,000 ELC" and shown["cfg.unitPowerPrice"] == "0.6 ELC/kWh"
    assert shown["cfg.minPrice"] == "0.02 ETH/ELC" and shown["cfg.maxPrice"] == "0.11 ETH/ELC"
    assert shown["cfg.slotSeconds"] == "3,600 s"
    labels = {i["name"]: i.get("label") for i in t["inputs"]}
    assert labels["cfg.administrator"] == "administrator" and labels["cfg.guardian"] == "guardian"
    a = c.get(f"/api/explorer/address/{g.etsc.elecoin.address}").json()
    assert a["contract"] == "Elecoin" and a["token"] is True and a["label"] == "Elecoin (ELC)"


def test_labels_name_contracts_roles_users_and_meters(world):
    g, c = gl(world), world.client
    labels = c.get("/api/explorer/labels").json()["labels"]
    assert labels[g.etsc.address]["label"] == "ETSC"
    assert labels[world.alice["address"]] == {"label": "alice", "kind": "user"}
    assert labels[world.meter] == {"label": "meter of bob", "kind": "meter"}
    assert labels[world.server["address"]]["label"] == "edge server 1"
    assert "administrator" in labels[world.admin["address"]]["label"].split(" · ")
    assert labels[g.faucet().address] == {"label": "faucet", "kind": "role"}  # named without unlocking its key
    assert labels[g.deployments["elecoin"].guardian] == {"label": "guardian", "kind": "role"}
    assert c.get("/api/explorer/search?q=alice").json() == {"kind": "address", "key": world.alice["address"]}
    assert c.get(f"/api/explorer/search?q={g.etsc.elecoin.address}").json()["kind"] == "token"


def test_counters_agree_with_the_chain(world):
    g, c = gl(world), world.client
    counters = c.get("/api/explorer/stats").json()["counters"]
    head = g.chain.block_number()
    assert counters["blocks"] == head + 1
    assert counters["transactions"] == sum(len(g.chain.w3.eth.get_block(n)["transactions"]) for n in range(head + 1))
    assert counters["contracts"] == 2 and counters["tokens"] == 1


def test_a_cold_start_answers_at_once_with_progress(tmp_path):
    """A read while the background indexer runs does not wait for the whole chain: it answers
    with what is indexed and how far the index is."""
    client = TestClient(make_app(tmp_path))
    w = populate(client)
    g = w.client.app.state.gl
    head = g.chain.block_number()
    g.close()
    g.chain.close()
    app = make_app(tmp_path)
    g2 = app.state.gl
    g2.index.db.execute("DELETE FROM blocks WHERE number > 2")  # as if only three blocks were indexed
    g2.index.db.commit()
    g2.index._last = None
    g2.index.background = True  # as under `gridledger serve` (no thread: nothing indexes meanwhile)
    g2.index._sync_lock.acquire()  # the background indexer is busy with a chunk
    try:
        r = TestClient(app).get("/api/explorer/blocks").json()
    finally:
        g2.index._sync_lock.release()
    assert r["progress"] == {"indexed": 2, "head": head} and [b["number"] for b in r["blocks"]] == [2, 1, 0]
    g2.index.background = False
    assert TestClient(app).get("/api/explorer/blocks").json()["progress"] == {"indexed": head, "head": head}


def test_an_index_of_an_older_schema_is_rebuilt(tmp_path):
    client = TestClient(make_app(tmp_path))
    populate(client, funded=False)
    g = client.app.state.gl
    path = next((tmp_path / "explorer").glob("*.sqlite"))
    head = g.chain.block_number()
    g.close()
    g.chain.close()
    db = sqlite3.connect(path)
    for t in ("meta", "blocks", "txs", "events", "addr_tx"):
        db.execute(f"DROP TABLE IF EXISTS {t}")
    db.execute("CREATE TABLE blocks (number INTEGER PRIMARY KEY, hash TEXT UNIQUE, parent TEXT, timestamp INTEGER, "
               "tx_count INTEGER, gas_used INTEGER)")  # the first index's layout, one stale row
    db.execute("INSERT INTO blocks VALUES (0, '0x00', '0x00', 0, 0, 0)")
    db.commit()
    db.close()
    client = TestClient(make_app(tmp_path))
    r = client.get("/api/explorer/blocks/0").json()
    assert r["hash"] != "0x00" and client.get("/api/explorer/stats").json()["counters"]["blocks"] == head + 1


def test_amounts_are_shown_in_units(world):
    c = world.client
    ev = c.get(f"/api/accounts/{world.alice['address']}/history").json()
    bought = next(r for r in ev["rows"] if r["event"] == "ElecoinsBought")
    assert bought["text"] == "Bought 3 ELC from edge server 1 for 0.24 ETH"  # 3 x 80 money x 1e15 wei
    assert bought["elecoins"] == "3" and bought["native"] == "-0.24"
    assert int(elecoins_to_units(3)) == 3 * 10**18
