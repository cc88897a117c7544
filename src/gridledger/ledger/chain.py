"""Chain backends: an embedded, persistent py-evm chain and any JSON-RPC node.

Both give a :class:`Chain` with the same API: signers, :meth:`Chain.transact` (preflight with
``eth_call`` so that a refused call raises a decoded :class:`~gridledger.ledger.errors.
ContractRevert` and costs nothing, then sign, send with explicit gas and wait for the receipt),
:meth:`Chain.deploy` and :meth:`Chain.contract`.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from gridledger.errors import GridledgerError
from gridledger.ledger.artifacts import abi, load_artifact
from gridledger.ledger.errors import ContractRevert, decode_revert, revert_data

DEFAULT_GAS = 600_000
DEPLOY_GAS = 6_000_000
EMBEDDED_GAS_CAP = 12_000_000
BACKENDS = ("embedded", "rpc")


class ChainError(GridledgerError):
    """The chain cannot be reached or used (not a contract revert)."""


@dataclass(frozen=True)
class LocalSigner:
    """An account whose key gridledger holds (signs locally, sends raw transactions).

    ``test_key`` marks a key derived from a public label (:func:`derived_signer`): chains other
    than the embedded one and anvil refuse to send its transactions.
    """

    account: LocalAccount
    test_key: bool = False

    @property
    def address(self) -> str:
        return self.account.address


@dataclass(frozen=True)
class NodeSigner:
    """An account unlocked in the node (dev nodes); the node signs."""

    address: str


Signer = LocalSigner | NodeSigner


TEST_KEYS_ENV = "GRIDLEDGER_TEST_KEYS"
"""The explicit switch for label-derived keys: only the test suite sets it (to "1")."""
ANVIL_CHAIN_ID = 31337


def derived_signer(label: str, index: int) -> LocalSigner:
    """A test account whose key is keccak("gridledger:<label>:<index>"): PUBLIC, anybody can sign.

    Only behind the test switch (``$GRIDLEDGER_TEST_KEYS=1``), and only usable on the embedded
    chain and anvil (chain id 31337): :meth:`Chain.transact` refuses it elsewhere. Every other
    account comes from :func:`gridledger.ledger.accounts.accounts_for` (random keys).

    Raises
    ------
    ChainError
        The switch is off.
    """
    if os.environ.get(TEST_KEYS_ENV) != "1":
        raise ChainError(f"label-derived keys are public; they exist only for tests (set {TEST_KEYS_ENV}=1, "
                         "embedded chain or anvil only); use gridledger.ledger.accounts.accounts_for")
    key = keccak(f"gridledger:{label}:{index}".encode())
    return LocalSigner(Account.from_key(key), test_key=True)


class Chain:
    """Common transaction logic over a web3 connection."""

    backend: str = ""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._writers: dict[str, threading.Lock] = {}
        self._writers_lock = threading.Lock()
        self._chain_id: int | None = None

    # -- identity
    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    @property
    def dev_chain(self) -> bool:
        """True for chains whose clock and keys are ours to play with: the embedded chain and anvil."""
        return False

    def timestamp(self) -> int:
        """Time of the latest block (seconds)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_time(self, seconds: int) -> int:
        """Move a dev chain's clock forward by ``seconds`` and mine a block; returns the new time.

        Raises
        ------
        ChainError
            Not a dev chain (a live network's clock is nobody's to move).
        """
        raise ChainError(f"chain {self.chain_id} is not a dev chain: its clock cannot be moved")

    def dev_signers(self) -> list[Signer]:
        """Funded accounts of the chain (embedded: its genesis keys; rpc: the node's unlocked accounts)."""
        raise NotImplementedError

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    def close(self) -> None:
        """Release the chain (the embedded chain closes its store)."""

    # -- transactions
    def _writer(self, address: str) -> threading.Lock:
        """The writer queue of one account: its transactions get their nonces and are sent one at a time."""
        with self._writers_lock:
            lock = self._writers.get(address)
            if lock is None:
                lock = self._writers[address] = threading.Lock()
            return lock

    def _pending_nonce(self, address: str) -> int:
        """The account's next nonce as the chain sees it (mined and pending transactions, whoever sent them)."""
        return int(self.w3.eth.get_transaction_count(address, "pending"))

    def preflight(self, tx: dict[str, Any]) -> None:
        """Execute ``tx`` with eth_call on the pending block (the block it will be mined in, so
        that deadlines counted in blocks are seen as the transaction will see them); raise the
        decoded revert if it would fail."""
        call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
        try:
            self.w3.eth.call(call, "pending")
        except Exception as exc:  # web3 and eth-tester raise many types; keep only reverts
            _raise_revert(exc, int(tx.get("gas", 0)))

    def estimate_gas(self, signer: Signer, to: str, data: str, value: int = 0, margin: float = 1.25) -> int:
        """Gas for a transaction, with a safety margin; raises the decoded revert if it would fail."""
        call = {"from": signer.address, "to": to_checksum_address(to), "data": data, "value": int(value)}
        try:
            return int(int(self.w3.eth.estimate_gas(call, "pending")) * margin) + 10_000  # type: ignore[arg-type]
        except Exception as exc:
            _raise_revert(exc, 0)
            raise  # pragma: no cover - _raise_revert always raises

    def transact(self, signer: Signer, to: str | None, data: str, value: int = 0,
                 gas: int = DEFAULT_GAS, preflight: bool = True) -> TxReceipt:
        """Send one transaction and wait for its receipt.

        Raises
        ------
        ContractRevert
            The call would revert (decoded custom error); nothing is sent.
        """
        if getattr(signer, "test_key", False) and not self.dev_chain:
            raise ChainError(f"{signer.address} has a label-derived test key (public); chain {self.chain_id} is not "
                             f"the embedded chain or anvil ({ANVIL_CHAIN_ID}), so it is refused")
        sender = signer.address
        tx: dict[str, Any] = {"from": sender, "value": int(value), "gas": int(gas), "data": data,
                              "chainId": self.chain_id}
        if to is not None:
            tx["to"] = to_checksum_address(to)
        if preflight:
            self.preflight(tx)
        tx["gasPrice"] = int(self.w3.eth.gas_price)
        # One writer per account: read the pending nonce, sign, send. Another party may use the same
        # key (a browser wallet through /rpc, another process): when the chain says the nonce is
        # stale, read it again and retry once.
        with self._writer(sender):
            for attempt in (0, 1):
                tx["nonce"] = self._pending_nonce(sender)
                try:
                    if isinstance(signer, LocalSigner):
                        raw = signer.account.sign_transaction(tx).raw_transaction
                        tx_hash = self.w3.eth.send_raw_transaction(raw)
                    else:
                        tx_hash = self.w3.eth.send_transaction(tx)  # type: ignore[arg-type]
                    break
                except Exception as exc:
                    if attempt == 0 and _is_nonce_error(exc):
                        continue
                    data_bytes = revert_data(exc)
                    if data_bytes is not None or _looks_like_revert(exc):
                        raise decode_revert(data_bytes or b"") from None
                    raise
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.01)
        if receipt["status"] != 1:
            if not preflight:  # name the error: replay the call on the state the failure left unchanged
                self.preflight(tx)
            raise ContractRevert("Reverted", {"transaction": tx_hash.hex()})
        return receipt

    def send_value(self, signer: Signer, to: str, wei: int) -> TxReceipt:
        return self.transact(signer, to, "0x", value=wei, gas=21_000, preflight=False)

    def deploy(self, name: str, signer: Signer, *args: Any, gas: int = DEPLOY_GAS) -> tuple[str, TxReceipt]:
        """Deploy contract ``name`` from the shipped artifacts; returns (address, receipt)."""
        art = load_artifact(name)
        factory = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        data = factory.constructor(*args).data_in_transaction
        receipt = self.transact(signer, None, data, gas=gas)
        return to_checksum_address(receipt["contractAddress"]), receipt

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=abi(name))

    def has_code(self, address: str) -> bool:
        return len(self.w3.eth.get_code(to_checksum_address(address))) > 0

    def mine(self, blocks: int) -> None:
        """Mine ``blocks`` empty blocks (development chains only: embedded, anvil, Hardhat), so
        that deadlines counted in blocks pass; raises :class:`ChainError` elsewhere."""
        raise ChainError("this chain does not mine on request: wait for its blocks")


