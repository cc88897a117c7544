"""V2VSettlement: the fleet's profits held until fees are paid (thesis Fig. 4.5, eq. 4.20)."""

from __future__ import annotations

from eth_utils import to_checksum_address

from gridledger.ledger.chain import Chain, Signer
from gridledger.ledger.clients.base import ContractClient, TxResult
from gridledger.ledger.clients.staking import StakingClient


class V2VSettlementClient(ContractClient):
    """V2VSettlement: round profits held until the miner's fee is paid (thesis Fig. 4.5)."""

    contract_name = "V2VSettlement"

    def __init__(self, chain: Chain, address: str) -> None:
        super().__init__(chain, address)
        self.staking = StakingClient(chain, self.contract.functions.staking().call())

    def subscribe(self, ev: Signer, beta_bps: int) -> TxResult:
        return self._send(ev, "subscribe", beta_bps)

    def settle(self, operator: Signer, round_: int, evs: list[str], profits_wei: list[int]) -> TxResult:
        return self._send(operator, "settle", round_, [to_checksum_address(a) for a in evs], profits_wei,
                          value=sum(profits_wei), gas="estimate")

    def pay_fees(self, ev: Signer, value: int | None = None) -> TxResult:
        return self._send(ev, "payFees", value=self.owed(ev.address) if value is None else value, gas="estimate")

    def pay_fees_from_profit(self, ev: Signer) -> TxResult:
        return self._send(ev, "payFeesFromProfit", gas="estimate")

    def withdraw_profit(self, ev: Signer) -> TxResult:
        return self._send(ev, "withdrawProfit")

    def withdraw_fees(self, miner: Signer) -> TxResult:
        return self._send(miner, "withdrawFees")

    def operator(self) -> str:
        return str(self.contract.functions.operator().call())

    def beta_bps(self) -> int:
        return int(self.contract.functions.betaBps().call())

    def subscribed(self, ev: str) -> bool:
        return bool(self.contract.functions.subscribed(to_checksum_address(ev)).call())

    def held(self, ev: str) -> int:
        return int(self.contract.functions.held(to_checksum_address(ev)).call())

    def owed(self, ev: str) -> int:
        return int(self.contract.functions.owed(to_checksum_address(ev)).call())

    def owed_to(self, ev: str, miner: str) -> int:
        return int(self.contract.functions.owedTo(to_checksum_address(ev), to_checksum_address(miner)).call())

    def miner_credit(self, miner: str) -> int:
        return int(self.contract.functions.minerCredit(to_checksum_address(miner)).call())

    def is_settled(self, round_: int) -> bool:
        return bool(self.contract.functions.settled(round_).call())

    def creditors(self, ev: str) -> list[str]:
        return [to_checksum_address(a) for a in self.contract.functions.creditors(to_checksum_address(ev)).call()]
