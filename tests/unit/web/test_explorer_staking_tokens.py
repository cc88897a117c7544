"""The explorer's token pages for the community's EPOS (proof scores) and UPOS (energy credit),
checked against the tokens' own contracts after a community day recorded on the app's chain."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from situations import two_neighbourhoods
from webapp import make_app

from gridledger.ledger.clients import StakingClient
from gridledger.ledger.deploy import load_deployment
from gridledger.scenarios.community.chain import record_community_day
from gridledger.scenarios.community.run import CommunityConfig

pytestmark = pytest.mark.integration

ZERO = "0x" + "0" * 40


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    c = TestClient(make_app(tmp_path_factory.mktemp("staking-tokens")))
    g = c.app.state.gl
    with g.lock:
        record_community_day(g.chain, g.settings.data_dir, CommunityConfig(prosumers=8), two_neighbourhoods(),
                             np.random.default_rng(0))
        dep = load_deployment(g.chain, g.settings.data_dir, "community")
        staking = StakingClient(g.chain, dep.contracts["ProofStaking"])
    return c, staking


def test_epos_and_upos_are_listed_with_the_chains_supply(world):
    c, staking = world
    tokens = {t["symbol"]: t for t in c.get("/api/explorer/tokens").json()["tokens"]}
    assert {"ELC", "EPOS", "UPOS"} <= set(tokens)
    for symbol, client in (("EPOS", staking.epos), ("UPOS", staking.upos)):
        t = tokens[symbol]
        assert t["address"] == client.address
        page = c.get(f"/api/explorer/token/{client.address}").json()["token"]
        assert int(page["supply"]) == client.total_supply()
        assert page["supply_display"].endswith(f" {symbol}")


@pytest.mark.parametrize("symbol", ["EPOS", "UPOS"])
def test_holders_and_transfers_of_the_staking_tokens_match_the_chain(world, symbol):
    c, staking = world
    token = staking.epos if symbol == "EPOS" else staking.upos
    holders = c.get(f"/api/explorer/token/{token.address}/holders?limit=100").json()["holders"]
    assert holders and token.total_supply() > 0  # the sellers' positive proof scores, their Shapley rewards
    assert sum(int(h["balance"]) for h in holders) == token.total_supply()
    for h in holders:
        assert int(h["balance"]) == token.balance_of(h["holder"]) > 0
    page = c.get(f"/api/explorer/token/{token.address}").json()
    if symbol == "EPOS":  # a view of the current round: credited members hold it, it never moves
        assert page["token"]["transfers"] == 0 and page["transfers"] == [] and "current round" in page["token"]["note"]
        current = staking.current_round()
        credited = {e["args"]["member"] for e in staking.contract.events.ScoreCredited().get_logs(from_block=0)
                    if e["args"]["round"] == current}
        assert {h["holder"] for h in holders} == {m for m in credited if token.balance_of(m) > 0}
        return
    logs = token.contract.events.Transfer().get_logs(from_block=0)
    assert page["token"]["transfers"] == len(logs) > 0
    minted = sum(int(e["args"]["value"]) for e in logs if e["args"]["from"] == ZERO)
    burned = sum(int(e["args"]["value"]) for e in logs if e["args"]["to"] == ZERO)
    assert minted - burned == token.total_supply()


def test_staking_events_name_their_contract_and_show_units(world):
    c, staking = world
    index = c.app.state.gl.index
    rows = index._q("SELECT DISTINCT address, contract FROM events")
    named = {r["address"]: r["contract"] for r in rows}
    assert named[staking.address] == "ProofStaking" and named[staking.upos.address] == "UPOS"
    # the tokens ProofStaking's constructor creates are named although EPOS never emits a log
    assert index.contract_type(staking.epos.address) == "EPOS"
    assert index.contract_type(staking.upos.address) == "UPOS"
    tx = index._q("SELECT tx FROM contracts WHERE address = ?", (staking.address,))[0]["tx"]
    created = {e["address"]: e["name"] for e in c.get(f"/api/explorer/tx/{tx}").json()["contracts_created"]}
    assert created.get(staking.epos.address) == "EPOS" and created.get(staking.upos.address) == "UPOS", created