def _raise_revert(exc: BaseException, gas: int) -> None:
    """Re-raise a failed call as a decoded :class:`ContractRevert` (``OutOfGas`` for gas)."""
    text = str(exc).lower()
    if "out of gas" in text:
        raise ContractRevert("OutOfGas", {"gas": gas}) from None
    if any(m in text for m in _FUNDS_ERRORS):  # eth-tester's ValidationError, a node's "insufficient funds"
        raise ContractRevert("InsufficientFunds", {}) from None
    data = revert_data(exc)
    if data is None and not _looks_like_revert(exc):
        raise exc
    raise decode_revert(data or b"") from None


_NONCE_ERRORS = ("nonce", "already known", "replacement transaction underpriced")
_FUNDS_ERRORS = ("does not have enough balance", "insufficient funds", "insufficient balance for transfer")


def _is_nonce_error(exc: BaseException) -> bool:
    """The node refused a transaction because its nonce was used or is not the next one."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(m in text for m in _NONCE_ERRORS)


def _looks_like_revert(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "revert" in text or "transactionfailed" in text or "execution reverted" in text


# ---------------------------------------------------------------------------- embedded


GENESIS_ACCOUNTS = 10
GENESIS_WEI = 10**24
"""Native coin of each funded genesis account (1,000,000 coin)."""
MIN_CHAIN_ID = 2**32
MAX_CHAIN_ID = 4_503_599_627_370_476
"""Largest chain id wallets accept (MetaMask's bound, below JavaScript's 2**53)."""


def random_chain_id() -> int:
    """A fresh chain id from the OS's CSPRNG, clear of the ids of public networks and dev nodes."""
    return MIN_CHAIN_ID + secrets.randbelow(MAX_CHAIN_ID - MIN_CHAIN_ID)


