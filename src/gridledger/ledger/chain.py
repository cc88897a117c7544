"""Chain backends: an embedded, persistent py-evm chain and any JSON-RPC node.

Both give a :class:`Chain` with the same API: signers, :meth:`Chain.transact` (preflight with
``eth_call`` so that a refused call raises a decoded :class:`~gridledger.ledger.errors.
ContractRevert` and costs nothing, then sign, send with explicit gas and wait for the receipt),
:meth:`Chain.deploy` and :meth:`Chain.contract`.
"""

from __future__ import annotations

import fcntl
import os
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
    """An account whose key gridledger holds (signs locally, sends raw transactions)."""

    account: LocalAccount

    @property
    def address(self) -> str:
        return self.account.address


@dataclass(frozen=True)
class NodeSigner:
    """An account unlocked in the node (dev nodes); the node signs."""

    address: str


Signer = LocalSigner | NodeSigner


def derived_signer(label: str, index: int) -> LocalSigner:
    """A deterministic demo account: key = keccak(label, index). Only for local/demo chains."""
    key = keccak(f"gridledger:{label}:{index}".encode())
    return LocalSigner(Account.from_key(key))


class Chain:
    """Common transaction logic over a web3 connection."""

    backend: str = ""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._nonces: dict[str, int] = {}
        self._chain_id: int | None = None

    # -- identity
    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def dev_signers(self) -> list[Signer]:
        """Funded accounts of the chain (embedded: its genesis keys; rpc: the node's unlocked accounts)."""
        raise NotImplementedError

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    def close(self) -> None:
        """Release the chain (the embedded chain closes its store)."""

    # -- transactions
    def _next_nonce(self, address: str) -> int:
        if address not in self._nonces:
            self._nonces[address] = int(self.w3.eth.get_transaction_count(address, "pending"))
        return self._nonces[address]

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
        sender = signer.address
        tx: dict[str, Any] = {"from": sender, "value": int(value), "gas": int(gas), "data": data,
                              "chainId": self.chain_id}
        if to is not None:
            tx["to"] = to_checksum_address(to)
        if preflight:
            self.preflight(tx)
        tx["gasPrice"] = int(self.w3.eth.gas_price)
        tx["nonce"] = self._next_nonce(sender)
        try:
            if isinstance(signer, LocalSigner):
                raw = signer.account.sign_transaction(tx).raw_transaction
                tx_hash = self.w3.eth.send_raw_transaction(raw)
            else:
                tx_hash = self.w3.eth.send_transaction(tx)  # type: ignore[arg-type]
        except Exception as exc:
            self._nonces.pop(sender, None)
            data_bytes = revert_data(exc)
            if data_bytes is not None or _looks_like_revert(exc):
                raise decode_revert(data_bytes or b"") from None
            raise
        self._nonces[sender] = tx["nonce"] + 1
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
    if "out of gas" in str(exc).lower():
        raise ContractRevert("OutOfGas", {"gas": gas}) from None
    data = revert_data(exc)
    if data is None and not _looks_like_revert(exc):
        raise exc
    raise decode_revert(data or b"") from None


def _looks_like_revert(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "revert" in text or "transactionfailed" in text or "execution reverted" in text


# ---------------------------------------------------------------------------- embedded


class EmbeddedChain(Chain):
    """py-evm in process (web3 + eth-tester), persisted in SQLite under ``data_dir``.

    ``data_dir=None`` keeps the chain in memory. One process at a time may open a data dir.
    """

    backend = "embedded"

    def __init__(self, data_dir: str | Path | None = None, synchronous: str = "NORMAL") -> None:
        from eth_tester import EthereumTester
        from web3.providers.eth_tester import EthereumTesterProvider

        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._lock_fd: int | None = None
        db = None
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock_fd = _lock(self.data_dir / "chain.lock")
            from gridledger.ledger.kvstore import SQLiteAtomicDB

            db = SQLiteAtomicDB(self.data_dir / "chain.sqlite", synchronous=synchronous)
        self._db = db
        self.tester_backend = _durable_backend(db)
        tester = EthereumTester(backend=self.tester_backend)
        super().__init__(Web3(EthereumTesterProvider(tester)))

    def dev_signers(self) -> list[Signer]:
        return [LocalSigner(Account.from_key(k.to_bytes())) for k in self.tester_backend.account_keys]

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


def _durable_backend(db: Any) -> Any:
    """An eth-tester PyEVMBackend whose chain lives in ``db`` and commits after every block."""
    from eth_tester.backends.pyevm.main import (
        PyEVMBackend,
        generate_genesis_state_for_keys,
        get_default_genesis_params,
        setup_tester_chain,
    )

    class DurablePyEVMBackend(PyEVMBackend):
        def reset_to_genesis(self, genesis_params=None, genesis_state=None, num_accounts=None,
                             vm_configuration=None, mnemonic=None, hd_path=None):
            keys, memory_chain = setup_tester_chain(genesis_params, genesis_state, num_accounts, vm_configuration,
                                                    mnemonic, hd_path)
            self.account_keys = keys
            if db is None:
                self.chain = memory_chain
                return
            chain_class = type(memory_chain)
            if db.get_meta("genesis") is not None:
                self.chain = chain_class(db)
            else:
                params = genesis_params or get_default_genesis_params()
                state = genesis_state or generate_genesis_state_for_keys(keys)
                self.chain = chain_class.from_genesis(db, params, state)
                db.set_meta("genesis", self.chain.get_canonical_block_header_by_number(0).hash.hex())
                db.set_meta("created", str(int(time.time())))
                db.commit()

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
    """The rpc backend when a URL is given, else the embedded chain under ``data_dir``."""
    if rpc_url:
        return RPCChain(rpc_url)
    return EmbeddedChain(Path(data_dir or default_data_dir()) / "chain")
