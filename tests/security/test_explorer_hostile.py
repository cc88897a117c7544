"""The explorer against contracts anybody can deploy: a token whose Transfer events carry 2**255
units or do not add up, a token whose name() never returns, a contract with the ETSC's own
creation code whose events name other people's accounts, and a purchase beyond the buyer's coin.
Every read answers (no 5xx), nothing forged reaches the labels, and the index's calls are bounded."""

from __future__ import annotations

import numpy as np
import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient
from situations import two_neighbourhoods
from webapp import make_app, populate

from gridledger.scenarios.community.chain import record_community_day
from gridledger.scenarios.community.run import CommunityConfig
from gridledger.web.blocksource import METADATA_GAS

pytestmark = pytest.mark.integration

TRANSFER = keccak(text="Transfer(address,address,uint256)")


def _push(data: bytes) -> bytes:
    return bytes([0x5F + len(data)]) + data  # PUSH1..PUSH32


def logging_constructor(logs: list[tuple[bytes, bytes, int]]) -> bytes:
    """Creation code that emits ``Transfer(from, to, value)`` for each (from, to, value) and
    leaves no runtime code: a token as far as its logs go, and nothing else."""
    code = b""
    for src, dst, value in logs:
        code += _push(value.to_bytes(32, "big")) + _push(b"\x00") + bytes([0x52])  # MSTORE at 0
        code += _push(dst.rjust(32, b"\x00")) + _push(src.rjust(32, b"\x00")) + _push(TRANSFER)
        code += _push(b"\x20") + _push(b"\x00") + bytes([0xA3])  # LOG3(0, 32, topic0, from, to)
    return code + b"\x00"


def looping_name_token(victim: bytes) -> bytes:
    """A contract whose every call loops forever (runtime JUMPDEST PUSH1 0 JUMP) and whose
    constructor emits one Transfer to ``victim``, so the index asks it for its name."""
    runtime = bytes.fromhex("5b600056")
    logs = logging_constructor([(b"\x00" * 20, victim, 5)])[:-1]  # without the final STOP
    # copy the runtime into memory and return it: PUSH4 runtime, PUSH1 0, MSTORE, PUSH1 4, PUSH1 28, RETURN
    ret = _push(runtime) + _push(b"\x00") + bytes([0x52]) + _push(b"\x04") + _push(b"\x1c") + bytes([0xF3])
    return logs + ret


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return populate(TestClient(make_app(tmp_path_factory.mktemp("hostile"))))


def deploy_raw(gl, code: bytes) -> None:
    with gl.lock:
        r = gl.chain.transact(gl.chain.dev_signers()[0], None, "0x" + code.hex(), gas=3_000_000, preflight=False)
    assert r["status"] == 1


def test_a_token_with_2_255_units_and_inconsistent_transfers_is_shown(world):
    c, gl = world.client, world.client.app.state.gl
    victim = bytes.fromhex(world.alice["address"][2:])
    other = bytes.fromhex(world.bob["address"][2:])
    deploy_raw(gl, logging_constructor([(b"\x00" * 20, victim, 2**255), (other, victim, 4)]))
    r = c.get("/api/explorer/tokens")
    assert r.status_code == 200
    junk = [t for t in r.json()["tokens"] if t["symbol"] is None]
    assert len(junk) == 1 and junk[0]["supply_display"].startswith("57,896,044,618,658,097,711,785,492,504")
    token = junk[0]["address"]
    holders = c.get(f"/api/explorer/token/{token}/holders").json()["holders"]
    assert [h["holder"] for h in holders] == [world.alice["address"]]  # bob's -4 is not a holding
    for path in (f"/api/explorer/token/{token}", f"/api/explorer/address/{world.alice['address']}",
                 f"/api/explorer/address/{world.bob['address']}", "/api/explorer/blocks", "/api/explorer/stats"):
        assert c.get(path).status_code == 200, path


def test_a_token_whose_name_never_returns_costs_the_index_a_bounded_call(world):
    c, gl = world.client, world.client.app.state.gl
    deploy_raw(gl, looping_name_token(bytes.fromhex(world.carol["address"][2:])))
    calls: list[int] = []
    source = gl.index.source
    original = source.call

    def counted(to, data):
        out = original(to, data)
        calls.append(1)
        return out

    source.call = counted
    try:
        tokens = c.get("/api/explorer/tokens").json()["tokens"]
    finally:
        source.call = original
    assert calls, "the new token's metadata was read"
    looped = [t for t in tokens if t["name"] is None and t["supply"] == "5"]
    assert looped  # indexed, its name unknown
    assert METADATA_GAS <= 100_000


def test_a_copy_of_the_etsc_cannot_label_other_peoples_accounts(world):
    """Anybody can deploy the ETSC's creation code and register 'alice' under bob's address in
    it: the pages show only the names the deployed market gives."""
    from gridledger.ledger.clients import ETSCClient
    from gridledger.ledger.deploy import MarketDeployment

    c, gl = world.client, world.client.app.state.gl
    with gl.lock:
        signer = gl.chain.dev_signers()[1]
        fake = ETSCClient.deploy(gl.chain, signer, MarketDeployment().config(signer.address, signer.address))
        fake.empower(signer, "alice", world.bob["address"], False, True)
        fake.empower(signer, "mallory", world.carol["address"], False, True)
    assert c.get("/api/explorer/address/" + fake.address).json()["contract"] == "ETSC"  # recognised as an ETSC
    labels = c.get("/api/explorer/labels").json()["labels"]
    assert labels[world.bob["address"]]["label"] == "bob"
    assert labels[world.alice["address"]]["label"] == "alice"
    assert world.carol["address"] not in labels or "mallory" not in labels[world.carol["address"]]["label"]


def test_staking_roles_are_labelled_by_the_contracts_roles(tmp_path):
    c = TestClient(make_app(tmp_path))
    gl = c.app.state.gl
    with gl.lock:
        record_community_day(gl.chain, gl.settings.data_dir, CommunityConfig(prosumers=8),
                                         two_neighbourhoods(), np.random.default_rng(0))
    from gridledger.ledger.deploy import load_deployment, staking_role_holders

    labels = c.get("/api/explorer/labels").json()["labels"]
    with gl.lock:
        dep = load_deployment(gl.chain, gl.settings.data_dir, "community")
        holders = staking_role_holders(gl.chain, dep, "community")
    operators = [a for role, a in holders if role.endswith(" operator")]
    assert operators
    for a in operators:
        assert "community operator" in labels[a]["label"].split(" · ")
    assert "community administrator" in labels[dep.administrator]["label"].split(" · ")
    assert "community operator" not in labels[dep.administrator]["label"].split(" · ")


def test_a_purchase_beyond_the_buyers_coin_is_a_sentence(world):
    c = world.client
    server = c.get("/api/market").json()["edge_servers"][0]
    native = int(c.get(f"/api/accounts/{world.alice['address']}").json()["native_wei"])
    elecoins = native // int(server["uniform_price_wei"]) + 5
    r = c.post("/api/buy", json={"server": server["address"], "elecoins": elecoins}, headers=world.h(world.alice))
    assert r.status_code == 409 and r.json()["detail"]["error"] == "InsufficientFunds"
