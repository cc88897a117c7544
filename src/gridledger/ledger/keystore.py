"""Encrypted local keystore (Web3 Secret Storage, as written by Geth and MetaMask exports).

One JSON file per account under ``<data dir>/keystore``; the private key never leaves it
unencrypted and is never logged or printed. :meth:`Keystore.unlock` returns a
:class:`~gridledger.ledger.chain.LocalSigner` for the session.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_utils import to_checksum_address

from gridledger.errors import ConfigError, GridledgerError
from gridledger.ledger.chain import LocalSigner

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
MIN_PASSWORD = 8


class KeystoreError(GridledgerError):
    """Unknown account, wrong password or unreadable keystore file."""


@dataclass(frozen=True)
class KeystoreEntry:
    name: str
    address: str
    path: Path


class Keystore:
    """Accounts encrypted with their owner's password (scrypt by default)."""

    def __init__(self, directory: str | Path, kdf: str = "scrypt", iterations: int | None = None) -> None:
        self.directory = Path(directory)
        self.kdf = kdf
        self.iterations = iterations

    def _entries(self) -> list[KeystoreEntry]:
        if not self.directory.exists():
            return []
        out = []
        for p in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
                out.append(KeystoreEntry(data.get("gridledger_name", ""), to_checksum_address(data["address"]), p))
            except (OSError, ValueError, KeyError) as exc:
                raise KeystoreError(f"{p}: unreadable keystore file ({exc})") from None
        return out

    def list(self) -> list[KeystoreEntry]:
        return self._entries()

    def find(self, name_or_address: str) -> KeystoreEntry:
        key = name_or_address.lower()
        for e in self._entries():
            if e.name.lower() == key or e.address.lower() == key:
                return e
        raise KeystoreError(f"no keystore account named or at {name_or_address!r} in {self.directory}")

    def create(self, name: str, password: str, private_key: bytes | None = None) -> KeystoreEntry:
        """Create (or import) an account, encrypted with ``password``."""
        if not _NAME.match(name):
            raise ConfigError("name", "must be 1-64 letters, digits, spaces, '_', '.' or '-', starting with a "
                              "letter or digit")
        if len(password) < MIN_PASSWORD:
            raise ConfigError("password", f"must have at least {MIN_PASSWORD} characters")
        if any(e.name.lower() == name.lower() for e in self._entries()):
            raise ConfigError("name", f"an account named {name!r} already exists")
        account = Account.from_key(private_key) if private_key is not None else Account.create()
        kwargs = {"kdf": self.kdf}
        if self.iterations is not None:
            kwargs["iterations"] = self.iterations
        data = Account.encrypt(account.key, password, **kwargs)
        data["gridledger_name"] = name
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{account.address.lower()[2:]}.json"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return KeystoreEntry(name, account.address, path)

    def unlock(self, name_or_address: str, password: str) -> LocalSigner:
        entry = self.find(name_or_address)
        data = json.loads(entry.path.read_text(encoding="utf-8"))
        try:
            key = Account.decrypt(data, password)
        except ValueError:
            raise KeystoreError(f"wrong password for {entry.name or entry.address}") from None
        return LocalSigner(Account.from_key(key))
