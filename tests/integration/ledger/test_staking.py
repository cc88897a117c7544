"""ProofStaking, EPOS and UPOS on both backends: a round's life cycle, the commit-reveal election
and its off-chain replay, the pinned beacon, slashing on evidence (eq. 3.24), the reward pool of
eq. (3.23) and its payout, roles, every refusal by its named error."""

from __future__ import annotations

import numpy as np
import pytest
from eth_utils import keccak
from scipy import stats
from staking_protocol import (
    ADMIN_DELAY,
    ZERO,
    E,
    deploy_staking,
    expect,
    open_round,
    reveal_and_elect,
    seal,
    sealed_round,
    stake,
)

from gridledger.games.election import election_entropy, election_seed, seeded_selection
from gridledger.ledger import rounds
from gridledger.ledger.clients import Phase, ValidatorStatus, commitment
from gridledger.ledger.clients.staking import GUARDIAN_ROLE, OPERATOR_ROLE
from gridledger.ledger.errors import ContractRevert

pytestmark = pytest.mark.integration


def test_round_life_cycle_with_reward(chain):
    s = deploy_staking(chain, members=4)
    st, m, op = s.staking, s.members, s.operator
    assert st.epos.staking() == st.address and st.upos.minter() == st.address
    assert (st.kind(), st.delta_bps(), st.slash_bps()) == ("PoEG", 1_000, 10_000)
    scores, savings = [3 * E, E, 4 * E, 2 * E], [E, 3 * E, 0, 5 * E + 7]
    r = open_round(s, scores, savings, open_staking=False)
    info = st.round_info(r)
    assert info.phase == Phase.CREDITING and info.credited == 10 * E
    # eq. (3.23): M_r = sum of the members' fees delta x saving (floor per member)
    assert info.fee_pool == sum(x * 1_000 // 10_000 for x in savings)
    assert [st.epos.balance_of(x.address) for x in m] == scores and st.epos.total_supply() == 10 * E
    st.open_staking(op)
    assert st.phase(r) == Phase.STAKING
    # Members 0, 2 and 3 are relayed with their signatures; member 1 sends its own stake.
    stake(s, [0, 0, 2, 2], members=[0, 2, 3])
    assert st.phase(r) == Phase.STAKING
    st.stake(m[1], m[0].address)
    assert st.phase(r) == Phase.REVEALING  # every member staked: staking closed at once
    assert st.stake_behind(r, m[0].address) == 4 * E and st.stake_behind(r, m[2].address) == 6 * E
    assert st.validators(r) == [m[0].address, m[2].address]
    assert st.validator_of(r, m[1].address) == m[0].address

    miner = reveal_and_elect(s)
    info = st.round_info(r)
    seeded = next(e for t in s.txs for e in t.events if e.name == "SeedDrawn").args
    # The seed is the XOR of the revealed secrets mixed with the pinned beacon, recomputed here.
    entropy = election_entropy([(m[i].address, s.plan.secrets[i]) for i in (0, 2)])
    assert bytes(seeded["entropy"]) == entropy
    assert info.seed == election_seed(entropy, bytes(seeded["beacon"]), st.address, r)
    # ... and the draw is the off-chain replay's.
    k = seeded_selection([3 * E, 4 * E, 2 * E, E], info.seed, 0)  # stakes in staking order: 0, 2, 3, 1
    assert miner == [m[0].address, m[2].address, m[2].address, m[0].address][k] and info.attempts == 1
    assert rounds.check_replay(st, r, 0, set()) == 1
    assert info.phase == Phase.ELECTED and st.miner_of(r) == miner

    res = seal(s, s.signer(miner))
    digest = res.event("RoundSealed").args["digest"]
    assert digest == st.round_info(r).digest == st.block_digest(r, b"\x07" * 32)
    assert st.outcome(r) == (False, None)  # the challenge window is open
    expect("StakingRewardWindow", st.pay_reward, op, r, [miner], [1])
    rounds.wait_until_block(chain, st.round_info(r).challenge_end + 1)
    assert st.outcome(r) == (True, miner) and st.phase(r) == Phase.CLOSED

    coalition = [x.address for i, x in enumerate(m) if s.plan.validator_of[i] == [y.address for y in m].index(miner)]
    pool = st.round_info(r).fee_pool
    shares = rounds.split_exactly(pool, [2, 1])
    st.pay_reward(op, r, coalition, shares)
    assert [s.upos.balance_of(a) for a in coalition] == shares and s.upos.total_supply() == pool
    assert st.round_info(r).reward == pool
    # UPOS holders redeem credit by burning it.
    holder = s.signer(coalition[0])
    s.upos.burn(holder, shares[0] // 2)
    assert s.upos.total_supply() == pool - shares[0] // 2
    # The next round starts from nothing: EPOS is bound to its round.
    st.open_round(op)
    assert st.epos.total_supply() == 0 and all(st.epos.balance_of(x.address) == 0 for x in m)


def test_beacon_is_pinned_to_the_block_after_the_reveal_deadline(chain):
    """Electing in that very block mixes its prevrandao; electing later mixes that block's hash,
    the same for every caller: the timing of `elect` chooses nothing."""
    for late in (False, True):
        s = deploy_staking(chain, members=2)
        st = s.staking
        r = open_round(s, [E, E])
        stake(s, [0, 1])
        rounds.relay_reveals(st, s.stranger, s.plan)
        deadline = st.round_info(r).reveal_deadline
        rounds.wait_until_block(chain, deadline + (5 if late else 0))
        res = st.elect(s.stranger)
        beacon = bytes(res.event("SeedDrawn").args["beacon"])
        block = chain.w3.eth.get_block(deadline + 1)
        if late:
            assert res.block_number == deadline + 6 and beacon == bytes(block["hash"])
        else:
            assert res.block_number == deadline + 1
            if chain.backend == "rpc":  # anvil gives every block a prevrandao; py-evm's is zero
                assert beacon == bytes(block["mixHash"])


@pytest.mark.seed_sensitive
def test_draw_frequencies_match_stake_shares(chain):
    """pick() over 300 draws of one seed: frequencies match stake / total (chi-square), and every
    draw equals the off-chain replay (delegated stakes count for their validator)."""
    s = deploy_staking(chain, members=4)
    st, m = s.staking, s.members
    weights = [5 * E, 2 * E, 2 * E, E]  # validators 0 (with 3 delegating), 1, 2
    r = open_round(s, weights)
    stake(s, [0, 1, 2, 0])
    reveal_and_elect(s)
    seed = st.round_info(r).seed
    ends, owners = st.segments(r)
    stakes = [e - (ends[k - 1] if k else 0) for k, e in enumerate(ends)]
    counts = {x.address: 0 for x in m[:3]}
    for a in range(300):
        v, seg = st.pick(r, a)
        assert seg == seeded_selection(stakes, seed, a) and v == owners[seg]
        counts[v] += 1
    p = stats.chisquare(list(counts.values()), 300 * np.array([0.6, 0.2, 0.2])).pvalue
    assert p > 1e-6, counts  # a false alarm for one seed in a million
    assert stats.chisquare(list(counts.values()), np.full(3, 100.0)).pvalue < 1e-6  # while a wrong law is rejected


def test_unsealed_miner_is_slashed_after_the_deadline_and_the_election_continues(chain):
    s = deploy_staking(chain, members=4)
    st, m = s.staking, s.members
    r = open_round(s, [3 * E, E, 4 * E, 2 * E])
    stake(s, [0, 0, 2, 2])
    first = reveal_and_elect(s)
    other = m[2].address if first == m[0].address else m[0].address
    behind = st.stake_behind(r, first)
    supply = st.epos.total_supply()
    expect("StakingSealWindowOpen", st.slash, s.stranger)  # no evidence yet
    rounds.wait_until_block(chain, st.round_info(r).seal_deadline)
    expect("StakingSealDeadlinePassed", seal, s, s.signer(first))  # lands after the deadline
    res = st.slash(s.stranger)
    assert res.event("MinerSlashed").args["burned"] == behind and res.event("MinerSlashed").args["reason"] == 0
    # eq. (3.24): the refusing coalition is excluded; the redraw in the same call elects the other.
    assert res.event("MinerElected").args["miner"] == other == st.miner_of(r)
    assert st.is_slashed(r, first) and st.epos.total_supply() == supply - behind
    coalition = [x for i, x in enumerate(m) if m[s.plan.validator_of[i]].address == first]
    assert all(st.epos.balance_of(x.address) == 0 for x in coalition)
    assert rounds.replay_miner(st, r, 0, set())[0] == first
    assert rounds.replay_miner(st, r, rounds.replay_miner(st, r, 0, set())[1], {first})[0] == other
    # The second miner does not seal either: nobody is left, the round closes without a miner.
    rounds.wait_until_block(chain, st.round_info(r).seal_deadline + 1)
    res = st.slash(s.stranger)
    assert res.event("RoundClosed").args["miner"] == ZERO and st.outcome(r) == (True, None)
    assert st.epos.total_supply() == 0 and st.round_info(r).slashed == 10 * E


def test_equivocating_miner_is_slashed_within_the_challenge_window(chain):
    s = deploy_staking(chain, members=2)
    st = s.staking
    r = open_round(s, [E, 2 * E], [E, E])
    stake(s, [0, 0])  # one validator: it is the miner
    miner = reveal_and_elect(s)
    assert miner == s.members[0].address
    seal(s, s.members[0])
    other = keccak(b"another block")
    expect("StakingSameDigest", st.challenge, s.stranger, r, st.round_info(r).digest,
           st.sign_seal(s.members[0], r, st.round_info(r).digest))
    expect("StakingBadSignature", st.challenge, s.stranger, r, other, st.sign_seal(s.members[1], r, other))
    res = st.challenge(s.stranger, r, other, st.sign_seal(s.members[0], r, other))
    assert res.event("MinerSlashed").args["reason"] == 1 and res.event("MinerSlashed").args["burned"] == 3 * E
    assert st.outcome(r) == (True, None) and st.round_info(r).challenged
    expect("StakingWrongPhase", st.pay_reward, s.operator, r, [miner], [1])  # the reward is withheld
    # A challenge after the window is refused.
    s2 = deploy_staking(chain, members=1)
    r2, _ = sealed_round(s2, [E], [0])
    expect("StakingNotChallengeable", s2.staking.challenge, s2.stranger, r2, other,
           s2.staking.sign_seal(s2.members[0], r2, other))


def test_unpaid_coalition_members_claim_pro_rata_after_the_reward_window(chain):
    s = deploy_staking(chain, members=3)
    st, m = s.staking, s.members
    r, _ = sealed_round(s, [E, 2 * E, 3 * E], [0, 0, 0], savings=[10 * E, 10 * E, 10 * E])
    pool = st.round_info(r).fee_pool
    assert pool == 3 * E
    st.pay_reward(s.operator, r, [m[0].address], [E // 2])
    expect("StakingAlreadyRewarded", st.pay_reward, s.operator, r, [m[0].address], [1])
    expect("StakingRewardWindow", st.claim_reward, m[1], r)
    rounds.wait_until_block(chain, st.round_info(r).challenge_end + st.windows()["reward"] + 1)
    expect("StakingRewardWindow", st.pay_reward, s.operator, r, [m[1].address], [1])
    expect("StakingAlreadyRewarded", st.claim_reward, m[0], r)
    st.claim_reward(m[1], r)
    st.claim_reward(m[2], r)
    rest = pool - E // 2
    assert s.upos.balance_of(m[1].address) == rest * 2 // 5
    assert s.upos.total_supply() == st.round_info(r).reward <= pool
    assert pool - s.upos.total_supply() <= 1  # rounding leaves at most a unit unminted
    expect("StakingNotInMinerCoalition", st.claim_reward, s.stranger, r)


def test_non_revealing_validator_is_excluded_and_its_coalition_loses_its_stake(chain):
    s = deploy_staking(chain, members=3)
    st, m = s.staking, s.members
    r = open_round(s, [5 * E, E, 2 * E])
    stake(s, [0, 0, 2])
    miner = reveal_and_elect(s, withhold=(0,))
    # Validator 0 kept its secret back: its coalition cannot be drawn and its stake is burned.
    assert miner == m[2].address
    assert st.validator_info(r, m[0].address).status == ValidatorStatus.COMMITTED
    assert st.epos.balance_of(m[0].address) == 0 and st.epos.balance_of(m[1].address) == 0
    assert st.epos.total_supply() == 2 * E == st.round_info(r).credited - st.round_info(r).slashed
    assert st.round_info(r).eligible == 2 * E
    rounds.check_replay(st, r, 0, set())


def test_refusals_are_named_and_change_nothing(chain):
    s = deploy_staking(chain, members=3)
    st, m, op = s.staking, s.members, s.operator
    expect("StakingWrongPhase", st.credit, op, [m[0].address], [E])
    expect("StakingWrongPhase", st.open_staking, op)
    expect("StakingWrongPhase", st.elect, op)
    st.open_round(op)
    expect("StakingRoundStillOpen", st.open_round, op)
    expect("StakingLengthMismatch", st._send, op, "credit", [m[0].address], [E, E], [0, 0])
    expect("StakingZeroAddress", st.credit, op, [ZERO], [E])
    expect("StakingEmptyList", st._send, op, "credit", [], [], [])
    expect("StakingBatchTooLarge", st._send, op, "credit", [m[0].address] * 257, [E] * 257, [0] * 257)
    expect("StakingAmountTooLarge", st.credit, op, [m[0].address], [2**96])
    st.credit(op, [m[0].address, m[1].address], [2 * E, E])
    expect("StakingDuplicateMember", st.credit, op, [m[0].address], [E])
    expect("StakingWrongPhase", st.stake, m[0], m[0].address, commitment(m[0].address, 1, bytes(32)))
    expect("StakingSelfTrade", st.record_trades, op, [(m[0].address, m[0].address, 5, 0)])
    expect("StakingZeroAmount", st.record_trades, op, [(m[0].address, None, 0, 0)])
    res = st.record_trades(op, [(m[0].address, None, 1500, 30), (None, m[1].address, 700, 12)])[0]
    assert [(e.args["from"], e.args["to"], e.args["energyWh"]) for e in res.events] == [
        (m[0].address, ZERO, 1500), (ZERO, m[1].address, 700)]
    assert st.round_info(1).traded_wh == 2200
    st.open_staking(op)
    expect("StakingNotMember", st.stake, s.stranger, s.stranger.address, keccak(b"c"))
    expect("StakingMissingCommitment", st.stake, m[0], m[0].address)
    expect("StakingUnexpectedCommitment", st.stake, m[1], m[0].address, keccak(b"c"))
    expect("StakingNotValidator", st.stake, m[1], m[0].address)
    expect("StakingZeroAddress", st.stake, m[1], ZERO)
    forged = st.sign_stake(s.stranger, 1, m[0].address, keccak(b"c"))  # signed by someone else
    forged = type(forged)(m[0].address, forged.validator, forged.commitment, forged.sig_r, forged.sig_vs)
    expect("StakingBadSignature", st.stake_for, op, [forged])
    secret = rounds.new_secret()
    st.stake(m[0], m[0].address, commitment(m[0].address, 1, secret))
    expect("StakingAlreadyStaked", st.stake, m[0], m[0].address, keccak(b"c"))
    expect("StakingWrongPhase", st.reveal, op, [m[0].address], [secret])  # staking still open
    st.stake(m[1], m[0].address)
    expect("StakingBadReveal", st.reveal, op, [m[0].address], [rounds.new_secret()])
    expect("StakingNotCommitted", st.reveal, op, [m[1].address], [secret])
    expect("StakingLengthMismatch", st._send, op, "reveal", [m[0].address], [secret, secret])
    st.reveal(op, [m[0].address], [secret])
    expect("StakingNotCommitted", st.reveal, op, [m[0].address], [secret])
    expect("StakingWrongPhase", st.elect, op)  # before the reveal deadline
    rounds.wait_until_block(chain, st.round_info(1).reveal_deadline)
    expect("StakingWrongPhase", st.record_trades, op, [(m[0].address, None, 1, 0)])
    st.elect(op)
    expect("StakingWrongPhase", st.elect, op)  # elected: no redraw
    expect("StakingBadSignature", st.seal, op, bytes(32), st.sign_seal(m[1], 1, st.block_digest(1, bytes(32))))
    expect("StakingWrongPhase", st.claim_reward, m[0], 1)
    expect("StakingNotChallengeable", st.challenge, op, 1, bytes(32), (bytes(32), bytes(32)))
    with pytest.raises(ContractRevert) as info:
        chain.deploy("ProofStaking", s.admin, s.admin.address, 0, op.address, op.address, "PoEG", True, 10_001,
                     [1, 1, 1, 1, 1])
    assert info.value.name == "StakingBadParameter"
    with pytest.raises(ContractRevert) as info:
        chain.deploy("ProofStaking", s.admin, s.admin.address, 0, ZERO, op.address, "PoEG", True, 0, [1, 1, 1, 1, 1])
    assert info.value.name == "StakingZeroAddress"
    with pytest.raises(ContractRevert) as info:
        chain.deploy("ProofStaking", s.admin, s.admin.address, 0, op.address, op.address, "PoEG", True, 0,
                     [1, 0, 1, 1, 1])
    assert info.value.name == "StakingBadParameter"


def test_fleet_staking_has_no_reward_token(chain):
    s = deploy_staking(chain, members=1, kind="PoSOC", reward_token=False, delta_bps=0)
    st = s.staking
    assert st.upos is None
    r, miner = sealed_round(s, [E], [0])
    expect("StakingNoRewardToken", st.pay_reward, s.operator, r, [miner], [0])
    expect("StakingNoRewardToken", st.claim_reward, s.members[0], r)


def test_roles_rotate_with_events_and_the_guardian_pauses_only_the_operator(chain):
    s = deploy_staking(chain, members=2)
    st, op, admin = s.staking, s.operator, s.admin
    new_op = s.stranger
    assert st.has_role(OPERATOR_ROLE, op.address) and st.has_role(GUARDIAN_ROLE, s.guardian.address)
    assert st.admin() == admin.address
    granted = st.grant_role(admin, OPERATOR_ROLE, new_op.address).event("RoleGranted").args
    assert (granted["account"], granted["sender"]) == (new_op.address, admin.address)
    assert st.revoke_role(admin, OPERATOR_ROLE, op.address).event("RoleRevoked").args["account"] == op.address
    expect("AccessControlUnauthorizedAccount", st.open_round, op)
    expect("AccessControlUnauthorizedAccount", st.grant_role, op, OPERATOR_ROLE, op.address)
    st.open_round(new_op)
    st.credit(new_op, [s.members[0].address, s.members[1].address], [E, E])
    st.open_staking(new_op)
    # The guardian stops the operator's entry points, never the members' or the election's.
    expect("AccessControlUnauthorizedAccount", st.pause, new_op)
    assert st.pause(s.guardian).event("Paused")
    s.operator = new_op
    stake(s, [0, 0])
    miner = reveal_and_elect(s)
    seal(s, s.signer(miner))
    expect("EnforcedPause", st.record_trades, new_op, [(miner, None, 1, 0)])
    rounds.wait_until_block(chain, st.round_info(1).challenge_end + 1)
    expect("EnforcedPause", st.open_round, new_op)
    expect("EnforcedPause", st.pay_reward, new_op, 1, [miner], [0])
    st.unpause(s.guardian)
    st.open_round(new_op)
    # The administrator role moves in two steps, after a delay.
    st._send(admin, "beginDefaultAdminTransfer", new_op.address)
    expect("AccessControlEnforcedDefaultAdminDelay", st._send, new_op, "acceptDefaultAdminTransfer")
    assert st.admin() == admin.address
    expect("AccessControlEnforcedDefaultAdminRules", st.grant_role, admin, bytes(32), new_op.address)
    assert ADMIN_DELAY > 0
