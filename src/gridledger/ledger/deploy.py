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

from eth_utils import keccak, to_checksum_address

from gridledger.errors import ConfigError
from gridledger.ledger.accounts import accounts_for, fund, signer_in_vault
from gridledger.ledger.artifacts import artifacts_dir
from gridledger.ledger.chain import Chain, LocalSigner, Signer
from gridledger.ledger.clients import ETSCClient, ETSCConfig, StakingClient
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
    role_funding_ether: float = 10.0
    """Native coin given to the operator (who relays the members' signed actions), the
    administrator and the guardian for gas, on chains with a funded account."""

    def __post_init__(self) -> None:
        check_int("delta_bps", self.delta_bps, ge=0, le=10_000)
        check_int("beta_bps", self.beta_bps, ge=1, le=10_000)
        for name in ("stake_window", "reveal_window", "seal_window", "challenge_window", "reward_window"):
            check_int(name, getattr(self, name), ge=1, le=1_000_000)
        check_int("claim_window", self.claim_window, ge=1, le=2**32 - 1)
        check_int("admin_delay_s", self.admin_delay_s, ge=0, le=2**48 - 1)
        check_number("role_funding_ether", self.role_funding_ether, ge=0)

    @property
    def windows(self) -> list[int]:
        return [self.stake_window, self.reveal_window, self.seal_window, self.challenge_window, self.reward_window]


def _same_params(dep: Deployment, params: StakingDeployment, keys: tuple[str, ...]) -> None:
    for k in keys:
        if dep.parameters.get(k) != getattr(params, k):
            raise ConfigError(k, f"the contracts on chain {dep.chain_id} were deployed with {k} = "
                              f"{dep.parameters.get(k)}; keep that value or use another data directory")


@dataclass(frozen=True)
class _StakingRoles:
    operator: Signer
    administrator: str
    guardian: str


def _staking_roles(chain: Chain, home: Path, params: StakingDeployment, operator: Signer | None,
                   administrator: str | None, guardian: str | None, treasury: str | None = None) -> _StakingRoles:
    """The accounts of a staking deployment's roles: random keys in ``home``'s key vault unless
    given (``operator`` 0, ``administrator`` 0 and ``guardian`` 0, the same administrator and
    guardian as the market's); a well-known development key is refused for every role; each one
    is funded for gas from the chain's funder (or from a given operator when the chain has none)."""
    given = [("operator", operator.address if operator is not None else None), ("administrator", administrator),
             ("guardian", guardian), ("treasury", treasury)]
    for role, address in given:  # refused before anything is created or sent
        if address is not None and is_well_known(address):
            raise ConfigError(role, f"{address} is a well-known development key that anybody can sign with; "
                              "use a random account (the default) or your own keystore account")
    op = operator if operator is not None else accounts_for(home, chain, "operator", 1)[0]
    admin = to_checksum_address(administrator or accounts_for(home, chain, "administrator", 1)[0].address)
    guard = to_checksum_address(guardian or accounts_for(home, chain, "guardian", 1)[0].address)
    wei = int(params.role_funding_ether * 10**18)
    if wei > 0:
        payer = None if chain.dev_signers() else op  # elsewhere the operator pays
        _can_pay(chain, payer, op, 3 * wei)
        fund(chain, ([] if payer is op else [op]) + [_Addr(admin), _Addr(guard)], wei, payer)
    return _StakingRoles(op, admin, guard)


def _can_pay(chain: Chain, payer: Signer | None, op: Signer, wei: int) -> None:
    """Refuse, with what to do, when the operator must pay and cannot (a chain without a funded account)."""
    if payer is op and chain.balance(op.address) < wei:
        raise ConfigError("account", f"chain {chain.chain_id} has no funded account to pay for the roles: send "
                          f"{wei / 10**18:g} native coin to the operator {op.address} (its key is in the data "
                          "directory's vault) and run again")


def staking_operator(chain: Chain, data_dir: str | Path, dep: Deployment, deposit_wei: int = 0) -> LocalSigner:
    """The operator of a recorded community or fleet deployment, from ``data_dir``'s key vault.

    On a chain with a funded account it is topped up for gas (it relays every member's action)
    plus ``deposit_wei`` (e.g. the fleet's profits it deposits in the settlement); elsewhere the
    operator's own balance has to cover them.

    Raises
    ------
    ChainError
        The vault holds no key for the recorded operator (deployed from another data directory
        or with a keystore account).
    """
    op = signer_in_vault(data_dir, chain, dep.parameters.get("operator", dep.administrator))
    gas_wei = int(float(dep.parameters.get("role_funding_ether", 0.0)) * 10**18)
    if gas_wei + deposit_wei > 0 and chain.balance(op.address) < gas_wei // 2 + deposit_wei:
        if chain.dev_signers():
            fund(chain, [op], gas_wei + deposit_wei)
        else:  # a live chain: the operator's own coin pays (gas is its own business)
            _can_pay(chain, op, op, deposit_wei)
    return op


def _staking_parameters(params: StakingDeployment, kind: str, roles: _StakingRoles) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(params, k) for k in params.__dataclass_fields__}
    out.update({"kind": kind, "operator": roles.operator.address, "guardian": roles.guardian,
                "abi_dir": artifacts_dir()})
    return out


