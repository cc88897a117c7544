"""The attacks of issue 11 on the staking contracts, each replayed and failing to do harm, on the
embedded chain and on anvil (ProofStaking, EPOS, UPOS; V2VSettlement in test_settlement_attacks.py).

1. A member that sees the election's randomness stakes late to land the draw in its range.
2. The operator credits after the validators committed.
3. The operator slashes without evidence (each slash redrew the election).
4. The operator closes the round and reopens it to redraw.
5. The token administrator grants itself the right to mint UPOS.
6. payReward without a bound.
7. EPOS bought from another member, or carried over from an earlier round, gives election weight.
8. Roles fixed at deployment: a compromised operator cannot be stopped or replaced.
"""

from __future__ import annotations

import pytest
from eth_utils import keccak
from staking_protocol import (
    E,
    deploy_staking,
    expect,
    open_round,
    reveal_and_elect,
    seal,
    sealed_round,
    stake,
)

from gridledger.ledger import rounds
from gridledger.ledger.clients import Phase, ValidatorStatus, commitment, new_secret
from gridledger.ledger.clients.staking import OPERATOR_ROLE

pytestmark = pytest.mark.integration


def _abi_names(client) -> set[str]:
    return {item.get("name") for item in client.contract.abi if item.get("type") == "function"}


def test_late_stake_once_randomness_is_public_is_refused(chain):
    """The old attack: stake, after seeing the seed, the amount that lands the draw in one's range.
    Now staking closes (a phase change) before any secret is revealed, the operator holds no seed,
    and the draw only exists after the reveal deadline."""
    s = deploy_staking(chain, members=4)
    st, m, op = s.staking, s.members, s.operator
    attacker = m[3]
    assert "openRound" in _abi_names(st) and not any(i["inputs"] for i in st.contract.abi
                                                      if i.get("name") == "openRound")  # no seed to commit
    r = open_round(s, [5 * E, 5 * E, 5 * E, E])
    stake(s, [0, 1, 2, 3], members=[0, 1, 2])  # the attacker waits
    rounds.wait_until_block(chain, st.round_info(r).stake_end + 1)  # staking ran out
    assert st.phase(r) == Phase.REVEALING
    rounds.relay_reveals(st, s.stranger, s.plan)  # every honest secret is now public
    c = commitment(attacker.address, r, new_secret())
    expect("StakingWrongPhase", st.stake, attacker, attacker.address, c)
    expect("StakingWrongPhase", st.stake_for, s.stranger, [st.sign_stake(attacker, r, attacker.address, c)])
    expect("StakingWrongPhase", st.credit, op, [attacker.address], [100 * E])
    expect("StakingWrongPhase", st.elect, attacker)  # the draw waits for the reveal deadline
    info = st.round_info(r)
    assert info.seed == bytes(32) and info.staked == 15 * E  # nothing the attacker could add
    rounds.draw_when_due(chain, st, s.stranger)
    assert st.round_info(r).miner != attacker.address
    assert st.validator_info(r, attacker.address).status == ValidatorStatus.NONE


def test_operator_cannot_credit_after_commitments(chain):
    s = deploy_staking(chain, members=3)
    st, m, op = s.staking, s.members, s.operator
    r = open_round(s, [E, E], members=[0, 1])
    stake(s, [0, 1], members=[0])  # a validator committed
    for who, score in ((m[2].address, 100 * E), (m[1].address, 50 * E)):
        expect("StakingWrongPhase", st.credit, op, [who], [score])
    assert st.round_info(r).credited == 2 * E and st.epos.total_supply() == 2 * E


def test_operator_has_no_discretionary_slash(chain):
    """Slashing needs evidence the chain holds: a missed seal deadline, or the miner's own signature
    on a second digest. The operator has neither; it cannot slash, and slashing is not a redraw."""
    s = deploy_staking(chain, members=2)
    st, op = s.staking, s.operator
    assert not any(i.get("name") == "slash" and i["inputs"] for i in st.contract.abi)  # nobody names a victim
    r = open_round(s, [E, E])
    stake(s, [0, 1])
    miner = reveal_and_elect(s)
    expect("StakingSealWindowOpen", st.slash, op)
    forged = keccak(b"forged")
    expect("StakingNotChallengeable", st.challenge, op, r, forged, st.sign_seal(op, r, forged))
    seal(s, s.signer(miner))
    expect("StakingWrongPhase", st.slash, op)  # a miner that sealed cannot be slashed
    expect("StakingBadSignature", st.challenge, op, r, forged, st.sign_seal(op, r, forged))
    rounds.wait_until_block(chain, st.round_info(r).challenge_end + 1)
    assert st.outcome(r) == (True, miner) and st.round_info(r).slashed == 0


