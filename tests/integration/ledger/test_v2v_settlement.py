"""V2VSettlement on both backends: batches of a closed round, the miner's fee beta x profit
deducted at settlement (eq. 4.20, Fig. 4.5), idempotent batches, collection, expiry to the
treasury, roles; every refusal by its named error."""

from __future__ import annotations

import pytest
from staking_protocol import MILLI, ZERO, E, deploy_fleet, expect, fleet_round

from gridledger.ledger import rounds
from gridledger.ledger.errors import ContractRevert

pytestmark = pytest.mark.integration


def test_fee_is_deducted_at_settlement_and_everyone_collects(chain):
    f = deploy_fleet(chain, evs=3, beta_bps=1_000)
    s, evs, op = f.settlement, f.evs, f.operator
    assert all(s.subscribed(e.address) for e in evs) and s.beta_bps() == 1_000
    r, miner = fleet_round(f, [0, 0, E])  # only EV 2 has a proof score: it is the mLAG
    assert miner == evs[2].address
    profits = [40 * MILLI, 20 * MILLI, 30 * MILLI]
    res = s.settle(op, r, [e.address for e in evs], profits)[0]
    fees = [int(e.args["fee"]) for e in res.events if e.name == "Settled"]
    assert fees == [4 * MILLI, 2 * MILLI, 0]  # beta = 10%; the miner owes itself nothing
    assert res.event("FeesCredited").args["amount"] == 6 * MILLI
    assert [s.held(e.address) for e in evs] == [36 * MILLI, 18 * MILLI, 30 * MILLI]
    assert s.miner_credit(miner) == 6 * MILLI and s.owed(evs[0].address) == 0
    assert chain.balance(s.address) == s.total_owed() == sum(profits)
    # EV 0 withdraws itself; the others are pushed their balances by anyone.
    wallet = chain.balance(evs[0].address)
    s.withdraw(evs[0])
    assert chain.balance(evs[0].address) > wallet + 35 * MILLI  # +36 - gas
    pushed = s.release(f.s.stranger, [evs[1].address, evs[2].address, evs[0].address])[0]
    assert [(e.args["account"], e.args["profit"], e.args["fees"]) for e in pushed.events] == [
        (evs[1].address, 18 * MILLI, 0), (evs[2].address, 30 * MILLI, 6 * MILLI)]
    assert chain.balance(s.address) == s.total_owed() == 0
    expect("V2VNothingToWithdraw", s.withdraw, evs[1])


def test_batches_are_idempotent_and_a_round_without_a_sealing_miner_pays_no_fee(chain):
    f = deploy_fleet(chain, evs=3, beta_bps=500)
    s, evs, op = f.settlement, f.evs, f.operator
    r, miner = fleet_round(f, [E, 0, 0], seal_it=False)  # EV 0 is elected, does not seal, is slashed
    assert miner == evs[0].address and f.s.staking.outcome(r) == (True, None)
    s.settle(op, r, [evs[0].address, evs[1].address], [10 * MILLI, 20 * MILLI])
    assert s.held(evs[1].address) == 20 * MILLI  # no fee: nobody sealed the round
    before = chain.balance(op.address)
    again = s.settle(op, r, [evs[1].address, evs[2].address], [20 * MILLI, 5 * MILLI])[0]
    assert [e.args["ev"] for e in again.events if e.name == "SettlementSkipped"] == [evs[1].address]
    assert again.event("Refunded").args["amount"] == 20 * MILLI
    assert s.held(evs[1].address) == 20 * MILLI and s.held(evs[2].address) == 5 * MILLI
    assert before - 6 * MILLI < chain.balance(op.address) <= before - 5 * MILLI  # 25 sent, the skipped 20 back
    assert chain.balance(s.address) == s.total_owed() == 35 * MILLI
    # A later round settles again; an earlier one is skipped for EVs already past it.
    r2, m2 = fleet_round(f, [0, E, 0])
    s.settle(op, r2, [evs[0].address], [10 * MILLI])
    assert s.miner_credit(m2) == MILLI // 2
    skipped = s.settle(op, r, [evs[0].address], [MILLI])[0]
    assert skipped.event("SettlementSkipped").args["ev"] == evs[0].address


def test_an_ev_listed_several_times_in_a_batch_is_settled_once(chain):
    f = deploy_fleet(chain, evs=2, beta_bps=1_000)
    s, evs, op = f.settlement, f.evs, f.operator
    r, _ = fleet_round(f, [0, E])
    res = s.settle(op, r, [evs[0].address] * 3, [10 * MILLI, 7 * MILLI, 5 * MILLI])[0]
    assert [e.name for e in res.events] == ["Settled", "SettlementSkipped", "SettlementSkipped", "FeesCredited",
                                            "Refunded"]
    assert res.event("Refunded").args["amount"] == 12 * MILLI
    assert s.held(evs[0].address) == 9 * MILLI and s.total_owed() == chain.balance(s.address) == 10 * MILLI


