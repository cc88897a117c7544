"""Every state-changing function of ProofStaking, V2VSettlement, UPOS and EPOS x every role:
allowed, or refused with the named error and nothing changed. Each call is otherwise valid, so
the caller's role is the only reason it may fail."""

from __future__ import annotations

import os

import pytest

from gridledger.ledger.clients import seed_commitment
from gridledger.ledger.errors import ContractRevert

from .test_staking import E, make_staking
from .test_v2v_settlement import MILLI, elect_round, make_fleet

pytestmark = pytest.mark.integration

STAKING_ROLES = ("operator", "validator", "delegator", "stranger")


def _staking_setup(chain, fn):
    s = make_staking(chain, members=2)
    st, op, m = s.staking, s.operator, s.members
    roles = {"operator": op, "validator": m[0], "delegator": m[1], "stranger": s.stranger}
    if fn == "openRound":
        return s, roles
    st.open_round(op, seed_commitment(s.seed))
    if fn in ("closeRound", "recordTrades"):
        return s, roles
    if fn == "credit":
        return s, roles
    st.credit(op, [m[0].address, m[1].address], [2 * E, E])
    if fn == "stake":
        st.stake(m[0], m[0].address, 2 * E)  # the validator exists; members may join it
        return s, roles
    st.stake(m[0], m[0].address, 2 * E)
    st.stake(m[1], m[0].address, E)
    if fn == "elect":
        return s, roles
    st.elect(op, s.seed)
    if fn in ("slash", "payReward"):
        return s, roles
    st.close_round(op)
    return s, roles  # unstake


def _staking_call(s, fn, who):
    st, m = s.staking, s.members
    if fn == "openRound":
        return st.open_round(who, seed_commitment(os.urandom(32)))
    if fn == "credit":
        return st.credit(who, [m[0].address], [E])
    if fn == "stake":
        return st.stake(who, m[0].address, 0)
    if fn == "elect":
        return st.elect(who, s.seed)
    if fn == "slash":
        return st.slash(who)
    if fn == "payReward":
        return st.pay_reward(who, [m[0].address], [E])
    if fn == "closeRound":
        return st.close_round(who)
    if fn == "recordTrades":
        return st.record_trades(who, [(m[0].address, None, 100, 1)])
    if fn == "unstake":
        return st.unstake(who, 1)
    raise AssertionError(fn)


OPERATOR_ONLY = ("openRound", "credit", "elect", "slash", "payReward", "closeRound", "recordTrades")
STAKING_ALLOWED = {**{f: {"operator"} for f in OPERATOR_ONLY},
                   "stake": {"validator", "delegator"}, "unstake": {"validator", "delegator"}}
STAKING_REFUSAL = {**{f: "StakingNotOperator" for f in OPERATOR_ONLY},
                   "stake": "StakingNotMember", "unstake": "StakingNothingStaked"}


def _staking_state(s):
    st = s.staking
    r = st.current_round()
    return (r, st.round_info(r) if r else None, st.epos.total_supply(),
            tuple(st.epos.balance_of(a.address) for a in (*s.members, s.stranger)), s.upos.total_supply())


@pytest.mark.parametrize("fn", sorted(STAKING_ALLOWED))
def test_staking_authorization_matrix(chain, fn):
    for who in STAKING_ROLES:
        s, roles = _staking_setup(chain, fn)
        if who in STAKING_ALLOWED[fn]:
            _staking_call(s, fn, roles[who])
            continue
        before = _staking_state(s)
        with pytest.raises(ContractRevert) as info:
            _staking_call(s, fn, roles[who])
        assert info.value.name == STAKING_REFUSAL[fn], (fn, who, info.value)
        assert _staking_state(s) == before, (fn, who)


FLEET_ROLES = ("operator", "ev", "miner", "stranger")
FLEET_ALLOWED = {"settle": {"operator"}, "subscribe": {"operator", "ev", "miner", "stranger"},
                 "payFees": {"ev"}, "payFeesFromProfit": {"ev"}, "withdrawProfit": {"miner"},
                 "withdrawFees": {"miner"}}
