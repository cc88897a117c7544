"""Deploying the market contracts and remembering where they are.

The data directory keeps ``deployments/<chain id>.json`` (addresses, roles, parameters). A
second ``deploy`` on the same chain finds the record, checks that the contracts are still
there, and returns it instead of deploying again.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from gridledger.errors import ConfigError
from gridledger.ledger.accounts import accounts_for, fund
from gridledger.ledger.artifacts import artifacts_dir
from gridledger.ledger.chain import Chain, Signer
from gridledger.ledger.clients import ETSCClient, ETSCConfig, StakingClient, UPOSClient
from gridledger.ledger.keys import is_well_known
from gridledger.ledger.units import DEFAULT_WEI_PER_MONEY, elecoins_to_units, price_to_wei, unit_power_price_units
from gridledger.params import check_int, check_number


@dataclass(frozen=True)
class MarketDeployment:
    """Parameters of a market deployment (ETSC constructor and the edge servers' allocations)."""

    total_elecoins: float = 1_000_000.0
    """Elecoin supply held by the ETSC and sold by the edge servers (paper Algorithm 2's totalElecoins)."""
    unit_power_price: float = 0.6
    """Q, elecoins per kWh (paper IV.A: 0.6)."""
    edge_servers: int = 1
    """Number of edge servers (random role accounts edge-server 0..M-1 unless given)."""
    min_price: float = 20.0
    """p_min, the lowest price a server may declare, in market money per elecoin (MarketParams.p_min)."""
    max_price: float = 110.0
    """p_max, the highest price a server may declare (MarketParams.p_max)."""
    redemption_price: float = 10.0
    """Money per elecoin paid back to a retailer who redeems (at most p_min; backed by every sale)."""
    wei_per_money: int = DEFAULT_WEI_PER_MONEY
    """Wei of the native coin for one unit of the market's money."""
    slot_seconds: int = 3600
    """Length of a trading slot: meters report at most rated power x slot per slot."""
    slot_supply: float | None = None
    """Most elecoins sold per slot by all servers together (None: the whole supply)."""
    admin_delay_s: int = 2 * 86_400
    """How long a transfer of the administrator role waits before the new holder may accept."""
    role_funding_ether: float = 10.0
    """Native coin given to the administrator, guardian and edge servers for gas."""

    def __post_init__(self) -> None:
        check_number("total_elecoins", self.total_elecoins, gt=0)
        check_number("unit_power_price", self.unit_power_price, gt=0)
        check_int("edge_servers", self.edge_servers, ge=1, le=64)
        check_number("min_price", self.min_price, gt=0)
        check_number("max_price", self.max_price, ge=self.min_price)
        check_number("redemption_price", self.redemption_price, ge=0, le=self.min_price)
        check_int("wei_per_money", self.wei_per_money, ge=1)
        check_int("slot_seconds", self.slot_seconds, ge=1, le=7 * 86_400)
        if self.slot_supply is not None:
            check_number("slot_supply", self.slot_supply, gt=0)
        check_int("admin_delay_s", self.admin_delay_s, ge=0, le=2**32)
        check_number("role_funding_ether", self.role_funding_ether, ge=0)

    def config(self, administrator: str, guardian: str) -> ETSCConfig:
        """The ETSC constructor's parameters in on-chain units."""
        return ETSCConfig(
            administrator=administrator, guardian=guardian,
            total_elecoins=elecoins_to_units(self.total_elecoins),
            unit_power_price=unit_power_price_units(self.unit_power_price),
            min_price_wei=price_to_wei(self.min_price, self.wei_per_money),
            max_price_wei=price_to_wei(self.max_price, self.wei_per_money),
            redemption_price_wei=price_to_wei(self.redemption_price, self.wei_per_money),
            slot_seconds=self.slot_seconds,
            slot_supply=None if self.slot_supply is None else elecoins_to_units(self.slot_supply),
            admin_delay_s=self.admin_delay_s)


@dataclass(frozen=True)
class Deployment:
    """Where the contracts are on one chain, and who holds which role."""

    chain_id: int
    backend: str
    contracts: dict[str, str]
    administrator: str
    edge_servers: list[str]
    block_number: int
    parameters: dict[str, Any] = field(default_factory=dict)
    guardian: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


MARKETS = ("elecoin", "community", "fleet")


def _record_path(data_dir: Path, chain_id: int, market: str = "elecoin") -> Path:
    suffix = "" if market == "elecoin" else f"-{market}"
    return data_dir / "deployments" / f"{chain_id}{suffix}.json"


def load_deployment(chain: Chain, data_dir: str | Path, market: str = "elecoin") -> Deployment | None:
    """The recorded deployment of ``market`` (elecoin: ETSC; community: PoEG staking and UPOS;
    fleet: PoSOC staking and V2V settlement) for this chain, if its code is on chain."""
    path = _record_path(Path(data_dir), chain.chain_id, market)
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    dep = Deployment(**data)
    if not all(chain.has_code(a) for a in dep.contracts.values()):
        return None
    return dep


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def deploy_market(chain: Chain, data_dir: str | Path, params: MarketDeployment | None = None,
                  admin: Signer | None = None, edge_servers: list[str] | None = None,
                  guardian: str | None = None) -> tuple[Deployment, bool]:
    """Deploy the ETSC (which creates the Elecoin) unless already deployed; returns (deployment, new).

    By default every role gets a random account from ``data_dir``'s key vault
    (:func:`gridledger.ledger.accounts.accounts_for`: ``administrator`` 0, ``guardian`` 0,
    ``edge-server`` 0..M-1), funded for gas from the chain's funder (or from ``admin`` when the
    chain has no funded account). ``admin`` (e.g. a keystore signer), ``edge_servers`` and
    ``guardian`` (addresses) override them. Each edge server is allocated an equal share of
    the supply. A well-known development key is refused for every role, on every chain.
    """
    params = params or MarketDeployment()
    existing = load_deployment(chain, data_dir)
    if existing is not None:
        return existing, False
    home = Path(data_dir)
    if admin is None:
        admin = accounts_for(home, chain, "administrator", 1)[0]
    if edge_servers is None:
        edge_servers = [s.address for s in accounts_for(home, chain, "edge-server", params.edge_servers)]
    if guardian is None:
        guardian = accounts_for(home, chain, "guardian", 1)[0].address
    servers = [to_checksum_address(a) for a in edge_servers]
    for role, address in [("administrator", admin.address), ("guardian", guardian)] + [
            ("edge_server", a) for a in servers]:
        if is_well_known(address):
            raise ConfigError(role, f"{address} is a well-known development key that anybody can sign with; "
                              "use a random account (the default) or your own keystore account")
    wei = int(params.role_funding_ether * 10**18)
    if wei > 0:
        # Dev chains pay from their funder; elsewhere the administrator (a keystore account) pays.
        payer = None if chain.dev_signers() else admin
        fund(chain, ([] if payer is admin else [admin]) + [_Addr(a) for a in (guardian, *servers)], wei, payer)
    etsc = ETSCClient.deploy(chain, admin, params.config(admin.address, guardian))
    share = elecoins_to_units(params.total_elecoins) // len(servers)
    for server in servers:
        etsc.add_edge_server(admin, server, share)
    block = chain.block_number()
    dep = Deployment(chain_id=chain.chain_id, backend=chain.backend,
                     contracts={"ETSC": etsc.address, "Elecoin": etsc.elecoin.address},
                     administrator=admin.address, edge_servers=servers, guardian=to_checksum_address(guardian),
                     block_number=block,
                     parameters={**asdict(params), "abi_dir": artifacts_dir()})
    _write_atomic(_record_path(Path(data_dir), chain.chain_id), json.dumps(dep.to_json(), indent=2) + "\n")
    return dep, True


@dataclass(frozen=True)
class _Addr:
    """An address to fund (fund() only reads ``.address``)."""

    address: str


@dataclass(frozen=True)
class StakingDeployment:
    """Parameters of the community's (PoEG) or the fleet's (PoSOC) staking contracts."""

    slash_bps: int = 10_000
    """Share of a refusing miner's coalition stake burned, in basis points (eq. 3.24: all of it)."""
    beta_bps: int = 500
    """Fleet only: beta of eq. (4.20), the profit share owed to the round's miner (0.05)."""

    def __post_init__(self) -> None:
        check_int("slash_bps", self.slash_bps, ge=0, le=10_000)
        check_int("beta_bps", self.beta_bps, ge=1, le=10_000)


def _same_params(dep: Deployment, params: StakingDeployment, keys: tuple[str, ...]) -> None:
    for k in keys:
        if dep.parameters.get(k) != getattr(params, k):
            raise ConfigError(k, f"the contracts on chain {dep.chain_id} were deployed with {k} = "
                              f"{dep.parameters.get(k)}; keep that value or use another data directory")


def _operator(chain: Chain, operator: Signer | None) -> Signer:
    if operator is not None:
        return operator
    dev = chain.dev_signers()
    if not dev:
        raise ConfigError("account", "the chain has no funded account; give the operator's keystore account")
    return dev[0]


def deploy_community_ledger(chain: Chain, data_dir: str | Path, params: StakingDeployment | None = None,
                            operator: Signer | None = None) -> tuple[Deployment, bool]:
    """Deploy UPOS and the community's PoEG ProofStaking (which creates its EPOS) unless recorded."""
    params = params or StakingDeployment()
    existing = load_deployment(chain, data_dir, "community")
    if existing is not None:
        _same_params(existing, params, ("slash_bps",))
        return existing, False
    op = _operator(chain, operator)
    upos_addr, _ = chain.deploy("UPOS", op, op.address)
    staking_addr, receipt = chain.deploy("ProofStaking", op, op.address, upos_addr, params.slash_bps, "PoEG")
    UPOSClient(chain, upos_addr).grant_minter(op, staking_addr)
    staking = StakingClient(chain, staking_addr)
    dep = Deployment(chain_id=chain.chain_id, backend=chain.backend,
                     contracts={"ProofStaking": staking_addr, "EPOS": staking.epos.address, "UPOS": upos_addr},
                     administrator=op.address, edge_servers=[], block_number=int(receipt["blockNumber"]),
                     parameters={"slash_bps": params.slash_bps, "kind": "PoEG", "abi_dir": artifacts_dir()})
    _write_atomic(_record_path(Path(data_dir), chain.chain_id, "community"), json.dumps(dep.to_json(), indent=2) + "\n")
    return dep, True


def deploy_fleet_ledger(chain: Chain, data_dir: str | Path, params: StakingDeployment | None = None,
                        operator: Signer | None = None) -> tuple[Deployment, bool]:
    """Deploy the fleet's PoSOC ProofStaking (no on-chain reward token) and V2VSettlement."""
    params = params or StakingDeployment()
    existing = load_deployment(chain, data_dir, "fleet")
    if existing is not None:
        _same_params(existing, params, ("slash_bps", "beta_bps"))
        return existing, False
    op = _operator(chain, operator)
    staking_addr, _ = chain.deploy("ProofStaking", op, op.address, "0x" + "0" * 40, params.slash_bps, "PoSOC")
    settle_addr, receipt = chain.deploy("V2VSettlement", op, op.address, staking_addr, params.beta_bps)
    staking = StakingClient(chain, staking_addr)
    dep = Deployment(chain_id=chain.chain_id, backend=chain.backend,
                     contracts={"ProofStaking": staking_addr, "EPOS": staking.epos.address,
                                "V2VSettlement": settle_addr},
                     administrator=op.address, edge_servers=[], block_number=int(receipt["blockNumber"]),
                     parameters={"slash_bps": params.slash_bps, "beta_bps": params.beta_bps, "kind": "PoSOC",
                                 "abi_dir": artifacts_dir()})
    _write_atomic(_record_path(Path(data_dir), chain.chain_id, "fleet"), json.dumps(dep.to_json(), indent=2) + "\n")
    return dep, True
