"""The ETSC (paper Algorithm 2), module by module; runs on the embedded chain and on anvil."""

import pytest

from gridledger.ledger.clients import Qualification
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.units import elecoins_to_units

from .conftest import (
    MAX_PRICE_WEI,
    MIN_PRICE_WEI,
    PRICE_WEI,
    Q_UNITS,
    RATED_W,
    REDEMPTION_WEI,
    SUPPLY,
    fund_all,
    make_market,
)

pytestmark = pytest.mark.integration


def snapshot(m):
    e = m.etsc
    accounts = [m.admin, m.server, m.prosumer, m.retailer, m.meter, m.stranger, m.guardian]
    return (tuple(e.account(a.address) for a in accounts), e.totals(),
            tuple(e.elecoin.balance_of(a.address) for a in accounts))


def expect_revert(m, name, fn, *args, **kwargs):
    before = snapshot(m)
    with pytest.raises(ContractRevert) as info:
        fn(*args, **kwargs)
    assert info.value.name == name, info.value
    assert snapshot(m) == before
    return info.value


def test_constructor_sets_registration_module(chain):
    m = make_market(chain, funded=False)
    e = m.etsc
    assert e.administrator() == m.admin.address
    assert e.unit_power_price() == Q_UNITS
    assert e.edge_servers() == [m.server.address]
    assert e.elecoin.total_supply() == elecoins_to_units(1_000_000)
    assert e.elecoin.balance_of(e.address) == e.elecoin.total_supply()
    assert e.elecoin.market() == e.address
    assert e.price_bounds() == (MIN_PRICE_WEI, MAX_PRICE_WEI)
    assert e.redemption_price() == REDEMPTION_WEI
    assert e.allocation(m.server.address) == SUPPLY and e.unallocated() == 0
    assert e.is_guardian(m.guardian.address) and not e.is_guardian(m.admin.address)
    assert e.slot_supply() == SUPPLY and e.slot_seconds() == 3600


def test_empower_initialises_a_user_at_zero(chain):
    m = make_market(chain, funded=False)
    a = m.etsc.account(m.prosumer.address)
    assert (a.name, a.registered, a.gen_right, a.trans_right) == ("prosumer", True, False, True)
    assert (a.avail_power_wh, a.elecoins, a.total_gen_wh, a.total_use_wh) == (0, 0, 0, 0)
    assert m.etsc.users() == [m.prosumer.address, m.retailer.address]
    res = m.etsc.empower(m.admin, "new", m.stranger.address, True, True)
    ev = res.event("UserEmpowered")
    assert ev.args == {"user": m.stranger.address, "name": "new", "genRight": True, "transRight": True}


def test_registration_errors(chain):
    m = make_market(chain, funded=False)
    e = m.etsc
    expect_revert(m, "ETSCAlreadyRegistered", e.empower, m.admin, "again", m.prosumer.address, True, True)
    expect_revert(m, "ETSCEmptyName", e.empower, m.admin, "", m.stranger.address, True, True)
    expect_revert(m, "ETSCZeroAddress", e.empower, m.admin, "zero", "0x" + "0" * 40, True, True)
    expect_revert(m, "ETSCMeterAlreadyRegistered", e.register_meter, m.admin, m.meter.address, m.prosumer.address)
    expect_revert(m, "ETSCNotRegistered", e.register_meter, m.admin, m.stranger.address, m.stranger.address)
    expect_revert(m, "ETSCNotRegistered", e.set_rights, m.admin, m.stranger.address, True, True)


