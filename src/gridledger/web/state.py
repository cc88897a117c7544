"""What the web app holds: the chain, the deployed market, the keystore, sessions, the index."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from gridledger.errors import ConfigError
from gridledger.ledger.accounts import open_vault
from gridledger.ledger.chain import Chain, EmbeddedChain, LocalSigner, Signer, open_chain
from gridledger.ledger.clients import ETSCClient
from gridledger.ledger.clients.etsc import AccountState
from gridledger.ledger.deploy import (
    MARKETS,
    Deployment,
    MarketDeployment,
    deploy_market,
    load_deployment,
    staking_role_holders,
)
from gridledger.ledger.keys import is_well_known
from gridledger.ledger.keystore import Keystore, KeystoreError
from gridledger.web.indexer import Index
from gridledger.web.jobs import ProcessJob
from gridledger.web.present import Symbols
from gridledger.web.reader import ChainReader
from gridledger.web.security import DeviceCookies, PasswordChecker, Throttle
from gridledger.web.settings import Settings

ETHER = 10**18


@dataclass
class Session:
    token: str
    csrf: str
    name: str
    signer: LocalSigner
    expires: float

    @property
    def address(self) -> str:
        return self.signer.address


@dataclass
class AppState:
    settings: Settings
    chain: Chain
    etsc: ETSCClient
    keystore: Keystore
    index: Index
    lock: threading.RLock
    service_signers: dict[str, LocalSigner] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    dashboard: dict[str, Any] | None = None
    deployments: dict[str, Deployment] = field(default_factory=dict)
    """The markets gridledger deployed on this chain (elecoin, community, fleet), as recorded."""
    _cache: dict[Any, tuple[int, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        st = self.settings
        self.reader = ChainReader(self.chain, st.rpc_executors)
        """Read-only chain views: /api/health and the /rpc relay read without the write lock."""
        self.index.head = self.reader.head  # the index syncs only when the head moved
        self.rpc_pool = ThreadPoolExecutor(max_workers=st.rpc_executors, thread_name_prefix="gridledger-rpc")
        self.rpc_throttle = Throttle(60, st.rpc_calls_per_minute)
        self.passwords = PasswordChecker(self.keystore, st.kdf_concurrency, st.kdf_queue)
        self.devices = DeviceCookies(st.data_dir / "web" / "device-secret", st.device_cookie_days)
        self.client_throttle = Throttle(60, st.login_attempts_per_minute)
        self.account_throttle = Throttle(900, st.login_failures_per_account)
        self.device_throttle = Throttle(900, st.login_failures_per_device)
        self.signup_throttle = Throttle(60, st.signups_per_minute)
        self.signup_lock = threading.Lock()
        """Sign-ups and meter creation check a name and create it as one step."""
        self._index_cache: OrderedDict[Any, tuple[int, Any]] = OrderedDict()
        self._index_cache_lock = threading.Lock()
        self._user_list: list[str] = []
        self._users: dict[str, AccountState] = {}
        self._users_at: int | None = None
        self.jobs: dict[str, ProcessJob] = {}
        """Computations run once in another process (the DMA-UBRL dashboard), by name."""
        self._jobs_lock = threading.Lock()
        self.rounds: dict[tuple[str, int], dict[str, Any]] = {}
        """Closed PoEG/PoSOC rounds of the ledger dashboard (their validators, burns and miner never
        change again; the UPOS paid out of a sealed round's pool may, see ``rewards_open``)."""
        self.rewards_open: set[tuple[str, int]] = set()
        """Closed rounds in ``rounds`` whose members may still claim UPOS (``claimReward`` has no
        end): only their ``reward`` is read again."""
        self.symbols = Symbols(st.native_symbol, "ELC")
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.warmed = threading.Event()
        """Set once the background start (index caught up, caches filled) has finished."""

    # -- background work (started by the app's lifespan: gridledger serve)
    def start_background(self, warmers: list[Any]) -> None:
        """Index in the background, then fill the caches the first pages read (``warmers``:
        functions of the state), so that a first visit is served from the index and caches."""
        self._stopping.clear()
        self.index.start()

        def warm() -> None:
            with contextlib.suppress(Exception):  # e.g. the chain closed while stopping: nothing to warm
                self.index.sync()
            for w in warmers:
                if self._stopping.is_set():
                    break
                with contextlib.suppress(Exception):  # a warm-up that fails is computed on first request
                    w(self)
            self.warmed.set()

        t = threading.Thread(target=warm, daemon=True, name="gridledger-warm")
        t.start()
        self._threads.append(t)

    def stop_background(self) -> None:
        """Stop the indexer, the warm-up (after the warmer it is running) and the jobs, and wait
        for the threads, so that the chain can be closed under nobody's feet."""
        self._stopping.set()
        self.index.stop()
        with self._jobs_lock:
            jobs = list(self.jobs.values())
        for j in jobs:
            j.stop()
        for t in self._threads:
            t.join(timeout=60)
        self._threads = [t for t in self._threads if t.is_alive()]

    def job(self, name: str, make: Any) -> ProcessJob:
        """The job ``name``, made by ``make()`` the first time it is asked for (one per app)."""
        with self._jobs_lock:
            j = self.jobs.get(name)
            if j is None:
                j = self.jobs[name] = make()
            return j

    # -- labels of accounts (contracts, roles, names given on chain)
    def labels(self) -> dict[str, dict[str, str]]:
        """Address -> {label, kind} for every account the chain names: our contracts (by market),
        the administrator, edge servers, operators and faucet, users' names, meters, EVs and
        community members."""
        return self.at_head(("labels", self.index.last_indexed()), self._labels)

    def names(self) -> dict[str, str]:
        return {a: v["label"] for a, v in self.labels().items()}

    def _labels(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}

        def add(address: str | None, label: str, kind: str) -> None:
            if not address:
                return
            a = to_checksum_address(address)
            if a in out:
                if label not in out[a]["label"].split(" · "):
                    out[a]["label"] += " · " + label
            else:
                out[a] = {"label": label, "kind": kind}

        deps = {m: d for m in MARKETS if (d := load_deployment(self.chain, self.settings.data_dir, m)) is not None}
        self.deployments = deps
        market_of = {to_checksum_address(a): m for m, d in deps.items() for a in d.contracts.values()}
        tokens = {t["address"]: t.get("symbol") for t in self.index.tokens()}
        for a, kind in sorted(self.index.contract_names.items()):
            m = market_of.get(a)
            label = kind if m in (None, "elecoin") else f"{m} {kind}"
            if tokens.get(a) and tokens[a] != kind:
                label += f" ({tokens[a]})"
            add(a, label, "contract")
        add(self.etsc.administrator(), "administrator", "role")
        for k, a in enumerate(self.etsc.edge_servers()):
            add(a, f"edge server {k + 1}", "role")
        if "elecoin" in deps:
            add(deps["elecoin"].guardian, "guardian", "role")  # may pause the market
        ours = {to_checksum_address(a) for d in deps.values() for a in d.contracts.values()}
        for m in ("community", "fleet"):
            if m in deps:
                add(deps[m].administrator, f"{m} administrator", "role")
                for name, address in deps[m].contracts.items():
                    if name not in ("ProofStaking", "V2VSettlement"):
                        continue
                    for e in self.index.events_named(("RoleGranted",), emitter=address):
                        role = ROLE_NAMES.get(str(e["args"]["role"]).lower().removeprefix("0x"))
                        if role is not None:
                            add(e["args"]["account"], f"{m} {role}", "role")
        add(self.faucet_address(), "faucet", "role")
        for a, v in self.index.event_labels(ours).items():
            add(a, v["label"], v["kind"])
        return out

    def at_index(self, key: Any, compute: Any) -> Any:
        """``compute()`` of index reads only, cached until the index moves: at most one such
        computation runs at a time (without the chain lock), and the last 256 are kept."""
        last = self.index.last_indexed()
        hit = self._index_cache.get(key)
        if hit is not None and hit[0] == last:
            return hit[1]
        with self._index_cache_lock:
            hit = self._index_cache.get(key)
            if hit is not None and hit[0] == last:
                return hit[1]
            value = compute()
            self._index_cache[key] = (last, value)
            self._index_cache.move_to_end(key)
            while len(self._index_cache) > 256:
                self._index_cache.popitem(last=False)
            return value

    def etsc_users(self) -> list[AccountState]:
        """Every user the ETSC registered, with its account; an account is read again only when a
        transaction of a newly indexed block involved it (``Index.touched``), so a new block costs
        the reads of the accounts it changed, not of every user."""
        with self.lock:
            last = self.index.last_indexed()
            if self._users_at == last:
                return list(self._users.values())
            stale = set() if self._users_at is None else self.index.touched(self._users_at, last)
            n = int(self.etsc.contract.functions.userCount().call())
            for i in range(len(self._user_list), n):  # the ETSC's user list only grows
                self._user_list.append(to_checksum_address(self.etsc.contract.functions.userAt(i).call()))
            for a in self._user_list:
                if a not in self._users or a in stale:
                    self._users[a] = self.etsc.account(a)
            self._users_at = last
            return [self._users[a] for a in self._user_list]

    def at_head(self, key: Any, compute: Any) -> Any:
        """``compute()``, cached until the chain's head moves; a hit takes no lock."""
        head = self.reader.head()
        hit = self._cache.get(key)
        if hit is not None and hit[0] == head:
            return hit[1]
        with self.lock:
            value = compute()
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (head, value)
            return value

    # -- sessions
    def new_session(self, name: str, signer: LocalSigner) -> Session:
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(24), name, signer,
                    time.time() + 3600 * self.settings.session_hours)
        if len(self.sessions) >= 10_000:  # forget expired sessions (each holds an unlocked key)
            now = time.time()
            for token in [t for t, x in list(self.sessions.items()) if x.expires < now]:
                self.sessions.pop(token, None)
        self.sessions[s.token] = s
        return s

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        s = self.sessions.get(token)
        if s is None or s.expires < time.time():
            self.sessions.pop(token or "", None)
            return None
        return s

    # -- roles
    def roles(self, address: str) -> list[str]:
        a = to_checksum_address(address)
        acc = self.at_head(("account", a), lambda: self.etsc.account(a))
        admin = self.at_head("administrator", self.etsc.administrator)
        roles = []
        if a == admin:
            roles.append("admin")
        if acc.edge_server:
            roles.append("edge_server")
        if acc.registered and acc.trans_right:
            roles.append("prosumer")
        if acc.registered and acc.gen_right:
            roles.append("retailer")
        if acc.meter_of:
            roles.append("meter")
        return roles

    def faucet(self) -> Signer | None:
        """The account that funds new accounts on dev chains (None when ``faucet_ether`` is 0)."""
        if self.settings.faucet_ether <= 0:
            return None
        dev = self.chain.dev_signers()
        return dev[0] if dev else None

    def faucet_address(self) -> str | None:
        """The faucet's address without unlocking its key (the embedded chain's first funded
        account is its default sender; unlocking the vault costs a key derivation)."""
        if self.settings.faucet_ether <= 0:
            return None
        if isinstance(self.chain, EmbeddedChain):
            return to_checksum_address(self.chain.w3.eth.default_account)
        faucet = self.faucet()
        return faucet.address if faucet is not None else None

    def fund(self, address: str) -> None:
        """Give a new account native coin on dev chains (from the faucet)."""
        faucet = self.faucet()
        if faucet is None:
            return
        with self.lock:
            self.chain.send_value(faucet, address, int(self.settings.faucet_ether * ETHER))

    def privileged_accounts(self) -> dict[str, str]:
        """Role -> address of every account whose key gives power: the market's administrator and
        edge servers, the faucet, and every role of the community's and the fleet's staking and
        settlement contracts (administrator, operator, guardian, pending administrator, treasury)."""
        with self.lock:
            out = {"administrator": self.etsc.administrator()}
            out.update({f"edge server {k + 1}": a for k, a in enumerate(self.etsc.edge_servers())})
            faucet = self.faucet()
            for market in ("community", "fleet"):
                dep = load_deployment(self.chain, self.settings.data_dir, market)
                if dep is not None:
                    for role, address in staking_role_holders(self.chain, dep, market):
                        k, label = 1, role
                        while label in out:  # several holders of one role
                            k += 1
                            label = f"{role} {k}"
                        out[label] = address
        if faucet is not None:
            out["faucet"] = faucet.address
        return {role: to_checksum_address(a) for role, a in out.items()}

    def close(self) -> None:
        """Stop the relay's executors (worker processes and threads) and the background indexer."""
        self.stop_background()
        self.reader.close()
        self.rpc_pool.shutdown(wait=False, cancel_futures=True)


