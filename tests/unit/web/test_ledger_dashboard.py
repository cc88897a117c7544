"""The dashboard's view of the community's and the fleet's rounds, read from the chain."""

import numpy as np
import pytest
from fastapi.testclient import TestClient
from webapp import make_app

from gridledger.scenarios.community.chain import record_community_day
from gridledger.scenarios.community.run import CommunityConfig, synthetic_input
from gridledger.scenarios.fleet.chain import FleetSettleConfig, settle_fleet
from gridledger.scenarios.fleet.run import train, train_config

pytestmark = pytest.mark.integration


@pytest.mark.seed_sensitive
def test_ledger_dashboard_before_and_after_rounds(tmp_path):
    client = TestClient(make_app(tmp_path))
    empty = client.get("/api/dashboard/ledger").json()
    assert empty["community"] is None and empty["fleet"] is None

    gl = client.app.state.gl
    cfg = CommunityConfig(prosumers=6, malicious=(0,))
    rng = np.random.default_rng(2)
    with gl.lock:
        _, ledger = record_community_day(gl.chain, gl.settings.data_dir, cfg, synthetic_input(cfg, rng), rng)
        fcfg = train_config({"federation": {"evs": 3, "rounds": 2}})
        fleet_report = settle_fleet(gl.chain, gl.settings.data_dir, train(fcfg, 0), fcfg.env, 0,
                                    FleetSettleConfig(evs=3, days=2, selfish=(1,)))

    d = client.get("/api/dashboard/ledger").json()
    c = d["community"]
    assert [r["round"] for r in c["rounds"]] == [1]
    r = c["rounds"][0]
    assert r["phase"] == "closed" and r["miner"] == ledger["miner"] and r["members"] == 6
    assert {v["address"] for v in r["validators"]} == {v["validator"] for v in ledger["validators"]}
    assert r["reward"] == pytest.approx(ledger["reward_upos"]) and r["slashed"] == pytest.approx(ledger["slashed_epos"])
    assert sum(v["slashed"] for v in r["validators"]) == sum(a["refused"] for a in ledger["election"])

    f = d["fleet"]
    assert f["beta_bps"] == 500 and [x["round"] for x in f["rounds"]] == [2, 1]
    assert [x["miner"] for x in reversed(f["rounds"])] == [x["miner"] for x in fleet_report["rounds"]]
    held = {e["address"]: int(e["held_wei"]) for e in f["evs"]}
    assert held == {e["address"]: e["held_wei"] for e in fleet_report["evs"]}
    assert int(f["held_wei"]) == fleet_report["contract_balance_wei"]
    assert client.get("/api/dashboard/ledger?rounds=0").status_code == 422


def test_a_closed_round_keeps_its_validators_and_shows_each_claim(tmp_path):
    """A closed round's validators are read once; the UPOS its members claim after the reward
    window (claimReward has no end) still shows, until the pool M_r is paid."""
    from staking_protocol import E, Staking, funded, sealed_round

    from gridledger.ledger import rounds
    from gridledger.ledger.clients import StakingClient
    from gridledger.ledger.deploy import deploy_community_ledger, staking_operator
    from gridledger.ledger.units import token_units_to_kwh

    client = TestClient(make_app(tmp_path))
    gl = client.app.state.gl
    with gl.lock:
        dep, _ = deploy_community_ledger(gl.chain, gl.settings.data_dir)
        st = StakingClient(gl.chain, dep.contracts["ProofStaking"])
        op = staking_operator(gl.chain, gl.settings.data_dir, dep)
        stranger, *members = funded(gl.chain, 3)
        s = Staking(gl.chain, st, op, op, op, members, stranger)
        # Member 0 validates, member 1 delegates to it: member 0 is the miner; nobody is paid yet.
        r, miner = sealed_round(s, [3 * E, E], [0, 0], savings=[10 * E, 10 * E])
    assert miner == members[0].address
    pool = st.round_info(r).fee_pool
    assert pool == 2 * E  # delta 0.1 of each saving (eq. 3.23)

    first = client.get("/api/dashboard/ledger").json()["community"]["rounds"][0]
    key = (st.address, r)
    assert first["phase"] == "closed" and first["reward"] == 0 and key in gl.rewards_open
    cached = gl.rounds[key]
    with gl.lock:
        rounds.wait_until_block(gl.chain, st.round_info(r).challenge_end + st.windows()["reward"] + 1)
        st.claim_reward(members[1], r)  # a quarter of the stake: a quarter of the pool
    after = client.get("/api/dashboard/ledger").json()["community"]["rounds"][0]
    assert after["reward"] == pytest.approx(token_units_to_kwh(pool // 4))
    assert {k: v for k, v in after.items() if k != "reward"} == {k: v for k, v in first.items() if k != "reward"}
    assert gl.rounds[key] is cached and key in gl.rewards_open
    with gl.lock:
        st.claim_reward(members[0], r)
    last = client.get("/api/dashboard/ledger").json()["community"]["rounds"][0]
    assert last["reward"] == pytest.approx(token_units_to_kwh(pool)) and key not in gl.rewards_open
