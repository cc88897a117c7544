"""Every state-changing function of ProofStaking, V2VSettlement, UPOS and EPOS x every role
(administrator, operator, guardian, member, stranger): allowed, or refused with the named error.
Each function gets one situation where the call is otherwise valid, so the caller's role is the
only reason it may fail; every role's call is simulated on the pending block (eth_call), then
one allowed caller sends it for real."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from staking_protocol import (
    MILLI,
    E,
    Staking,
    deploy_fleet,
    deploy_staking,
    fleet_round,
    seal,
    sealed_round,
    stake,
)

from gridledger.ledger import rounds
from gridledger.ledger.clients.staking import OPERATOR_ROLE
from gridledger.ledger.errors import ContractRevert

pytestmark = pytest.mark.integration

ROLES = ("admin", "operator", "guardian", "member", "stranger")
ANYONE = set(ROLES)
UNAUTHORIZED = "AccessControlUnauthorizedAccount"


def _roles(s: Staking) -> dict:
    return {"admin": s.admin, "operator": s.operator, "guardian": s.guardian, "member": s.members[0],
            "stranger": s.stranger}


def _simulate(client, who, fn: str, *args, value: int = 0) -> None:
    data = client.contract.encode_abi(fn, args=list(args))
    client.chain.preflight({"from": who.address, "to": client.address, "data": data, "value": value,
                            "gas": 12_000_000})


def _check(client, roles: dict, allowed: set[str], refusal: str, fn: str, *args, value: int = 0) -> None:
    for name in ROLES:
        if name in allowed:
            _simulate(client, roles[name], fn, *args, value=value)
            continue
        with pytest.raises(ContractRevert) as info:
            _simulate(client, roles[name], fn, *args, value=value)
        assert info.value.name == refusal, (fn, name, info.value)
    sender = roles[sorted(allowed)[0]] if allowed else None
    if sender is not None:
        client._send(sender, fn, *args, value=value, gas="estimate")


def _staking_case(chain, fn: str):
    """(client, roles, allowed, refusal, args) with the round in the phase ``fn`` needs."""
    s = deploy_staking(chain, members=2)
    st, m, op = s.staking, s.members, s.operator
    roles = _roles(s)
    op_only = ({"operator"}, UNAUTHORIZED)
    if fn == "openRound":
        return st, roles, *op_only, ()
    if fn in ("grantRole", "revokeRole"):
        return st, roles, {"admin"}, UNAUTHORIZED, (OPERATOR_ROLE, s.stranger.address)
    if fn in ("pause", "unpause"):
        if fn == "unpause":
            st.pause(s.guardian)
        return st, roles, {"guardian"}, UNAUTHORIZED, ()
    st.open_round(op)
    if fn == "credit":
        return st, roles, *op_only, ([m[0].address], [E], [E])
    if fn == "recordTrades":
        return st, roles, *op_only, ([(m[0].address, m[1].address, 100, 1)],)
    st.credit(op, [m[0].address, m[1].address], [2 * E, E], [E, E])
    if fn == "openStaking":
        return st, roles, *op_only, ()
    st.open_staking(op)
    if fn == "stake":  # only the credited member may stake itself
        return st, roles, {"member"}, "StakingNotMember", (m[0].address, keccak(b"c"))
    if fn == "stakeFor":  # anyone may relay a member's signed stake
        intent = st.sign_stake(m[0], 1, m[0].address, keccak(b"c"))
        return st, roles, ANYONE, "", ([intent.as_tuple()],)
    stake(s, [0, 0])
    if fn == "reveal":
        i = 0
        return st, roles, ANYONE, "", ([m[i].address], [s.plan.secrets[i]])
    rounds.relay_reveals(st, s.stranger, s.plan)
    rounds.wait_until_block(chain, st.round_info(1).reveal_deadline)
    if fn == "elect":
        return st, roles, ANYONE, "", ()
    st.elect(op)
    if fn == "seal":
        payload = b"\x01" * 32
        sig = st.sign_seal(m[0], 1, st.block_digest(1, payload))
        return st, roles, ANYONE, "", (payload, *sig)
    if fn == "slash":
        rounds.wait_until_block(chain, st.round_info(1).seal_deadline + 1)
        return st, roles, ANYONE, "", ()
    seal(s, m[0])
    if fn == "challenge":
        other = keccak(b"other")
        return st, roles, ANYONE, "", (1, other, *st.sign_seal(m[0], 1, other))
    rounds.wait_until_block(chain, st.round_info(1).challenge_end + 1)
    if fn == "payReward":
        return st, roles, *op_only, (1, [m[0].address], [MILLI])
    if fn == "claimReward":  # the coalition's members only
        rounds.wait_until_block(chain, st.round_info(1).challenge_end + st.windows()["reward"] + 1)
        return st, roles, {"member"}, "StakingNotInMinerCoalition", (1,)
    raise AssertionError(fn)


STAKING_FUNCTIONS = ("openRound", "credit", "recordTrades", "openStaking", "stake", "stakeFor", "reveal", "elect",
                     "seal", "slash", "challenge", "payReward", "claimReward", "pause", "unpause", "grantRole",
                     "revokeRole")


@pytest.mark.parametrize("fn", STAKING_FUNCTIONS)
def test_staking_authorization_matrix(chain, fn):
    client, roles, allowed, refusal, args = _staking_case(chain, fn)
    _check(client, roles, allowed, refusal, fn, *args)


def _fleet_case(chain, fn: str):
    f = deploy_fleet(chain, evs=2, subscribe=fn not in ("subscribe", "subscribeFor"))
    s, evs, op = f.settlement, f.evs, f.operator
    roles = _roles(f.s)
    if fn == "subscribe":
        return s, roles, ANYONE, "", (1_000,)
    if fn == "subscribeFor":
        r, vs = s.sign_subscription(evs[0], 1_000)
        return s, roles, ANYONE, "", ([evs[0].address], [r], [vs])
    if fn in ("pause", "unpause"):
        if fn == "unpause":
            s.pause(f.s.guardian)
        return s, roles, {"guardian"}, UNAUTHORIZED, ()
    if fn == "setTreasury":
        return s, roles, {"admin"}, UNAUTHORIZED, (f.treasury.address,)
    r, _ = fleet_round(f, [E, 0])
    if fn == "settle":
        return s, roles, {"operator"}, UNAUTHORIZED, (r, [evs[0].address], [MILLI])
    s.settle(op, r, [evs[0].address], [MILLI])
    if fn == "withdraw":  # EV 0 (the "member" role) is the one owed something
        return s, roles, {"member"}, "V2VNothingToWithdraw", ()
    if fn == "release":
        return s, roles, ANYONE, "", ([evs[0].address],)
    if fn == "sweepExpired":
        rounds.wait_until_block(chain, s.account(evs[0].address).last_credit_block + s.claim_window() + 1)
        return s, roles, ANYONE, "", ([evs[0].address],)
    raise AssertionError(fn)


FLEET_FUNCTIONS = ("subscribe", "subscribeFor", "settle", "withdraw", "release", "sweepExpired", "pause", "unpause",
                   "setTreasury")


@pytest.mark.parametrize("fn", FLEET_FUNCTIONS)
def test_settlement_authorization_matrix(chain, fn):
    client, roles, allowed, refusal, args = _fleet_case(chain, fn)
    value = MILLI if fn == "settle" else 0
    _check(client, roles, allowed, refusal, fn, *args, value=value)


def test_tokens_cannot_be_minted_or_moved_by_any_role(chain):
    """UPOS: only its ProofStaking mints (no role can be granted); EPOS: nobody transfers or approves."""
    s = deploy_staking(chain, members=1)
    r, _ = sealed_round(s, [E], [0], savings=[10 * E])
    s.staking.pay_reward(s.operator, r, [s.members[0].address], [E])
    roles = _roles(s)
    upos, epos = s.staking.upos, s.staking.epos
    for name, who in roles.items():
        for client, fn, args, error in ((upos, "mint", (who.address, E), "UPOSNotMinter"),
                                        (epos, "transfer", (s.stranger.address, 0), "EPOSNonTransferable"),
                                        (epos, "approve", (s.stranger.address, E), "EPOSNonTransferable"),
                                        (epos, "transferFrom", (who.address, s.stranger.address, 0),
                                         "EPOSNonTransferable")):
            with pytest.raises(ContractRevert) as info:
                _simulate(client, who, fn, *args)
            assert info.value.name == error, (name, fn)
    assert not any(item.get("name") in ("grantRole", "DEFAULT_ADMIN_ROLE") for item in upos.contract.abi)
    # UPOS moves like any ERC-20 once minted.
    upos.transfer(s.members[0], s.stranger.address, E // 4)
    assert upos.balance_of(s.stranger.address) == E // 4 and upos.total_supply() == E
