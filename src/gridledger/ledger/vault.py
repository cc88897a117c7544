"""An encrypted file of random keys for a chain's funded, privileged and scenario accounts.

One file per data directory (``<data dir>/vault/accounts.json``) holds every key that
gridledger creates for itself: the embedded chain's funded genesis accounts (role ``funder``),
the market's administrator, guardian and edge servers, and the accounts of scenario members
(prosumers, retailers, meters, EVs...). Each key comes from the OS's CSPRNG
(:func:`secrets.token_bytes`), never from a label or a simulation seed.

Encryption follows Web3 Secret Storage (the format of Geth's keystore files), with one scrypt
derivation per file instead of one per key, so that a scenario with 1,000 members unlocks in
one KDF call: derived = scrypt(password, salt, n, r=8, p=1, dklen=32); each key is encrypted
with AES-128-CTR under derived[:16] and its own random IV; mac = keccak(derived[16:32] ||
ciphertext). Addresses, roles and chain ids are stored in clear (as Geth stores addresses), so
that listing needs no password; a key is checked against its address when decrypted.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from gridledger.errors import ConfigError
from gridledger.ledger.chain import LocalSigner
from gridledger.ledger.keystore import KeystoreError

SCRYPT_N = 2**18
"""scrypt cost of a new vault (Geth's and eth-account's standard: about 1 s and 256 MiB)."""
SCRYPT_R = 8
SCRYPT_P = 1
_ROLE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
MAX_ACCOUNTS_PER_CALL = 100_000


@dataclass(frozen=True)
class VaultEntry:
    """One key of the vault, without the key: which chain, which role, which index, which address."""

    chain_id: int
    role: str
    index: int
    address: str


def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    from Crypto.Cipher import AES
    from Crypto.Util import Counter

    counter = Counter.new(128, initial_value=int.from_bytes(iv, "big"))
    return AES.new(key, AES.MODE_CTR, counter=counter).encrypt(data)


class KeyVault:
    """Random keys grouped by (chain id, role, index), encrypted with one password.

    Parameters
    ----------
    path
        The vault file (created on the first new key; mode 0600, its directory 0700).
    password
        Encrypts every key; see :func:`gridledger.ledger.accounts.vault_password` for where it
        comes from.
    scrypt_n
        scrypt cost for a new file (an existing file keeps its own).
    """

    def __init__(self, path: str | Path, password: str, scrypt_n: int = SCRYPT_N) -> None:
        if not password:
            raise ConfigError("password", "the key vault needs a non-empty password")
        self.path = Path(path)
        self._password = password.encode()
        self._scrypt_n = scrypt_n
        self._derived: tuple[str, bytes] | None = None  # (salt hex, derived key)
        self._cache: dict[tuple[int, str, int], LocalSigner] = {}

    # -- file
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("kind") != "gridledger-key-vault" or data.get("version") != 1:
                raise ValueError("not a gridledger key vault (version 1)")
            return data
        except (OSError, ValueError) as exc:
            raise KeystoreError(f"{self.path}: unreadable key vault ({exc})") from None

    def _write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def _new_file(self) -> dict[str, Any]:
        salt = secrets.token_bytes(16)
        return {"kind": "gridledger-key-vault", "version": 1, "cipher": "aes-128-ctr", "kdf": "scrypt",
                "kdfparams": {"n": self._scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "dklen": 32, "salt": salt.hex()},
                "check": "", "accounts": []}

    def _key(self, data: dict[str, Any]) -> bytes:
        """The derived key for ``data`` (one scrypt call per vault object); checks the password."""
        params = data["kdfparams"]
        if self._derived is None or self._derived[0] != params["salt"]:
            n = int(params["n"])
            derived = hashlib.scrypt(self._password, salt=bytes.fromhex(params["salt"]), n=n, r=int(params["r"]),
                                     p=int(params["p"]), maxmem=128 * n * int(params["r"]) + 2**24, dklen=32)
            check = keccak(derived[16:32] + b"gridledger-key-vault").hex()
            if not data["check"]:
                data["check"] = check
            elif not hmac.compare_digest(check, data["check"]):
                raise KeystoreError(f"wrong password for the key vault {self.path}")
            self._derived = (params["salt"], derived)
        return self._derived[1]

    # -- keys
    def _decrypt(self, derived: bytes, e: dict[str, Any]) -> LocalSigner:
        ciphertext = bytes.fromhex(e["ciphertext"])
        if not hmac.compare_digest(keccak(derived[16:32] + ciphertext).hex(), e["mac"]):
            raise KeystoreError(f"{self.path}: key of {e['address']} fails its MAC (wrong password or a damaged file)")
        signer = LocalSigner(Account.from_key(_aes_ctr(derived[:16], bytes.fromhex(e["iv"]), ciphertext)))
        if signer.address != to_checksum_address(e["address"]):
            raise KeystoreError(f"{self.path}: key does not match its address {e['address']}")
        return signer

    def _encrypt(self, derived: bytes, chain_id: int, role: str, index: int) -> tuple[dict[str, Any], LocalSigner]:
        key = secrets.token_bytes(32)
        signer = LocalSigner(Account.from_key(key))
        iv = secrets.token_bytes(16)
        ciphertext = _aes_ctr(derived[:16], iv, key)
        entry = {"chain_id": chain_id, "role": role, "index": index, "address": signer.address, "iv": iv.hex(),
                 "ciphertext": ciphertext.hex(), "mac": keccak(derived[16:32] + ciphertext).hex()}
        return entry, signer

    def signers(self, chain_id: int, role: str, n: int, create: bool = True) -> list[LocalSigner]:
        """Accounts 0..n-1 of ``role`` on chain ``chain_id``; missing ones get fresh random keys
        (or, with ``create=False``, raise :class:`KeystoreError`)."""
        if not _ROLE.match(role):
            raise ConfigError("role", "must be 1-32 lowercase letters, digits or '-', starting with a letter")
        if not 0 <= n <= MAX_ACCOUNTS_PER_CALL:
            raise ConfigError("n", f"must be in [0, {MAX_ACCOUNTS_PER_CALL}]")
        wanted = [(int(chain_id), role, i) for i in range(n)]
        if all(w in self._cache for w in wanted):
            return [self._cache[w] for w in wanted]
        with self._locked():
            data = self._read()
            if data is None:
                if not create:
                    raise KeystoreError(f"no key vault at {self.path}")
                data = self._new_file()
            derived = self._key(data)
            by_id = {(int(e["chain_id"]), e["role"], int(e["index"])): e for e in data["accounts"]}
            changed = not self.path.exists()
            for w in wanted:
                if w in self._cache:
                    continue
                e = by_id.get(w)
                if e is not None:
                    self._cache[w] = self._decrypt(derived, e)
                elif not create:
                    raise KeystoreError(f"{self.path} holds no key for {role} {w[2]} of chain {chain_id}")
                else:
                    entry, signer = self._encrypt(derived, *w)
                    data["accounts"].append(entry)
                    self._cache[w] = signer
                    changed = True
            if changed:
                self._write(data)
        return [self._cache[w] for w in wanted]

    def entries(self, chain_id: int | None = None) -> list[VaultEntry]:
        """What the vault holds (no password needed; keys stay encrypted)."""
        data = self._read()
        if data is None:
            return []
        out = [VaultEntry(int(e["chain_id"]), e["role"], int(e["index"]), to_checksum_address(e["address"]))
               for e in data["accounts"]]
        return [e for e in out if chain_id is None or e.chain_id == chain_id]

    def find(self, address: str, chain_id: int | None = None) -> LocalSigner | None:
        """The signer holding ``address`` (decrypted), or None if the vault has no such key."""
        target = to_checksum_address(address)
        for e in self.entries(chain_id):
            if e.address == target:
                return self.signers(e.chain_id, e.role, e.index + 1, create=False)[e.index]
        return None
