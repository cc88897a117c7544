"""`gridledger chain`: deploy contracts, inspect the chain, keystore accounts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from gridledger.cli.common import DataDirOpt, JsonOpt, RpcOpt, console, data_dir_or_default, user_errors
from gridledger.reporting import dumps

app = typer.Typer(no_args_is_help=True, help="The ledger: deploy contracts, inspect the chain.")



account_app = typer.Typer(no_args_is_help=True, help="Encrypted local keystore accounts.")
app.add_typer(account_app, name="account")
PASSWORD_ENV = "GRIDLEDGER_PASSWORD"


def _password(confirm: bool) -> str:


    env = os.environ.get(PASSWORD_ENV)
    if env is not None:
        return env
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=confirm))


def _keystore(home: Path) -> Any:
    from gridledger.ledger.keystore import Keystore

    return Keystore(home / "keystore")


@account_app.command("new")
@user_errors
def account_new(
    name: Annotated[str, typer.Option("--name", help="A name for the account.")],
    data_dir: DataDirOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create an account encrypted with a password (from $GRIDLEDGER_PASSWORD or a prompt)."""
    entry = _keystore(data_dir_or_default(data_dir)).create(name, _password(confirm=True))
    if json_:
        typer.echo(dumps({"name": entry.name, "address": entry.address, "path": str(entry.path)}))
    else:
        console.print(f"{entry.name}: {entry.address} ({entry.path})")


@account_app.command("list")
@user_errors
def account_list(data_dir: DataDirOpt = None, json_: JsonOpt = False) -> None:
    """Accounts in the keystore (names and addresses; keys stay encrypted)."""
    entries = _keystore(data_dir_or_default(data_dir)).list()
    if json_:
        typer.echo(dumps([{"name": e.name, "address": e.address} for e in entries]))
    else:
        for e in entries:
            console.print(f"{e.name}: {e.address}")


@app.command("deploy")
@user_errors
def chain_deploy(
    rpc_url: RpcOpt = None,
    data_dir: DataDirOpt = None,
    account: Annotated[str | None, typer.Option(
        "--account", help="Keystore account that deploys and administers (default: a random administrator "
        "account in the data dir's key vault).")] = None,
    edge_server: Annotated[list[str] | None, typer.Option(
        "--edge-server", help="Edge server address (repeatable; default: random vault accounts).")] = None,
    edge_servers: Annotated[int, typer.Option("--edge-servers", help="Edge servers (random vault accounts).")] = 1,
    guardian: Annotated[str | None, typer.Option(
        "--guardian", help="Address allowed to pause the market (default: a random vault account).")] = None,
    total_elecoins: Annotated[float, typer.Option("--total-elecoins", help="Elecoin supply.")] = 1_000_000.0,
    unit_power_price: Annotated[float, typer.Option("--unit-power-price", help="Q, elecoins per kWh.")] = 0.6,
    json_: JsonOpt = False,
) -> None:
    """Deploy Elecoin and the ETSC (idempotent: an existing deployment is returned)."""
    from gridledger.ledger.chain import open_chain
    from gridledger.ledger.deploy import MarketDeployment, deploy_market
    from gridledger.params import from_mapping

    params = from_mapping(MarketDeployment, {"edge_servers": edge_servers, "total_elecoins": total_elecoins,
                                             "unit_power_price": unit_power_price})
    home = data_dir_or_default(data_dir)
    admin = _keystore(home).unlock(account, _password(confirm=False)) if account else None
    chain = open_chain(rpc_url, home)
    try:
        dep, new = deploy_market(chain, home, params, admin=admin, edge_servers=edge_server or None,
                                 guardian=guardian)
    finally:
        chain.close()
    data = {"chain_id": dep.chain_id, "backend": dep.backend, "contracts": dep.contracts,
            "abi_dir": dep.parameters["abi_dir"], "administrator": dep.administrator,
            "edge_servers": dep.edge_servers, "guardian": dep.guardian, "block_number": dep.block_number,
            "new": new}
    if json_:
        typer.echo(dumps(data))
    else:
        console.print(f"{'deployed' if new else 'already deployed'} on chain {dep.chain_id} ({dep.backend}): "
                      + ", ".join(f"{k} {v}" for k, v in dep.contracts.items()))


@app.command("status")
@user_errors
def chain_status(rpc_url: RpcOpt = None, data_dir: DataDirOpt = None, json_: JsonOpt = False) -> None:
    """Backend, chain id, block number and the recorded contract addresses."""
    from gridledger.ledger.chain import open_chain
    from gridledger.ledger.deploy import load_deployment

    home = data_dir_or_default(data_dir)
    chain = open_chain(rpc_url, home)
    try:
        dep = load_deployment(chain, home)
        data = {"backend": chain.backend, "chain_id": chain.chain_id, "block_number": chain.block_number(),
                "contracts": dep.contracts if dep else None,
                "data_dir": str(home), "rpc_url": rpc_url}
    finally:
        chain.close()
    if json_:
        typer.echo(dumps(data))
    else:
        console.print(f"{data['backend']} chain {data['chain_id']}, block {data['block_number']}; contracts: "
                      + (", ".join(f"{k} {v}" for k, v in dep.contracts.items()) if dep else "none deployed"))


@app.command("roles")
@user_errors
def chain_roles(rpc_url: RpcOpt = None, data_dir: DataDirOpt = None, json_: JsonOpt = False) -> None:
    """Who holds each role of the deployed market now (administrator, pending transfer, guardian,
    edge servers with their allocations), and whether any of them is a well-known key."""
    from gridledger.errors import ConfigError
    from gridledger.ledger.chain import open_chain
    from gridledger.ledger.clients import ETSCClient
    from gridledger.ledger.deploy import load_deployment
    from gridledger.ledger.keys import is_well_known

    home = data_dir_or_default(data_dir)
    chain = open_chain(rpc_url, home)
    try:
        dep = load_deployment(chain, home)
        if dep is None:
            raise ConfigError("data_dir", f"no market deployed on chain {chain.chain_id} from {home} "
                              "(run gridledger chain deploy)")
        etsc = ETSCClient(chain, dep.contracts["ETSC"])
        pending, after = etsc.pending_administrator()
        servers = {a: etsc.allocation(a) for a in etsc.edge_servers()}
        admin = etsc.administrator()
        data = {"chain_id": chain.chain_id, "administrator": admin,
                "pending_administrator": pending, "pending_accept_after": after or None,
                "admin_delay_s": etsc.admin_delay_s(), "guardian": dep.guardian or None,
                "guardian_active": bool(dep.guardian) and etsc.is_guardian(dep.guardian),
                "edge_servers": [{"address": a, "allocation_units": v} for a, v in servers.items()],
                "paused": etsc.paused(),
                "well_known": [a for a in [admin, dep.guardian, *servers] if a and is_well_known(a)]}
    finally:
        chain.close()
    if json_:
        typer.echo(dumps(data))
    else:
        console.print(f"administrator {data['administrator']}"
                      + (f" (transfer to {pending} from {after})" if pending else "")
                      + f"; guardian {data['guardian']}; edge servers {', '.join(servers)}; "
                      + ("paused" if data["paused"] else "running"))
