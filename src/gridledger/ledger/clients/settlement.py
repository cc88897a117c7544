"""V2VSettlement: the fleet's profits settled in batches, the miner's fee deducted at settlement
(thesis Fig. 4.5, eq. 4.20)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from gridledger.ledger.chain import Chain, Signer
from gridledger.ledger.clients.base import ContractClient, TxResult, address_bytes
from gridledger.ledger.clients.staking import StakingClient
from gridledger.ledger.clients.typed import domain_separator, sign_hash, typed_hash

SUBSCRIBE_TYPEHASH = keccak(b"Subscribe(address ev,uint16 betaBps)")


@dataclass(frozen=True)
class SettlementAccount:
    held: int
    """Profit net of fees, withdrawable (wei)."""
    fees: int
    """Fees received as a miner, withdrawable (wei)."""
    last_round: int
    last_credit_block: int
    subscribed: bool


class V2VSettlementClient(ContractClient):
    """V2VSettlement: batched settlement, fee deducted at settlement, release and expiry."""

    contract_name = "V2VSettlement"
    BATCH = 200
    """EVs per settle, subscribeFor, release or sweepExpired transaction."""

    def __init__(self, chain: Chain, address: str) -> None:
        super().__init__(chain, address)
        self.staking = StakingClient(chain, self.contract.functions.staking().call())
        self._separator = domain_separator("V2VSettlement", "1", chain.chain_id, self.address)

    # -- subscription
    def subscribe(self, ev: Signer, beta_bps: int) -> TxResult:
        return self._send(ev, "subscribe", beta_bps)

    def sign_subscription(self, ev: Signer, beta_bps: int) -> tuple[bytes, bytes]:
        struct = keccak(encode(["bytes32", "address", "uint16"],
                               [SUBSCRIBE_TYPEHASH, address_bytes(ev.address), beta_bps]))
        return sign_hash(ev, typed_hash(self._separator, struct))

    def subscribe_for(self, relayer: Signer, evs: Sequence[Signer]) -> list[TxResult]:
        """Relay the subscriptions of ``evs``, each signing its acceptance of the contract's beta."""
        beta = self.beta_bps()
        out = []
        for k in range(0, len(evs), self.BATCH):
            chunk = evs[k:k + self.BATCH]
            sigs = [self.sign_subscription(e, beta) for e in chunk]
            out.append(self._send(relayer, "subscribeFor", [address_bytes(e.address) for e in chunk],
                                  [s[0] for s in sigs], [s[1] for s in sigs], gas="estimate", batch=True))
        return out

    # -- settlement (operator)
    def settle(self, operator: Signer, round_: int, evs: Sequence[str], profits_wei: Sequence[int]
               ) -> list[TxResult]:
        """Deposit a closed round's profits in batches of :attr:`BATCH` EVs (msg.value = batch sum)."""
        out = []
        for k in range(0, len(evs), self.BATCH):
            p = [int(x) for x in profits_wei[k:k + self.BATCH]]
            out.append(self._send(operator, "settle", round_, [address_bytes(a) for a in evs[k:k + self.BATCH]],
                                  p, value=sum(p), gas="estimate", batch=True))
        return out

    # -- collecting
    def withdraw(self, account: Signer) -> TxResult:
        return self._send(account, "withdraw")

    def release(self, sender: Signer, accounts: Sequence[str]) -> list[TxResult]:
        return [self._send(sender, "release", [address_bytes(a) for a in accounts[k:k + self.BATCH]],
                           gas="estimate", batch=True) for k in range(0, len(accounts), self.BATCH)]

    def sweep_expired(self, sender: Signer, accounts: Sequence[str]) -> list[TxResult]:
        return [self._send(sender, "sweepExpired", [address_bytes(a) for a in accounts[k:k + self.BATCH]],
                           gas="estimate", batch=True) for k in range(0, len(accounts), self.BATCH)]

    # -- administration
    def pause(self, guardian: Signer) -> TxResult:
        return self._send(guardian, "pause")

    def unpause(self, guardian: Signer) -> TxResult:
        return self._send(guardian, "unpause")

    def set_treasury(self, admin: Signer, treasury: str) -> TxResult:
        return self._send(admin, "setTreasury", to_checksum_address(treasury))

    # -- queries
    def beta_bps(self) -> int:
        return int(self.contract.functions.betaBps().call())

    def claim_window(self) -> int:
        return int(self.contract.functions.claimWindow().call())

    def treasury(self) -> str:
        return to_checksum_address(self.contract.functions.treasury().call())

    def total_owed(self) -> int:
        return int(self.contract.functions.totalOwed().call())

    def subscribed(self, ev: str) -> bool:
        return bool(self.contract.functions.subscribed(to_checksum_address(ev)).call())

    def held(self, ev: str) -> int:
        return int(self.contract.functions.held(to_checksum_address(ev)).call())

    def miner_credit(self, miner: str) -> int:
        return int(self.contract.functions.minerCredit(to_checksum_address(miner)).call())

    def owed(self, ev: str) -> int:
        """Fees ``ev`` still owes: always 0, the fee is deducted when its profit is deposited."""
        del ev
        return 0

    def account(self, who: str) -> SettlementAccount:
        t = self.contract.functions.account(to_checksum_address(who)).call()
        return SettlementAccount(int(t[0]), int(t[1]), int(t[2]), int(t[3]), bool(t[4]))
