"""The dashboards' data: the live market beside its equilibrium, the community map from the day's
report, the fleet's day (per-EV records and the site market), the DMA-UBRL cache, "no data yet"."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from webapp import make_app, populate

from gridledger.games.stackelberg import solve
from gridledger.reporting import output_dir
from gridledger.scenarios.community.reports import day_report
from gridledger.scenarios.community.run import CommunityConfig, run_community_day, synthetic_input
from gridledger.scenarios.elecoin.run import ElecoinConfig
from gridledger.web.reports import Reports, reports_dir

pytestmark = pytest.mark.integration


def test_reports_dir_follows_the_demo_layout(tmp_path):
    assert reports_dir(tmp_path / "out" / "chain", None) == tmp_path / "out"
    assert reports_dir(tmp_path / "data", None) == tmp_path / "data" / "reports"
    assert reports_dir(tmp_path / "data", tmp_path / "r") == tmp_path / "r"


def test_no_report_means_no_data_not_made_up_numbers(tmp_path):
    c = TestClient(make_app(tmp_path / "chain"))
    assert c.get("/api/dashboard/community").json()["day"] is None
    assert c.get("/api/dashboard/fleet").json()["fleet"] is None
    (tmp_path / "community").mkdir()
    (tmp_path / "community" / "results.json").write_text("{not json")
    assert c.get("/api/dashboard/community").json()["day"] is None


def test_community_map_from_the_days_report(tmp_path):
    cfg = CommunityConfig(prosumers=6)
    rng = np.random.default_rng(1)
    day = run_community_day(cfg, synthetic_input(cfg, rng), rng)
    with output_dir(tmp_path / "community") as od:
        day_report(day, od, 1, "day")
        od.write_json("ledger.json", {"round": 4, "accounts": [f"0x{i:040x}" for i in range(6)],
                                      "upos_reward": [0.0] * 6})
    c = TestClient(make_app(tmp_path / "chain"))
    r = c.get("/api/dashboard/community")
    assert str(tmp_path) not in r.text  # the report is named relative to the reports directory
    d = r.json()["day"]
    assert d["round"] == 4 and len(d["prosumers"]) == 6 and d["source"] == "community/results.json"
    assert sorted(sorted(x["members"]) for x in d["coalitions"]) == sorted(sorted(p) for p in day.formation.partition)
    for p in d["prosumers"]:
        assert [p["x"], p["y"]] == pytest.approx(list(day.inputs.positions_km[p["index"]]))
        assert p["saving_kwh"] == pytest.approx(day.alone_loss_kwh[p["index"]] - day.formation.member_loss[p["index"]])
        assert p["address"] == f"0x{p['index']:040x}"
        assert p["index"] in d["coalitions"][p["coalition"]]["members"]
    assert sum(x["saving_kwh"] for x in d["coalitions"]) == pytest.approx(day.loss_alone_kwh - day.loss_coalition_kwh)
    assert sum(x["reward_kwh"] for x in d["coalitions"]) == pytest.approx(float(np.sum(day.reward_shares_kwh)))
    assert d["edc_km"] == [cfg.loss.area_km / 2] * 2  # community_grid's centre
    assert len(d["transactions"]) == len(day.transactions)


def test_site_market_report(tmp_path):
    """A report of the fleet's hourly site market (per day and hour and site: matched V2V energy,
    V2B, grid import and export; per EV: cash and SOC by hour), summed over sites."""
    doc = {"days": [{"day": 0, "hours": [
        {"hour": 8, "site": "A", "v2v_kwh": 3.0, "v2b_kwh": 0.5, "grid_import_kwh": 1.0, "grid_export_kwh": 0.0},
        {"hour": 8, "site": "B", "v2v_kwh": 1.0, "v2b_kwh": 0.0, "grid_import_kwh": 0.0, "grid_export_kwh": 2.0},
        {"hour": 18, "site": "A", "v2v_kwh": 0.0, "v2b_kwh": 0.0, "grid_import_kwh": 4.0, "grid_export_kwh": 0.0}],
        "evs": [{"ev": 0, "cash": 1.5, "soc_by_hour": [None] * 7 + [0.4, 0.5] + [None] * 15},
                {"ev": 1, "cash": -0.5, "soc_by_hour": [0.9] * 24}]}]}
    (tmp_path / "v2v").mkdir()
    (tmp_path / "v2v" / "results.json").write_text(json.dumps(doc))
    (tmp_path / "v2v" / "settlement.json").write_text(json.dumps(
        {"beta_bps": 500, "evs": [{"ev": 0, "address": "0x" + "aa" * 20}, {"ev": 1, "address": "0x" + "bb" * 20}]}))
    f = Reports(tmp_path).fleet()
    assert f["kind"] == "site-market" and len(f["site_market"]) == 24
    h8 = f["site_market"][8]
    assert (h8["v2v_kwh"], h8["v2b_kwh"], h8["grid_import_kwh"], h8["grid_export_kwh"]) == (4.0, 0.5, 1.0, 2.0)
    assert f["site_market"][18]["grid_import_kwh"] == 4.0 and f["site_market"][3]["v2v_kwh"] == 0.0
    assert f["soc"][0] == {"ev": 0, "address": "0x" + "aa" * 20, "hours": [7, 8], "soc": [0.4, 0.5]}
    assert [(c["ev"], c["cash"]) for c in f["cash"]] == [(0, 1.5), (1, -0.5)]
    c = TestClient(make_app(tmp_path / "chain"))
    r = c.get("/api/dashboard/fleet")
    cash = r.json()["fleet"]["cash"]
    assert cash[0]["cash_native"] == pytest.approx(1.5e-3)  # money x wei_per_money (1e15) in coin
    assert r.json()["fleet"]["source"] == "v2v/results.json" and str(tmp_path) not in r.text  # no server paths


def test_the_fleets_evaluation_is_drawn_as_its_site_market(tmp_path):
    """``v2v evaluate --json`` (and the demo's v2v/results.json) is read as the hourly site market:
    per hour the sums over sites, per EV its cash and SOC curve, the day's miner marked."""
    from situations import ScriptedFleet

    from gridledger.scenarios.fleet.run import evaluate_fleet

    ev = evaluate_fleet(ScriptedFleet(), 2, seed=1, oracle=False, hourly_ev=True)
    (tmp_path / "v2v").mkdir()
    (tmp_path / "v2v" / "results.json").write_text(json.dumps({"evaluation": ev}))
    f = Reports(tmp_path).fleet()
    assert f["kind"] == "site-market" and f["days"] == 2 and f["day"] == 0
    day = ev["days"][0]
    for key in ("v2v_kwh", "v2b_kwh", "grid_import_kwh", "grid_export_kwh"):
        assert sum(h[key] for h in f["site_market"]) == pytest.approx(sum(h[key] for h in day["hours"]))
    assert sum(h["v2v_kwh"] for h in f["site_market"]) > 0  # EV 0 buys from EVs 1 and 2 while they overlap
    assert [c["cash"] for c in f["cash"]] == [pytest.approx(e["cash"]) for e in day["evs"]]
    assert [c["miner"] for c in f["cash"]] == [e["ev"] == day["round"]["mlag"] for e in day["evs"]]
    for s, e in zip(f["soc"], [e for e in day["evs"] if any(x is not None for x in e["soc_by_hour"])], strict=True):
        assert s["soc"] == [x for x in e["soc_by_hour"] if x is not None]


def test_live_market_beside_the_equilibrium(tmp_path):
    w = populate(TestClient(make_app(tmp_path / "chain")))
    c = w.client
    server = c.get("/api/market").json()["edge_servers"][0]["address"]
    assert c.post("/api/buy", json={"server": server, "elecoins": 2}, headers=w.h(w.alice)).status_code == 200
    d = c.get("/api/dashboard/market").json()
    assert [x["price"] for x in d["servers"][0]["declarations"]] == [pytest.approx(0.08)]
    assert [(p["elecoins"], p["paid"]) for p in d["purchases"]] == [(2.0, pytest.approx(0.16))]
    eq = solve(ElecoinConfig().market, "unified")
    assert d["equilibrium"]["price_native"] == [pytest.approx(eq.price * 1e15 / 1e18)]
    assert "default market" in d["equilibrium"]["source"]
    (tmp_path / "elecoin").mkdir()
    (tmp_path / "elecoin" / "settlement.json").write_text(json.dumps(
        {"solution": {"pricing": "unified", "method": "analytic", "demands": [1.0, 2.0],
                      "analytic": {"price": 90.0}}}))
    assert c.post("/api/buy", json={"server": server, "elecoins": 1}, headers=w.h(w.alice)).status_code == 200
    d = c.get("/api/dashboard/market").json()
    assert d["equilibrium"]["price_native"] == [pytest.approx(0.09)] and d["equilibrium"]["demand_total"] == 3.0
    assert d["equilibrium"]["source"] == "elecoin/settlement.json"


def test_the_learning_dashboard_is_read_from_the_index_cache(tmp_path):
    c = TestClient(make_app(tmp_path))
    gl = c.app.state.gl
    from gridledger.web.routes.dashboard import _elecoin_key

    kept = {"unified": {"kept": True}}
    gl.index.keep(_elecoin_key(), kept)
    assert c.get("/api/dashboard/elecoin").json() == kept