class EmbeddedChain(Chain):
    """py-evm in process (web3 + eth-tester), persisted in SQLite under ``data_dir``.

    Every new chain gets its own random chain id and random keys for its funded genesis
    accounts (nothing well-known: eth-tester's built-in keys 0x..01-0x..0a hold nothing and sign
    nothing here). ``data_dir=None`` keeps the chain and its keys in memory. With a data dir,
    the chain id is kept in the store and the genesis keys in the key vault (``vault``, default
    :func:`gridledger.ledger.accounts.open_vault` of ``data_dir``), unlocked when first needed.
    One process at a time may open a data dir. Transactions signed for another chain id, or
    without one, are refused (no replay between instances).
    """

    backend = "embedded"

    def __init__(self, data_dir: str | Path | None = None, synchronous: str = "NORMAL",
                 vault: Any | None = None) -> None:
        from eth_tester import EthereumTester
        from web3.providers.eth_tester import EthereumTesterProvider
        from web3.providers.eth_tester.defaults import API_ENDPOINTS

        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._lock_fd: int | None = None
        self._vault = vault
        self._genesis: list[LocalSigner] | None = None
        db = None
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = _lock(self.data_dir / "chain.lock")
            from gridledger.ledger.kvstore import SQLiteAtomicDB

            db = SQLiteAtomicDB(self.data_dir / "chain.sqlite", synchronous=synchronous)
        self._db = db
        try:
            self._embedded_chain_id = self._identity(db)
            self.tester_backend = _durable_backend(db, self._embedded_chain_id, self._genesis_for_new_chain)
        except BaseException:
            self.close()
            raise
        tester = EthereumTester(backend=self.tester_backend)
        api = {k: dict(v) for k, v in API_ENDPOINTS.items()}
        chain_id = self._embedded_chain_id
        api["eth"]["chainId"] = lambda *_: chain_id
        super().__init__(Web3(EthereumTesterProvider(tester, api_endpoints=api)))
        self._chain_id = chain_id
        # Calls without a sender come from the first funded account (eth-tester wants a sender
        # that can afford the call's gas; the backend itself holds no key).
        self.w3.eth.default_account = self._funder_address()

    def _identity(self, db: Any) -> int:
        if db is None:
            return random_chain_id()
        stored = db.get_meta("chain_id")
        if stored is not None:
            return int(stored)
        if db.get_meta("genesis") is not None:
            raise ChainError(f"{self.data_dir}: this chain was created with eth-tester's well-known keys and shared "
                             "chain id (an older gridledger); move the directory away to start a new chain")
        return random_chain_id()

    def _funder_address(self) -> str:
        if self._genesis is not None:
            return self._genesis[0].address
        for e in self._vault_or_default().entries(self._embedded_chain_id):
            if e.role == "funder" and e.index == 0:
                return e.address
        raise ChainError(f"{self.data_dir}: the key vault has no funded account of chain {self._embedded_chain_id} "
                         "(was the vault moved or replaced?)")

    def _vault_or_default(self) -> Any:
        if self._vault is None:
            from gridledger.ledger.accounts import open_vault

            assert self.data_dir is not None
            self._vault = open_vault(self.data_dir)
        return self._vault

    def _genesis_for_new_chain(self) -> list[bytes]:
        """Random keys for a new chain's funded accounts (kept in the vault if persistent)."""
        if self.data_dir is None:
            self._genesis = [LocalSigner(Account.from_key(secrets.token_bytes(32))) for _ in range(GENESIS_ACCOUNTS)]
        else:
            self._genesis = self._vault_or_default().signers(self._embedded_chain_id, "funder", GENESIS_ACCOUNTS)
        return [bytes(s.account.key) for s in self._genesis]

    @property
    def dev_chain(self) -> bool:
        return True

    def dev_signers(self) -> list[Signer]:
        """The funded genesis accounts (random keys; unlocked from the vault on first use)."""
        if self._genesis is None:
            self._genesis = self._vault_or_default().signers(self._embedded_chain_id, "funder", GENESIS_ACCOUNTS,
                                                              create=False)
        return list(self._genesis)

    def advance_time(self, seconds: int) -> int:
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        target = self.timestamp() + int(seconds)
        self.tester_backend.time_travel(target + 1)  # eth-tester mines at target - 1
        if self._db is not None:
            self._db.commit()
        return self.timestamp()

    def estimate_gas(self, signer: Signer, to: str, data: str, value: int = 0, margin: float = 1.25) -> int:
        """A fixed cap instead of eth-tester's estimate (a binary search that re-executes the call
        some 20 times). Only the gas used is charged; the preflight still catches reverts."""
        return EMBEDDED_GAS_CAP

    def mine(self, blocks: int) -> None:
        if blocks > 0:
            self.tester_backend.mine_blocks(blocks)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ChainError(f"{path.parent}: chain data dir is in use by another gridledger process") from None
    return fd


