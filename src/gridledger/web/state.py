"""What the web app holds: the chain, the deployed market, the keystore, sessions, the index."""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from gridledger.ledger.accounts import open_vault
from gridledger.ledger.chain import Chain, LocalSigner, open_chain
from gridledger.ledger.clients import ETSCClient
from gridledger.ledger.deploy import MarketDeployment, deploy_market, load_deployment
from gridledger.ledger.keystore import Keystore, KeystoreError
from gridledger.web.indexer import Index
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
    attempts: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    dashboard: dict[str, Any] | None = None
    _cache: dict[Any, tuple[int, Any]] = field(default_factory=dict)

    def at_head(self, key: Any, compute: Any) -> Any:
        """``compute()``, cached until the chain's head moves (reads are cheap to repeat)."""
        with self.lock:
            head = self.chain.block_number()
            hit = self._cache.get(key)
            if hit is not None and hit[0] == head:
                return hit[1]
            value = compute()
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (head, value)
            return value

    # -- sessions
    def new_session(self, name: str, signer: LocalSigner) -> Session:
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(24), name, signer,
                    time.time() + 3600 * self.settings.session_hours)
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

    def rate_limited(self, key: str) -> bool:
        """Record one sign-in attempt for ``key``; True when over the per-minute budget."""
        now = time.time()
        q = self.attempts[key]
        while q and q[0] < now - 60:
            q.popleft()
        q.append(now)
        return len(q) > self.settings.login_attempts_per_minute

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

    def fund(self, address: str) -> None:
        """Give a new account native coin on dev chains (from the first dev account)."""
        if self.settings.faucet_ether <= 0:
            return
        with self.lock:
            dev = self.chain.dev_signers()
            if dev:
                self.chain.send_value(dev[0], address, int(self.settings.faucet_ether * ETHER))


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
