"""Attacks on the ETSC from issue 11 (items 2 and 5) and the SWC classes that apply, each failing
to do harm; every test runs on the embedded chain and on anvil (the ``chain`` fixture).

| attack | what stops it |
| --- | --- |
| a meter reports 2**256 - 1 - 1000 Wh, then every generation() overflows | per-slot rating bound |
| a meter mints unlimited power and sells it | per-slot rating bound; revocation; pause |
| a server declares 1 wei and a friend buys the reserve | price bounds; per-server allocations |
| the reserve is sold once and the market stops | retailers redeem; the reserve refills |
| SWC-114 front-running: the server raises the price under a pending buy | exact payment |
| SWC-101 overflow / SWC-113 DoS by panic | bounded reports, ratings and Q |
| SWC-105/106 access control | the authorization matrix (test_authorization.py) and below |
| stuck funds | removed servers and paused markets still withdraw; backing pays redemptions |
"""

import pytest
from integration.ledger.conftest import (
    MIN_PRICE_WEI,
    PRICE_WEI,
    RATED_W,
    REDEMPTION_WEI,
    SUPPLY,
    fund_all,
    make_market,
)

from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.units import elecoins_to_units

pytestmark = pytest.mark.integration
MAX = 2**256 - 1


def refused(name, fn, *args, **kwargs):
    with pytest.raises(ContractRevert) as info:
        fn(*args, **kwargs)
    assert info.value.name == name, info.value
    return info.value


def test_overflow_report_cannot_block_everybodys_generation(chain):
    m = make_market(chain, funded=False)
    # The attack of issue 11 item 2: one huge report, then the next report of any meter overflows.
    refused("ETSCReportAboveRating", m.etsc.generation, m.meter, MAX - 1000)
    refused("ETSCReportAboveRating", m.etsc.generation, m.meter, MAX)
    # A second retailer's meter keeps reporting: nobody's generation is blocked.
    other_retailer, other_meter = m.stranger, m.prosumer
    m.etsc.empower(m.admin, "retailer 2", other_retailer.address, True, False)
    fund_all(chain, [other_meter])
    m.etsc.register_meter(m.admin, "0x" + "ab" * 20, other_retailer.address, RATED_W)
    m.etsc.generation(m.meter, 1_000)
    t = m.etsc.totals()
    assert t.gen_power_wh == 1_000 and t.avail_power_wh == 1_000


def test_meter_cannot_mint_unlimited_power(chain):
    m = make_market(chain, funded=False)
    cap = RATED_W  # one-hour slots
    m.etsc.generation(m.meter, cap)
    refused("ETSCReportAboveRating", m.etsc.generation, m.meter, 1)
    # What a stolen meter key can do at most: one slot's rated energy per slot, until revoked.
    m.etsc.revoke_meter(m.admin, m.meter.address)
    chain.advance_time(3600)
    refused("ETSCNotMeter", m.etsc.generation, m.meter, 1)
    assert m.etsc.totals().gen_power_wh == cap


def test_guardian_stops_a_misbehaving_meter_at_once(chain):
    m = make_market(chain, funded=False)
    m.etsc.pause(m.guardian)
    refused("EnforcedPause", m.etsc.generation, m.meter, 1)
    refused("EnforcedPause", m.etsc.trade, m.prosumer, m.retailer.address, 1)


def test_one_wei_server_cannot_drain_the_reserve(chain):
    m = make_market(chain, funded=False, total_elecoins=elecoins_to_units(1_000))
    e = m.etsc
    # Two servers, each with its own half of the supply.
    e.set_allocation(m.admin, m.server.address, elecoins_to_units(500))
    rogue = m.stranger
    fund_all(chain, [rogue])
    e.add_edge_server(m.admin, rogue.address, elecoins_to_units(500))
    refused("ETSCPriceOutOfBounds", e.declare_price, rogue, 1)  # the 1-wei price of the attack
    e.declare_price(rogue, MIN_PRICE_WEI)  # the lowest it may go
    e.declare_price(m.server, PRICE_WEI)
    # A colluding prosumer buys everything the rogue server may sell, and no more.
    refused("ETSCAllocationExceeded", e.buy_token, m.prosumer, rogue.address, elecoins_to_units(501))
    e.buy_token(m.prosumer, rogue.address, elecoins_to_units(500))
    refused("ETSCAllocationExceeded", e.buy_token, m.prosumer, rogue.address, 1)
    # The honest server's buyers are untouched.
    assert e.allocation(m.server.address) == elecoins_to_units(500)
    e.empower(m.admin, "honest buyer", "0x" + "cd" * 20, False, True)
    e.buy_token(m.prosumer, m.server.address, elecoins_to_units(500))
    # Each elecoin sold at p_min still carries its redemption backing.
    assert e.totals().redemption_backing_wei == 1_000 * REDEMPTION_WEI