def test_uniform_and_personal_prices(chain):
    m = make_market(chain, funded=False)
    e = m.etsc
    assert e.price_for(m.server.address, m.prosumer.address) == 0
    e.declare_price(m.server, 7 * PRICE_WEI)
    assert e.price_for(m.server.address, m.prosumer.address) == 7 * PRICE_WEI
    res = e.declare_price_for(m.server, m.prosumer.address, 9 * PRICE_WEI)
    assert res.event("PersonalPriceDeclared").args["weiPerElecoin"] == 9 * PRICE_WEI
    assert e.price_for(m.server.address, m.prosumer.address) == 9 * PRICE_WEI
    assert e.price_for(m.server.address, m.retailer.address) == 7 * PRICE_WEI
    e.declare_price_for(m.server, m.prosumer.address, 0)
    assert e.price_for(m.server.address, m.prosumer.address) == 7 * PRICE_WEI
    for bad in (0, MIN_PRICE_WEI - 1, MAX_PRICE_WEI + 1):
        err = expect_revert(m, "ETSCPriceOutOfBounds", e.declare_price, m.server, bad)
        assert err.args_dict == {"price": bad, "minPrice": MIN_PRICE_WEI, "maxPrice": MAX_PRICE_WEI}
        if bad:
            expect_revert(m, "ETSCPriceOutOfBounds", e.declare_price_for, m.server, m.prosumer.address, bad)
    expect_revert(m, "ETSCNotRegistered", e.declare_price_for, m.server, m.stranger.address, PRICE_WEI)


def test_buy_token_pays_the_declared_price(chain):
    m = make_market(chain, funded=False)
    e = m.etsc
    e.declare_price_for(m.server, m.prosumer.address, 82 * PRICE_WEI)
    amount = elecoins_to_units(3.25)
    quote = e.quote(m.server.address, m.prosumer.address, amount)
    assert quote == 3.25 * 82 * PRICE_WEI
    res = e.buy_token(m.prosumer, m.server.address, amount)
    assert res.event("ElecoinsBought").args == {"prosumer": m.prosumer.address, "server": m.server.address,
                                                "amount": amount, "paid": quote}
    assert e.elecoin.balance_of(m.prosumer.address) == amount
    backing = 325 * REDEMPTION_WEI // 100
    assert e.account(m.server.address).proceeds_wei == quote - backing
    t = e.totals()
    assert (t.redemption_backing_wei, t.proceeds_owed_wei) == (backing, quote - backing)
    assert m.chain.balance(e.address) == quote
    assert e.allocation(m.server.address) == SUPPLY - amount
    assert e.sold_in_slot(e.current_slot()) == amount
    quote = quote - backing
    before = m.chain.balance(m.server.address)
    res = e.withdraw_proceeds(m.server)
    assert res.event("ProceedsWithdrawn").args["amount"] == quote
    gas_cost = res.gas_used * m.chain.w3.eth.get_transaction(res.tx_hash)["gasPrice"]
    assert m.chain.balance(m.server.address) == before + quote - gas_cost
    expect_revert(m, "ETSCNothingToWithdraw", e.withdraw_proceeds, m.server)


def test_buy_token_errors(chain):
    m = make_market(chain, funded=False)
    e = m.etsc
    expect_revert(m, "ETSCPriceNotDeclared", e.buy_token, m.prosumer, m.server.address, 10, value=0)
    e.declare_price(m.server, PRICE_WEI)
    expect_revert(m, "ETSCZeroAmount", e.buy_token, m.prosumer, m.server.address, 0)
    expect_revert(m, "ETSCNotEdgeServer", e.buy_token, m.prosumer, m.stranger.address, 10, value=0)
    err = expect_revert(m, "ETSCWrongPayment", e.buy_token, m.prosumer, m.server.address, elecoins_to_units(1),
                        value=PRICE_WEI - 1)
    assert err.args_dict == {"expected": PRICE_WEI, "paid": PRICE_WEI - 1}
    expect_revert(m, "ETSCWrongPayment", e.buy_token, m.prosumer, m.server.address, elecoins_to_units(1),
                  value=PRICE_WEI + 1)
    err = expect_revert(m, "ETSCAllocationExceeded", e.buy_token, m.prosumer, m.server.address,
                        elecoins_to_units(1_000_001), value=0)
    assert err.args_dict == {"server": m.server.address, "available": SUPPLY, "needed": elecoins_to_units(1_000_001)}
    expect_revert(m, "ETSCNoTransRight", e.buy_token, m.retailer, m.server.address, 1, value=0)