def _durable_backend(db: Any, chain_id: int, new_keys: Any) -> Any:
    """An eth-tester PyEVMBackend whose chain (id ``chain_id``) lives in ``db`` and commits after
    every block; ``new_keys()`` gives the funded keys of a new genesis. The backend itself holds
    no key (``eth_sendTransaction`` signs nothing) and refuses raw transactions signed for
    another chain id or without one."""
    from eth_keys import keys as eth_keys
    from eth_tester.backends.pyevm.main import (
        PyEVMBackend,
        generate_genesis_state_for_keys,
        get_default_genesis_params,
        setup_tester_chain,
    )
    from eth_tester.exceptions import ValidationError

    class DurablePyEVMBackend(PyEVMBackend):
        def reset_to_genesis(self, genesis_params=None, genesis_state=None, num_accounts=None,
                             vm_configuration=None, mnemonic=None, hd_path=None):
            from eth.db.atomic import AtomicDB

            self.account_keys = []
            _, memory_chain = setup_tester_chain(genesis_params, genesis_state, 1, vm_configuration,
                                                 mnemonic, hd_path)
            chain_class = type(memory_chain).configure(__name__="GridledgerChain", chain_id=chain_id)
            if db is not None and db.get_meta("genesis") is not None:
                self.chain = chain_class(db)
                return
            keys = [eth_keys.PrivateKey(k) for k in new_keys()]
            params = genesis_params or get_default_genesis_params()
            state = generate_genesis_state_for_keys(keys, overrides={"balance": GENESIS_WEI})
            self.chain = chain_class.from_genesis(db if db is not None else AtomicDB(), params, state)
            if db is not None:
                db.set_meta("chain_id", str(chain_id))
                db.set_meta("genesis", self.chain.get_canonical_block_header_by_number(0).hash.hex())
                db.set_meta("created", str(int(time.time())))
                db.commit()

        def send_raw_transaction(self, raw_transaction):
            from eth.vm.forks.prague.transactions import PragueTransactionBuilder

            tx = PragueTransactionBuilder.decode(raw_transaction)
            signed_for = getattr(tx, "chain_id", None)
            if signed_for != chain_id:
                raise ValidationError(f"transaction signed for chain id {signed_for}; this chain is {chain_id} "
                                      "(replay refused)")
            return super().send_raw_transaction(raw_transaction)

        def mine_blocks(self, num_blocks=1, coinbase=None):
            hashes = super().mine_blocks(num_blocks, coinbase if coinbase is not None else 20 * b"\x00")
            if db is not None:
                db.commit()
            return hashes

    return DurablePyEVMBackend()


