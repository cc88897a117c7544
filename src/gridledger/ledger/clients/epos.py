"""EPOS, the proof-score token that ProofStaking mints, stakes and burns (thesis 3.4.5)."""

from __future__ import annotations

from gridledger.ledger.clients.erc20 import ERC20Client


class EPOSClient(ERC20Client):
    """EPOS, the energy proof score token of one staking contract."""

    contract_name = "EPOS"

    def staking(self) -> str:
        return str(self.contract.functions.staking().call())
