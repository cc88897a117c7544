"""Building ProofStaking and V2VSettlement situations for tests (integration and security).

Small windows (blocks) keep the deadlines cheap to pass: the tests mine empty blocks. Members
are fresh random keys (the OS's CSPRNG); the operator, administrator and guardian are separate
accounts. A test that needs a given miner builds the situation (a single eligible validator)
instead of relying on a random draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gridledger.ledger import rounds
from gridledger.ledger.chain import Chain, Signer
from gridledger.ledger.clients import StakingClient, TxResult, V2VSettlementClient
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.keys import random_signer

E = 10**18  # one EPOS / UPOS
MILLI = 10**15
ETHER = 10**18
ZERO = "0x" + "0" * 40
WINDOWS = {"stake": 40, "reveal": 4, "seal": 4, "challenge": 3, "reward": 5}
ADMIN_DELAY = 3600


def funded(chain: Chain, n: int, wei: int = ETHER) -> list[Any]:
    """``n`` fresh random accounts, each funded with ``wei`` by the chain's first account."""
    dev = chain.dev_signers()[0]
    out = [random_signer() for _ in range(n)]
    for s in out:
        chain.send_value(dev, s.address, wei)
    return out


def expect(name: str, fn, *args, **kwargs) -> ContractRevert:
    """``fn(*args)`` is refused with the custom error ``name``."""
    with pytest.raises(ContractRevert) as info:
        fn(*args, **kwargs)
    assert info.value.name == name, info.value
    return info.value


@dataclass
class Staking:
    chain: Chain
    staking: StakingClient
    admin: Signer
    operator: Signer
    guardian: Signer
    members: list[Any]
    stranger: Any
    plan: rounds.Coalitions | None = None
    txs: list[TxResult] = field(default_factory=list)

    @property
    def upos(self):
        return self.staking.upos

    def signer(self, address: str) -> Any:
        return next(m for m in (*self.members, self.stranger) if m.address == address)


def deploy_staking(chain: Chain, members: int = 4, kind: str = "PoEG", reward_token: bool = True,
                   delta_bps: int = 1_000, windows: dict[str, int] | None = None) -> Staking:
    """A fresh ProofStaking: the administrator, operator, guardian, members and a stranger are
    funded random accounts (no role is a well-known development key)."""
    admin, op, guardian, stranger, *ms = funded(chain, 4 + members)
    w = {**WINDOWS, **(windows or {})}
    address, _ = chain.deploy("ProofStaking", admin, admin.address, ADMIN_DELAY, op.address, guardian.address, kind,
                              reward_token, delta_bps, [w["stake"], w["reveal"], w["seal"], w["challenge"],
                                                        w["reward"]])
    return Staking(chain, StakingClient(chain, address), admin, op, guardian, ms, stranger)


def open_round(s: Staking, scores: list[int], savings: list[int] | None = None, members: list[int] | None = None,
               open_staking: bool = True) -> int:
    """Open a round and credit ``scores`` (and ``savings``) to members (all, or ``members``)."""
    st = s.staking
    idx = list(range(len(scores))) if members is None else members
    st.open_round(s.operator)
    st.credit(s.operator, [s.members[i].address for i in idx], scores, savings)
    if open_staking:
        st.open_staking(s.operator)
    return st.current_round()


def stake(s: Staking, validator_of: list[int], members: list[int] | None = None) -> rounds.Coalitions:
    """Relayed, signed stakes: member i stakes with member validator_of[i] (itself: a validator)."""
    st = s.staking
    plan = rounds.Coalitions(s.members[:len(validator_of)], validator_of)
    s.txs.extend(rounds.relay_stakes(st, s.operator, st.current_round(), plan, members))
    s.plan = plan
    return plan


def reveal_and_elect(s: Staking, withhold: tuple[int, ...] = ()) -> str | None:
    """Reveal every validator's secret but ``withhold``'s, wait for the deadline, elect; the miner."""
    st = s.staking
    assert s.plan is not None
    r = st.current_round()
    rounds.wait_until_block(s.chain, st.round_info(r).stake_end)  # staking may close by its deadline
    s.txs.extend(rounds.relay_reveals(st, s.stranger, s.plan, lambda i: i in withhold))
    s.txs.extend(rounds.draw_when_due(s.chain, st, s.stranger))
    return st.round_info(r).miner


def seal(s: Staking, miner: Any, payload: bytes = b"\x07" * 32) -> TxResult:
    st = s.staking
    r = st.current_round()
    return st.seal(s.stranger, payload, st.sign_seal(miner, r, st.block_digest(r, payload)))


def sealed_round(s: Staking, scores: list[int], validator_of: list[int], savings: list[int] | None = None,
                 wait_challenge: bool = True) -> tuple[int, str]:
    """A whole round whose miner seals; returns (round, miner)."""
    r = open_round(s, scores, savings)
    stake(s, validator_of)
    miner = reveal_and_elect(s)
    assert miner is not None
    seal(s, s.signer(miner))
    if wait_challenge:
        rounds.wait_until_block(s.chain, s.staking.round_info(r).challenge_end + 1)
    return r, miner


@dataclass
class Fleet:
    chain: Chain
    s: Staking
    settlement: V2VSettlementClient
    treasury: Any

    @property
    def evs(self) -> list[Any]:
        return self.s.members

    @property
    def operator(self) -> Signer:
        return self.s.operator


def deploy_fleet(chain: Chain, evs: int = 3, beta_bps: int = 1_000, claim_window: int = 50,
                 subscribe: bool = True) -> Fleet:
    """A PoSOC ProofStaking and its V2VSettlement; the EVs subscribe (relayed, signed) unless told not to."""
    s = deploy_staking(chain, members=evs, kind="PoSOC", reward_token=False, delta_bps=0)
    (treasury,) = funded(chain, 1)
    address, _ = chain.deploy("V2VSettlement", s.admin, s.admin.address, ADMIN_DELAY, s.operator.address,
                              s.guardian.address, s.staking.address, beta_bps, claim_window, treasury.address)
    settlement = V2VSettlementClient(chain, address)
    if subscribe:
        settlement.subscribe_for(s.operator, s.members)
    return Fleet(chain, s, settlement, treasury)


def fleet_round(f: Fleet, scores: list[int], seal_it: bool = True) -> tuple[int, str | None]:
    """A closed PoSOC round: the EVs with a score stake on themselves; returns (round, miner)."""
    s = f.s
    stakers = [i for i, x in enumerate(scores) if x > 0]
    r = open_round(s, [scores[i] for i in stakers], members=stakers) if stakers else _empty_round(s)
    if stakers:
        vo = list(range(len(s.members)))
        stake(s, vo, stakers)
    else:
        s.plan = rounds.Coalitions([], [])
    miner = reveal_and_elect(s)
    if miner is not None and seal_it:
        seal(s, s.signer(miner))
        rounds.wait_until_block(s.chain, s.staking.round_info(r).challenge_end + 1)
    else:  # nobody seals: every elected miner is slashed in turn until the round closes
        rounds.finish_round(s.chain, s.staking, s.operator)
    return r, miner


def _empty_round(s: Staking) -> int:
    s.staking.open_round(s.operator)
    s.staking.open_staking(s.operator)
    return s.staking.current_round()
