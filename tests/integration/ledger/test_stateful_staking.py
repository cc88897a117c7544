"""Stateful property test: any sequence of valid and invalid staking and settlement operations
keeps the books.

Invariants after every step:
- EPOS: supply = credited - slashed; supply = members' balances + the staking contract's; the
  staking contract holds exactly the sum of the recorded stakes;
- UPOS: supply = rewards paid;
- V2VSettlement: its coin balance = held profits + miners' fee credit; held >= owed for every EV;
- a refused operation changes nothing.
"""

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gridledger.ledger.chain import EmbeddedChain, derived_signer
from gridledger.ledger.clients import Phase, StakingClient, UPOSClient, V2VSettlementClient, seed_commitment
from gridledger.ledger.errors import ContractRevert

from .conftest import ETHER

pytestmark = pytest.mark.integration

N = 4
E = 10**18
MILLI = 10**15
SEED = bytes(range(32))

member = st.integers(0, N - 1)
amount = st.sampled_from([0, E // 2, E, 3 * E])


class StakingMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.chain = EmbeddedChain(None)
        self.op = self.chain.dev_signers()[0]
        self.m = [derived_signer("stateful-staking", i) for i in range(N)]
        for s in self.m:
            self.chain.send_value(self.op, s.address, 100 * ETHER)
        upos, _ = self.chain.deploy("UPOS", self.op, self.op.address)
        staking, _ = self.chain.deploy("ProofStaking", self.op, self.op.address, upos, 5_000, "PoSOC")
        UPOSClient(self.chain, upos).grant_minter(self.op, staking)
        settle, _ = self.chain.deploy("V2VSettlement", self.op, self.op.address, staking, 2_000)
        self.st = StakingClient(self.chain, staking)
        self.settlement = V2VSettlementClient(self.chain, settle)
        assert self.st.upos is not None
        self.upos = self.st.upos
        self.credited = 0
        self.burned = 0
        self.rewards = 0
        self.stakes: dict[tuple[int, str], int] = {}
        self.state = self.snapshot()

    def teardown(self):
        self.chain.close()

    def snapshot(self):
        st, s = self.st, self.settlement
        r = st.current_round()
        addrs = [x.address for x in self.m]
        return (r, st.round_info(r) if r else None, st.epos.total_supply(),
                tuple(st.epos.balance_of(a) for a in addrs), st.epos.balance_of(st.address),
                self.upos.total_supply(), tuple(self.upos.balance_of(a) for a in addrs),
                self.chain.balance(s.address), tuple(s.held(a) for a in addrs), tuple(s.owed(a) for a in addrs),
                tuple(s.miner_credit(a) for a in addrs), tuple(s.subscribed(a) for a in addrs))

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

    # -- staking
    @rule()
    def open_round(self):
        self.attempt(self.st.open_round, self.op, seed_commitment(SEED))

    @rule(scores=st.lists(st.sampled_from([0, E, 2 * E]), min_size=N, max_size=N),
          delegate=st.lists(st.booleans(), min_size=N, max_size=N), refuse=st.booleans(), reward=amount,
          profits=st.lists(st.sampled_from([0, MILLI, 7 * MILLI]), min_size=N, max_size=N))
    def full_round(self, scores, delegate, refuse, reward, profits):
        """A valid round (so that the random rules below meet rounds in every phase): close
        any open round, open, credit everyone, stake (member 0 validates; others delegate to it
        or validate), elect, maybe slash and re-elect, pay the miner or close."""
        r = self.st.current_round()
        if r and self.st.round_info(r).phase != Phase.CLOSED:
            assert self.attempt(self.st.close_round, self.op) is not None
        assert self.attempt(self.st.open_round, self.op, seed_commitment(SEED)) is not None
        assert self.attempt(self.st.credit, self.op, [x.address for x in self.m], scores) is not None
        self.credited += sum(scores)
        r = self.st.current_round()
        for i, x in enumerate(self.m):
            v = self.m[0] if (i == 0 or delegate[i]) else x
            assert self.attempt(self.st.stake, x, v.address, scores[i]) is not None
            self.stakes[(r, x.address)] = scores[i]
        if self.attempt(self.st.elect, self.op, SEED) is None:
            return  # nobody staked anything: the round stays open
        if refuse:
            self.slash()
            if self.attempt(self.st.elect, self.op, SEED) is None:
                return
        miner = self.st.round_info(r).miner
        if reward:
            self.pay_reward(next(i for i, x in enumerate(self.m) if x.address == miner), reward)
        self.subscribe_all()
        assert self.attempt(self.settlement.settle, self.op, r, [x.address for x in self.m], profits) is not None

    @rule(who=st.lists(member, min_size=1, max_size=N), scores=st.lists(amount, min_size=N, max_size=N))
    def credit(self, who, scores):
        res = self.attempt(self.st.credit, self.op, [self.m[i].address for i in who], scores[:len(who)])
        if res is not None:
            self.credited += sum(scores[:len(who)])

    @rule(i=member, v=member, a=amount)
    def stake(self, i, v, a):
        r = self.st.current_round()
        if self.attempt(self.st.stake, self.m[i], self.m[v].address, a) is not None:
            key = (r, self.m[i].address)
            self.stakes[key] = self.stakes.get(key, 0) + a

    @rule(right=st.booleans())
    def elect(self, right):
        self.attempt(self.st.elect, self.op, SEED if right else bytes(32))

    @rule()
    def slash(self):
        r = self.st.current_round()
        miner = self.st.round_info(r).miner if r else None
        res = self.attempt(self.st.slash, self.op)
        if res is not None:
            self.burned += int(res.event("MinerSlashed").args["burned"])
            for b in self.st.backers(r, miner):
                self.stakes[(r, b)] = self.st.stake_of(r, b)

    @rule(i=member, a=amount)
    def pay_reward(self, i, a):
        if self.attempt(self.st.pay_reward, self.op, [self.m[i].address], [a]) is not None:
            self.rewards += a

    @rule()
    def close_round(self):
        self.attempt(self.st.close_round, self.op)

    @rule(i=member, back=st.integers(0, 2))
    def unstake(self, i, back):
        r = max(self.st.current_round() - back, 0)
        if self.attempt(self.st.unstake, self.m[i], r) is not None:
            self.stakes[(r, self.m[i].address)] = 0

    # -- settlement
    @rule()
    def subscribe_all(self):
        for x in self.m:
            self.attempt(self.settlement.subscribe, x, 2_000)

    @rule(i=member, right=st.booleans())
    def subscribe(self, i, right):
        self.attempt(self.settlement.subscribe, self.m[i], 2_000 if right else 1_999)

    @rule(who=st.lists(member, min_size=1, max_size=N, unique=True),
          profits=st.lists(st.sampled_from([0, MILLI, 7 * MILLI]), min_size=N, max_size=N),
          honest_value=st.booleans())
    def settle(self, who, profits, honest_value):
        r = self.st.current_round()
        p = profits[:len(who)]
        self.attempt(self.settlement._send, self.op, "settle", r, [self.m[i].address for i in who], p,
                     value=sum(p) if honest_value else sum(p) + 1, gas=2_000_000)

    @rule(i=member, from_profit=st.booleans())
    def pay_fees(self, i, from_profit):
        if from_profit:
            self.attempt(self.settlement.pay_fees_from_profit, self.m[i])
        else:
            self.attempt(self.settlement.pay_fees, self.m[i])

    @rule(i=member)
    def withdraw_profit(self, i):
        self.attempt(self.settlement.withdraw_profit, self.m[i])

    @rule(i=member)
    def withdraw_fees(self, i):
        self.attempt(self.settlement.withdraw_fees, self.m[i])

    # -- invariants
    @invariant()
    def epos_books(self):
        (_, info, supply, balances, held_by_contract, upos_supply, _, coin, held, owed, credit, _) = self.state
        assert supply == self.credited - self.burned
        assert supply == sum(balances) + held_by_contract
        assert held_by_contract == sum(self.stakes.values())
        assert upos_supply == self.rewards
        assert coin == sum(held) + sum(credit)
        assert all(h >= o for h, o in zip(held, owed, strict=True))
        if info is not None and info.phase == Phase.ELECTED:
            assert info.miner is not None


TestStakingAndSettlement = StakingMachine.TestCase
TestStakingAndSettlement.settings = settings(max_examples=6, stateful_step_count=25, deadline=None,
                                             suppress_health_check=[HealthCheck.too_slow])
