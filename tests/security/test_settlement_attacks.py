"""The attacks of issue 11 on V2VSettlement, each replayed and failing to do harm, on the embedded
chain and on anvil, and the SWC classes that apply to it (denial of service by gas, SWC-128;
stuck or locked coin; access control, SWC-105; overflow, SWC-101; transaction order, SWC-114).

3. A fleet too large to settle: one transaction for every EV exceeded a 30M-gas block above ~250 EVs.
6. A selfish EV that never pays locked its held profit and the miner's fee in the contract forever.
"""

from __future__ import annotations

import pytest
from eth_utils import keccak
from staking_protocol import MILLI, E, deploy_fleet, expect, open_round, seal, stake

from gridledger.ledger import rounds
from gridledger.ledger.keys import random_signer

pytestmark = pytest.mark.integration

BLOCK_GAS = 30_000_000


def test_a_fleet_of_300_evs_settles_with_every_transaction_under_30m_gas(chain):
    n = 300  # above the old limit of about 250 EVs
    f = deploy_fleet(chain, evs=0, beta_bps=500, subscribe=False)
    s = f.s
    s.members = [random_signer() for _ in range(n)]  # the EVs sign; the operator relays (they need no gas)
    st = s.staking
    txs = list(f.settlement.subscribe_for(s.operator, s.members))
    txs.append(st.open_round(s.operator))
    r = st.current_round()
    txs += st.credit(s.operator, [e.address for e in s.members], [E + i for i in range(n)])
    txs.append(st.open_staking(s.operator))
    stake(s, list(range(n)))
    rounds.wait_until_block(chain, s.staking.round_info(r).stake_end)
    txs += rounds.relay_reveals(s.staking, s.stranger, s.plan)
    drawn = rounds.draw_when_due(chain, s.staking, s.stranger)
    miner = s.staking.round_info(r).miner
    sealed = seal(s, s.signer(miner))
    rounds.wait_until_block(chain, s.staking.round_info(r).challenge_end + 1)
    settled = f.settlement.settle(s.operator, r, [e.address for e in s.members], [MILLI + i for i in range(n)])
    txs += s.txs + drawn + [sealed] + settled
    assert max(t.gas_used for t in txs) < BLOCK_GAS
    assert all(t.gas_used < 300_000 for t in drawn)  # the draw is a binary search, not a loop over EVs
    # A full batch of MAX_BATCH EVs stays under the block limit as well.
    per_ev = settled[0].gas_used / f.settlement.BATCH
    assert per_ev * 256 < BLOCK_GAS / 2, per_ev
    assert f.settlement.total_owed() == chain.balance(f.settlement.address) == sum(MILLI + i for i in range(n))
    fees = sum(int(e.args["fee"]) for t in settled for e in t.events if e.name == "Settled")
    assert f.settlement.miner_credit(miner) == fees > 0


def test_a_selfish_ev_cannot_lock_the_miners_fee_or_its_profit(chain):
    """The selfish EV never acts. Its fee reaches the miner at settlement, and its net profit,
    left uncollected, goes to the treasury after the claim window: nothing stays in the contract."""
    f = deploy_fleet(chain, evs=3, beta_bps=1_000, claim_window=25)
    s, evs, op = f.settlement, f.evs, f.operator
    selfish = evs[0]
    r, miner = rounds_with_miner(f, miner=1)
    res = s.settle(op, r, [e.address for e in evs], [50 * MILLI, 20 * MILLI, 30 * MILLI])[0]
    assert s.miner_credit(miner) == 5 * MILLI + 3 * MILLI  # the selfish EV's fee is already the miner's
    s.withdraw(f.evs[1])  # the miner collects at once: the selfish EV has no say
    s.release(op, [evs[2].address])
    assert s.held(selfish.address) == 45 * MILLI
    expect("V2VNothingToWithdraw", s.withdraw, f.treasury)
    rounds.wait_until_block(chain, res.block_number + 26)
    s.sweep_expired(op, [selfish.address])
    s.withdraw(f.treasury)  # the documented destination of uncollected balances
    assert chain.balance(s.address) == s.total_owed() == 0