def deploy_community_ledger(chain: Chain, data_dir: str | Path, params: StakingDeployment | None = None,
                            operator: Signer | None = None, guardian: str | None = None,
                            administrator: str | None = None) -> tuple[Deployment, bool]:
    """Deploy the community's PoEG ProofStaking (which creates its EPOS and UPOS) unless recorded.

    Every role has a random key in ``data_dir``'s key vault unless given: the ``operator``
    (deploys, credits, relays the members' signed stakes and reveals), the ``administrator``
    (rotates the roles; two-step, delayed transfer) and the ``guardian`` (may pause the
    operator's entry points). A well-known development key is refused for every role.
    """
    params = params or StakingDeployment()
    existing = load_deployment(chain, data_dir, "community")
    if existing is not None:
        _same_params(existing, params, ("delta_bps",))
        return existing, False
    roles = _staking_roles(chain, Path(data_dir), params, operator, administrator, guardian)
    op = roles.operator
    staking_addr, receipt = chain.deploy("ProofStaking", op, roles.administrator, params.admin_delay_s, op.address,
                                         roles.guardian, "PoEG", True, params.delta_bps, params.windows)
    staking = StakingClient(chain, staking_addr)
    assert staking.upos is not None
    dep = Deployment(chain_id=chain.chain_id, backend=chain.backend,
                     contracts={"ProofStaking": staking_addr, "EPOS": staking.epos.address,
                                "UPOS": staking.upos.address},
                     administrator=roles.administrator, edge_servers=[], block_number=int(receipt["blockNumber"]),
                     parameters=_staking_parameters(params, "PoEG", roles), guardian=roles.guardian)
    _write_atomic(_record_path(Path(data_dir), chain.chain_id, "community"), json.dumps(dep.to_json(), indent=2) + "\n")
    return dep, True


def deploy_fleet_ledger(chain: Chain, data_dir: str | Path, params: StakingDeployment | None = None,
                        operator: Signer | None = None, guardian: str | None = None,
                        treasury: str | None = None, administrator: str | None = None) -> tuple[Deployment, bool]:
    """Deploy the fleet's PoSOC ProofStaking (no reward token) and V2VSettlement unless recorded.

    Roles as in :func:`deploy_community_ledger` (the same operator, administrator and guardian
    hold them in both contracts). Expired settlement balances go to ``treasury`` (default: the
    operator's account).
    """
    params = params or StakingDeployment()
    existing = load_deployment(chain, data_dir, "fleet")
    if existing is not None:
        _same_params(existing, params, ("beta_bps",))
        return existing, False
    roles = _staking_roles(chain, Path(data_dir), params, operator, administrator, guardian, treasury)
    op = roles.operator
    treas = to_checksum_address(treasury or op.address)
    staking_addr, receipt = chain.deploy("ProofStaking", op, roles.administrator, params.admin_delay_s, op.address,
                                         roles.guardian, "PoSOC", False, 0, params.windows)
    settle_addr, _ = chain.deploy("V2VSettlement", op, roles.administrator, params.admin_delay_s, op.address,
                                        roles.guardian, staking_addr, params.beta_bps, params.claim_window, treas)
    staking = StakingClient(chain, staking_addr)
    parameters = _staking_parameters(params, "PoSOC", roles)
    parameters["treasury"] = treas
    dep = Deployment(chain_id=chain.chain_id, backend=chain.backend,
                     contracts={"ProofStaking": staking_addr, "EPOS": staking.epos.address,
                                "V2VSettlement": settle_addr},
                     administrator=roles.administrator, edge_servers=[], block_number=int(receipt["blockNumber"]),
                     parameters=parameters, guardian=roles.guardian)
    _write_atomic(_record_path(Path(data_dir), chain.chain_id, "fleet"), json.dumps(dep.to_json(), indent=2) + "\n")
    return dep, True


_ROLE_NAMES = {bytes(32): "administrator", keccak(b"OPERATOR_ROLE"): "operator", keccak(b"GUARDIAN_ROLE"): "guardian"}


def staking_role_holders(chain: Chain, dep: Deployment, market: str) -> list[tuple[str, str]]:
    """(role, address) of every account that holds a role of a community or fleet deployment now,
    read from the chain: each ``RoleGranted`` since the deployment still in force (``hasRole``),
    a pending administrator transfer, and the settlement's treasury."""
    out: list[tuple[str, str]] = []
    for name in ("ProofStaking", "V2VSettlement"):
        if name not in dep.contracts:
            continue
        c = chain.contract(name, dep.contracts[name])
        granted = {(bytes(e["args"]["role"]), to_checksum_address(e["args"]["account"]))
                   for e in c.events.RoleGranted().get_logs(from_block=dep.block_number)}
        for role, account in sorted(granted):
            if c.functions.hasRole(role, account).call():
                out.append((f"{market} {name} {_ROLE_NAMES.get(role, '0x' + role.hex())}", account))
        pending, _ = c.functions.pendingDefaultAdmin().call()
        if int(pending, 16) != 0:
            out.append((f"{market} {name} pending administrator", to_checksum_address(pending)))
        if name == "V2VSettlement":
            out.append((f"{market} {name} treasury", to_checksum_address(c.functions.treasury().call())))
    return out