def test_no_close_and_reopen_to_redraw(chain):
    """There is no closeRound; a round can neither be reopened nor redrawn in any phase."""
    s = deploy_staking(chain, members=2)
    st, op = s.staking, s.operator
    assert "closeRound" not in _abi_names(st)
    st.open_round(op)
    expect("StakingRoundStillOpen", st.open_round, op)
    st.credit(op, [x.address for x in s.members], [E, 2 * E])
    st.open_staking(op)
    expect("StakingRoundStillOpen", st.open_round, op)
    stake(s, [0, 1])
    miner = reveal_and_elect(s)
    attempts = st.round_info(1).attempts
    expect("StakingWrongPhase", st.elect, op)
    expect("StakingRoundStillOpen", st.open_round, op)
    assert st.round_info(1).miner == miner and st.round_info(1).attempts == attempts
    seal(s, s.signer(miner))
    expect("StakingRoundStillOpen", st.open_round, op)  # the challenge window runs
    rounds.wait_until_block(chain, st.round_info(1).challenge_end + 1)
    st.open_round(op)
    assert st.outcome(1) == (True, miner)  # round 1's outcome is final


def test_token_administrator_cannot_mint(chain):
    """UPOS has no administrator and no roles: its ProofStaking is its only minter, fixed at
    construction. ProofStaking's own administrator, even making itself operator, mints only
    within a sealed round's pool M_r."""
    s = deploy_staking(chain, members=1)
    st, admin = s.staking, s.admin
    upos = st.upos
    names = _abi_names(upos)
    assert {"grantRole", "revokeRole", "DEFAULT_ADMIN_ROLE", "MINTER_ROLE"}.isdisjoint(names)
    for who in (admin, s.operator, s.guardian, s.members[0]):
        expect("UPOSNotMinter", upos.mint, who, who.address, 10**40)
    st.grant_role(admin, OPERATOR_ROLE, admin.address)
    r, miner = sealed_round(s, [E], [0], savings=[10 * E])
    pool = st.round_info(r).fee_pool
    expect("StakingRewardExceeded", st.pay_reward, admin, r, [miner], [10**40])
    st.pay_reward(admin, r, [miner], [pool])
    assert upos.total_supply() == pool == E  # delta = 10% of 10 UPOS saved


def test_pay_reward_is_bounded_by_eq_3_23(chain):
    s = deploy_staking(chain, members=3)
    st, m, op = s.staking, s.members, s.operator
    savings = [4 * E, 2 * E, 3 * E]
    r = open_round(s, [E, E, E], savings)
    stake(s, [0, 0, 0])
    miner = reveal_and_elect(s)
    expect("StakingWrongPhase", st.pay_reward, op, r, [miner], [1])  # not sealed
    seal(s, s.signer(miner))
    rounds.wait_until_block(chain, st.round_info(r).challenge_end + 1)
    pool = st.round_info(r).fee_pool
    assert pool == sum(x // 10 for x in savings)  # M_r = delta x savings
    expect("StakingRewardExceeded", st.pay_reward, op, r, [m[0].address, m[1].address], [pool, 1])
    expect("StakingNotInMinerCoalition", st.pay_reward, op, r, [s.stranger.address], [1])
    st.pay_reward(op, r, [m[0].address, m[1].address], [pool // 2, pool - pool // 2])
    expect("StakingAlreadyRewarded", st.pay_reward, op, r, [m[0].address], [0])
    expect("StakingRewardExceeded", st.pay_reward, op, r, [m[2].address], [1])
    assert st.upos.total_supply() == pool == st.round_info(r).reward


def test_epos_cannot_be_bought_lent_or_carried_over(chain):
    """The old attack: a member credited 0 staked 100 EPOS bought from another. Now EPOS does not
    move, a stake is exactly the round's credited score, and nothing carries over between rounds."""
    s = deploy_staking(chain, members=2)
    st, m = s.staking, s.members
    rich, poor = m
    r1, _ = sealed_round(s, [100 * E, 0], [0, 0])
    assert st.epos.balance_of(rich.address) == 100 * E
    expect("EPOSNonTransferable", st.epos.transfer, rich, poor.address, 50 * E)
    expect("EPOSNonTransferable", st.epos.approve, rich, poor.address, 50 * E)
    expect("EPOSNonTransferable", st.epos.transfer_from, poor, rich.address, poor.address, 50 * E)
    assert st.epos.allowance(rich.address, poor.address) == 0
    # Round 2: the rich member of round 1 is credited 0; the other 1 EPOS.
    r2 = open_round(s, [0, E])
    assert st.epos.balance_of(rich.address) == 0 and st.epos.total_supply() == E
    stake(s, [0, 1])
    assert st.stake_behind(r2, rich.address) == 0 and st.stake_behind(r2, poor.address) == E
    assert reveal_and_elect(s) == poor.address  # zero weight is never drawn
    assert r2 == r1 + 1


def test_compromised_operator_is_paused_and_replaced(chain):
    s = deploy_staking(chain, members=2)
    st, admin, bad = s.staking, s.admin, s.operator
    st.pause(s.guardian)
    expect("EnforcedPause", st.open_round, bad)
    revoked = st.revoke_role(admin, OPERATOR_ROLE, bad.address).event("RoleRevoked").args
    assert revoked["account"] == bad.address and not st.has_role(OPERATOR_ROLE, bad.address)
    st.grant_role(admin, OPERATOR_ROLE, s.stranger.address)
    st.unpause(s.guardian)
    expect("AccessControlUnauthorizedAccount", st.open_round, bad)
    s.operator = s.stranger
    sealed_round(s, [E, E], [0, 1])
    # The compromised key cannot take the administrator role either: that takes two steps and a delay.
    expect("AccessControlUnauthorizedAccount", st._send, bad, "beginDefaultAdminTransfer", bad.address)