def test_market_goes_on_after_the_reserve_is_sold(chain):
    m = make_market(chain, funded=False, total_elecoins=elecoins_to_units(10))
    e = m.etsc
    e.declare_price(m.server, PRICE_WEI)
    e.generation(m.meter, 20_000)
    e.buy_token(m.prosumer, m.server.address, elecoins_to_units(10))
    refused("ETSCAllocationExceeded", e.buy_token, m.prosumer, m.server.address, 1)
    e.trade(m.prosumer, m.retailer.address, 16_000)  # 9.6 elecoins to the retailer
    earned = 16_000 * e.unit_power_price()
    e.redeem(m.retailer, earned)
    assert e.totals().elecoin_reserve == earned
    e.set_allocation(m.admin, m.server.address, earned)
    refused("ETSCSlotSupplyExhausted", e.buy_token, m.prosumer, m.server.address, earned)  # this slot sold out
    chain.advance_time(3600)
    e.buy_token(m.prosumer, m.server.address, earned)  # the next slot: sales resume


def test_front_run_price_change_cannot_overcharge_a_pending_buy(chain):
    m = make_market(chain, funded=False)
    e = m.etsc
    e.declare_price(m.server, PRICE_WEI)
    amount = elecoins_to_units(2)
    quoted = e.quote(m.server.address, m.prosumer.address, amount)
    e.declare_price(m.server, 3 * PRICE_WEI)  # lands first
    before = chain.balance(m.prosumer.address)
    refused("ETSCWrongPayment", e.buy_token, m.prosumer, m.server.address, amount, value=quoted)
    assert chain.balance(m.prosumer.address) == before  # refused before sending: not even gas
    assert e.elecoin.balance_of(m.prosumer.address) == 0


def test_oversized_trade_and_consumption_fail_alone(chain):
    m = make_market(chain)
    e = m.etsc
    refused("ETSCInsufficientPower", e.trade, m.prosumer, m.retailer.address, MAX)
    refused("ETSCInsufficientPower", e.consumption, m.meter, MAX)
    assert e.check_qualification(m.prosumer.address, m.retailer.address, MAX).name == "INSUFFICIENT_POWER"
    e.trade(m.prosumer, m.retailer.address, 1_000)  # the market still works


def test_deployment_parameters_cannot_enable_overflow(chain):
    m = make_market(chain, funded=False)
    from integration.ledger.conftest import market_config

    from gridledger.ledger.clients import ETSCClient

    for field, value in (("unit_power_price", 10**36 + 1), ("slot_seconds", 7 * 86_400 + 1), ("slot_seconds", 0)):
        refused("ETSCInvalidParameter", ETSCClient.deploy, chain, m.admin,
                market_config(m.admin, m.guardian, **{field: value}))
    refused("ETSCInvalidPriceBounds", ETSCClient.deploy, chain, m.admin,
            market_config(m.admin, m.guardian, redemption_price_wei=MIN_PRICE_WEI + 1))


def test_no_value_is_stuck(chain):
    m = make_market(chain)
    e = m.etsc
    e.trade(m.prosumer, m.retailer.address, 5_000)
    e.pause(m.guardian)
    e.remove_edge_server(m.admin, m.server.address)
    # A removed server on a paused market still gets its proceeds.
    e.withdraw_proceeds(m.server)
    e.unpause(m.admin)
    # Every circulating elecoin can be redeemed by a retailer; the backing covers them all.
    held = e.elecoin.balance_of(m.prosumer.address)
    e.elecoin.transfer(m.prosumer, m.retailer.address, held)
    e.redeem(m.retailer, e.elecoin.balance_of(m.retailer.address))
    t = e.totals()
    assert t.elecoin_reserve == t.elecoin_supply == SUPPLY
    assert chain.balance(e.address) == t.redemption_backing_wei + t.proceeds_owed_wei
    assert t.proceeds_owed_wei == 0 and t.redemption_backing_wei <= 1  # at most rounding dust
    # Native coin cannot be sent in by mistake (no receive function).
    with pytest.raises(Exception):  # noqa: B017 - the node's refusal type differs per backend
        chain.send_value(m.prosumer, e.address, 1)


def test_edge_server_list_is_bounded(chain):
    """SWC-128 (DoS with block gas limit): the only list a call returns whole is bounded."""
    m = make_market(chain, funded=False)
    e = m.etsc
    for i in range(63):
        e.add_edge_server(m.admin, "0x" + f"{i + 1:040x}", 0)
    assert len(e.edge_servers()) == 64
    refused("ETSCTooManyEdgeServers", e.add_edge_server, m.admin, "0x" + "ff" * 20, 0)
