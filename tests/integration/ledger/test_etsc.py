"""The ETSC (paper Algorithm 2), module by module; runs on the embedded chain and on anvil."""

import pytest

from gridledger.ledger.clients import Qualification
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.units import elecoins_to_units

from .conftest import PRICE_WEI, Q_UNITS, make_market

pytestmark = pytest.mark.integration


def snapshot(m):
    e = m.etsc
    accounts = [m.admin, m.server, m.prosumer, m.retailer, m.meter, m.stranger]
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
    expect_revert(m, "ETSCZeroAmount", e.declare_price, m.server, 0)
    expect_revert(m, "ETSCNotRegistered", e.declare_price_for, m.server, m.stranger.address, 1)


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
    assert e.account(m.server.address).proceeds_wei == quote
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
    expect_revert(m, "ETSCInsufficientReserve", e.buy_token, m.prosumer, m.server.address,
                  elecoins_to_units(1_000_001), value=0)
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
