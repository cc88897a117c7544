"""Elecoin against the ERC-20 standard (EIP-20) and OpenZeppelin 5's error conventions."""

import pytest

from gridledger.ledger.errors import ContractRevert

from .conftest import make_market

pytestmark = pytest.mark.integration
MAX = 2**256 - 1
ZERO = "0x" + "0" * 40


@pytest.fixture
def token(market):
    return market, market.etsc.elecoin


def test_metadata(token):
    _, t = token
    assert (t.name(), t.symbol(), t.decimals()) == ("Elecoin", "ELC", 18)


def test_transfer_moves_balance_and_emits(token):
    m, t = token
    res = t.transfer(m.prosumer, m.stranger.address, 10**18)
    assert res.event("Transfer").args == {"from": m.prosumer.address, "to": m.stranger.address, "value": 10**18}
    assert t.balance_of(m.stranger.address) == 10**18
    assert t.balance_of(m.prosumer.address) == 4 * 10**18


def test_zero_value_and_self_transfers_are_valid(token):
    m, t = token
    supply = t.total_supply()
    t.transfer(m.prosumer, m.stranger.address, 0).event("Transfer")
    t.transfer(m.prosumer, m.prosumer.address, 10**18)
    assert t.balance_of(m.prosumer.address) == 5 * 10**18
    assert t.total_supply() == supply


def test_transfer_errors(token):
    m, t = token
    with pytest.raises(ContractRevert) as info:
        t.transfer(m.prosumer, m.stranger.address, 5 * 10**18 + 1)
    assert info.value.name == "ERC20InsufficientBalance"
    assert info.value.args_dict == {"sender": m.prosumer.address, "balance": 5 * 10**18, "needed": 5 * 10**18 + 1}
    with pytest.raises(ContractRevert) as info:
        t.transfer(m.prosumer, ZERO, 1)
    assert info.value.name == "ERC20InvalidReceiver"


def test_approve_allowance_transfer_from(token):
    m, t = token
    res = t.approve(m.prosumer, m.stranger.address, 3 * 10**18)
    assert res.event("Approval").args == {"owner": m.prosumer.address, "spender": m.stranger.address,
                                          "value": 3 * 10**18}
    assert t.allowance(m.prosumer.address, m.stranger.address) == 3 * 10**18
    t.transfer_from(m.stranger, m.prosumer.address, m.retailer.address, 2 * 10**18)
    assert t.allowance(m.prosumer.address, m.stranger.address) == 10**18
    assert t.balance_of(m.retailer.address) == 2 * 10**18
    with pytest.raises(ContractRevert) as info:
        t.transfer_from(m.stranger, m.prosumer.address, m.retailer.address, 10**18 + 1)
    assert info.value.name == "ERC20InsufficientAllowance"
    assert info.value.args_dict == {"spender": m.stranger.address, "allowance": 10**18, "needed": 10**18 + 1}


def test_approve_overwrites_and_infinite_allowance_is_not_spent(token):
    m, t = token
    t.approve(m.prosumer, m.stranger.address, 5)
    t.approve(m.prosumer, m.stranger.address, 1)
    assert t.allowance(m.prosumer.address, m.stranger.address) == 1
    t.approve(m.prosumer, m.stranger.address, MAX)
    t.transfer_from(m.stranger, m.prosumer.address, m.stranger.address, 10**18)
    assert t.allowance(m.prosumer.address, m.stranger.address) == MAX


def test_allowance_is_not_balance(token):
    m, t = token
    t.approve(m.prosumer, m.stranger.address, 100 * 10**18)
    with pytest.raises(ContractRevert) as info:
        t.transfer_from(m.stranger, m.prosumer.address, m.stranger.address, 6 * 10**18)
    assert info.value.name == "ERC20InsufficientBalance"


def test_approve_zero_spender_is_refused(token):
    m, t = token
    with pytest.raises(ContractRevert) as info:
        t.approve(m.prosumer, ZERO, 1)
    assert info.value.name == "ERC20InvalidSpender"


def test_only_the_market_settles_trades(chain):
    m = make_market(chain)
    for who in (m.admin, m.server, m.prosumer, m.retailer, m.stranger):
        with pytest.raises(ContractRevert) as info:
            m.etsc.elecoin.market_transfer(who, m.prosumer.address, who.address, 1)
        assert info.value.name == "ElecoinNotMarket"
