"""Keys: fresh random keys, and the well-known keys that must never hold a privileged role.

Every development tool ships funded accounts whose private keys are public: eth-tester's
genesis keys are the integers 1..10, anvil and Hardhat derive theirs from the mnemonic
``test test ... junk``. Anybody can sign with them, on every chain. gridledger creates
privileged and scenario accounts with :func:`random_signer` (the OS's CSPRNG) and refuses a
well-known key where it matters (:func:`is_well_known`, ``serve --env prod``).
"""

from __future__ import annotations

import functools
import secrets

from eth_account import Account
from eth_utils import to_checksum_address

from gridledger.ledger.chain import LocalSigner

DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""The mnemonic of anvil's and Hardhat's default accounts (public)."""

WELL_KNOWN_COUNT = 20
"""How many accounts of each well-known source are listed."""


def random_signer() -> LocalSigner:
    """A new account whose key comes from the operating system's CSPRNG (never a simulation seed)."""
    return LocalSigner(Account.from_key(secrets.token_bytes(32)))


@functools.cache
def well_known_addresses() -> frozenset[str]:
    """Checksummed addresses of public development keys (eth-tester 1..N, the anvil/Hardhat mnemonic)."""
    out = {Account.from_key(i.to_bytes(32, "big")).address for i in range(1, WELL_KNOWN_COUNT + 1)}
    Account.enable_unaudited_hdwallet_features()
    for i in range(WELL_KNOWN_COUNT):
        out.add(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").address)
    return frozenset(out)


def is_well_known(address: str) -> bool:
    """True when ``address`` belongs to a development key that anybody can sign with."""
    return to_checksum_address(address) in well_known_addresses()
