"""The Elecoin token (paper): an ERC-20 that the ETSC market can move."""

from __future__ import annotations

from eth_utils import to_checksum_address

from gridledger.ledger.chain import Signer
from gridledger.ledger.clients.base import TxResult
from gridledger.ledger.clients.erc20 import ERC20Client


class ElecoinClient(ERC20Client):
    """The Elecoin ERC-20."""

    contract_name = "Elecoin"

    def market(self) -> str:
        return str(self.contract.functions.market().call())

    def market_transfer(self, signer: Signer, owner: str, to: str, amount: int) -> TxResult:
        return self._send(signer, "marketTransfer", to_checksum_address(owner), to_checksum_address(to), amount)
