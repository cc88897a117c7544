"""Stateful property test: any sequence of valid and invalid ETSC operations keeps the books.

Invariants after every step: elecoins are conserved (balances of every account that ever held
any, plus the reserve, equal the supply); total available power equals the sum of the users'
and equals generated minus consumed; a refused operation changes nothing; trade succeeds exactly
when checkQualification says so.
"""

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from gridledger.ledger.chain import EmbeddedChain, derived_signer
from gridledger.ledger.clients import Qualification
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.units import elecoins_to_units

from .conftest import ETHER, PRICE_WEI, Q_UNITS

pytestmark = pytest.mark.integration

N_USERS = 5


class ETSCMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.chain = EmbeddedChain(None)
        dev = self.chain.dev_signers()
        self.admin, self.server = dev[0], dev[1]
        self.users = [derived_signer("stateful", i) for i in range(N_USERS)]
        self.meters = [derived_signer("stateful-meter", i) for i in range(N_USERS)]
        for s in (*self.users, *self.meters):
            self.chain.send_value(self.admin, s.address, 100 * ETHER)
        from gridledger.ledger.clients import ETSCClient

        address, _ = self.chain.deploy("ETSC", self.admin, self.admin.address, elecoins_to_units(1000), Q_UNITS,
                                       [self.server.address])
        self.etsc = ETSCClient(self.chain, address)
        # Only users and the server can ever hold elecoins, power or proceeds.
        self.holders = [self.server, *self.users]
        self.state = self.snapshot()

    def teardown(self):
        self.chain.close()

    def snapshot(self):
        e = self.etsc
        return (e.totals(), tuple(e.account(s.address) for s in self.holders))

    def attempt(self, fn, *args, **kwargs):
        before = self.state
        try:
            fn(*args, **kwargs)
            ok = True
        except ContractRevert:
            ok = False
        self.state = self.snapshot()
        if not ok:
            assert self.state == before, "a refused operation changed the state"
        return ok

    @rule(i=st.integers(0, N_USERS - 1), gen=st.booleans(), trans=st.booleans())
    def empower(self, i, gen, trans):
        self.attempt(self.etsc.empower, self.admin, f"user {i}", self.users[i].address, gen, trans)

    @rule(i=st.integers(0, N_USERS - 1), gen=st.booleans(), trans=st.booleans(), as_admin=st.booleans())
    def set_rights(self, i, gen, trans, as_admin):
        caller = self.admin if as_admin else self.users[i]
        self.attempt(self.etsc.set_rights, caller, self.users[i].address, gen, trans)

    @rule(i=st.integers(0, N_USERS - 1))
    def register_meter(self, i):
        self.attempt(self.etsc.register_meter, self.admin, self.meters[i].address, self.users[i].address)

    @rule(i=st.integers(0, N_USERS - 1), wh=st.integers(0, 5_000))
    def generation(self, i, wh):
        self.attempt(self.etsc.generation, self.meters[i], wh)

    @rule(i=st.integers(0, N_USERS - 1), wh=st.integers(0, 5_000))
    def consumption(self, i, wh):
        self.attempt(self.etsc.consumption, self.meters[i], wh)

    @rule(price=st.integers(0, 3), by_server=st.booleans())
    def declare_price(self, price, by_server):
        self.attempt(self.etsc.declare_price, self.server if by_server else self.users[0], price * PRICE_WEI)

    @rule(i=st.integers(0, N_USERS - 1), elecoins=st.integers(0, 400), exact=st.booleans())
    def buy(self, i, elecoins, exact):
        amount = elecoins * 10**17
        quote = self.etsc.quote(self.server.address, self.users[i].address, amount)
        self.attempt(self.etsc.buy_token, self.users[i], self.server.address, amount,
                     value=quote if exact else quote + 1)

    @rule(i=st.integers(0, N_USERS - 1), j=st.integers(0, N_USERS - 1), wh=st.integers(0, 8_000))
    def trade(self, i, j, wh):
        qual = self.etsc.check_qualification(self.users[i].address, self.users[j].address, wh)
        ok = self.attempt(self.etsc.trade, self.users[i], self.users[j].address, wh)
        assert ok == (qual is Qualification.QUALIFIED), qual

    @rule(i=st.integers(0, N_USERS - 1), j=st.integers(0, N_USERS - 1), elecoins=st.integers(0, 50))
    def transfer(self, i, j, elecoins):
        self.attempt(self.etsc.elecoin.transfer, self.users[i], self.users[j].address, elecoins * 10**17)

    @rule(by_server=st.booleans())
    def withdraw(self, by_server):
        self.attempt(self.etsc.withdraw_proceeds, self.server if by_server else self.admin)

    @invariant()
    def books_balance(self):
        t, accounts = self.state
        held = sum(a.elecoins for a in accounts)
        assert held + t.elecoin_reserve == t.elecoin_supply == elecoins_to_units(1000)
        avail = sum(a.avail_power_wh for a in accounts)
        assert t.avail_power_wh == avail == t.gen_power_wh - t.use_power_wh


ETSCMachine.TestCase.settings = settings(max_examples=12, stateful_step_count=25, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestETSCStateful = ETSCMachine.TestCase
