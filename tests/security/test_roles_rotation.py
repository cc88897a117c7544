"""Issue 11 item 8 ("every role is fixed at deployment"): each role of the ETSC can be rotated,
with an event, and the old holder loses its power; on the embedded chain and on anvil."""

import pytest
from integration.ledger.conftest import PRICE_WEI, RATED_W, fund_all, make_market

from gridledger.ledger.errors import ContractRevert

pytestmark = pytest.mark.integration


def refused(name, fn, *args):
    with pytest.raises(ContractRevert) as info:
        fn(*args)
    assert info.value.name == name, info.value


def test_administrator_rotates_in_two_delayed_steps_and_can_cancel(chain):
    m = make_market(chain, funded=False)
    e, new = m.etsc, m.stranger
    # A stolen administrator key cannot hand the role over at once: the transfer waits, and the
    # holder can cancel it meanwhile.
    e.begin_admin_transfer(m.admin, new.address)
    refused("AccessControlEnforcedDefaultAdminDelay", e.accept_admin_transfer, new)
    res = e.cancel_admin_transfer(m.admin)
    assert res.event("DefaultAdminTransferCanceled")
    chain.advance_time(e.admin_delay_s() + 1)
    refused("AccessControlInvalidDefaultAdmin", e.accept_admin_transfer, new)
    e.begin_admin_transfer(m.admin, new.address)
    chain.advance_time(e.admin_delay_s() + 1)
    res = e.accept_admin_transfer(new)
    names = [ev.name for ev in res.events]
    assert names.count("RoleRevoked") == 1 and names.count("RoleGranted") == 1
    assert e.administrator() == new.address
    refused("ETSCNotAdministrator", e.register_meter, m.admin, "0x" + "11" * 20, m.retailer.address, RATED_W)
    e.register_meter(new, "0x" + "11" * 20, m.retailer.address, RATED_W)
    # The administrator role is never granted directly.
    refused("AccessControlEnforcedDefaultAdminRules", e._send, new, "grantRole", bytes(32), m.admin.address)


def test_edge_servers_meters_and_guardian_rotate(chain):
    m = make_market(chain, funded=False)
    e = m.etsc
    replacement = m.stranger
    fund_all(chain, [replacement])
    # Edge server: replaced by another, the old one loses its power but keeps its proceeds.
    e.remove_edge_server(m.admin, m.server.address)
    e.add_edge_server(m.admin, replacement.address, e.unallocated())
    refused("ETSCNotEdgeServer", e.declare_price, m.server, PRICE_WEI)
    assert e.declare_price(replacement, PRICE_WEI).event("PriceDeclared")
    # Meter: revoked, a new one registered for the same retailer.
    e.revoke_meter(m.admin, m.meter.address)
    new_meter = m.prosumer  # any funded key will do as a device key here
    e.register_meter(m.admin, new_meter.address, m.retailer.address, RATED_W)
    refused("ETSCNotMeter", e.generation, m.meter, 1)
    assert e.generation(new_meter, 1).event("Generated").args["user"] == m.retailer.address
    # Guardian: rotated by the administrator.
    e.grant_guardian(m.admin, replacement.address)
    assert e.revoke_guardian(m.admin, m.guardian.address).event("RoleRevoked")
    refused("ETSCNotGuardian", e.pause, m.guardian)
    e.pause(replacement)
    e.unpause(m.admin)