FLEET_REFUSAL = {"settle": "V2VNotOperator", "payFees": "V2VNothingOwed", "payFeesFromProfit": "V2VNothingOwed",
                 "withdrawProfit": "V2VNothingToWithdraw", "withdrawFees": "V2VNothingToWithdraw"}


def _fleet_setup(chain, fn):
    """EV 0 owes a fee to the miner EV 1; EV 1 holds profit and (for withdrawFees) fee credit."""
    f = make_fleet(chain, beta_bps=1_000, evs=2)
    s, evs = f.settlement, f.evs
    roles = {"operator": f.operator, "ev": evs[0], "miner": evs[1], "stranger": f.stranger}
    if fn == "subscribe":
        return f, roles
    for e in evs:
        s.subscribe(e, 1_000)
    elect_round(f, [0, E])
    if fn == "settle":
        return f, roles
    s.settle(f.operator, 1, [e.address for e in evs], [10 * MILLI, 10 * MILLI])
    if fn == "withdrawFees":
        s.pay_fees(evs[0])
    return f, roles


def _fleet_call(f, fn, who):
    s, evs = f.settlement, f.evs
    if fn == "settle":
        return s.settle(who, 1, [evs[0].address], [MILLI])
    if fn == "subscribe":
        return s.subscribe(who, 1_000)
    if fn == "payFees":
        return s.pay_fees(who, value=MILLI)
    if fn == "payFeesFromProfit":
        return s.pay_fees_from_profit(who)
    if fn == "withdrawProfit":
        return s.withdraw_profit(who)
    if fn == "withdrawFees":
        return s.withdraw_fees(who)
    raise AssertionError(fn)


def _fleet_state(f):
    s = f.settlement
    accounts = [a.address for a in (*f.evs, f.stranger, f.operator)]
    return (f.chain.balance(s.address), tuple(s.held(a) for a in accounts), tuple(s.owed(a) for a in accounts),
            tuple(s.miner_credit(a) for a in accounts), s.is_settled(1))


@pytest.mark.parametrize("fn", sorted(FLEET_ALLOWED))
def test_settlement_authorization_matrix(chain, fn):
    for who in FLEET_ROLES:
        f, roles = _fleet_setup(chain, fn)
        if who in FLEET_ALLOWED[fn]:
            _fleet_call(f, fn, roles[who])
            continue
        before = _fleet_state(f)
        with pytest.raises(ContractRevert) as info:
            _fleet_call(f, fn, roles[who])
        # The EV that owes a fee is refused its profit for that reason (Fig. 4.5).
        expected = "V2VFeeOutstanding" if (fn, who) == ("withdrawProfit", "ev") else FLEET_REFUSAL[fn]
        assert info.value.name == expected, (fn, who, info.value)
        assert _fleet_state(f) == before, (fn, who)


def test_token_roles(chain):
    """UPOS: only MINTER_ROLE mints, only the admin grants; EPOS: only its staking contract."""
    s = make_staking(chain, members=1)
    m = s.members[0]
    for who in (s.operator, m, s.stranger):
        with pytest.raises(ContractRevert) as info:
            s.upos.mint(who, who.address, E)
        assert info.value.name == "AccessControlUnauthorizedAccount"
    for who in (m, s.stranger):
        with pytest.raises(ContractRevert) as info:
            s.upos.grant_minter(who, who.address)
        assert info.value.name == "AccessControlUnauthorizedAccount"
        for fn, args in (("mint", (who.address, E)), ("burn", (who.address, 0)),
                         ("stakingTransfer", (who.address, who.address, 0))):
            with pytest.raises(ContractRevert) as info:
                s.staking.epos._send(who, fn, *args)
            assert info.value.name == "EPOSNotStaking"
    s.upos.grant_minter(s.operator, m.address)
    s.upos.mint(m, m.address, E)
    assert s.upos.balance_of(m.address) == E and s.upos.total_supply() == E
