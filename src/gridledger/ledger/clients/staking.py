"""ProofStaking: PoEG/PoSOC rounds, miner election, slashing, rewards (thesis eqs. 3.16, 3.24, 4.18)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from eth_utils import to_checksum_address

from gridledger.ledger.chain import Chain, Signer
from gridledger.ledger.clients.base import ZERO_ADDRESS, ContractClient, TxResult
from gridledger.ledger.clients.epos import EPOSClient
from gridledger.ledger.clients.upos import UPOSClient


class Phase(IntEnum):
    """ProofStaking.Phase (same order as the Solidity enum)."""

    NONE = 0
    STAKING = 1
    ELECTING = 2
    ELECTED = 3
    CLOSED = 4


@dataclass(frozen=True)
class RoundInfo:
    """ProofStaking.roundInfo(round)."""

    phase: Phase
    seed_commit: bytes
    miner: str | None
    attempts: int
    members: int
    validators: int
    credited: int
    staked: int
    slashed: int
    reward: int
    traded_wh: int


def seed_commitment(seed: bytes) -> bytes:
    """keccak256(abi.encode(seed)), what ProofStaking.openRound expects for a 32-byte seed."""
    from eth_abi import encode
    from eth_utils import keccak

    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    return keccak(encode(["bytes32"], [seed]))


class StakingClient(ContractClient):
    """ProofStaking: proof-score staking, miner election, slashing, rewards (PoEG or PoSOC)."""

    contract_name = "ProofStaking"
    BATCH = 40
    """Members credited per transaction."""

    def __init__(self, chain: Chain, address: str) -> None:
        super().__init__(chain, address)
        self.epos = EPOSClient(chain, self.contract.functions.epos().call())
        upos = self.contract.functions.upos().call()
        self.upos = None if int(upos, 16) == 0 else UPOSClient(chain, upos)

    # -- operator
    def open_round(self, operator: Signer, seed_commit: bytes) -> TxResult:
        return self._send(operator, "openRound", seed_commit)

    def credit(self, operator: Signer, members: list[str], scores: list[int]) -> list[TxResult]:
        """Credit scores in batches of :attr:`BATCH` members (one transaction each)."""
        out = []
        for k in range(0, max(len(members), 1), self.BATCH):
            chunk = [to_checksum_address(m) for m in members[k:k + self.BATCH]]
            out.append(self._send(operator, "credit", chunk, scores[k:k + self.BATCH],
                                  gas="estimate"))
        return out

    def elect(self, operator: Signer, seed: bytes) -> TxResult:
        return self._send(operator, "elect", seed, gas="estimate")

    def slash(self, operator: Signer) -> TxResult:
        return self._send(operator, "slash", gas="estimate")

    def pay_reward(self, operator: Signer, recipients: list[str], amounts: list[int]) -> TxResult:
        return self._send(operator, "payReward", [to_checksum_address(a) for a in recipients], amounts,
                          gas="estimate")

    def close_round(self, operator: Signer) -> TxResult:
        return self._send(operator, "closeRound")

    def record_trades(self, operator: Signer, trades: list[tuple[str | None, str | None, int, int]]
                      ) -> list[TxResult]:
        """Record (from, to, energy Wh, loss Wh) trades; None is the grid (the zero address)."""
        out = []
        for k in range(0, len(trades), self.BATCH):
            chunk = trades[k:k + self.BATCH]
            frm = [to_checksum_address(t[0]) if t[0] else ZERO_ADDRESS for t in chunk]
            to = [to_checksum_address(t[1]) if t[1] else ZERO_ADDRESS for t in chunk]
            out.append(self._send(operator, "recordTrades", frm, to, [int(t[2]) for t in chunk],
                                  [int(t[3]) for t in chunk], gas="estimate"))
        return out

    # -- members
    def stake(self, member: Signer, validator: str, amount: int) -> TxResult:
        return self._send(member, "stake", to_checksum_address(validator), amount, gas="estimate")

    def unstake(self, member: Signer, round_: int) -> TxResult:
        return self._send(member, "unstake", round_)

    # -- queries
    def operator(self) -> str:
        return str(self.contract.functions.operator().call())

    def kind(self) -> str:
        return str(self.contract.functions.kind().call())

    def slash_bps(self) -> int:
        return int(self.contract.functions.slashBps().call())

    def current_round(self) -> int:
        return int(self.contract.functions.currentRound().call())

    def round_info(self, round_: int) -> RoundInfo:
        t = self.contract.functions.roundInfo(round_).call()
        return RoundInfo(phase=Phase(t[0]), seed_commit=bytes(t[1]),
                         miner=None if t[2] == ZERO_ADDRESS else to_checksum_address(t[2]), attempts=int(t[3]),
                         members=int(t[4]), validators=int(t[5]), credited=int(t[6]), staked=int(t[7]),
                         slashed=int(t[8]), reward=int(t[9]), traded_wh=int(t[10]))

    def miner_of(self, round_: int) -> str | None:
        m = self.contract.functions.minerOf(round_).call()
        return None if m == ZERO_ADDRESS else to_checksum_address(m)

    def pick(self, round_: int, seed: bytes, attempt: int = 0) -> tuple[str | None, int, int]:
        m, w, t = self.contract.functions.pick(round_, seed, attempt).call()
        return (None if m == ZERO_ADDRESS else to_checksum_address(m)), int(w), int(t)

    def members(self, round_: int) -> list[str]:
        return [to_checksum_address(a) for a in self.contract.functions.members(round_).call()]

    def validators(self, round_: int) -> list[str]:
        return [to_checksum_address(a) for a in self.contract.functions.validators(round_).call()]

    def backers(self, round_: int, validator: str) -> list[str]:
        return [to_checksum_address(a) for a in
                self.contract.functions.backers(round_, to_checksum_address(validator)).call()]

    def score_of(self, round_: int, member: str) -> int:
        return int(self.contract.functions.scoreOf(round_, to_checksum_address(member)).call())

    def stake_of(self, round_: int, member: str) -> int:
        return int(self.contract.functions.stakeOf(round_, to_checksum_address(member)).call())

    def stake_behind(self, round_: int, validator: str) -> int:
        return int(self.contract.functions.stakeBehind(round_, to_checksum_address(validator)).call())

    def validator_of(self, round_: int, member: str) -> str | None:
        v = self.contract.functions.validatorOf(round_, to_checksum_address(member)).call()
        return None if v == ZERO_ADDRESS else to_checksum_address(v)

    def is_slashed(self, round_: int, validator: str) -> bool:
        return bool(self.contract.functions.slashed(round_, to_checksum_address(validator)).call())

    def reward_of(self, round_: int, member: str) -> int:
        return int(self.contract.functions.rewardOf(round_, to_checksum_address(member)).call())
