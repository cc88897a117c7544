"""The SWC registry's classes that apply to ProofStaking, on the embedded chain and on anvil:
front-running (SWC-114), denial of service by gas (SWC-128), integer overflow (SWC-101),
signature replay and malleability (SWC-121, SWC-117), access control (SWC-105/106, see also the
authorization matrix), weak sources of randomness (SWC-120)."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from staking_protocol import E, deploy_staking, expect, open_round, reveal_and_elect, seal, stake

from gridledger.ledger import rounds
from gridledger.ledger.clients import StakeIntent, commitment, new_secret
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.keys import random_signer

pytestmark = pytest.mark.integration

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_swc114_front_running_a_reveal_or_a_relayed_stake_gains_nothing(chain):
    s = deploy_staking(chain, members=3)
    st, m = s.staking, s.members
    r = open_round(s, [E, E, E])
    # A relayer may not redirect a signed stake: changing the validator or the commitment breaks the signature.
    good = st.sign_stake(m[1], r, m[1].address, commitment(m[1].address, r, new_secret()))
    for forged in (StakeIntent(good.member, m[0].address, bytes(32), good.sig_r, good.sig_vs),
                   StakeIntent(good.member, good.validator, keccak(b"mine"), good.sig_r, good.sig_vs)):
        expect("StakingBadSignature", st.stake_for, s.stranger, [forged])
    stake(s, [0, 1, 2])
    rounds.wait_until_block(chain, st.round_info(r).stake_end)
    # A stranger copies validator 0's pending reveal and sends it first: it counts for validator 0.
    res = st.reveal(s.stranger, [m[0].address], [s.plan.secrets[0]])[0]
    assert res.event("SecretRevealed").args["validator"] == m[0].address
    expect("StakingNotCommitted", st.reveal, m[0], [m[0].address], [s.plan.secrets[0]])  # already in
    expect("StakingNotCommitted", st.reveal, s.stranger, [s.stranger.address], [s.plan.secrets[0]])
    rounds.relay_reveals(st, s.stranger, s.plan, lambda i: i == 0)
    rounds.draw_when_due(chain, st, s.stranger)
    assert st.round_info(r).miner in {x.address for x in m}  # the stranger holds no stake: never drawn


def test_swc121_swc117_signatures_do_not_replay_across_rounds_contracts_or_in_high_s_form(chain):
    s = deploy_staking(chain, members=2)
    st, m = s.staking, s.members
    o = deploy_staking(chain, members=0)
    other = o.staking
    r = open_round(s, [E, E])
    intent = st.sign_stake(m[0], r, m[0].address, commitment(m[0].address, r, new_secret()))
    # The same member, the same stake, in another contract's round 1: its domain separator differs.
    other.open_round(o.operator)
    other.credit(o.operator, [m[0].address], [E])
    other.open_staking(o.operator)
    expect("StakingBadSignature", other.stake_for, s.stranger, [intent])
    # The high-s twin of a valid signature does not verify (ECDSA malleability): OpenZeppelin refuses
    # s > n/2, and the compact (r, yParityAndS) form cannot even carry most such s.
    sig = m[0].account.unsafe_sign_hash(st.stake_hash(r, m[0].address, intent.commitment))
    high_s = SECP256K1_N - sig.s
    with pytest.raises(ContractRevert) as info:
        chain.preflight({"from": s.stranger.address, "to": st.address, "value": 0, "gas": 2_000_000,
                         "data": st.contract.encode_abi("stakeFor", args=[[(
                             m[0].address, m[0].address, intent.commitment, sig.r.to_bytes(32, "big"),
                             _vs(high_s, 1 - (sig.v - 27)))]])})
    assert info.value.name in ("ECDSAInvalidSignatureS", "StakingBadSignature"), info.value
    st.stake_for(s.stranger, [intent])
    expect("StakingAlreadyStaked", st.stake_for, s.stranger, [intent])  # no replay within the round
    st.stake(m[1], m[1].address, commitment(m[1].address, r, new_secret()))
    rounds.finish_round(chain, st, s.operator)
    # The next round: the old signature names round 1, so it does not verify for round 2.
    r2 = open_round(s, [E, E])
    expect("StakingBadSignature", st.stake_for, s.stranger, [intent])
    assert r2 == r + 1


def _vs(s_value: int, parity: int) -> bytes:
    return ((s_value | (parity << 255)) % 2**256).to_bytes(32, "big")


def test_swc128_batches_are_capped_and_elect_costs_log_n_per_draw(chain):
    """No call loops over all members: batches are capped at MAX_BATCH, and a draw is a binary
    search over the stakes (its gas grows with log n, not n)."""
    s = deploy_staking(chain, members=0)
    st, op = s.staking, s.operator
    assert st.contract.functions.MAX_BATCH().call() == 256
    gas = {}
    for n in (4, 120):
        members = [random_signer() for _ in range(n)]
        s.members = members
        open_round(s, [E] * n)
        stake(s, list(range(n)))
        miner = reveal_and_elect(s)
        gas[n] = next(t for t in s.txs if any(e.name == "MinerElected" for e in t.events)).gas_used
        seal(s, s.signer(miner))
        rounds.finish_round(chain, st, op)
        s.txs.clear()
    assert gas[120] < 1.5 * gas[4] and gas[120] < 150_000, gas
    st.open_round(op)
    many = [random_signer().address for _ in range(257)]
    expect("StakingBatchTooLarge", st._send, op, "credit", many, [E] * 257, [0] * 257)


def test_swc128_withheld_stake_cannot_stall_the_election(chain):
    """Validators holding most of the stake withhold their secrets: they are excluded and their
    coalitions' stake is burned; the remaining draws are rejection-sampled, at most MAX_DRAWS per
    call, and the election completes with the honest validator."""
    s = deploy_staking(chain, members=5)
    st = s.staking
    r = open_round(s, [E, 10 * E, 10 * E, 10 * E, 9 * E])
    stake(s, [0, 1, 2, 3, 3])
    rounds.wait_until_block(chain, st.round_info(r).stake_end)
    rounds.relay_reveals(st, s.stranger, s.plan, lambda i: i != 0)
    calls = rounds.draw_when_due(chain, st, s.stranger)
    assert all(t.gas_used < 1_000_000 for t in calls)
    info = st.round_info(r)
    assert info.miner == s.members[0].address and info.attempts <= 32 * len(calls)
    assert st.epos.total_supply() == E and info.slashed == 39 * E  # the withholders paid for it
    rounds.check_replay(st, r, 0, set())


def test_swc101_amounts_beyond_96_bits_are_named_refusals_not_panics(chain):
    s = deploy_staking(chain, members=2)
    st, m, op = s.staking, s.members, s.operator
    st.open_round(op)
    expect("StakingAmountTooLarge", st.credit, op, [m[0].address], [2**96])
    expect("StakingAmountTooLarge", st.credit, op, [m[0].address], [E], [2**96])
    st.credit(op, [m[0].address], [2**96 - 1])
    expect("StakingAmountTooLarge", st.credit, op, [m[1].address], [1])  # the round's total would overflow
    expect("StakingAmountTooLarge", st.record_trades, op, [(m[0].address, None, 2**96, 0)])


def test_swc120_nobody_chooses_the_seed(chain):
    """The seed is the XOR of all revealed secrets mixed with the beacon of a block fixed before
    any reveal; a validator cannot change its secret after committing; the operator holds no
    seed; block variables alone never decide."""
    s = deploy_staking(chain, members=2)
    st, m = s.staking, s.members
    r = open_round(s, [E, E])
    stake(s, [0, 1])
    rounds.wait_until_block(chain, st.round_info(r).stake_end)
    expect("StakingBadReveal", st.reveal, m[0], [m[0].address], [new_secret()])  # a second-thought secret
    rounds.relay_reveals(st, s.stranger, s.plan)
    deadline = st.round_info(r).reveal_deadline
    assert deadline == st.round_info(r).stake_end + 1 + st.windows()["reveal"]  # fixed when staking closed
    rounds.draw_when_due(chain, st, s.stranger)
    from gridledger.games.election import election_entropy, election_seed

    info = st.round_info(r)
    entropy = election_entropy([(m[i].address, s.plan.secrets[i]) for i in (0, 1)])
    beacons = {bytes(32), bytes(chain.w3.eth.get_block(deadline + 1)["mixHash"])}
    assert any(info.seed == election_seed(entropy, b, st.address, r) for b in beacons)
    # Without the secrets the seed differs: a party that knows only the chain's randomness predicts nothing.
    assert all(info.seed != election_seed(bytes(32), b, st.address, r) for b in beacons)
