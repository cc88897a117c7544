"""What the portal, the administrator's and the edge server's pages read: the market with prices
and symbols, personal prices, readable history, daily totals, CSV, meters with the reading kinds
their users may report, sales over time."""

from __future__ import annotations

import csv
import io

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from webapp import admin_signer, make_app, populate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = populate(TestClient(make_app(tmp_path_factory.mktemp("portal"))))
    c = w.client
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    assert c.post("/api/buy", json={"server": server, "elecoins": 2.5}, headers=w.h(w.alice)).status_code == 200
    for kwh in (1, 0.5):
        assert c.post("/api/trade", json={"retailer": w.bob["address"], "energy_kwh": kwh},
                      headers=w.h(w.alice)).status_code == 200
    return w


def test_market_has_symbols_prices_in_coin_and_the_kwh_rate(world):
    m = world.client.get("/api/market").json()
    assert m["symbols"] == {"native": "ETH", "elecoin": "ELC", "energy": "kWh"}
    assert m["unit_power_price_display"] == "0.6 ELC/kWh"
    s = m["edge_servers"][0]
    assert s["price_display"] == "0.08 ETH/ELC" and s["label"] == "edge server 1"  # 80 money x 1e15 wei
    assert s["kwh_price_display"] == "0.048 ETH/kWh" and s["declared_at"] > 0
    bob = next(u for u in m["users"] if u["name"] == "bob")
    assert bob["meters"] == [world.meter] and bob["gen_right"] and not bob["trans_right"]


def test_history_is_sentences_with_signed_amounts(world):
    rows = world.client.get(f"/api/accounts/{world.alice['address']}/history").json()["rows"]
    assert [r["text"] for r in rows] == [
        "Bought 0.5 kWh of electricity from bob for 0.3 ELC",
        "Bought 1 kWh of electricity from bob for 0.6 ELC",
        "Bought 2.5 ELC from edge server 1 for 0.2 ETH",
        "Registered as “alice” with the right to trade"]
    assert [(r["elecoins"], r["kwh"], r["native"]) for r in rows[:3]] == [
        ("-0.3", "0.5", "0"), ("-0.6", "1", "0"), ("2.5", "0", "-0.2")]
    bob = world.client.get(f"/api/accounts/{world.bob['address']}/history").json()["rows"]
    assert bob[0]["text"] == "Sold 0.5 kWh of electricity to alice for 0.3 ELC"
    assert any(r["text"] == "Your smart meter reported 10 kWh generated" for r in bob)


def test_daily_totals_are_the_sums_of_the_events(world):
    d = world.client.get(f"/api/accounts/{world.alice['address']}/daily").json()
    assert d["total"]["bought_kwh"] == pytest.approx(1.5) and d["total"]["elecoins_spent"] == pytest.approx(0.9)
    assert d["total"]["elecoins_bought"] == pytest.approx(2.5) and d["total"]["native_spent"] == pytest.approx(0.2)
    assert sum(x["bought_kwh"] for x in d["days"]) == pytest.approx(1.5)
    b = world.client.get(f"/api/accounts/{world.bob['address']}/daily").json()["total"]
    assert b["production_kwh"] == pytest.approx(10) and b["sold_kwh"] == pytest.approx(1.5)
    assert b["elecoins_earned"] == pytest.approx(0.9)


