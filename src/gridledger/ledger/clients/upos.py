"""UPOS, the energy-credit reward token (thesis 3.4.5): minted only by its ProofStaking."""

from __future__ import annotations

from eth_utils import to_checksum_address

from gridledger.ledger.chain import Signer
from gridledger.ledger.clients.base import TxResult
from gridledger.ledger.clients.erc20 import ERC20Client


class UPOSClient(ERC20Client):
    """UPOS, the ERC-20 energy credit (mining rewards); its only minter is the staking contract."""

    contract_name = "UPOS"

    def minter(self) -> str:
        return to_checksum_address(self.contract.functions.minter().call())

    def mint(self, signer: Signer, to: str, amount: int) -> TxResult:
        """Refused (``UPOSNotMinter``) unless ``signer`` is the minter contract: kept for tests of that."""
        return self._send(signer, "mint", to_checksum_address(to), amount)

    def burn(self, signer: Signer, amount: int) -> TxResult:
        return self._send(signer, "burn", amount)
