"""Well-known development keys are recognised; random keys are not, and differ."""

from __future__ import annotations

from eth_account import Account

from gridledger.ledger.keys import is_well_known, random_signer


def test_eth_tester_and_anvil_dev_keys_are_well_known():
    assert is_well_known("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")  # eth-tester key 0x..01
    assert is_well_known(Account.from_key((2).to_bytes(32, "big")).address)
    assert is_well_known("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".lower())  # anvil account 0


def test_random_keys_are_fresh_and_not_well_known():
    a, b = random_signer(), random_signer()
    assert a.address != b.address
    assert not is_well_known(a.address) and not is_well_known(b.address)
