"""The key vault: random keys per (chain, role, index), encrypted, kept, listed without a password."""

from __future__ import annotations

import json
import os

import pytest

from gridledger.errors import ConfigError
from gridledger.ledger.accounts import PASSWORD_ENV, password_source, vault_password
from gridledger.ledger.keys import is_well_known
from gridledger.ledger.keystore import KeystoreError
from gridledger.ledger.vault import KeyVault

N = 2**10  # a cheap scrypt for unit tests (the default is 2**18)


def test_keys_are_random_kept_and_per_chain(tmp_path):
    v = KeyVault(tmp_path / "v.json", "a password", scrypt_n=N)
    a = v.signers(7, "prosumer", 3)
    assert len({s.address for s in a}) == 3 and not any(is_well_known(s.address) for s in a)
    again = KeyVault(tmp_path / "v.json", "a password", scrypt_n=N).signers(7, "prosumer", 4)
    assert [s.address for s in again[:3]] == [s.address for s in a]  # kept
    other_chain = v.signers(8, "prosumer", 1)[0]
    assert other_chain.address not in {s.address for s in again}
    entries = KeyVault(tmp_path / "v.json", "not needed to list", scrypt_n=N).entries(7)
    assert [(e.role, e.index) for e in entries] == [("prosumer", i) for i in range(4)]
    assert v.find(a[1].address).address == a[1].address and v.find("0x" + "12" * 20) is None


def test_file_is_encrypted_private_and_checked(tmp_path):
    path = tmp_path / "v.json"
    s = KeyVault(path, "a password", scrypt_n=N).signers(1, "administrator", 1)[0]
    text = path.read_text()
    assert s.account.key.hex().removeprefix("0x") not in text
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(KeystoreError, match="wrong password"):
        KeyVault(path, "another password", scrypt_n=N).signers(1, "administrator", 1)
    with pytest.raises(KeystoreError, match="holds no key"):
        KeyVault(path, "a password", scrypt_n=N).signers(1, "guardian", 1, create=False)
    data = json.loads(text)
    data["accounts"][0]["ciphertext"] = "00" * 32
    path.write_text(json.dumps(data))
    with pytest.raises(KeystoreError, match="MAC"):
        KeyVault(path, "a password", scrypt_n=N).signers(1, "administrator", 1)


@pytest.mark.parametrize(("role", "n"), [("Admin", 1), ("", 1), ("a/b", 1), ("ok", -1)])
def test_bad_role_or_count_is_refused(tmp_path, role, n):
    with pytest.raises(ConfigError):
        KeyVault(tmp_path / "v.json", "a password", scrypt_n=N).signers(1, role, n)
    assert not (tmp_path / "v.json").exists()


def test_password_from_the_environment_or_a_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert password_source(tmp_path) == "none"
    pw = vault_password(tmp_path)
    assert len(pw) >= 32 and vault_password(tmp_path) == pw and password_source(tmp_path) == "file"
    assert os.stat(tmp_path / "vault" / ".password").st_mode & 0o077 == 0
    monkeypatch.setenv(PASSWORD_ENV, "from the environment")
    assert vault_password(tmp_path) == "from the environment" and password_source(tmp_path) == "env"
    monkeypatch.setenv(PASSWORD_ENV, "short")
    with pytest.raises(ConfigError):
        vault_password(tmp_path)