def test_trade_moves_power_and_elecoins_atomically(market):
    m, e = market, market.etsc
    wh = 2_500
    cost = wh * Q_UNITS
    assert e.check_qualification(m.prosumer.address, m.retailer.address, wh) is Qualification.QUALIFIED
    p0, r0 = e.account(m.prosumer.address), e.account(m.retailer.address)
    res = e.trade(m.prosumer, m.retailer.address, wh)
    assert res.event("Traded").args == {"prosumer": m.prosumer.address, "retailer": m.retailer.address,
                                        "energyWh": wh, "elecoins": cost}
    p1, r1 = e.account(m.prosumer.address), e.account(m.retailer.address)
    assert (p1.avail_power_wh - p0.avail_power_wh, r0.avail_power_wh - r1.avail_power_wh) == (wh, wh)
    assert (p0.elecoins - p1.elecoins, r1.elecoins - r0.elecoins) == (cost, cost)
    assert e.totals().avail_power_wh == 10_000


@pytest.mark.parametrize(
    ("who", "counterpart", "wh", "qualification", "error"),
    [
        ("prosumer", "retailer", 0, Qualification.ZERO_AMOUNT, "ETSCZeroAmount"),
        ("stranger", "retailer", 10, Qualification.BUYER_NOT_REGISTERED, "ETSCNotRegistered"),
        ("retailer", "prosumer", 10, Qualification.BUYER_NO_TRANS_RIGHT, "ETSCNoTransRight"),
        ("prosumer", "prosumer", 10, Qualification.SELF_TRADE, "ETSCSelfTrade"),
        ("prosumer", "stranger", 10, Qualification.RETAILER_NOT_REGISTERED, "ETSCNotRegistered"),
        ("prosumer", "admin", 10, Qualification.RETAILER_NOT_REGISTERED, "ETSCNotRegistered"),
        ("prosumer", "retailer", 10_001, Qualification.INSUFFICIENT_POWER, "ETSCInsufficientPower"),
        ("prosumer", "retailer", 9_000, Qualification.INSUFFICIENT_ELECOINS, "ETSCInsufficientElecoins"),
    ],
)
def test_trade_refusals_match_check_qualification(market, who, counterpart, wh, qualification, error):
    m = market
    buyer, seller = m.role(who), m.role(counterpart)
    assert m.etsc.check_qualification(buyer.address, seller.address, wh) is qualification
    expect_revert(m, error, m.etsc.trade, buyer, seller.address, wh)


def test_retailer_without_generation_right_cannot_sell(market):
    m = market
    m.etsc.set_rights(m.admin, m.retailer.address, False, False)
    assert m.etsc.check_qualification(m.prosumer.address, m.retailer.address, 10) is \
        Qualification.RETAILER_NO_GEN_RIGHT
    expect_revert(m, "ETSCNoGenRight", m.etsc.trade, m.prosumer, m.retailer.address, 10)


def test_insufficient_errors_carry_amounts(market):
    m = market
    err = expect_revert(m, "ETSCInsufficientPower", m.etsc.trade, m.prosumer, m.retailer.address, 10_001)
    assert err.args_dict == {"account": m.retailer.address, "available": 10_000, "needed": 10_001}
    err = expect_revert(m, "ETSCInsufficientElecoins", m.etsc.trade, m.prosumer, m.retailer.address, 9_000)
    assert err.args_dict == {"account": m.prosumer.address, "available": elecoins_to_units(5),
                             "needed": 9_000 * Q_UNITS}


def test_smart_meter_clearing(market):
    m, e = market, market.etsc
    res = e.generation(m.meter, 1_234)
    assert res.event("Generated").args == {"user": m.retailer.address, "meter": m.meter.address, "energyWh": 1_234}
    res = e.consumption(m.meter, 234)
    assert res.event("Consumed").args["energyWh"] == 234
    a = e.account(m.retailer.address)
    assert (a.avail_power_wh, a.total_gen_wh, a.total_use_wh) == (11_000, 11_234, 234)
    t = e.totals()
    assert (t.avail_power_wh, t.gen_power_wh, t.use_power_wh) == (11_000, 11_234, 234)
    assert e.account(m.meter.address).meter_of == m.retailer.address
    expect_revert(m, "ETSCInsufficientPower", e.consumption, m.meter, 11_001)
    expect_revert(m, "ETSCZeroAmount", e.generation, m.meter, 0)
    e.set_rights(m.admin, m.retailer.address, False, False)
    expect_revert(m, "ETSCNoGenRight", e.generation, m.meter, 1)


