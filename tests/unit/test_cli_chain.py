"""`gridledger chain deploy|status` and `gridledger elecoin settle` on the embedded chain."""

import json

import pytest
from typer.testing import CliRunner

from gridledger.cli import app

runner = CliRunner()


def run(*args):
    res = runner.invoke(app, list(args))
    return res


def test_deploy_is_idempotent_and_status_reports_it(tmp_path):
    first = run("chain", "deploy", "--data-dir", str(tmp_path), "--json")
    assert first.exit_code == 0, first.output
    a = json.loads(first.stdout)
    assert set(a) >= {"chain_id", "contracts", "abi_dir"} and set(a["contracts"]) == {"Elecoin", "ETSC"}
    assert a["new"] is True
    again = json.loads(run("chain", "deploy", "--data-dir", str(tmp_path), "--json").stdout)
    assert again["contracts"] == a["contracts"] and again["new"] is False
    status = json.loads(run("chain", "status", "--data-dir", str(tmp_path), "--json").stdout)
    assert status["backend"] == "embedded" and status["contracts"] == a["contracts"]
    assert status["block_number"] == a["block_number"] >= 1
    assert status["chain_id"] == a["chain_id"] != 131277322940537  # its own chain id, not eth-tester's


@pytest.mark.parametrize("pricing", ["unified", "discriminated"])
def test_settle_moves_equilibrium_amounts(tmp_path, pricing):
    res = run("elecoin", "settle", "--data-dir", str(tmp_path), "--pricing", pricing, "--set", "n_prosumers=3",
              "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    demands = data["solution"]["demands"]
    prices = data["solution"]["price"] if pricing == "discriminated" else [data["solution"]["price"]] * 3
    assert len(data["trades"]) == 3
    after = {a["name"]: a for a in data["accounts_after"]}
    before = {a["name"]: a for a in data["accounts_before"]}
    q = 0.6
    for i, trade in enumerate(data["trades"]):
        # Each prosumer bought x_i elecoins at its price, then spent them on x_i / Q kWh.
        assert trade["energy_kwh"] == pytest.approx(demands[i] / q, abs=1e-3)
        assert trade["paid_wei"] == pytest.approx(demands[i] * prices[i] * 1e15, rel=1e-9)
        p = after[f"prosumer {i + 1}"]
        assert p["avail_power_kwh"] == pytest.approx(trade["energy_kwh"])
        assert p["elecoins"] < 1e-3
    server_gain = after["edge server 1"]["native_wei"] - before["edge server 1"]["native_wei"]
    # The server keeps the price minus the redemption backing (p_min / 2 = 10 money = 1e16 wei per elecoin).
    backing = sum(demands) * 10 * 1e15
    assert server_gain > 0.99 * (sum(t["paid_wei"] for t in data["trades"]) - backing)
    assert server_gain < sum(t["paid_wei"] for t in data["trades"]) - 0.99 * backing
    assert data["totals"]["elecoin_supply"] == 1_000_000


def test_settle_twice_on_the_same_chain_reuses_accounts(tmp_path):
    assert run("elecoin", "settle", "--data-dir", str(tmp_path), "--set", "n_prosumers=2").exit_code == 0
    res = run("elecoin", "settle", "--data-dir", str(tmp_path), "--set", "n_prosumers=2", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["deployed_now"] is False
    assert data["totals"]["users"] == 2 + 2  # 2 prosumers + 2 retailers, registered once


def test_unreachable_rpc_is_a_clear_error(tmp_path):
    res = run("chain", "status", "--rpc-url", "http://127.0.0.1:9", "--data-dir", str(tmp_path))
    assert res.exit_code == 2
    assert "cannot reach a JSON-RPC node at http://127.0.0.1:9" in res.stderr


def test_bad_deploy_parameters_exit_2(tmp_path):
    res = run("chain", "deploy", "--data-dir", str(tmp_path), "--unit-power-price", "0")
    assert res.exit_code == 2 and "unit_power_price: must be > 0" in res.stderr
    assert not (tmp_path / "deployments").exists()


def test_keystore_account_deploys_with_given_edge_server(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDLEDGER_PASSWORD", "a long password")
    res = run("chain", "account", "new", "--name", "operator", "--data-dir", str(tmp_path), "--json")
    assert res.exit_code == 0, res.output
    operator = json.loads(res.stdout)["address"]
    listed = json.loads(run("chain", "account", "list", "--data-dir", str(tmp_path), "--json").stdout)
    assert listed == [{"name": "operator", "address": operator}]
    # Fund the keystore account from a dev account of the embedded chain, then deploy with it.
    from gridledger.ledger.chain import open_chain

    chain = open_chain(None, tmp_path)
    chain.send_value(chain.dev_signers()[0], operator, 10**18)
    server = chain.dev_signers()[5].address
    chain.close()
    res = run("chain", "deploy", "--data-dir", str(tmp_path), "--account", "operator", "--edge-server", server,
              "--json")
    assert res.exit_code == 0, res.output
    dep = json.loads(res.stdout)
    assert dep["administrator"] == operator and dep["edge_servers"] == [server]


def test_keystore_wrong_password_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDLEDGER_PASSWORD", "a long password")
    run("chain", "account", "new", "--name", "op", "--data-dir", str(tmp_path))
    monkeypatch.setenv("GRIDLEDGER_PASSWORD", "another password")
    res = run("chain", "deploy", "--data-dir", str(tmp_path), "--account", "op")
    assert res.exit_code == 2 and "wrong password for op" in res.stderr
    assert not (tmp_path / "deployments").exists()