ROLE_NAMES = {"00" * 32: "administrator", keccak(b"OPERATOR_ROLE").hex(): "operator",
              keccak(b"GUARDIAN_ROLE").hex(): "guardian"}
"""The staking and settlement contracts' roles by their bytes32 id (hex, no 0x)."""


def refuse_vault_password_file(data_dir: Path) -> None:
    """``--env prod``: the key vault's password comes from ``$GRIDLEDGER_PASSWORD`` (a service
    manager's or secret store's secret) and from nowhere on disk: the vault holds the keys of
    every privileged account (administrator, edge servers, operators, guardians), and a password
    file beside it would give them to whoever copies the data directory."""
    from gridledger.ledger.accounts import PASSWORD_ENV, PASSWORD_FILE, password_source, vault_dir

    file = vault_dir(data_dir) / PASSWORD_FILE
    source = password_source(data_dir)
    if source == "file":
        raise ConfigError(PASSWORD_ENV, f"--env prod takes the key vault's password from {PASSWORD_ENV} only, but "
                          f"it is in {file} beside the vault (whoever copies the data directory would hold every "
                          f"privileged key): set {PASSWORD_ENV} to that file's content, then delete the file")
    if source == "none":
        raise ConfigError(PASSWORD_ENV, f"--env prod needs the key vault's password in {PASSWORD_ENV} (at least 8 "
                          "characters, from a secret store); it is not set")
    if file.exists():
        raise ConfigError(PASSWORD_ENV, f"{PASSWORD_ENV} is set but {file} still holds a password beside the vault: "
                          "delete the file")


