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
from gridledger.ledger.artifacts import artifacts_dir
from gridledger.ledger.chain import Chain, Signer
from gridledger.ledger.clients import ETSCClient
from gridledger.ledger.units import elecoins_to_units, unit_power_price_units
from gridledger.params import check_int, check_number


@dataclass(frozen=True)
class MarketDeployment:
    """Parameters of a market deployment (ETSC constructor)."""

    total_elecoins: float = 1_000_000.0
    """Elecoin supply held by the ETSC and sold by the edge servers."""
    unit_power_price: float = 0.6
    """Q, elecoins per kWh (paper IV.A: 0.6)."""
    edge_servers: int = 1
    """Number of edge servers (the chain's dev accounts 1..M)."""

    def __post_init__(self) -> None:
        check_number("total_elecoins", self.total_elecoins, gt=0)
        check_number("unit_power_price", self.unit_power_price, gt=0)
        check_int("edge_servers", self.edge_servers, ge=1, le=8)


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _record_path(data_dir: Path, chain_id: int) -> Path:
    return data_dir / "deployments" / f"{chain_id}.json"


def load_deployment(chain: Chain, data_dir: str | Path) -> Deployment | None:
    """The recorded deployment for this chain, if it exists and its code is on chain."""
    path = _record_path(Path(data_dir), chain.chain_id)
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
                  admin: Signer | None = None, edge_servers: list[str] | None = None) -> tuple[Deployment, bool]:
    """Deploy the ETSC (which creates the Elecoin) unless already deployed; returns (deployment, new).

    By default the chain's first dev account is the administrator and the next
    ``params.edge_servers`` are the edge servers; ``admin`` (e.g. a keystore signer) and
    ``edge_servers`` (addresses) override them.
    """
    params = params or MarketDeployment()
    existing = load_deployment(chain, data_dir)
    if existing is not None:
        return existing, False
    if admin is None or edge_servers is None:
        dev = chain.dev_signers()
        if len(dev) < 1 + params.edge_servers:
            raise ConfigError("edge_servers", f"needs {1 + params.edge_servers} funded accounts, the chain has "
                              f"{len(dev)} (give --account and --edge-server)")
        admin = admin or dev[0]
        edge_servers = edge_servers or [s.address for s in dev[1:1 + params.edge_servers]]
    servers = [to_checksum_address(a) for a in edge_servers]
    address, receipt = chain.deploy("ETSC", admin, admin.address, elecoins_to_units(params.total_elecoins),
                                    unit_power_price_units(params.unit_power_price), servers)
    etsc = ETSCClient(chain, address)
    dep = Deployment(chain_id=chain.chain_id, backend=chain.backend,
                     contracts={"ETSC": address, "Elecoin": etsc.elecoin.address},
                     administrator=admin.address, edge_servers=servers,
                     block_number=int(receipt["blockNumber"]),
                     parameters={"total_elecoins": params.total_elecoins,
                                 "unit_power_price": params.unit_power_price, "abi_dir": artifacts_dir()})
    _write_atomic(_record_path(Path(data_dir), chain.chain_id), json.dumps(dep.to_json(), indent=2) + "\n")
    return dep, True