def test_meter_reports_are_bounded_per_slot_by_the_rating(market):
    m, e = market, market.etsc
    info = e.meter_info(m.meter.address)
    cap = RATED_W  # Wh per one-hour slot
    assert (info.user, info.rated_w, info.active) == (m.retailer.address, RATED_W, True)
    assert info.remaining_wh == cap - 10_000
    err = expect_revert(m, "ETSCReportAboveRating", e.generation, m.meter, cap - 10_000 + 1)
    assert err.args_dict == {"meter": m.meter.address, "remainingWh": cap - 10_000, "reportedWh": cap - 10_000 + 1}
    e.generation(m.meter, cap - 10_000)
    assert e.meter_info(m.meter.address).remaining_wh == 0
    expect_revert(m, "ETSCReportAboveRating", e.generation, m.meter, 1)
    m.chain.advance_time(3600)  # the next slot: a fresh allowance
    assert e.meter_info(m.meter.address).remaining_wh == cap
    e.generation(m.meter, 1)


def test_meter_rating_must_be_in_range(chain):
    m = make_market(chain, funded=False)
    for bad in (0, 10**9 + 1):
        err = expect_revert(m, "ETSCRatedPowerOutOfRange", m.etsc.register_meter, m.admin, m.stranger.address,
                            m.retailer.address, bad)
        assert err.args_dict == {"ratedW": bad, "max": 10**9}


def test_revoked_meter_can_never_report_again(market):
    m, e = market, market.etsc
    res = e.revoke_meter(m.admin, m.meter.address)
    assert res.event("MeterRevoked").args == {"meter": m.meter.address, "user": m.retailer.address}
    assert e.account(m.meter.address).meter_of is None and not e.meter_info(m.meter.address).active
    expect_revert(m, "ETSCNotMeter", e.generation, m.meter, 1)
    expect_revert(m, "ETSCNotMeter", e.consumption, m.meter, 1)
    expect_revert(m, "ETSCNotMeter", e.revoke_meter, m.admin, m.meter.address)
    expect_revert(m, "ETSCMeterAlreadyRegistered", e.register_meter, m.admin, m.meter.address,
                  m.retailer.address, RATED_W)
    assert e.account(m.retailer.address).avail_power_wh == 10_000  # what it reported stays


def test_guardian_pauses_and_only_the_administrator_unpauses(market):
    m, e = market, market.etsc
    res = e.pause(m.guardian)
    assert res.event("Paused").args == {"account": m.guardian.address}
    assert e.paused()
    for fn, args in ((e.trade, (m.prosumer, m.retailer.address, 10)), (e.generation, (m.meter, 1)),
                     (e.consumption, (m.meter, 1)), (e.buy_token, (m.prosumer, m.server.address, 10**18))):
        expect_revert(m, "EnforcedPause", fn, *args)
    e.withdraw_proceeds(m.server)  # withdrawals stay open
    expect_revert(m, "ETSCNotAdministrator", e.unpause, m.guardian)
    e.unpause(m.admin)
    e.trade(m.prosumer, m.retailer.address, 10)


