"""ERC-20 tokens (Elecoin, EPOS, UPOS share these calls)."""

from __future__ import annotations

from eth_utils import to_checksum_address

from gridledger.ledger.chain import Signer
from gridledger.ledger.clients.base import ContractClient, TxResult


class ERC20Client(ContractClient):
    """Any of our ERC-20 tokens (Elecoin, EPOS, UPOS)."""

    def name(self) -> str:
        return str(self.contract.functions.name().call())

    def symbol(self) -> str:
        return str(self.contract.functions.symbol().call())

    def decimals(self) -> int:
        return int(self.contract.functions.decimals().call())

    def total_supply(self) -> int:
        return int(self.contract.functions.totalSupply().call())

    def balance_of(self, owner: str) -> int:
        return int(self.contract.functions.balanceOf(to_checksum_address(owner)).call())

    def allowance(self, owner: str, spender: str) -> int:
        return int(self.contract.functions.allowance(to_checksum_address(owner), to_checksum_address(spender)).call())

    def transfer(self, signer: Signer, to: str, amount: int) -> TxResult:
        return self._send(signer, "transfer", to_checksum_address(to), amount)

    def approve(self, signer: Signer, spender: str, amount: int) -> TxResult:
        return self._send(signer, "approve", to_checksum_address(spender), amount)

    def transfer_from(self, signer: Signer, owner: str, to: str, amount: int) -> TxResult:
        return self._send(signer, "transferFrom", to_checksum_address(owner), to_checksum_address(to), amount)
