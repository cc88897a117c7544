"""Stateful property test: any sequence of valid and invalid ETSC operations keeps the books.

Invariants after every step (docs/ledger.md, "Conservation"):

- elecoins: reserve + the balances of every account that ever held any = supply (= the
  constructor's totalElecoins, never minted again); supply - reserve = bought - redeemed;
- the reserve covers every allocation (allocated <= reserve); no server sells beyond its own;
- native coin held by the ETSC = redemption backing + proceeds owed to the servers, and the
  backing pays every circulating elecoin at the redemption price;
- power: total available = the sum of the users' = generated - consumed; no meter's reports in
  a slot exceed its rating x the slot;
- a refused operation changes nothing; trade succeeds exactly when checkQualification says so.
"""

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gridledger.ledger.chain import EmbeddedChain, derived_signer
from gridledger.ledger.clients import ETSCClient, Qualification
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.keys import random_signer
from gridledger.ledger.units import elecoins_to_units

from .conftest import PRICE_WEI, REDEMPTION_WEI, fund_all, market_config

pytestmark = pytest.mark.integration

N_USERS = 5
SUPPLY = elecoins_to_units(1000)
RATED_W = 4_000  # 4 kWh per one-hour slot


class ETSCMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.chain = EmbeddedChain(None)
        self.admin, self.server, self.server2, self.guardian = (random_signer() for _ in range(4))
        self.users = [derived_signer("stateful", i) for i in range(N_USERS)]
        self.meters = [derived_signer("stateful-meter", i) for i in range(N_USERS)]
        fund_all(self.chain, [self.admin, self.server, self.server2, self.guardian, *self.users, *self.meters])
        self.etsc = ETSCClient.deploy(self.chain, self.admin,
                                      market_config(self.admin, self.guardian, total_elecoins=SUPPLY))
        self.etsc.add_edge_server(self.admin, self.server.address, SUPPLY // 2)
        self.etsc.add_edge_server(self.admin, self.server2.address, SUPPLY // 4)
        self.servers = [self.server, self.server2]
        # Only users and the servers can ever hold elecoins, power or proceeds.
        self.holders = [self.server, self.server2, *self.users]
        self.bought = 0
        self.redeemed = 0
        self.state = self.snapshot()

    def teardown(self):
        self.chain.close()

    def snapshot(self):
        e = self.etsc
        return (e.totals(), tuple(e.account(s.address) for s in self.holders),
                tuple(e.allocation(s.address) for s in self.servers), self.chain.balance(e.address),
                tuple(e.meter_info(mt.address) for mt in self.meters), e.paused())

    def attempt(self, fn, *args, **kwargs):
        before = self.state
        try:
            res = fn(*args, **kwargs)
        except ContractRevert:
            res = None
        self.state = self.snapshot()
        if res is None:
            assert self.state == before, "a refused operation changed the state"
        return res

    @rule(i=st.integers(0, N_USERS - 1), gen=st.booleans(), trans=st.booleans())
    def empower(self, i, gen, trans):
        self.attempt(self.etsc.empower, self.admin, f"user {i}", self.users[i].address, gen, trans)

    @rule(i=st.integers(0, N_USERS - 1), gen=st.booleans(), trans=st.booleans(), as_admin=st.booleans())
    def set_rights(self, i, gen, trans, as_admin):
        caller = self.admin if as_admin else self.users[i]
        self.attempt(self.etsc.set_rights, caller, self.users[i].address, gen, trans)

    @rule(i=st.integers(0, N_USERS - 1))
    def register_meter(self, i):
        self.attempt(self.etsc.register_meter, self.admin, self.meters[i].address, self.users[i].address, RATED_W)

    @rule(i=st.integers(0, N_USERS - 1))
    def revoke_meter(self, i):
        self.attempt(self.etsc.revoke_meter, self.admin, self.meters[i].address)

    @rule()
    def next_slot(self):
        self.chain.advance_time(3600)
        self.state = self.snapshot()

    @rule(by_guardian=st.booleans())
    def pause_or_unpause(self, by_guardian):
        if self.etsc.paused():
            self.attempt(self.etsc.unpause, self.guardian if by_guardian else self.admin)
        else:
            self.attempt(self.etsc.pause, self.guardian if by_guardian else self.admin)

    @rule(k=st.integers(0, 1), elecoins=st.integers(0, 800))
    def set_allocation(self, k, elecoins):
        self.attempt(self.etsc.set_allocation, self.admin, self.servers[k].address, elecoins * 10**18)

    @rule(i=st.integers(0, N_USERS - 1), elecoins=st.integers(0, 30))
    def redeem(self, i, elecoins):
        res = self.attempt(self.etsc.redeem, self.users[i], elecoins * 10**17)
        if res is not None:
            self.redeemed += res.event("Redeemed").args["amount"]

    @rule(i=st.integers(0, N_USERS - 1), wh=st.integers(0, 5_000) | st.just(2**256 - 1))
    def generation(self, i, wh):
        self.attempt(self.etsc.generation, self.meters[i], wh)

    @rule(i=st.integers(0, N_USERS - 1), wh=st.integers(0, 5_000))
    def consumption(self, i, wh):
        self.attempt(self.etsc.consumption, self.meters[i], wh)

    @rule(k=st.integers(0, 1), price=st.integers(0, 3), by_server=st.booleans())
    def declare_price(self, k, price, by_server):
        self.attempt(self.etsc.declare_price, self.servers[k] if by_server else self.users[0], price * PRICE_WEI)

    @rule(k=st.integers(0, 1), i=st.integers(0, N_USERS - 1), elecoins=st.integers(0, 400), exact=st.booleans())
    def buy(self, k, i, elecoins, exact):
        amount = elecoins * 10**17
        server = self.servers[k].address
        quote = self.etsc.quote(server, self.users[i].address, amount)
        res = self.attempt(self.etsc.buy_token, self.users[i], server, amount, value=quote if exact else quote + 1)
        if res is not None:
            self.bought += amount

    @rule(i=st.integers(0, N_USERS - 1), j=st.integers(0, N_USERS - 1), wh=st.integers(0, 8_000))
    def trade(self, i, j, wh):
        qual = self.etsc.check_qualification(self.users[i].address, self.users[j].address, wh)
        ok = self.attempt(self.etsc.trade, self.users[i], self.users[j].address, wh) is not None
        paused = self.state[-1]
        assert ok == (qual is Qualification.QUALIFIED and not paused), qual

    @rule(i=st.integers(0, N_USERS - 1), j=st.integers(0, N_USERS - 1), elecoins=st.integers(0, 50))
    def transfer(self, i, j, elecoins):
        self.attempt(self.etsc.elecoin.transfer, self.users[i], self.users[j].address, elecoins * 10**17)

    @rule(k=st.integers(0, 1), by_server=st.booleans())
    def withdraw(self, k, by_server):
        self.attempt(self.etsc.withdraw_proceeds, self.servers[k] if by_server else self.admin)

    @invariant()
    def books_balance(self):
        t, accounts, allocations, native, meters, _ = self.state
        held = sum(a.elecoins for a in accounts)
        assert held + t.elecoin_reserve == t.elecoin_supply == SUPPLY
        assert t.elecoin_supply - t.elecoin_reserve == self.bought - self.redeemed
        assert t.elecoins_redeemed == self.redeemed
        assert sum(allocations) == t.elecoin_allocated <= t.elecoin_reserve
        assert native == t.redemption_backing_wei + t.proceeds_owed_wei
        assert sum(a.proceeds_wei for a in accounts) == t.proceeds_owed_wei
        assert t.redemption_backing_wei * 10**18 >= (t.elecoin_supply - t.elecoin_reserve) * REDEMPTION_WEI
        avail = sum(a.avail_power_wh for a in accounts)
        assert t.avail_power_wh == avail == t.gen_power_wh - t.use_power_wh
        assert all(m.reported_wh <= RATED_W for m in meters)


ETSCMachine.TestCase.settings = settings(max_examples=8, stateful_step_count=25, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestETSCStateful = ETSCMachine.TestCase
