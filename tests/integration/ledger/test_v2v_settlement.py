"""V2VSettlement on both backends: profits held, fees owed to the round's miner (eq. 4.20), and a
selfish EV's profit confiscated until it pays (thesis Fig. 4.5)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from gridledger.ledger.chain import Chain, Signer, derived_signer
from gridledger.ledger.clients import StakingClient, V2VSettlementClient, seed_commitment
from gridledger.ledger.errors import ContractRevert

from .conftest import ETHER

pytestmark = pytest.mark.integration

ZERO = "0x" + "0" * 40
MILLI = 10**15


@dataclass
class Fleet:
    chain: Chain
    settlement: V2VSettlementClient
    staking: StakingClient
    operator: Signer
    evs: list[Signer]
    stranger: Signer


def make_fleet(chain: Chain, beta_bps: int = 1_000, evs: int = 3) -> Fleet:
    op = chain.dev_signers()[0]
    signers = [derived_signer("fleet-test", i) for i in range(evs + 1)]
    for s in signers:
        if chain.balance(s.address) < 10 * ETHER:
            chain.send_value(op, s.address, 100 * ETHER)
    staking_addr, _ = chain.deploy("ProofStaking", op, op.address, ZERO, 10_000, "PoSOC")
    settle_addr, _ = chain.deploy("V2VSettlement", op, op.address, staking_addr, beta_bps)
    settlement = V2VSettlementClient(chain, settle_addr)
    return Fleet(chain, settlement, settlement.staking, op, signers[:evs], signers[evs])


def elect_round(f: Fleet, scores: list[int]) -> str:
    """One PoSOC round: every EV stakes its score on itself; returns the elected miner."""
    st, seed = f.staking, os.urandom(32)
    st.open_round(f.operator, seed_commitment(seed))
    st.credit(f.operator, [e.address for e in f.evs], scores)
    for e, sc in zip(f.evs, scores, strict=True):
        if sc > 0:
            st.stake(e, e.address, sc)
    miner = st.elect(f.operator, seed).event("MinerElected").args["miner"]
    st.close_round(f.operator)
    return miner


def expect(name: str, fn, *args, **kwargs):
    with pytest.raises(ContractRevert) as info:
        fn(*args, **kwargs)
    assert info.value.name == name, info.value


def test_honest_evs_pay_and_withdraw_selfish_ev_is_held(chain):
    f = make_fleet(chain, beta_bps=1_000)
    s, evs = f.settlement, f.evs
    for e in evs:
        s.subscribe(e, 1_000)
    # Only EV 2 has a proof score: it is the miner.
    miner = elect_round(f, [0, 0, 10**18])
    assert miner == evs[2].address
    profits = [40 * MILLI, 20 * MILLI, 30 * MILLI]
    res = s.settle(f.operator, f.staking.current_round(), [e.address for e in evs], profits)
    fees = [int(e.args["fee"]) for e in res.events if e.name == "Settled"]
    assert fees == [4 * MILLI, 2 * MILLI, 0]  # beta = 10%; the miner owes itself nothing
    assert chain.balance(s.address) == sum(profits)
    assert s.owed_to(evs[0].address, miner) == 4 * MILLI and s.creditors(evs[0].address) == [miner]

    # EV 0 pays from its wallet, then withdraws its whole profit.
    wallet = chain.balance(evs[0].address)
    s.pay_fees(evs[0])
    s.withdraw_profit(evs[0])
    assert s.held(evs[0].address) == 0 and s.owed(evs[0].address) == 0
    assert chain.balance(evs[0].address) > wallet + 35 * MILLI  # +40 - 4 - gas

    # EV 1 is selfish: its withdrawal is refused while the fee is owed (Fig. 4.5).
    expect("V2VFeeOutstanding", s.withdraw_profit, evs[1])
    assert s.held(evs[1].address) == 20 * MILLI
    # ... until it pays, here out of the held profit.
    s.pay_fees_from_profit(evs[1])
    assert s.held(evs[1].address) == 18 * MILLI
    s.withdraw_profit(evs[1])

    # The miner collects the fees paid to it.
    assert s.miner_credit(miner) == 6 * MILLI
    s.withdraw_fees(evs[2])
    s.withdraw_profit(evs[2])
    assert chain.balance(s.address) == 0


def test_fees_owed_to_several_miners_are_paid_at_once(chain):
    f = make_fleet(chain, beta_bps=500)
    s, evs = f.settlement, f.evs
    for e in evs:
        s.subscribe(e, 500)
    m1 = elect_round(f, [10**18, 0, 0])
    s.settle(f.operator, 1, [evs[2].address], [20 * MILLI])
    m2 = elect_round(f, [0, 10**18, 0])
    s.settle(f.operator, 2, [evs[2].address], [40 * MILLI])
    assert s.owed(evs[2].address) == 3 * MILLI and s.creditors(evs[2].address) == [m1, m2]
    expect("V2VWrongValue", s.pay_fees, evs[2], value=MILLI)
    s.pay_fees(evs[2])
    assert (s.miner_credit(m1), s.miner_credit(m2)) == (MILLI, 2 * MILLI)
    assert s.creditors(evs[2].address) == []


def test_refusals_are_named(chain):
    f = make_fleet(chain)
    s, evs, op = f.settlement, f.evs, f.operator
    expect("V2VBetaMismatch", s.subscribe, evs[0], 999)
    s.subscribe(evs[0], 1_000)
    expect("V2VAlreadySubscribed", s.subscribe, evs[0], 1_000)
    expect("V2VNoMiner", s.settle, op, 1, [evs[0].address], [MILLI])
    miner = elect_round(f, [10**18, 0, 0])
    assert miner == evs[0].address
    expect("V2VNotOperator", s.settle, evs[0], 1, [evs[0].address], [MILLI])
    expect("V2VLengthMismatch", s._send, op, "settle", 1, [evs[0].address], [MILLI, MILLI], value=2 * MILLI)
    expect("V2VWrongValue", s._send, op, "settle", 1, [evs[0].address], [MILLI], value=MILLI + 1)
    expect("V2VNotSubscribed", s.settle, op, 1, [evs[1].address], [MILLI])
    s.settle(op, 1, [evs[0].address], [MILLI])
    expect("V2VAlreadySettled", s.settle, op, 1, [evs[0].address], [MILLI])
    expect("V2VNothingOwed", s.pay_fees, evs[0], value=0)
    expect("V2VNothingOwed", s.pay_fees_from_profit, evs[0])
    expect("V2VNothingToWithdraw", s.withdraw_profit, evs[1])
    expect("V2VNothingToWithdraw", s.withdraw_fees, evs[1])
    with pytest.raises(ContractRevert) as info:
        chain.deploy("V2VSettlement", op, op.address, f.staking.address, 0)
    assert info.value.name == "V2VBadBeta"
    with pytest.raises(ContractRevert) as info:
        chain.deploy("V2VSettlement", op, ZERO, f.staking.address, 100)
    assert info.value.name == "V2VZeroAddress"


def test_beta_one_sends_the_whole_profit_to_the_miner(chain):
    f = make_fleet(chain, beta_bps=10_000)
    s, evs = f.settlement, f.evs
    for e in evs:
        s.subscribe(e, 10_000)
    miner = elect_round(f, [0, 10**18, 0])
    s.settle(f.operator, 1, [evs[0].address], [10 * MILLI])
    assert s.owed(evs[0].address) == 10 * MILLI and miner == evs[1].address
    s.pay_fees_from_profit(evs[0])  # beta = 1: the whole profit goes to the miner
    assert s.held(evs[0].address) == 0 and s.miner_credit(miner) == 10 * MILLI
