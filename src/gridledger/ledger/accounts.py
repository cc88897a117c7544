"""Accounts for roles and scenario members: random keys in the data directory's key vault.

The API other modules use::

    from gridledger.ledger.accounts import accounts_for
    admins = accounts_for(home, chain, "administrator", 1)     # [LocalSigner]
    evs = accounts_for(home, chain, "ev", 1000, fund_wei=10**19)

``accounts_for(home, chain, role, n)`` returns accounts 0..n-1 of ``role`` on ``chain``: the
same ones on every call (the keys are kept), new random ones the first time. ``fund_wei`` tops
each one up to that balance from the chain's funder. Roles are free names (``administrator``,
``guardian``, ``edge-server``, ``operator``, ``meter``, ``prosumer``, ``retailer``, ``ev``...);
keys are per chain id, so an account never exists on two chains.

Where the password comes from (:func:`vault_password`):

1. ``$GRIDLEDGER_PASSWORD`` when set (unattended use: a service manager's secret, a CI secret);
2. otherwise ``<home>/vault/.password``, a random password created with the vault
   (mode 0600 in a 0700 directory). It protects the keys only as much as the operating system
   protects that file (like an SSH key without a passphrase): fine on a laptop or a demo,
   not for a server that holds real value, which must set ``$GRIDLEDGER_PASSWORD``
   (``password_source(home) == "file"`` tells a caller which case it is).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from gridledger.errors import ConfigError
from gridledger.ledger.chain import Chain, ChainError, LocalSigner, Signer
from gridledger.ledger.vault import KeyVault

PASSWORD_ENV = "GRIDLEDGER_PASSWORD"
PASSWORD_FILE = ".password"
VAULT_FILE = "accounts.json"
MIN_PASSWORD = 8

_VAULTS: dict[tuple[Path, str], KeyVault] = {}


def vault_dir(home: str | Path) -> Path:
    """``<home>/vault``: the key vault and, unless $GRIDLEDGER_PASSWORD is set, its password file
    (apart from ``<home>/keystore``, which holds the web users' own keystore files)."""
    return Path(home) / "vault"


def password_source(home: str | Path) -> Literal["env", "file", "none"]:
    """Where :func:`vault_password` takes the password from: the environment, the file, or
    nowhere yet (the file is created on first use)."""
    if os.environ.get(PASSWORD_ENV):
        return "env"
    return "file" if (vault_dir(home) / PASSWORD_FILE).exists() else "none"


def vault_password(home: str | Path) -> str:
    """``$GRIDLEDGER_PASSWORD``, else the data directory's password file (created if missing)."""
    env = os.environ.get(PASSWORD_ENV)
    if env:
        if len(env) < MIN_PASSWORD:
            raise ConfigError(PASSWORD_ENV, f"must have at least {MIN_PASSWORD} characters")
        return env
    path = vault_dir(home) / PASSWORD_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="utf-8").strip()


def open_vault(home: str | Path, password: str | None = None) -> KeyVault:
    """The key vault of data directory ``home`` (one object per file and password per process,
    so the scrypt derivation runs once)."""
    pw = password if password is not None else vault_password(home)
    path = (vault_dir(home) / VAULT_FILE).resolve()
    key = (path, pw)
    if key not in _VAULTS:
        _VAULTS[key] = KeyVault(path, pw)
    return _VAULTS[key]


def funder(chain: Chain) -> Signer:
    """The account that pays for new accounts: the chain's first funded account (embedded: a
    random genesis key; a dev node: its first unlocked account)."""
    dev = chain.dev_signers()
    if not dev:
        raise ConfigError("account", "the chain has no funded account to pay for new accounts; fund them from a "
                          "keystore account (--account) or give the node unlocked accounts")
    return dev[0]


def fund(chain: Chain, signers: list[LocalSigner] | list[Signer], wei: int, payer: Signer | None = None) -> int:
    """Top every account up to ``wei`` native coin from ``payer`` (default :func:`funder`);
    returns the number of transfers sent."""
    sent = 0
    for s in signers:
        have = chain.balance(s.address)
        if have < wei:
            chain.send_value(payer or funder(chain), s.address, wei - have)
            sent += 1
    return sent


def accounts_for(home: str | Path, chain: Chain, role: str, n: int, *, fund_wei: int = 0,
                 password: str | None = None) -> list[LocalSigner]:
    """Accounts 0..n-1 of ``role`` on ``chain``, their random keys kept in ``home``'s key vault.

    Parameters
    ----------
    home
        The data directory (``--data-dir``); the vault is ``home/vault/accounts.json``.
    chain
        Keys are per chain id: the same role and index on another chain is another account.
    role
        A name such as ``administrator``, ``edge-server``, ``meter``, ``prosumer``, ``ev``.
    n
        How many accounts (indices 0..n-1).
    fund_wei
        If > 0, top each account up to this balance from the chain's funder.
    password
        The vault's password (default :func:`vault_password`).
    """
    signers = open_vault(home, password).signers(chain.chain_id, role, n)
    if fund_wei > 0:
        fund(chain, signers, fund_wei)
    return signers


def signer_in_vault(home: str | Path, chain: Chain, address: str, password: str | None = None) -> LocalSigner:
    """The vault's signer for ``address`` on this chain (e.g. a deployment's administrator)."""
    found = open_vault(home, password).find(address, chain.chain_id)
    if found is None:
        raise ChainError(f"no key for {address} in {vault_dir(home) / VAULT_FILE} for chain {chain.chain_id} "
                         "(was the deployment made from another data directory or a keystore account?)")
    return found
