import json

import pytest

from gridledger.errors import ConfigError
from gridledger.ledger.keystore import Keystore, KeystoreError


@pytest.fixture
def ks(tmp_path):
    return Keystore(tmp_path / "keystore", kdf="pbkdf2", iterations=2)


def test_create_list_unlock(ks):
    entry = ks.create("alice", "correct horse")
    assert [e.address for e in ks.list()] == [entry.address]
    signer = ks.unlock("alice", "correct horse")
    assert signer.address == entry.address
    assert ks.unlock(entry.address.lower(), "correct horse").address == entry.address


def test_file_is_encrypted_and_private(ks):
    entry = ks.create("bob", "correct horse")
    text = entry.path.read_text()
    key_hex = ks.unlock("bob", "correct horse").account.key.hex()
    assert key_hex.removeprefix("0x") not in text
    assert json.loads(text)["crypto"]["kdf"] == "pbkdf2"
    assert entry.path.stat().st_mode & 0o077 == 0


def test_wrong_password_and_unknown_account(ks):
    ks.create("carol", "correct horse")
    with pytest.raises(KeystoreError, match="wrong password"):
        ks.unlock("carol", "wrong horse")
    with pytest.raises(KeystoreError, match="no keystore account"):
        ks.unlock("dave", "correct horse")


@pytest.mark.parametrize(("name", "password", "field"), [("", "correct horse", "name"), ("ok", "short", "password"),
                                                         ("bad/name", "correct horse", "name")])
def test_invalid_input(ks, name, password, field):
    with pytest.raises(ConfigError) as info:
        ks.create(name, password)
    assert info.value.field == field
    assert ks.list() == []


def test_duplicate_name_refused(ks):
    ks.create("erin", "correct horse")
    with pytest.raises(ConfigError, match="already exists"):
        ks.create("Erin", "correct horse")


def test_import_known_key(ks):
    key = bytes.fromhex("11" * 32)
    entry = ks.create("imported", "correct horse", private_key=key)
    assert ks.unlock("imported", "correct horse").account.key == key
    assert entry.address.startswith("0x")
