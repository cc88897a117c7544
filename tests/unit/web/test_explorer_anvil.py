"""The explorer index on a real node (anvil): blocks and receipts from the node, value moved inside
a call from the node's call tracer, revert reasons replayed by the node."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gridledger.ledger.accounts import open_vault
from gridledger.ledger.chain import RPCChain
from gridledger.ledger.clients import ETSCClient
from gridledger.ledger.deploy import deploy_market
from gridledger.ledger.units import elecoins_to_units, price_to_wei
from gridledger.web.indexer import Index

pytestmark = pytest.mark.integration

ANVIL = Path(__file__).resolve().parents[3] / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / \
    "bin" / "anvil"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    assert ANVIL.exists(), f"anvil is not installed at {ANVIL} (run `make test`, which runs npm ci in contracts/)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    states = tmp_path_factory.mktemp("anvil-states")  # not ~/.foundry/anvil/tmp
    proc = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent", "--cache-path",
                             str(states)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                chain = RPCChain(url)
                break
            except Exception:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield chain
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_index_on_anvil_traces_value_moves_and_replays_reverts(node, tmp_path):
    chain = node
    dep, _ = deploy_market(chain, tmp_path)  # administrator and edge server: random keys in tmp_path's vault
    etsc = ETSCClient(chain, dep.contracts["ETSC"])
    vault = open_vault(tmp_path)
    admin, server = vault.find(dep.administrator, chain.chain_id), vault.find(dep.edge_servers[0], chain.chain_id)
    dev = chain.dev_signers()
    prosumer, stranger = dev[2], dev[5]
    etsc.empower(admin, "p", prosumer.address, False, True)
    etsc.declare_price(server, price_to_wei(80.0))
    etsc.buy_token(prosumer, server.address, elecoins_to_units(2))
    proceeds = etsc.account(server.address).proceeds_wei
    withdraw = etsc.withdraw_proceeds(server)
    data = etsc.contract.encode_abi("trade", args=[prosumer.address, 5])
    with pytest.raises(Exception):  # noqa: B017 - mined with status 0 (no preflight)
        chain.transact(stranger, etsc.address, data, preflight=False)

    index = Index(chain, tmp_path / "index.sqlite", dep.contracts, threading.RLock())
    index.sync()
    t = index.tx(withdraw.tx_hash)
    assert [(m["sender"], m["recipient"], int(m["value"]), m["source"]) for m in t["moves"]] == [
        (etsc.address, server.address, proceeds, "trace")]
    failed = index._q("SELECT hash FROM txs WHERE status = 0")
    assert len(failed) == 1
    err = index.tx(failed[0]["hash"])["error"]
    assert err == {"name": "ETSCNotRegistered", "args": {"account": stranger.address}}
    elecoin = index.token(etsc.elecoin.address)
    assert elecoin is not None and int(elecoin["supply"]) == etsc.elecoin.total_supply()
    assert {h["holder"]: int(h["balance"]) for h in index.holders(etsc.elecoin.address, 0, 10)} == {
        etsc.address: etsc.elecoin.balance_of(etsc.address), prosumer.address: elecoins_to_units(2)}
    creation = index.contract(etsc.address)["tx"]  # the deployment funds the roles first, then creates
    assert index.tx(creation)["recipient"] is None
    assert [c["name"] for c in index.tx(creation)["contracts_created"]] == ["ETSC", "Elecoin"]
