"""UPOS, the energy-credit reward token (thesis 3.4.5)."""

from __future__ import annotations

from eth_utils import to_checksum_address

from gridledger.ledger.chain import Signer
from gridledger.ledger.clients.base import TxResult
from gridledger.ledger.clients.erc20 import ERC20Client


class UPOSClient(ERC20Client):
    """UPOS, the ERC-20 energy credit (mining rewards)."""

    contract_name = "UPOS"

    def minter_role(self) -> bytes:
        return bytes(self.contract.functions.MINTER_ROLE().call())

    def is_minter(self, account: str) -> bool:
        return bool(self.contract.functions.hasRole(self.minter_role(), to_checksum_address(account)).call())

    def grant_minter(self, admin: Signer, account: str) -> TxResult:
        return self._send(admin, "grantRole", self.minter_role(), to_checksum_address(account))

    def mint(self, signer: Signer, to: str, amount: int) -> TxResult:
        return self._send(signer, "mint", to_checksum_address(to), amount)

    def burn(self, signer: Signer, amount: int) -> TxResult:
        return self._send(signer, "burn", amount)
