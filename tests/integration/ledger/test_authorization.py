"""Every state-changing function of the ETSC x every role: allowed, or refused with the named error.

Each call is otherwise valid, so the caller's role is the only reason it may fail.
"""

import pytest

from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.units import elecoins_to_units

from .conftest import make_market

pytestmark = pytest.mark.integration

ROLES = ("admin", "edge_server", "prosumer", "retailer", "meter", "stranger")


def _call(m, fn, who):
    e, s = m.etsc, m.role(who)
    if fn == "empower":
        return e.empower(s, "x", "0x" + "12" * 20, True, True)
    if fn == "setRights":
        return e.set_rights(s, m.prosumer.address, True, True)
    if fn == "registerMeter":
        return e.register_meter(s, "0x" + "34" * 20, m.prosumer.address)
    if fn == "declarePrice":
        return e.declare_price(s, 5)
    if fn == "declarePriceFor":
        return e.declare_price_for(s, m.prosumer.address, 5)
    if fn == "withdrawProceeds":
        return e.withdraw_proceeds(s)
    if fn == "buyToken":
        return e.buy_token(s, m.server.address, elecoins_to_units(1), value=10**15)
    if fn == "trade":
        return e.trade(s, m.retailer.address, 100) if who != "retailer" else e.trade(s, m.prosumer.address, 100)
    if fn == "generation":
        return e.generation(s, 100)
    if fn == "consumption":
        return e.consumption(s, 100)
    raise AssertionError(fn)


ALLOWED = {
    "empower": {"admin"},
    "setRights": {"admin"},
    "registerMeter": {"admin"},
    "declarePrice": {"edge_server"},
    "declarePriceFor": {"edge_server"},
    "withdrawProceeds": {"edge_server"},
    "buyToken": {"prosumer"},
    "trade": {"prosumer"},
    "generation": {"meter"},
    "consumption": {"meter"},
}

REFUSAL = {
    "empower": "ETSCNotAdministrator",
    "setRights": "ETSCNotAdministrator",
    "registerMeter": "ETSCNotAdministrator",
    "declarePrice": "ETSCNotEdgeServer",
    "declarePriceFor": "ETSCNotEdgeServer",
    "withdrawProceeds": "ETSCNotEdgeServer",
    "generation": "ETSCNotMeter",
    "consumption": "ETSCNotMeter",
}


def expected_error(fn, who):
    if who in ALLOWED[fn]:
        return None
    if fn in REFUSAL:
        return REFUSAL[fn]
    # buyToken / trade: registered users without the trading right, or unregistered callers.
    return "ETSCNoTransRight" if who == "retailer" else "ETSCNotRegistered"


@pytest.mark.parametrize("fn", sorted(ALLOWED))
def test_authorization_matrix(chain, fn):
    for who in ROLES:
        m = make_market(chain)
        before = (m.etsc.totals(), m.etsc.account(m.prosumer.address), m.etsc.account(m.server.address))
        error = expected_error(fn, who)
        if error is None:
            _call(m, fn, who)
        else:
            with pytest.raises(ContractRevert) as info:
                _call(m, fn, who)
            assert info.value.name == error, (fn, who, info.value)
            assert (m.etsc.totals(), m.etsc.account(m.prosumer.address),
                    m.etsc.account(m.server.address)) == before, (fn, who)