def test_balances_expire_to_the_treasury(chain):
    f = deploy_fleet(chain, evs=2, beta_bps=1_000, claim_window=20)
    s, evs, op = f.settlement, f.evs, f.operator
    r, miner = fleet_round(f, [0, E])
    s.settle(op, r, [evs[0].address], [10 * MILLI])
    credited = s.account(evs[0].address).last_credit_block
    s.sweep_expired(f.s.stranger, [evs[0].address, miner])
    assert s.held(evs[0].address) == 9 * MILLI  # not expired yet
    rounds.wait_until_block(chain, credited + 19)
    assert s.sweep_expired(f.s.stranger, [evs[0].address])[0].block_number == credited + 20
    assert s.held(evs[0].address) == 9 * MILLI  # the window is inclusive
    res = s.sweep_expired(f.s.stranger, [evs[0].address, miner, f.treasury.address])[0]
    assert [(e.args["account"], e.args["amount"]) for e in res.events] == [(evs[0].address, 9 * MILLI),
                                                                           (miner, MILLI)]
    assert res.block_number == credited + 21 and s.held(f.treasury.address) == 10 * MILLI
    assert s.total_owed() == chain.balance(s.address)
    s.withdraw(f.treasury)
    assert chain.balance(s.address) == s.total_owed() == 0


def test_refusals_are_named(chain):
    f = deploy_fleet(chain, evs=3, subscribe=False)
    s, evs, op = f.settlement, f.evs, f.operator
    expect("V2VBetaMismatch", s.subscribe, evs[0], 999)
    s.subscribe(evs[0], 1_000)
    expect("V2VAlreadySubscribed", s.subscribe, evs[0], 1_000)
    r_open = f.s.staking
    r_open.open_round(op)
    expect("V2VRoundNotClosed", s.settle, op, 1, [evs[0].address], [MILLI])
    r_open.open_staking(op)
    rounds.finish_round(chain, r_open, op)
    expect("AccessControlUnauthorizedAccount", s.settle, evs[0], 1, [evs[0].address], [MILLI])
    expect("V2VLengthMismatch", s._send, op, "settle", 1, [evs[0].address], [MILLI, MILLI], value=2 * MILLI)
    expect("V2VWrongValue", s._send, op, "settle", 1, [evs[0].address], [MILLI], value=MILLI + 1)
    expect("V2VNotSubscribed", s.settle, op, 1, [evs[1].address], [MILLI])
    expect("V2VEmptyList", s._send, op, "settle", 1, [], [])
    expect("V2VBatchTooLarge", s._send, op, "settle", 1, [evs[0].address] * 257, [0] * 257)
    expect("V2VAmountTooLarge", s._send, op, "settle", 1, [evs[0].address], [2**96])
    expect("V2VNothingToWithdraw", s.withdraw, evs[1])
    bad = s.sign_subscription(evs[2], 1_000)
    expect("V2VBadSignature", s._send, op, "subscribeFor", [evs[1].address], [bad[0]], [bad[1]])
    expect("V2VZeroAddress", s.set_treasury, f.s.admin, ZERO)
    expect("AccessControlUnauthorizedAccount", s.set_treasury, op, op.address)
    admin, st = f.s.admin, f.s.staking
    for args, name in (((admin.address, 0, op.address, op.address, st.address, 0, 10, op.address), "V2VBadParameter"),
                       ((admin.address, 0, op.address, op.address, st.address, 100, 0, op.address), "V2VBadParameter"),
                       ((admin.address, 0, op.address, op.address, st.address, 100, 10, ZERO), "V2VZeroAddress")):
        with pytest.raises(ContractRevert) as info:
            chain.deploy("V2VSettlement", admin, *args)
        assert info.value.name == name


def test_guardian_pauses_settlement_but_never_collection(chain):
    f = deploy_fleet(chain, evs=2)
    s, evs, op = f.settlement, f.evs, f.operator
    r, _ = fleet_round(f, [E, E])
    s.settle(op, r, [evs[0].address], [10 * MILLI])
    expect("AccessControlUnauthorizedAccount", s.pause, op)
    s.pause(f.s.guardian)
    expect("EnforcedPause", s.settle, op, r, [evs[1].address], [MILLI])
    s.withdraw(evs[0])
    s.unpause(f.s.guardian)
    s.settle(op, r, [evs[1].address], [MILLI])
    assert s.held(evs[1].address) > 0