# ---------------------------------------------------------------------------- rpc


class RPCChain(Chain):
    """Any Ethereum JSON-RPC node (anvil, Hardhat, Geth/Besu, an Avalanche C-chain...)."""

    backend = "rpc"

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        from web3 import HTTPProvider

        self.url = url
        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))
        super().__init__(w3)
        try:
            _ = self.chain_id
        except Exception as exc:
            raise ChainError(f"cannot reach a JSON-RPC node at {url} ({type(exc).__name__})") from None

    def dev_signers(self) -> list[Signer]:
        return [NodeSigner(to_checksum_address(a)) for a in self.w3.eth.accounts]

    @property
    def dev_chain(self) -> bool:
        return self.chain_id == ANVIL_CHAIN_ID

    def advance_time(self, seconds: int) -> int:
        if not self.dev_chain:
            return super().advance_time(seconds)
        self.w3.provider.make_request("evm_increaseTime", [int(seconds)])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return self.timestamp()

    def mine(self, blocks: int) -> None:
        while blocks > 0:  # in chunks: a node answers each request well within the timeout
            n = min(blocks, 200)
            for method in ("anvil_mine", "hardhat_mine"):
                if "error" not in self.w3.provider.make_request(method, [hex(n)]):  # type: ignore[arg-type]
                    break
            else:
                raise ChainError(f"{self.url} does not mine on request: wait for its blocks")
            blocks -= n


def signer_for(chain: Chain, address: str) -> Signer:
    """The dev signer holding ``address`` (administrator or edge server of a deployment)."""
    target = to_checksum_address(address)
    for signer in chain.dev_signers():
        if signer.address == target:
            return signer
    raise ChainError(f"no key for {target} on this chain (is it the chain the deployment was made on?)")


def default_data_dir() -> Path:
    """``$GRIDLEDGER_DATA_DIR`` or ``~/.gridledger``."""
    env = os.environ.get("GRIDLEDGER_DATA_DIR")
    return Path(env) if env else Path.home() / ".gridledger"


def open_chain(rpc_url: str | None = None, data_dir: str | Path | None = None) -> Chain:
    """The rpc backend when a URL is given, else the embedded chain under ``data_dir/chain``
    (its genesis keys in ``data_dir``'s key vault)."""
    if rpc_url:
        return RPCChain(rpc_url)
    from gridledger.ledger.accounts import open_vault

    home = Path(data_dir or default_data_dir())
    return EmbeddedChain(home / "chain", vault=open_vault(home))