def test_edge_servers_are_added_and_removed_with_their_allocations(market):
    m, e = market, market.etsc
    new = m.stranger
    expect_revert(m, "ETSCInsufficientReserve", e.add_edge_server, m.admin, new.address, 1)
    e.set_allocation(m.admin, m.server.address, SUPPLY // 2)
    assert e.unallocated() == SUPPLY // 2 - elecoins_to_units(5)
    res = e.add_edge_server(m.admin, new.address, elecoins_to_units(100))
    assert [ev.name for ev in res.events] == ["EdgeServerAdded", "AllocationSet"]
    assert e.edge_servers() == [m.server.address, new.address]
    expect_revert(m, "ETSCEdgeServerAlreadyAdded", e.add_edge_server, m.admin, new.address, 0)
    res = e.remove_edge_server(m.admin, m.server.address)
    assert res.event("EdgeServerRemoved").args["releasedAllocation"] == SUPPLY // 2
    assert e.edge_servers() == [new.address]
    expect_revert(m, "ETSCNotEdgeServer", e.buy_token, m.prosumer, m.server.address, 10**18, value=10**15)
    expect_revert(m, "ETSCNotEdgeServer", e.declare_price, m.server, PRICE_WEI)
    # A removed server keeps what it earned.
    assert e.withdraw_proceeds(m.server).event("ProceedsWithdrawn").args["amount"] > 0


def test_slot_supply_limits_sales_per_slot(market):
    m, e = market, market.etsc
    e.set_slot_supply(m.admin, elecoins_to_units(6))
    assert e.slot_remaining() == elecoins_to_units(1)
    err = expect_revert(m, "ETSCSlotSupplyExhausted", e.buy_token, m.prosumer, m.server.address,
                        elecoins_to_units(2))
    assert err.args_dict["available"] == elecoins_to_units(1)
    e.buy_token(m.prosumer, m.server.address, elecoins_to_units(1))
    m.chain.advance_time(3600)
    assert e.slot_remaining() == elecoins_to_units(6)
    e.buy_token(m.prosumer, m.server.address, elecoins_to_units(2))
    expect_revert(m, "ETSCZeroAmount", e.set_slot_supply, m.admin, 0)


def test_price_bounds_apply_to_declared_prices_at_purchase(market):
    m, e = market, market.etsc
    e.set_price_bounds(m.admin, 2 * PRICE_WEI, 3 * PRICE_WEI)  # the declared PRICE_WEI is now below p_min
    expect_revert(m, "ETSCPriceOutOfBounds", e.buy_token, m.prosumer, m.server.address, 10**18, value=PRICE_WEI)
    for lo, hi in ((0, 1), (5, 4), (REDEMPTION_WEI - 1, PRICE_WEI)):
        expect_revert(m, "ETSCInvalidPriceBounds", e.set_price_bounds, m.admin, lo, hi)


def test_retailer_redeems_elecoins_back_into_the_reserve(market):
    m, e = market, market.etsc
    e.trade(m.prosumer, m.retailer.address, 5_000)  # 3 elecoins to the retailer
    received = 5_000 * Q_UNITS
    reserve = e.totals().elecoin_reserve
    before = m.chain.balance(m.retailer.address)
    res = e.redeem(m.retailer, received)
    pay = received * REDEMPTION_WEI // 10**18
    assert res.event("Redeemed").args == {"retailer": m.retailer.address, "amount": received, "paid": pay}
    gas = res.gas_used * m.chain.w3.eth.get_transaction(res.tx_hash)["gasPrice"]
    assert m.chain.balance(m.retailer.address) == before + pay - gas
    t = e.totals()
    assert t.elecoin_reserve == reserve + received and t.elecoins_redeemed == received
    assert m.chain.balance(e.address) == t.redemption_backing_wei + t.proceeds_owed_wei
    assert e.unallocated() == received  # the administrator may allocate it again
    expect_revert(m, "ETSCNoGenRight", e.redeem, m.prosumer, 1)
    expect_revert(m, "ETSCInsufficientElecoins", e.redeem, m.retailer, 1)
    expect_revert(m, "ETSCZeroAmount", e.redeem, m.retailer, 0)


def test_administrator_changes_hands_in_two_delayed_steps(market):
    m, e = market, market.etsc
    new = m.stranger
    delay = e.admin_delay_s()
    res = e.begin_admin_transfer(m.admin, new.address)
    assert res.event("DefaultAdminTransferScheduled").args["newAdmin"] == new.address
    pending, after = e.pending_administrator()
    assert pending == new.address and after >= m.chain.timestamp() + delay - 5
    expect_revert(m, "AccessControlEnforcedDefaultAdminDelay", e.accept_admin_transfer, new)
    expect_revert(m, "ETSCNotAdministrator", e.empower, new, "x", "0x" + "12" * 20, True, True)
    m.chain.advance_time(delay + 1)
    e.accept_admin_transfer(new)
    assert e.administrator() == new.address
    expect_revert(m, "ETSCNotAdministrator", e.empower, m.admin, "x", "0x" + "12" * 20, True, True)
    e.empower(new, "x", "0x" + "12" * 20, True, True)


def test_guardian_is_rotated_by_the_administrator(market):
    m, e = market, market.etsc
    fund_all(m.chain, [m.stranger])
    res = e.grant_guardian(m.admin, m.stranger.address)
    assert res.event("RoleGranted").args["account"] == m.stranger.address
    e.revoke_guardian(m.admin, m.guardian.address)
    expect_revert(m, "ETSCNotGuardian", e.pause, m.guardian)
    e.pause(m.stranger)
