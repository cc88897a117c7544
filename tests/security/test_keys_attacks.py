"""Attacks on keys (issue 11 item 7, issue 12 findings 1-2), each failing to do harm.

- well-known privileged keys: every role of a new deployment has a random key; eth-tester's
  0x..01 key holds nothing and administers nothing; deploy_market refuses a well-known key;
- replay: every embedded chain has its own random chain id, and a transaction signed for one
  instance (or for no chain) is refused by another;
- public scenario and demo keys: settle's prosumers, retailers and meters have random keys in the
  encrypted vault; label-derived keys need the explicit test switch and only work on the
  embedded chain and anvil.
"""

import json

import numpy as np
import pytest
from eth_account import Account
from eth_utils import keccak

from gridledger.errors import ConfigError
from gridledger.ledger.accounts import accounts_for, open_vault, vault_dir
from gridledger.ledger.chain import TEST_KEYS_ENV, ChainError, EmbeddedChain, derived_signer, open_chain
from gridledger.ledger.clients import ETSCClient
from gridledger.ledger.deploy import deploy_market
from gridledger.ledger.keys import is_well_known, random_signer, well_known_addresses
from gridledger.ledger.keystore import KeystoreError

pytestmark = pytest.mark.integration
ETH_TESTER_KEY_1 = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"


def test_new_deployment_has_no_well_known_role(chain, tmp_path):
    dep, new = deploy_market(chain, tmp_path)
    etsc = ETSCClient(chain, dep.contracts["ETSC"])
    roles = [etsc.administrator(), dep.guardian, *etsc.edge_servers()]
    assert new and not any(is_well_known(a) for a in roles)
    assert not etsc.is_guardian(ETH_TESTER_KEY_1)
    assert not etsc.account(ETH_TESTER_KEY_1).edge_server and etsc.administrator() != ETH_TESTER_KEY_1
    assert len(set(roles)) == len(roles)


def test_deploy_refuses_a_well_known_administrator_or_server(chain, tmp_path):
    well_known = Account.from_key((1).to_bytes(32, "big"))
    from gridledger.ledger.chain import LocalSigner

    with pytest.raises(ConfigError) as info:
        deploy_market(chain, tmp_path, admin=LocalSigner(well_known))
    assert info.value.field == "administrator"
    with pytest.raises(ConfigError) as info:
        deploy_market(chain, tmp_path, edge_servers=[sorted(well_known_addresses())[0]])
    assert info.value.field == "edge_server"
    assert not (tmp_path / "deployments").exists()


def test_embedded_genesis_keys_are_random_and_the_tester_keys_hold_nothing():
    a, b = EmbeddedChain(None), EmbeddedChain(None)
    try:
        for c in (a, b):
            assert all(not is_well_known(s.address) for s in c.dev_signers())
            assert c.balance(ETH_TESTER_KEY_1) == 0
            assert c.w3.eth.accounts == []  # eth_sendTransaction signs for nobody
        assert {s.address for s in a.dev_signers()}.isdisjoint({s.address for s in b.dev_signers()})
        assert a.chain_id != b.chain_id and a.w3.eth.chain_id == a.chain_id
    finally:
        a.close()
        b.close()


def _signed_transfer(chain, signer, chain_id):
    tx = {"to": signer.address, "value": 1, "gas": 21_000, "gasPrice": int(chain.w3.eth.gas_price),
          "nonce": chain.w3.eth.get_transaction_count(signer.address)}
    if chain_id is not None:
        tx["chainId"] = chain_id
    return signer.account.sign_transaction(tx).raw_transaction


def test_transaction_signed_for_another_instance_is_refused(tmp_path):
    a = EmbeddedChain(None)
    b = EmbeddedChain(None)
    try:
        payer = a.dev_signers()[0]
        # Even a key funded on both instances cannot replay: the signature names the chain.
        b.send_value(b.dev_signers()[0], payer.address, 10**18)
        raw = _signed_transfer(a, payer, a.chain_id)
        a.w3.eth.send_raw_transaction(raw)
        for wrong in (raw, _signed_transfer(b, payer, None)):  # replayed, or signed for no chain
            before = b.balance(payer.address)
            with pytest.raises(Exception, match="replay refused"):
                b.w3.eth.send_raw_transaction(wrong)
            assert b.balance(payer.address) == before
    finally:
        a.close()
        b.close()


def test_chain_id_and_keys_persist_and_stay_encrypted(tmp_path):
    first = open_chain(None, tmp_path)
    chain_id, funder = first.chain_id, first.dev_signers()[0].address
    first.close()
    again = open_chain(None, tmp_path)
    try:
        assert again.chain_id == chain_id and again.dev_signers()[0].address == funder
    finally:
        again.close()
    text = (vault_dir(tmp_path) / "accounts.json").read_text()
    key = open_vault(tmp_path).signers(chain_id, "funder", 1)[0].account.key.hex()
    assert key.removeprefix("0x") not in text
    assert (vault_dir(tmp_path) / "accounts.json").stat().st_mode & 0o077 == 0
    assert (vault_dir(tmp_path) / ".password").stat().st_mode & 0o077 == 0


