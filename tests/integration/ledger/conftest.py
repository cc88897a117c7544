"""Chains for the contract suite: the same tests run on the embedded py-evm chain and on anvil."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gridledger.ledger.chain import Chain, EmbeddedChain, RPCChain, Signer, derived_signer
from gridledger.ledger.clients import ETSCClient
from gridledger.ledger.units import elecoins_to_units

REPO = Path(__file__).resolve().parents[3]
ANVIL = REPO / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
ETHER = 10**18
Q_UNITS = 6 * 10**14  # 0.6 elecoin per kWh in elecoin units per Wh
PRICE_WEI = 10**15  # 0.001 native coin per elecoin


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def anvil_url() -> Iterator[str]:
    """A real anvil node on 127.0.0.1 and a free port, stopped by PID at the end."""
    assert ANVIL.exists(), f"anvil is not installed at {ANVIL} (run `make test`, which runs npm ci in contracts/)"
    port = _free_port()
    proc = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent",
                             "--balance", "1000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                RPCChain(url)
                break
            except Exception:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.fixture(params=["embedded", "anvil"])
def chain(request) -> Iterator[Chain]:
    if request.param == "embedded":
        c: Chain = EmbeddedChain(None)
    else:
        c = RPCChain(request.getfixturevalue("anvil_url"))
    try:
        yield c
    finally:
        c.close()


@dataclass
class Market:
    """A freshly deployed ETSC with one account per role."""

    chain: Chain
    etsc: ETSCClient
    admin: Signer
    server: Signer
    prosumer: Signer
    retailer: Signer
    meter: Signer
    stranger: Signer

    def role(self, name: str) -> Signer:
        return {"admin": self.admin, "edge_server": self.server, "prosumer": self.prosumer,
                "retailer": self.retailer, "meter": self.meter, "stranger": self.stranger}[name]


def make_market(chain: Chain, funded: bool = True) -> Market:
    """Deploy an ETSC; empower a prosumer (trading right) and a retailer (generation right) with
    its meter; if ``funded``: the server declares a price, the meter reports 10 kWh, the
    prosumer buys 5 elecoins."""
    dev = chain.dev_signers()
    admin, server = dev[0], dev[1]
    roles = [derived_signer("test", i) for i in range(4)]
    for s in roles:
        if chain.balance(s.address) < 10 * ETHER:
            chain.send_value(admin, s.address, 100 * ETHER)
    prosumer, retailer, meter, stranger = roles
    address, _ = chain.deploy("ETSC", admin, admin.address, elecoins_to_units(1_000_000), Q_UNITS,
                              [server.address])
    etsc = ETSCClient(chain, address)
    etsc.empower(admin, "prosumer", prosumer.address, False, True)
    etsc.empower(admin, "retailer", retailer.address, True, False)
    etsc.register_meter(admin, meter.address, retailer.address)
    if funded:
        etsc.declare_price(server, PRICE_WEI)
        etsc.generation(meter, 10_000)
        etsc.buy_token(prosumer, server.address, elecoins_to_units(5))
    return Market(chain, etsc, admin, server, prosumer, retailer, meter, stranger)


@pytest.fixture
def market(chain) -> Market:
    return make_market(chain)
