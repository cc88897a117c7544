"""The ETSC market fixture; the chains (embedded py-evm and anvil) come from tests/conftest.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gridledger.ledger.chain import Chain, Signer, derived_signer
from gridledger.ledger.clients import ETSCClient
from gridledger.ledger.units import elecoins_to_units

ETHER = 10**18
Q_UNITS = 6 * 10**14  # 0.6 elecoin per kWh in elecoin units per Wh
PRICE_WEI = 10**15  # 0.001 native coin per elecoin


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
