"""Every state-changing function of the ETSC x every role: allowed, or refused with the named error.

Each call is otherwise valid, so the caller's role is the only reason it may fail.
"""

import pytest

from gridledger.ledger.clients.etsc import GUARDIAN_ROLE as GUARDIAN_ROLE_HEX
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.units import elecoins_to_units

from .conftest import PRICE_WEI, make_market

pytestmark = pytest.mark.integration

ROLES = ("admin", "guardian", "edge_server", "prosumer", "retailer", "meter", "stranger")
GUARDIAN_ROLE = bytes.fromhex(GUARDIAN_ROLE_HEX[2:])


def _call(m, fn, who):
    e, s = m.etsc, m.role(who)
    if fn == "empower":
        return e.empower(s, "x", "0x" + "12" * 20, True, True)
    if fn == "setRights":
        return e.set_rights(s, m.prosumer.address, True, True)
    if fn == "registerMeter":
        return e.register_meter(s, "0x" + "34" * 20, m.prosumer.address, 1_000)
    if fn == "revokeMeter":
        return e.revoke_meter(s, m.meter.address)
    if fn == "addEdgeServer":
        return e.add_edge_server(s, "0x" + "56" * 20, 1)
    if fn == "removeEdgeServer":
        return e.remove_edge_server(s, m.server.address)
    if fn == "setAllocation":
        return e.set_allocation(s, m.server.address, 1)
    if fn == "setPriceBounds":
        return e.set_price_bounds(s, PRICE_WEI, 2 * PRICE_WEI)
    if fn == "setSlotSupply":
        return e.set_slot_supply(s, 1)
    if fn == "pause":
        return e.pause(s)
    if fn == "unpause":
        return e.unpause(s)
    if fn == "grantRole":
        return e._send(s, "grantRole", GUARDIAN_ROLE, "0x" + "78" * 20)
    if fn == "beginDefaultAdminTransfer":
        return e.begin_admin_transfer(s, "0x" + "9a" * 20)
    if fn == "redeem":
        return e.redeem(s, 1)
    if fn == "declarePrice":
        return e.declare_price(s, PRICE_WEI)
    if fn == "declarePriceFor":
        return e.declare_price_for(s, m.prosumer.address, PRICE_WEI)
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


ADMIN_ONLY = ("empower", "setRights", "registerMeter", "revokeMeter", "addEdgeServer", "removeEdgeServer",
              "setAllocation", "setPriceBounds", "setSlotSupply", "unpause")

ALLOWED = {
    **{fn: {"admin"} for fn in ADMIN_ONLY},
    "grantRole": {"admin"},
    "beginDefaultAdminTransfer": {"admin"},
    "pause": {"guardian"},
    "redeem": {"retailer"},
    "declarePrice": {"edge_server"},
    "declarePriceFor": {"edge_server"},
    "withdrawProceeds": {"edge_server"},  # the only account with proceeds
    "buyToken": {"prosumer"},
    "trade": {"prosumer"},
    "generation": {"meter"},
    "consumption": {"meter"},
}

REFUSAL = {
    **{fn: "ETSCNotAdministrator" for fn in ADMIN_ONLY},
    "grantRole": "AccessControlUnauthorizedAccount",
    "beginDefaultAdminTransfer": "AccessControlUnauthorizedAccount",
    "pause": "ETSCNotGuardian",
    "declarePrice": "ETSCNotEdgeServer",
    "declarePriceFor": "ETSCNotEdgeServer",
    "withdrawProceeds": "ETSCNothingToWithdraw",
    "generation": "ETSCNotMeter",
    "consumption": "ETSCNotMeter",
}


def expected_error(fn, who):
    if who in ALLOWED[fn]:
        return None
    if fn in REFUSAL:
        return REFUSAL[fn]
    if fn == "redeem":  # registered users without the generation right, or unregistered callers
        return "ETSCNoGenRight" if who == "prosumer" else "ETSCNotRegistered"
    # buyToken / trade: registered users without the trading right, or unregistered callers.
    return "ETSCNoTransRight" if who == "retailer" else "ETSCNotRegistered"


@pytest.mark.parametrize("fn", sorted(ALLOWED))
def test_authorization_matrix(chain, fn):
    # A refused call changes nothing (asserted), so the refused roles share one market; each
    # allowed call gets a fresh one.
    m = None
    for who in sorted(ROLES, key=lambda w: expected_error(fn, w) is None):
        if m is None or expected_error(fn, who) is None:
            m = make_market(chain)
            if fn == "redeem":
                m.etsc.trade(m.prosumer, m.retailer.address, 100)  # the retailer holds elecoins
            elif fn == "unpause":
                m.etsc.pause(m.guardian)
            elif fn == "addEdgeServer":
                m.etsc.set_allocation(m.admin, m.server.address, 0)  # room in the reserve
        before = (m.etsc.totals(), m.etsc.account(m.prosumer.address), m.etsc.account(m.server.address),
                  m.etsc.edge_servers(), m.etsc.paused(), m.etsc.meter_info(m.meter.address))
        error = expected_error(fn, who)
        if error is None:
            _call(m, fn, who)
        else:
            with pytest.raises(ContractRevert) as info:
                _call(m, fn, who)
            assert info.value.name == error, (fn, who, info.value)
            assert (m.etsc.totals(), m.etsc.account(m.prosumer.address), m.etsc.account(m.server.address),
                    m.etsc.edge_servers(), m.etsc.paused(), m.etsc.meter_info(m.meter.address)) == before, (fn, who)
