"""The embedded chain survives a restart and a kill -9 of the process that writes it."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from gridledger.ledger.chain import ChainError, EmbeddedChain, derived_signer
from gridledger.ledger.clients import ETSCClient

from .conftest import make_market

pytestmark = pytest.mark.integration


def test_state_survives_a_clean_restart(tmp_path):
    chain = EmbeddedChain(tmp_path)
    m = make_market(chain)
    m.etsc.trade(m.prosumer, m.retailer.address, 1_000)
    block = chain.block_number()
    before = (m.etsc.totals(), m.etsc.account(m.prosumer.address), m.etsc.account(m.retailer.address))
    address = m.etsc.address
    chain.close()

    again = EmbeddedChain(tmp_path)
    try:
        etsc = ETSCClient(again, address)
        assert again.block_number() == block
        assert (etsc.totals(), etsc.account(m.prosumer.address), etsc.account(m.retailer.address)) == before
        # The reopened chain keeps working, with the same signers and nonces.
        etsc.trade(m.prosumer, m.retailer.address, 1_000)
        assert etsc.account(m.prosumer.address).avail_power_wh == 2_000
        assert again.block_number() == block + 1
    finally:
        again.close()


def test_a_data_dir_is_opened_by_one_process_at_a_time(tmp_path):
    first = EmbeddedChain(tmp_path)
    try:
        with pytest.raises(ChainError, match="in use"):
            EmbeddedChain(tmp_path)
    finally:
        first.close()


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from gridledger.ledger.chain import EmbeddedChain
    from integration.ledger.conftest import make_market
    chain = EmbeddedChain({path!r})
    m = make_market(chain)
    print("ETSC", m.etsc.address, flush=True)
    n = 0
    while True:
        m.etsc.generation(m.meter, 1)
        n += 1
        print("DONE", n, flush=True)
""")


def test_state_survives_kill_9(tmp_path):
    tests_dir = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    script = WRITER.format(tests=tests_dir, path=str(tmp_path / "chain"))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    address, done = None, 0
    deadline = time.time() + 120
    try:
        while done < 40 and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            key, value = line.split()
            if key == "ETSC":
                address = value
            else:
                done = int(value)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert address is not None and done >= 40, "the writer did not get going"

    chain = EmbeddedChain(tmp_path / "chain")
    try:
        etsc = ETSCClient(chain, address)
        generated = etsc.totals().gen_power_wh - 10_000  # make_market generated 10,000 Wh first
        # Every confirmed transaction is there; at most the one in flight is lost or kept.
        assert done <= generated <= done + 1
        assert etsc.totals().avail_power_wh == etsc.totals().gen_power_wh - etsc.totals().use_power_wh
        meter_signer = derived_signer("test", 2)  # make_market's meter
        etsc.generation(meter_signer, 5)
        assert etsc.totals().gen_power_wh == 10_000 + generated + 5
    finally:
        chain.close()
