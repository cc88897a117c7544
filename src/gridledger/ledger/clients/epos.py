"""EPOS, the current round's proof score (thesis 3.4.5): read-only, bound to its holder and round."""

from __future__ import annotations

from eth_utils import to_checksum_address

from gridledger.ledger.clients.erc20 import ERC20Client


class EPOSClient(ERC20Client):
    """EPOS of one staking contract: ERC-20 reads over the current round; transfers revert."""

    contract_name = "EPOS"

    def staking(self) -> str:
        return to_checksum_address(self.contract.functions.staking().call())