def refuse_well_known_keys(state: AppState) -> None:
    """``--env prod``: refuse a chain whose privileged accounts use a well-known development key."""
    public = {role: a for role, a in state.privileged_accounts().items() if is_well_known(a)}
    if public:
        listed = ", ".join(f"{role} {a}" for role, a in public.items())
        raise ConfigError("env", f"prod refuses a chain whose privileged keys are public development keys "
                                 f"(anybody can sign with them): {listed}. Deploy with keys of your own "
                                 f"(and set GRIDLEDGER_FAUCET_ETHER=0 when the faucet is a development account)")


def build_state(settings: Settings) -> AppState:
    """Open the chain, deploy the market if needed, prepare the keystore's service accounts."""
    data_dir = settings.data_dir
    chain = open_chain(settings.rpc_url, data_dir)
    lock = threading.RLock()
    dep, _ = deploy_market(chain, data_dir, MarketDeployment())
    etsc = ETSCClient(chain, dep.contracts["ETSC"])
    ks = Keystore(data_dir / "keystore", kdf=settings.keystore_kdf, iterations=settings.keystore_iterations)
    service: dict[str, LocalSigner] = {}
    # The administrator and the edge servers have random keys in the data directory's key vault
    # (deploy_market); they become keystore accounts protected by the admin password.
    vault = open_vault(data_dir)
    named = [("admin", etsc.administrator())] + [(f"edge-server-{k + 1}", a) for k, a in enumerate(dep.edge_servers)]
    for name, address in named:
        try:
            ks.find(address)
        except KeystoreError:
            signer = vault.find(address, chain.chain_id)
            if signer is not None:
                ks.create(name, settings.admin_password, private_key=bytes(signer.account.key))
    # The explorer names every contract gridledger deployed on this chain (market, community, fleet).
    known = dict(dep.contracts)
    for market in ("community", "fleet"):
        other = load_deployment(chain, data_dir, market)
        if other is not None:
            known.update({f"{market}:{name}": address for name, address in other.contracts.items()})
    index = Index(chain, data_dir / "explorer" / f"{chain.chain_id}.sqlite", known, lock)
    return AppState(settings, chain, etsc, ks, index, lock, service)
