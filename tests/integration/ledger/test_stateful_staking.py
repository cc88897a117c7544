"""Stateful property tests: any sequence of valid and invalid operations keeps the books.

ProofStaking (the community's, with UPOS), after every step:
- EPOS: supply = credited in the current round - burned (the round's record) = sum of the members'
  balances; a member's balance is its credited score or nothing (eq. 3.24 burns whole stakes);
- UPOS: supply = rewards paid; in every round, paid <= M_r = sum of delta x saving over the
  credited members (eq. 3.23), which the test recomputes from what it credited;
- a refused operation changes nothing.

V2VSettlement, after every step:
- its coin = totalOwed = held profits + miners' fees over every account = deposits - payouts;
- every fee is beta x profit (floor) when the round's miner sealed it, else 0; nobody is settled
  twice for a round; a refused operation changes nothing.
"""

from __future__ import annotations

import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from staking_protocol import MILLI, E, deploy_fleet, deploy_staking, fleet_round

from gridledger.ledger import rounds
from gridledger.ledger.chain import EmbeddedChain
from gridledger.ledger.clients import Phase, commitment, new_secret
from gridledger.ledger.errors import ContractRevert

pytestmark = pytest.mark.integration

N = 4
DELTA_BPS = 1_000
member = st.integers(0, N - 1)
score = st.sampled_from([0, E // 2, E, 3 * E])
saving = st.sampled_from([0, 7, E, 2 * E + 3])


class StakingBooks(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.chain = EmbeddedChain(None)
        self.s = deploy_staking(self.chain, members=N, delta_bps=DELTA_BPS)
        self.st = self.s.staking
        self.m = self.s.members
        self.credited: dict[int, int] = {}
        self.pool: dict[int, int] = {}
        self.paid: dict[int, int] = {}
        self.scores: dict[tuple[int, int], int] = {}
        self.secrets: dict[tuple[int, int], bytes] = {}
        self.state = self.snapshot()

    def teardown(self):
        self.chain.close()

    def snapshot(self):
        st = self.st
        r = st.current_round()
        addrs = [x.address for x in self.m]
        return (self.chain.block_number(), r, st.round_info(r) if r else None, st.epos.total_supply(),
                tuple(st.epos.balance_of(a) for a in addrs), st.upos.total_supply(),
                tuple(st.upos.balance_of(a) for a in addrs))

    def attempt(self, fn, *args, **kwargs):
        before = self.state
        try:
            result = fn(*args, **kwargs)
        except ContractRevert:
            self.state = self.snapshot()
            assert self.state == before, "a refused operation changed the state"
            return None
        self.state = self.snapshot()
        return result

    @property
    def r(self) -> int:
        return self.st.current_round()

    # -- operator
    @rule()
    def open_round(self):
        if self.attempt(self.st.open_round, self.s.operator) is not None:
            self.credited[self.r] = self.pool[self.r] = self.paid[self.r] = 0

    @rule(who=st.lists(member, min_size=1, max_size=N), scores=st.lists(score, min_size=N, max_size=N),
          savings=st.lists(saving, min_size=N, max_size=N))
    def credit(self, who, scores, savings):
        k = len(who)
        res = self.attempt(self.st.credit, self.s.operator, [self.m[i].address for i in who], scores[:k], savings[:k])
        if res is not None:
            for i, sc in zip(who, scores[:k], strict=True):
                self.scores[(self.r, i)] = sc
            self.credited[self.r] += sum(scores[:k])
            self.pool[self.r] += sum(x * DELTA_BPS // 10_000 for x in savings[:k])

    @rule()
    def open_staking(self):
        self.attempt(self.st.open_staking, self.s.operator)

    @rule(i=member, v=member, relayed=st.booleans())
    def stake(self, i, v, relayed):
        r = self.r
        c = bytes(32)
        if i == v:
            secret = new_secret()
            c = commitment(self.m[i].address, r, secret)
        if relayed:
            intent = self.st.sign_stake(self.m[i], r, self.m[v].address, c)
            ok = self.attempt(self.st.stake_for, self.s.stranger, [intent])
        else:
            ok = self.attempt(self.st.stake, self.m[i], self.m[v].address, c)
        if ok is not None and i == v:
            self.secrets[(r, i)] = secret

    @rule(blocks=st.integers(1, 6))
    def advance(self, blocks):
        self.chain.mine(blocks)
        self.state = self.snapshot()

    @rule(i=member, wrong=st.booleans())
    def reveal(self, i, wrong):
        secret = self.secrets.get((self.r, i), bytes(32))
        self.attempt(self.st.reveal, self.s.stranger, [self.m[i].address], [keccak(secret) if wrong else secret])

    @rule()
    def elect(self):
        self.attempt(self.st.elect, self.s.stranger)

    @rule(by_miner=st.booleans(), payload=st.binary(min_size=32, max_size=32))
    def seal(self, by_miner, payload):
        info = self.st.round_info(self.r) if self.r else None
        if info is None or info.miner is None:
            return
        signer = self.s.signer(info.miner) if by_miner else self.s.stranger
        sig = self.st.sign_seal(signer, self.r, self.st.block_digest(self.r, payload))
        self.attempt(self.st.seal, self.s.stranger, payload, sig)

    @rule()
    def slash(self):
        self.attempt(self.st.slash, self.s.stranger)

    @rule(other=st.binary(min_size=32, max_size=32))
    def challenge(self, other):
        info = self.st.round_info(self.r) if self.r else None
        if info is None or info.miner is None:
            return
        self.attempt(self.st.challenge, self.s.stranger, self.r, other,
                     self.st.sign_seal(self.s.signer(info.miner), self.r, other))

    @rule(i=member, amount=st.sampled_from([0, 1, E // 10, E, 10 * E]), back=st.integers(0, 1))
    def pay_reward(self, i, amount, back):
        r = self.r - back
        if r >= 1 and self.attempt(self.st.pay_reward, self.s.operator, r, [self.m[i].address], [amount]):
            self.paid[r] += amount

    @rule(i=member, back=st.integers(0, 1))
    def claim(self, i, back):
        r = self.r - back
        if r < 1:
            return
        res = self.attempt(self.st.claim_reward, self.m[i], r)
        if res is not None:
            self.paid[r] += int(res.event("RewardShared").args["amount"])

    @rule()
    def whole_round(self):
        """A valid round from wherever the last one stands, so that later phases are reached."""
        self.attempt(rounds.finish_round, self.chain, self.st, self.s.operator)
        self.open_round()
        self.credit(list(range(N)), [E, 2 * E, 0, E], [E, 0, 3 * E, E])
        self.open_staking()
        for i, v in enumerate((0, 0, 2, 2)):
            self.stake(i, v, relayed=bool(i % 2))
        self.chain.mine(1)
        for i in (0, 2):
            self.reveal(i, wrong=False)

    # -- invariants
    @invariant()
    def books(self):
        _, r, info, supply, balances, upos_supply, _ = self.state
        if r == 0:
            assert supply == 0 and upos_supply == 0
            return
        assert info.credited == self.credited[r] and info.fee_pool == self.pool[r]
        assert supply == info.credited - info.slashed == sum(balances)
        for i, b in enumerate(balances):
            assert b in (0, self.scores.get((r, i), 0))
        assert upos_supply == sum(self.paid.values())
        assert info.reward == self.paid[r] <= self.pool[r]
        assert all(paid <= self.pool[k] for k, paid in self.paid.items())
        if info.phase == Phase.ELECTED:
            assert info.miner is not None


class SettlementBooks(RuleBasedStateMachine):
    BETA = 2_000

    def __init__(self):
        super().__init__()
        self.chain = EmbeddedChain(None)
        self.f = deploy_fleet(self.chain, evs=N, beta_bps=self.BETA, claim_window=30)
        self.s = self.f.settlement
        self.accounts = [e.address for e in self.f.evs] + [self.f.treasury.address]
        self.deposited = 0
        self.paid_out = 0
        self.closed: list[tuple[int, str | None]] = []
        self.state = self.snapshot()

    def teardown(self):
        self.chain.close()

    def snapshot(self):
        s = self.s
        return (self.chain.balance(s.address), s.total_owed(), tuple(s.held(a) for a in self.accounts),
                tuple(s.miner_credit(a) for a in self.accounts))

    def attempt(self, fn, *args, **kwargs):
        before = self.state
        try:
            result = fn(*args, **kwargs)
        except ContractRevert:
            self.state = self.snapshot()
            assert self.state == before, "a refused operation changed the state"
            return None
        self.state = self.snapshot()
        return result

    def _paid(self, results) -> None:
        for t in results:
            for e in t.events:
                if e.name == "Withdrawn":
                    self.paid_out += int(e.args["profit"]) + int(e.args["fees"])

    @rule(scores=st.lists(st.sampled_from([0, E]), min_size=N, max_size=N), seal=st.booleans())
    def new_round(self, scores, seal):
        rounds.finish_round(self.chain, self.f.s.staking, self.f.operator)
        r, _ = fleet_round(self.f, scores, seal_it=seal)
        self.closed.append((r, self.f.s.staking.outcome(r)[1]))
        self.state = self.snapshot()

    @precondition(lambda self: self.closed)
    @rule(k=st.integers(0, 3), who=st.lists(member, min_size=1, max_size=N),
          profits=st.lists(st.sampled_from([0, 1, MILLI, 7 * MILLI + 3]), min_size=N, max_size=N),
          honest_value=st.booleans())
    def settle(self, k, who, profits, honest_value):
        r, miner = self.closed[min(k, len(self.closed) - 1)]
        p = profits[:len(who)]
        evs = [self.f.evs[i].address for i in who]
        res = self.attempt(self.s._send, self.f.operator, "settle", r, evs, p,
                           value=sum(p) if honest_value else sum(p) + 1, gas="estimate")
        if res is None:
            return
        skipped = sum(int(e.args["profit"]) for e in res.events if e.name == "SettlementSkipped")
        for e in res.events:
            if e.name == "Settled":
                profit, fee = int(e.args["profit"]), int(e.args["fee"])
                expected = profit * self.BETA // 10_000 if miner is not None and e.args["ev"] != miner else 0
                assert fee == expected and e.args["miner"] == (miner or "0x" + "0" * 40)
        self.deposited += sum(p) - skipped  # an EV listed twice is settled once, the rest refunded

    @rule(i=st.integers(0, N))
    def withdraw(self, i):
        res = self.attempt(self.s.withdraw, self.f.evs[i] if i < N else self.f.treasury)
        if res is not None:
            self._paid([res])

    @rule(who=st.lists(st.integers(0, N), min_size=1, max_size=N + 1))
    def release(self, who):
        res = self.attempt(self.s.release, self.f.s.stranger, [self.accounts[i] for i in who])
        if res is not None:
            self._paid(res)

    @rule(who=st.lists(st.integers(0, N), min_size=1, max_size=N + 1))
    def sweep(self, who):
        self.attempt(self.s.sweep_expired, self.f.s.stranger, [self.accounts[i] for i in who])

    @rule(blocks=st.integers(1, 20))
    def advance(self, blocks):
        self.chain.mine(blocks)
        self.state = self.snapshot()

    @invariant()
    def coin_is_what_is_owed(self):
        coin, owed, held, fees = self.state
        assert coin == owed == sum(held) + sum(fees) == self.deposited - self.paid_out


TestStakingBooks = StakingBooks.TestCase
TestStakingBooks.settings = settings(max_examples=4, stateful_step_count=25, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
TestSettlementBooks = SettlementBooks.TestCase
TestSettlementBooks.settings = settings(max_examples=4, stateful_step_count=15, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
