"""Driving a ProofStaking round from Python, market-agnostic (the scenarios add the markets).

The protocol's deadlines are counted in blocks. On a development chain (the embedded chain,
anvil) :func:`wait_until_block` mines empty blocks; on any other chain it waits for them.
Relayed batches (signed stakes, reveals, seals) go through one account, the relayer; the
contract checks every signature, so a relayer can delay an action but not forge one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gridledger.errors import GridledgerError
from gridledger.games.election import seeded_election
from gridledger.ledger.chain import Chain, ChainError, Signer
from gridledger.ledger.clients.base import TxResult
from gridledger.ledger.clients.staking import (
    Phase,
    StakeIntent,
    StakingClient,
    ValidatorStatus,
    commitment,
    new_secret,
)


class ElectionMismatch(GridledgerError):
    """The chain's draw differs from its off-chain replay (a bug, never a user mistake)."""


def wait_until_block(chain: Chain, block: int, poll_s: float = 1.0, timeout_s: float = 3_600.0) -> None:
    """Return once the chain's head is at ``block`` or later (dev chains: mine the missing blocks)."""
    head = chain.block_number()
    if head >= block:
        return
    try:
        chain.mine(block - head)
        return
    except ChainError:
        pass
    deadline = time.monotonic() + timeout_s
    while chain.block_number() < block:
        if time.monotonic() > deadline:
            raise ChainError(f"block {block} not reached after {timeout_s:.0f} s (head {chain.block_number()})")
        time.sleep(poll_s)


def elect(staking: StakingClient, sender: Signer) -> list[TxResult]:
    """Call ``elect`` until the round has a miner or is closed (each call makes a bounded number of draws)."""
    out = [staking.elect(sender)]
    while "ElectionPending" in out[-1].event_names:
        out.append(staking.elect(sender))
    return out


def draw_when_due(chain: Chain, staking: StakingClient, sender: Signer) -> list[TxResult]:
    """Wait for the reveal deadline and elect in the very next block (so that the seed mixes that
    block's prevrandao, EIP-4399), then keep drawing until a miner or the round's end."""
    info = staking.round_info(staking.current_round())
    wait_until_block(chain, info.reveal_deadline)
    return elect(staking, sender)


def slash_when_due(chain: Chain, staking: StakingClient, sender: Signer) -> list[TxResult]:
    """Wait past the seal deadline of the elected miner that did not seal, slash it, keep drawing."""
    info = staking.round_info(staking.current_round())
    wait_until_block(chain, info.seal_deadline + 1)
    out = [staking.slash(sender)]
    if "ElectionPending" in out[-1].event_names:
        out.extend(elect(staking, sender))
    return out


def finish_round(chain: Chain, staking: StakingClient, operator: Signer) -> list[TxResult]:
    """Drive the current round (one an interrupted run left open) to its end through its
    deadlines: nothing is redrawn or undone; a miner that does not seal is slashed (eq. 3.24)."""
    out: list[TxResult] = []
    r = staking.current_round()
    if r == 0:
        return out
    for _ in range(1_000):  # each step moves the round on; a bounded loop guards against a stuck node
        info = staking.round_info(r)
        p = info.phase
        if p == Phase.CLOSED:
            return out
        if p == Phase.CREDITING:
            out.append(staking.open_staking(operator))
        elif p == Phase.STAKING:
            wait_until_block(chain, info.stake_end + 1)
        elif p == Phase.REVEALING:
            out.extend(draw_when_due(chain, staking, operator))
        elif p == Phase.ELECTING:
            out.extend(elect(staking, operator))
        elif p == Phase.ELECTED:
            out.extend(slash_when_due(chain, staking, operator))
        else:  # SEALED: the challenge window runs out
            wait_until_block(chain, info.challenge_end + 1)
    raise ChainError(f"round {r} did not close (phase {staking.round_info(r).phase.name})")


@dataclass
class Coalitions:
    """Who stakes with whom: ``validator_of[i]`` is the member index member i stakes with
    (itself for a validator). Validators get fresh secrets from the OS's CSPRNG."""

    members: Sequence[Signer]
    validator_of: Sequence[int]
    secrets: dict[int, bytes] = field(default_factory=dict)

    def validators(self) -> list[int]:
        return [i for i, v in enumerate(self.validator_of) if v == i]