def rounds_with_miner(f, miner: int) -> tuple[int, str]:
    """A closed round whose only staker (hence miner) is EV ``miner``, sealed."""
    s = f.s
    r = open_round(s, [E], members=[miner])
    stake(s, list(range(len(s.members))), [miner])
    rounds.wait_until_block(s.chain, s.staking.round_info(r).stake_end)
    rounds.relay_reveals(s.staking, s.stranger, s.plan)
    rounds.draw_when_due(s.chain, s.staking, s.stranger)
    m = s.staking.round_info(r).miner
    assert m == s.members[miner].address
    seal(s, s.members[miner])
    rounds.wait_until_block(s.chain, s.staking.round_info(r).challenge_end + 1)
    return r, m


def test_swc128_a_recipient_that_refuses_coin_blocks_nobody(chain):
    """release() forwards a bounded amount of gas; a recipient that reverts keeps its balance and
    the others are paid. Here the treasury is a contract without a receive function (EPOS)."""
    f = deploy_fleet(chain, evs=2, beta_bps=1_000, claim_window=10)
    s, evs, op = f.settlement, f.evs, f.operator
    r, _ = rounds_with_miner(f, miner=1)
    res = s.settle(op, r, [evs[0].address], [10 * MILLI])[0]
    refusing = f.s.staking.epos.address
    s.set_treasury(f.s.admin, refusing)
    rounds.wait_until_block(chain, res.block_number + 11)
    s.sweep_expired(op, [evs[0].address])
    assert s.held(refusing) == 9 * MILLI
    out = s.release(op, [refusing, evs[1].address])[0]
    assert [e.name for e in out.events] == ["ReleaseFailed", "Withdrawn"]
    assert s.held(refusing) == 9 * MILLI and s.total_owed() == chain.balance(s.address) == 9 * MILLI
    # The administrator points the treasury at an account that can receive; the stranded balance
    # expires to it like any other.
    s.set_treasury(f.s.admin, f.treasury.address)
    rounds.wait_until_block(chain, s.account(refusing).last_credit_block + 11)
    s.sweep_expired(op, [refusing])
    s.withdraw(f.treasury)
    assert chain.balance(s.address) == s.total_owed() == 0


def test_swc105_the_operator_cannot_take_deposited_coin(chain):
    f = deploy_fleet(chain, evs=2)
    s, evs, op = f.settlement, f.evs, f.operator
    r, _ = rounds_with_miner(f, miner=0)
    s.settle(op, r, [evs[1].address], [10 * MILLI])
    expect("V2VNothingToWithdraw", s.withdraw, op)
    s.release(op, [op.address])  # nothing due to the operator: nothing moves
    s.sweep_expired(op, [evs[1].address])  # not expired: nothing moves
    assert s.total_owed() == chain.balance(s.address) == 10 * MILLI
    s.pause(f.s.guardian)
    s.withdraw(evs[1])  # a pause never blocks collection
    s.withdraw(evs[0])
    assert chain.balance(s.address) == 0


def test_swc114_settling_before_the_challenge_window_ends_is_refused(chain):
    """The operator cannot rush a settlement to pay an equivocating miner before anyone proves it:
    a round is settled only once closed, and a challenged round pays no fee."""
    f = deploy_fleet(chain, evs=2, beta_bps=1_000)
    s = f.s
    r = open_round(s, [E, E])
    stake(s, [0, 1])
    rounds.wait_until_block(f.chain, s.staking.round_info(r).stake_end)
    rounds.relay_reveals(s.staking, s.stranger, s.plan)
    rounds.draw_when_due(f.chain, s.staking, s.stranger)
    miner = s.signer(s.staking.round_info(r).miner)
    seal(s, miner)
    evs = [e.address for e in f.evs]
    expect("V2VRoundNotClosed", f.settlement.settle, s.operator, r, evs, [MILLI, MILLI])
    other = keccak(b"the block shown to the members")
    s.staking.challenge(s.stranger, r, other, s.staking.sign_seal(miner, r, other))
    f.settlement.settle(s.operator, r, evs, [MILLI, MILLI])
    assert f.settlement.miner_credit(miner.address) == 0
    assert [f.settlement.held(a) for a in evs] == [MILLI, MILLI]
