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
from gridledger.ledger.clients import ETSCClient, StakingClient
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


@dataclass(frozen=True)
class StakingDeployment:
    """Parameters of the community's (PoEG) or the fleet's (PoSOC) staking contracts.

    Windows are counted in blocks: on a development chain each transaction is a block and the
    scenarios mine empty blocks to pass a deadline; on a public chain they are waited for.
    """

    delta_bps: int = 1_000
    """Community: delta of eq. (3.23), a member's fee as a share of its energy saving (thesis: 0.1)."""
    beta_bps: int = 500
    """Fleet: beta of eq. (4.20), the profit share owed to the round's miner (0.05)."""
    stake_window: int = 1_000
    """Blocks staking stays open (it closes earlier once every credited member staked)."""
    reveal_window: int = 32
    """Blocks for the validators' reveals after staking closes (always waited in full)."""
    seal_window: int = 32
    """Blocks the elected miner has to seal before anyone may slash it (eq. 3.24)."""
    challenge_window: int = 16
    """Blocks after a seal during which an equivocation can be proven; rewards wait for it."""
    reward_window: int = 256
    """Blocks after the challenge window for the operator's Shapley payout; then members claim."""
    claim_window: int = 100_000
    """Fleet: blocks after its last credit before an uncollected balance goes to the treasury."""
    admin_delay_s: int = 2 * 24 * 3600
    """Delay of a transfer of the administrator role (two-step, OpenZeppelin DefaultAdminRules)."""

    def __post_init__(self) -> None:
        check_int("delta_bps", self.delta_bps, ge=0, le=10_000)
        check_int("beta_bps", self.beta_bps, ge=1, le=10_000)
        for name in ("stake_window", "reveal_window", "seal_window", "challenge_window", "reward_window"):
            check_int(name, getattr(self, name), ge=1, le=1_000_000)
        check_int("claim_window", self.claim_window, ge=1, le=2**32 - 1)
        check_int("admin_delay_s", self.admin_delay_s, ge=0, le=2**48 - 1)

    @property
    def windows(self) -> list[int]:
        return [self.stake_window, self.reveal_window, self.seal_window, self.challenge_window, self.reward_window]


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


def _staking_parameters(params: StakingDeployment, kind: str, op: Signer, guardian: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(params, k) for k in params.__dataclass_fields__}
    out.update({"kind": kind, "operator": op.address, "guardian": guardian, "abi_dir": artifacts_dir()})
    return out


def deploy_community_ledger(chain: Chain, data_dir: str | Path, params: StakingDeployment | None = None,
                            operator: Signer | None = None, guardian: str | None = None) -> tuple[Deployment, bool]:
    """Deploy the community's PoEG ProofStaking (which creates its EPOS and UPOS) unless recorded.

    ``operator`` (default: the chain's first funded account) deploys, administers and operates;
    ``guardian`` (default: the operator) may pause the operator's entry points.
    """
    params = params or StakingDeployment()
    existing = load_deployment(chain, data_dir, "community")
    if existing is not None:
        _same_params(existing, params, ("delta_bps",))
        return existing, False
    op = _operator(chain, operator)
    guard = to_checksum_address(guardian or op.address)
    staking_addr, receipt = chain.deploy("ProofStaking", op, op.address, params.admin_delay_s, op.address, guard,
                                         "PoEG", True, params.delta_bps, params.windows)
    staking = StakingClient(chain, staking_addr)
    assert staking.upos is not None
    dep = Deployment(chain_id=chain.chain_id, backend=chain.backend,
                     contracts={"ProofStaking": staking_addr, "EPOS": staking.epos.address,
                                "UPOS": staking.upos.address},
                     administrator=op.address, edge_servers=[], block_number=int(receipt["blockNumber"]),
                     parameters=_staking_parameters(params, "PoEG", op, guard))
    _write_atomic(_record_path(Path(data_dir), chain.chain_id, "community"), json.dumps(dep.to_json(), indent=2) + "\n")
    return dep, True


def deploy_fleet_ledger(chain: Chain, data_dir: str | Path, params: StakingDeployment | None = None,
                        operator: Signer | None = None, guardian: str | None = None,
                        treasury: str | None = None) -> tuple[Deployment, bool]:
    """Deploy the fleet's PoSOC ProofStaking (no reward token) and V2VSettlement unless recorded.

    Expired settlement balances go to ``treasury`` (default: the operator's account).
    """
    params = params or StakingDeployment()
    existing = load_deployment(chain, data_dir, "fleet")
    if existing is not None:
        _same_params(existing, params, ("beta_bps",))
        return existing, False
    op = _operator(chain, operator)
    guard = to_checksum_address(guardian or op.address)
    treas = to_checksum_address(treasury or op.address)
    staking_addr, _ = chain.deploy("ProofStaking", op, op.address, params.admin_delay_s, op.address, guard,
                                   "PoSOC", False, 0, params.windows)
    settle_addr, receipt = chain.deploy("V2VSettlement", op, op.address, params.admin_delay_s, op.address, guard,
                                        staking_addr, params.beta_bps, params.claim_window, treas)
    staking = StakingClient(chain, staking_addr)
    parameters = _staking_parameters(params, "PoSOC", op, guard)
    parameters["treasury"] = treas
    dep = Deployment(chain_id=chain.chain_id, backend=chain.backend,
                     contracts={"ProofStaking": staking_addr, "EPOS": staking.epos.address,
                                "V2VSettlement": settle_addr},
                     administrator=op.address, edge_servers=[], block_number=int(receipt["blockNumber"]),
                     parameters=parameters)
    _write_atomic(_record_path(Path(data_dir), chain.chain_id, "fleet"), json.dumps(dep.to_json(), indent=2) + "\n")
    return dep, True