def test_vault_refuses_a_wrong_password(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDLEDGER_PASSWORD", "the right password")
    chain = EmbeddedChain(None)
    try:
        accounts_for(tmp_path, chain, "prosumer", 1)
        monkeypatch.setenv("GRIDLEDGER_PASSWORD", "a wrong password")
        with pytest.raises(KeystoreError, match="wrong password"):
            accounts_for(tmp_path, chain, "prosumer", 2)
    finally:
        chain.close()


def test_settled_scenario_accounts_are_random_and_kept(chain, tmp_path):
    from gridledger.scenarios.elecoin.chain import settle_elecoin
    from gridledger.scenarios.elecoin.run import ElecoinConfig

    cfg = ElecoinConfig.from_mapping({"n_prosumers": 2})
    report = settle_elecoin(chain, tmp_path, cfg, "analytic", "unified", np.random.default_rng(0))
    addresses = [a["address"] for a in report["accounts_after"]]
    # Not derivable from a label: the demo attack (issue 12 finding 2) recomputed these keys.
    for role, i in (("prosumer", 0), ("prosumer", 1), ("retailer", 0), ("meter", 0)):
        for tag in (f"elecoin:{chain.chain_id}:{role}", role):
            derived = Account.from_key(keccak(f"gridledger:{tag}:{i}".encode())).address
            assert derived not in addresses
    assert not any(is_well_known(a) for a in addresses)
    vault = {e.address for e in open_vault(tmp_path).entries(chain.chain_id)}
    assert set(addresses) <= vault
    assert json.dumps(report).count("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf") == 0


def test_label_keys_need_the_test_switch(monkeypatch):
    monkeypatch.delenv(TEST_KEYS_ENV, raising=False)
    with pytest.raises(ChainError, match="only for tests"):
        derived_signer("elecoin:1:prosumer", 0)
    monkeypatch.setenv(TEST_KEYS_ENV, "yes")  # only the exact switch
    with pytest.raises(ChainError):
        derived_signer("elecoin:1:prosumer", 0)


def test_label_keys_are_refused_on_a_live_chain(chain):
    signer = derived_signer("security", 0)
    assert signer.test_key
    chain.send_value(chain.dev_signers()[0], signer.address, 10**18)
    chain.send_value(signer, random_signer().address, 1)  # a dev chain: allowed (embedded, anvil)

    class LiveChain(type(chain)):
        @property
        def dev_chain(self):
            return False

    live = object.__new__(LiveChain)
    live.__dict__.update(chain.__dict__)
    with pytest.raises(ChainError, match="label-derived test key"):
        live.send_value(signer, random_signer().address, 1)


def _well_known_signers():
    from gridledger.ledger.chain import LocalSigner
    from gridledger.ledger.keys import DEV_MNEMONIC

    Account.enable_unaudited_hdwallet_features()
    keys = [Account.from_key(i.to_bytes(32, "big")) for i in range(1, 11)]
    keys += [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(3)]
    return [LocalSigner(k) for k in keys]


def test_issue_12_attack_with_public_keys_does_nothing(chain, tmp_path):
    """Finding 1 replayed: with eth-tester's and anvil's public keys (funded by the attacker), a
    stranger tries what the administrator and the edge server could do; every call is refused."""
    from gridledger.ledger.errors import ContractRevert

    dep, _ = deploy_market(chain, tmp_path)
    etsc = ETSCClient(chain, dep.contracts["ETSC"])
    server = dep.edge_servers[0]
    victim = random_signer().address
    for s in _well_known_signers():
        if chain.balance(s.address) < 10**18:
            chain.send_value(chain.dev_signers()[0], s.address, 10**18)
        attempts = [
            ("ETSCNotAdministrator", etsc.empower, s, "me", s.address, True, True),
            ("ETSCNotAdministrator", etsc.register_meter, s, s.address, victim, 10**9),
            ("ETSCNotAdministrator", etsc.add_edge_server, s, s.address, 0),
            ("ETSCNotEdgeServer", etsc.declare_price, s, 1),
            ("ETSCNothingToWithdraw", etsc.withdraw_proceeds, s),
            ("ETSCNotGuardian", etsc.pause, s),
            ("AccessControlUnauthorizedAccount", etsc.begin_admin_transfer, s, s.address),
        ]
        for name, fn, *args in attempts:
            with pytest.raises(ContractRevert) as info:
                fn(*args)
            assert info.value.name == name, (s.address, name, info.value)
    assert etsc.totals().users == 0 and etsc.edge_servers() == [server]