def relay_stakes(staking: StakingClient, relayer: Signer, round_: int, plan: Coalitions,
                 members: Sequence[int] | None = None) -> list[TxResult]:
    """Each member of ``plan`` (or of ``members``) signs its stake; the relayer submits them in
    batches, validators first (each with the commitment to a new secret), then the delegators."""
    who = list(range(len(plan.members))) if members is None else list(members)
    validators = [i for i in who if plan.validator_of[i] == i]
    delegators = [i for i in who if plan.validator_of[i] != i]
    intents: list[StakeIntent] = []
    for i in validators:
        s = plan.secrets.setdefault(i, new_secret())
        m = plan.members[i]
        intents.append(staking.sign_stake(m, round_, m.address, commitment(m.address, round_, s)))
    for i in delegators:
        intents.append(staking.sign_stake(plan.members[i], round_, plan.members[plan.validator_of[i]].address))
    return staking.stake_for(relayer, intents)


def relay_reveals(staking: StakingClient, relayer: Signer, plan: Coalitions,
                  withhold: Callable[[int], bool] = lambda i: False) -> list[TxResult]:
    """Reveal the validators' secrets (those ``withhold`` keeps back are excluded and lose their stake)."""
    idx = [i for i in sorted(plan.secrets) if not withhold(i)]
    if not idx:
        return []
    return staking.reveal(relayer, [plan.members[i].address for i in idx], [plan.secrets[i] for i in idx])


def replay_miner(staking: StakingClient, round_: int, attempt: int, excluded: set[str]) -> tuple[str | None, int]:
    """The off-chain replay of the contract's draws from ``attempt`` on (gridledger.games.election):
    the stakes in staking order, the round's seed, validators that revealed and are not in ``excluded``."""
    info = staking.round_info(round_)
    ends, owners = staking.segments(round_)
    weights = [e - (ends[k - 1] if k else 0) for k, e in enumerate(ends)]
    names = sorted(set(owners))
    index = {v: k for k, v in enumerate(names)}
    status: dict[str, ValidatorStatus] = {}  # read only for the validators the draws hit

    def eligible(k: int) -> bool:
        v = names[k]
        if v in excluded:
            return False
        if v not in status:
            status[v] = staking.validator_info(round_, v).status
        return status[v] in (ValidatorStatus.REVEALED, ValidatorStatus.SLASHED)

    winner, nxt = seeded_election(weights, [index[o] for o in owners], eligible, info.seed, attempt,
                                  eligible_stake=info.eligible)
    return (names[winner] if winner is not None else None), nxt


def check_replay(staking: StakingClient, round_: int, attempt: int, excluded: set[str]) -> int:
    """Raise :class:`ElectionMismatch` unless the chain's miner and draw count match the replay; returns
    the next attempt."""
    info = staking.round_info(round_)
    miner, nxt = replay_miner(staking, round_, attempt, excluded)
    chain_miner = info.miner
    if miner != chain_miner or (miner is not None and nxt != info.attempts):
        raise ElectionMismatch(f"round {round_}: the chain elected {chain_miner} in {info.attempts} draws, "
                               f"the replay {miner} in {nxt}")
    return nxt


def split_exactly(total: int, weights: Sequence[float]) -> list[int]:
    """Integers proportional to ``weights`` (>= 0) that add up to ``total`` exactly (largest remainder)."""
    w = [max(float(x), 0.0) for x in weights]
    s = sum(w)
    if total <= 0 or s <= 0:
        return [0] * len(w)
    iw = [round(x / s * 2**52) for x in w]  # integer weights: the split itself is exact integer arithmetic
    total_w = sum(iw)
    out = [total * x // total_w for x in iw]
    rem = [total * x % total_w for x in iw]
    for k in sorted(range(len(w)), key=lambda k: (rem[k], iw[k]), reverse=True)[:total - sum(out)]:
        out[k] += 1
    return out
