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
from gridledger.ledger.clients import ETSCClient, ETSCConfig
from gridledger.ledger.keys import random_signer
from gridledger.ledger.units import elecoins_to_units

REPO = Path(__file__).resolve().parents[3]
ANVIL = REPO / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
ETHER = 10**18
Q_UNITS = 6 * 10**14  # 0.6 elecoin per kWh in elecoin units per Wh
PRICE_WEI = 10**15  # 0.001 native coin per elecoin
MIN_PRICE_WEI = 10**14
MAX_PRICE_WEI = 10**17
REDEMPTION_WEI = 5 * 10**13
RATED_W = 100_000  # 100 kWh per one-hour slot
SUPPLY = elecoins_to_units(1_000_000)


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
    guardian: Signer

    def role(self, name: str) -> Signer:
        return {"admin": self.admin, "edge_server": self.server, "prosumer": self.prosumer,
                "retailer": self.retailer, "meter": self.meter, "stranger": self.stranger,
                "guardian": self.guardian}[name]


def fund_all(chain: Chain, signers, wei: int = 100 * ETHER) -> None:
    payer = chain.dev_signers()[0]
    for s in signers:
        if chain.balance(s.address) < wei // 10:
            chain.send_value(payer, s.address, wei)


def market_config(admin: Signer, guardian: Signer, **overrides) -> ETSCConfig:
    base = dict(administrator=admin.address, guardian=guardian.address, total_elecoins=SUPPLY,
                unit_power_price=Q_UNITS, min_price_wei=MIN_PRICE_WEI, max_price_wei=MAX_PRICE_WEI,
                redemption_price_wei=REDEMPTION_WEI, slot_seconds=3600)
    base.update(overrides)
    return ETSCConfig(**base)


def make_market(chain: Chain, funded: bool = True, **config) -> Market:
    """Deploy an ETSC with random administrator, guardian and edge server; empower a prosumer
    (trading right) and a retailer (generation right) with its meter (100 kW); if ``funded``: the
    server declares a price, the meter reports 10 kWh, the prosumer buys 5 elecoins.

    The four user accounts have label-derived test keys (the test switch is on; embedded chain
    and anvil only), so a test can rebuild them, e.g. after a restart."""
    admin, server, guardian = random_signer(), random_signer(), random_signer()
    roles = [derived_signer("test", i) for i in range(4)]
    fund_all(chain, [admin, server, guardian, *roles])
    prosumer, retailer, meter, stranger = roles
    etsc = ETSCClient.deploy(chain, admin, market_config(admin, guardian, **config))
    etsc.add_edge_server(admin, server.address, config.get("total_elecoins", SUPPLY))
    etsc.empower(admin, "prosumer", prosumer.address, False, True)
    etsc.empower(admin, "retailer", retailer.address, True, False)
    etsc.register_meter(admin, meter.address, retailer.address, RATED_W)
    if funded:
        etsc.declare_price(server, PRICE_WEI)
        etsc.generation(meter, 10_000)
        etsc.buy_token(prosumer, server.address, elecoins_to_units(5))
    return Market(chain, etsc, admin, server, prosumer, retailer, meter, stranger, guardian)


@pytest.fixture
def market(chain) -> Market:
    return make_market(chain)
