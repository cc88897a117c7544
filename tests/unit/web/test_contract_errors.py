"""Every custom error of the ABIs has a sentence (what it means, what to do) that formats with its
arguments; the API's refusals carry it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from webapp import make_app, populate

from gridledger.ledger.artifacts import CONTRACT_NAMES, abi
from gridledger.web.contract_errors import ERRORS, abi_errors, explain, placeholders


def test_the_table_covers_every_custom_error_of_every_abi():
    names = {item["name"] for c in CONTRACT_NAMES for item in abi(c) if item.get("type") == "error"}
    assert names, "the ABIs declare custom errors"
    missing = sorted(names - set(ERRORS))
    assert not missing, f"add these custom errors to gridledger.web.contract_errors.ERRORS: {missing}"


@pytest.mark.parametrize("name", sorted(abi_errors()))
def test_each_sentence_uses_only_the_errors_arguments(name):
    args = set(abi_errors()[name])
    entry = ERRORS[name]
    assert placeholders(entry.meaning) | placeholders(entry.todo) <= args, name
    assert set(entry.units) <= args, name
    assert entry.meaning.endswith(".") and entry.todo.endswith("."), name
    shown = explain(name, {a: "0x" + "ab" * 20 if a in ("account", "server", "prosumer", "meter", "ev") else "7"
                           for a in args})
    assert "{" not in shown["message"] and "?" not in shown["message"]


def test_amounts_are_in_units_and_accounts_by_label():
    alice = "0x" + "11" * 20
    out = explain("ETSCInsufficientPower", {"account": alice, "available": 500, "needed": 2000}, {alice: "alice"})
    assert out["message"] == f"alice ({alice[:8]}…{alice[-4:]}) has 0.5 kWh of available power; 2 kWh are needed."
    out = explain("ETSCWrongPayment", {"expected": 82 * 10**15, "paid": 10**15})
    assert out["message"] == "The payment was 0.001 ETH; the price asks exactly 0.082 ETH."
    assert explain("SomethingNew", {"x": 1})["message"] == "The contract refused (something new: x 1)."


@pytest.mark.integration
def test_the_api_refuses_with_the_sentence(tmp_path):
    w = populate(TestClient(make_app(tmp_path)))
    server = w.client.get("/api/market").json()["edge_servers"][0]["address"]
    r = w.client.post("/api/buy", json={"server": server, "elecoins": 1}, headers=w.h(w.carol))
    assert r.status_code == 409
    d = r.json()["detail"]
    assert d["error"] == "ETSCNotRegistered" and d["args"] == {"account": w.carol["address"]}
    assert d["message"].startswith("Your account (") and d["message"].endswith("is not registered in the market yet.")
    assert "administrator" in d["hint"]
    r = w.client.post("/api/admin/readings", json={"meter": w.meter, "kind": "consumption", "energy_kwh": 1000},
                      headers=w.h(w.admin))
    assert r.status_code == 409 and r.json()["detail"]["message"] == (
        f"bob ({w.bob['address'][:8]}…{w.bob['address'][-4:]}) has 10 kWh of available power; 1,000 kWh are needed.")