def test_history_csv(world):
    r = world.client.get(f"/api/accounts/{world.alice['address']}/history.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["event"] for x in rows] == ["Traded", "Traded", "ElecoinsBought", "UserEmpowered"]
    assert rows[2]["elecoins"] == "2.5" and rows[2]["native_ETH"] == "-0.2" and rows[0]["kwh"] == "0.5"


def test_csv_quotes_hostile_on_chain_names(tmp_path):
    w = populate(TestClient(make_app(tmp_path)))
    g = w.client.app.state.gl
    evil = Account.create().address
    with g.lock:
        g.etsc.empower(admin_signer(g), '=HYPERLINK("http://evil","x")', evil, True, False)
    r = w.client.get(f"/api/accounts/{evil}/history.csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["description"].startswith("Registered as “=HYPERLINK")  # not a formula: starts with text
    assert w.client.get("/api/explorer/labels").json()["labels"][evil]["label"].startswith("=HYPERLINK")


def test_meters_list_the_kinds_their_users_may_report(world):
    c = world.client
    alice = world.alice["address"]
    r = c.post("/api/admin/meters", json={"user": alice}, headers=world.h(world.admin))
    assert r.status_code == 201
    meters = {m["user_name"]: m for m in c.get("/api/meters").json()["meters"]}
    assert meters["bob"]["kinds"] == ["generation", "consumption"]
    assert meters["alice"]["kinds"] == ["consumption"] and meters["alice"]["meter"] == r.json()["meter"]
    # the consumption reading an ordinary prosumer's form defaults to is accepted
    ok = c.post("/api/admin/readings", json={"meter": r.json()["meter"], "kind": "consumption", "energy_kwh": 0.25},
                headers=world.h(world.admin))
    assert ok.status_code == 200
    no = c.post("/api/admin/readings", json={"meter": r.json()["meter"], "kind": "generation", "energy_kwh": 1},
                headers=world.h(world.admin))
    assert no.status_code == 409 and no.json()["detail"]["error"] == "ETSCNoGenRight"


def test_sales_over_time(world):
    s = world.client.get("/api/server/sales", headers=world.h(world.server)).json()
    assert [x["elecoins_display"] for x in s["sales"]] == ["2.5 ELC"]
    assert s["sales"][0]["paid_display"] == "0.2 ETH" and s["sales"][0]["price_display"] == "0.08 ETH/ELC"
    # 2.5 ELC paid 0.2 ETH; 2.5 x the redemption price (10 money = 0.01 ETH per ELC) stays in the market
    assert s["series"][-1]["elecoins"] == pytest.approx(2.5) and s["series"][-1]["paid"] == pytest.approx(0.2)
    assert s["series"][-1]["proceeds"] == pytest.approx(0.175) and s["sales"][0]["proceeds_display"] == "0.175 ETH"
    assert s["proceeds_display"] == "0.175 ETH" and s["redemption_price_display"] == "0.01 ETH/ELC"
    assert s["bounds"]["display"] == "0.02 ETH/ELC to 0.11 ETH/ELC"


def test_personal_prices(world):  # last: it adds to the history the other tests read
    c = world.client
    alice = world.alice["address"]
    assert c.post("/api/server/price", json={"price": 70.0, "prosumer": alice},
                  headers=world.h(world.server)).status_code == 200
    p = c.get(f"/api/market/prices?prosumer={alice}").json()["prices"][0]
    assert p["personal"] is True and p["price_display"] == "0.07 ETH/ELC"
    other = c.get(f"/api/market/prices?prosumer={world.carol['address']}").json()["prices"][0]
    assert other["personal"] is False and other["price_display"] == "0.08 ETH/ELC"
    sales = c.get("/api/server/sales", headers=world.h(world.server)).json()
    assert [(x["prosumer"], x["price_display"]) for x in sales["personal_prices"]] == [(alice, "0.07 ETH/ELC")]
    assert sales["uniform_price_display"] == "0.08 ETH/ELC" and sales["price_money"] == pytest.approx(80.0)


def test_a_new_block_reads_again_only_the_accounts_it_involved(tmp_path):
    """/api/market lists every user's account: after a purchase by alice, only alice's account is
    read again (bob's is kept), and the list is exact; /api/meters reads no account at all."""
    w = populate(TestClient(make_app(tmp_path)))
    c, g = w.client, w.client.app.state.gl
    alice, bob = w.alice["address"], w.bob["address"]
    assert {u["address"] for u in c.get("/api/market").json()["users"]} == {alice, bob}
    reads = []
    real = g.etsc.account
    g.etsc.account = lambda a: (reads.append(a), real(a))[1]  # counts the reads, answers from the chain
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    assert c.post("/api/buy", json={"server": server, "elecoins": 1.5}, headers=w.h(w.alice)).status_code == 200
    reads.clear()
    users = {u["address"]: u for u in c.get("/api/market").json()["users"]}
    assert reads == [alice]
    assert users[alice]["elecoins"] == c.get(f"/api/accounts/{alice}").json()["elecoins"] == 1.5
    assert users[bob]["avail_power_kwh"] == c.get(f"/api/accounts/{bob}").json()["avail_power_kwh"]
    reads.clear()
    assert c.get("/api/meters").json()["meters"][0]["user"] == bob and reads == []
