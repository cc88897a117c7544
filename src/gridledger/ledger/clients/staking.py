"""ProofStaking: proof-score rounds with a commit-reveal election, slashing on evidence and the
mining reward of eq. (3.23) (thesis eqs. 3.16, 3.17, 3.23, 3.24, 4.18; section 3.4.5).

The client batches what can be batched: credits, relayed stakes (each signed by its member,
EIP-712), reveals, recorded trades and reward payments, at most :attr:`StakingClient.BATCH`
entries (or fewer for stakes) per transaction, so that every transaction stays well below a
30M-gas block.
"""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from gridledger.ledger.chain import Chain, Signer
from gridledger.ledger.clients.base import ZERO_ADDRESS, ContractClient, TxResult, address_bytes
from gridledger.ledger.clients.epos import EPOSClient
from gridledger.ledger.clients.typed import domain_separator, sign_hash, typed_hash
from gridledger.ledger.clients.upos import UPOSClient

STAKE_TYPEHASH = keccak(b"Stake(uint256 round,address validator,bytes32 commitment)")
SEAL_TYPEHASH = keccak(b"Seal(uint256 round,bytes32 digest)")
OPERATOR_ROLE = keccak(b"OPERATOR_ROLE")
GUARDIAN_ROLE = keccak(b"GUARDIAN_ROLE")
DEFAULT_ADMIN_ROLE = bytes(32)
Trade = tuple[str | None, str | None, int, int]
"""(from, to, energy Wh, loss Wh); None is the grid (the zero address on chain)."""


class Phase(IntEnum):
    """ProofStaking.Phase (same order as the Solidity enum), as ``phaseOf`` derives it."""

    NONE = 0
    CREDITING = 1
    STAKING = 2
    REVEALING = 3
    ELECTING = 4
    ELECTED = 5
    SEALED = 6
    CLOSED = 7


class ValidatorStatus(IntEnum):
    NONE = 0
    COMMITTED = 1
    REVEALED = 2
    SLASHED = 3


@dataclass(frozen=True)
class RoundInfo:
    """ProofStaking.roundInfo(round); amounts in token units, energy in Wh."""

    phase: Phase
    miner: str | None
    attempts: int
    members: int
    stakers: int
    validators: int
    revealed: int
    credited: int
    staked: int
    eligible: int
    slashed: int
    """EPOS burned in the round: slashed coalitions and validators that did not reveal."""
    fee_pool: int
    """M_r of eq. (3.23): the members' fees, delta x savings."""
    reward: int
    """UPOS minted so far for the round."""
    traded_wh: int
    stake_end: int
    reveal_deadline: int
    seal_deadline: int
    challenge_end: int
    seed: bytes
    digest: bytes
    challenged: bool


@dataclass(frozen=True)
class MemberInfo:
    credited: bool
    score: int
    savings: int
    staked: bool
    validator: str | None
    rewarded: bool


@dataclass(frozen=True)
class ValidatorInfo:
    stake_behind: int
    own: int
    backers: int
    status: ValidatorStatus


@dataclass(frozen=True)
class StakeIntent:
    """A member's signed stake, relayed by anyone (``stakeFor``)."""

    member: str
    validator: str
    commitment: bytes
    sig_r: bytes
    sig_vs: bytes

    def as_tuple(self) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        return (address_bytes(self.member), address_bytes(self.validator), self.commitment, self.sig_r, self.sig_vs)


def new_secret() -> bytes:
    """A validator's election secret: 32 bytes from the operating system's CSPRNG."""
    return _secrets.token_bytes(32)


def commitment(validator: str, round_: int, secret: bytes) -> bytes:
    """keccak256(abi.encode(validator, round, secret)): what a validator commits with its stake."""
    if len(secret) != 32:
        raise ValueError("secret must be 32 bytes")
    return keccak(encode(["address", "uint256", "bytes32"], [to_checksum_address(validator), round_, secret]))


def trades_digest(trades: Sequence[Trade], start: bytes = bytes(32)) -> bytes:
    """The digest ``recordTrades`` keeps: d = keccak256(abi.encode(d, (from, to, energy, loss))) per trade."""
    d = start
    for t in trades:
        frm = to_checksum_address(t[0]) if t[0] else ZERO_ADDRESS
        to = to_checksum_address(t[1]) if t[1] else ZERO_ADDRESS
        d = keccak(encode(["bytes32", "(address,address,uint256,uint256)"], [d, (frm, to, int(t[2]), int(t[3]))]))
    return d


def block_digest(round_: int, recorded: bytes, payload: bytes) -> bytes:
    """keccak256(abi.encode(round, digest of the recorded trades, payload)): what the miner seals."""
    return keccak(encode(["uint256", "bytes32", "bytes32"], [round_, recorded, payload]))


class StakingClient(ContractClient):
    """ProofStaking (PoEG or PoSOC): rounds, relayed stakes, commit-reveal election, seal, rewards."""

    contract_name = "ProofStaking"
    BATCH = 200
    """Entries per transaction for credits, reveals, trades and rewards."""
    STAKE_BATCH = 100
    """Relayed stakes per transaction (each verifies a signature and writes two or three slots)."""

    def __init__(self, chain: Chain, address: str) -> None:
        super().__init__(chain, address)
        self.epos = EPOSClient(chain, self.contract.functions.epos().call())
        upos = self.contract.functions.upos().call()
        self.upos = None if int(upos, 16) == 0 else UPOSClient(chain, upos)
        self._separator = domain_separator("ProofStaking", "1", chain.chain_id, self.address)

    def _pages(self, n: int, size: int) -> range:
        return range(0, n, size)

    # -- operator
    def open_round(self, operator: Signer) -> TxResult:
        return self._send(operator, "openRound")

    def credit(self, operator: Signer, members: Sequence[str], scores: Sequence[int],
               savings: Sequence[int] | None = None) -> list[TxResult]:
        """Credit scores and savings (token units) in pages of :attr:`BATCH` members."""
        sv = list(savings) if savings is not None else [0] * len(members)
        if not (len(members) == len(scores) == len(sv)):
            raise ValueError("members, scores and savings must have the same length")
        out = []
        for k in self._pages(len(members), self.BATCH):
            out.append(self._send(operator, "credit", [address_bytes(m) for m in members[k:k + self.BATCH]],
                                  [int(x) for x in scores[k:k + self.BATCH]], [int(x) for x in sv[k:k + self.BATCH]],
                                  gas="estimate", batch=True))
        return out

    def open_staking(self, operator: Signer) -> TxResult:
        return self._send(operator, "openStaking")

    def record_trades(self, operator: Signer, trades: Sequence[Trade]) -> list[TxResult]:
        """Record (from, to, energy Wh, loss Wh) trades in pages; None is the grid."""
        out = []
        for k in self._pages(len(trades), self.BATCH):
            chunk = [(address_bytes(t[0]) if t[0] else bytes(20), address_bytes(t[1]) if t[1] else bytes(20),
                      int(t[2]), int(t[3])) for t in trades[k:k + self.BATCH]]
            out.append(self._send(operator, "recordTrades", chunk, gas="estimate", batch=True))
        return out

    def pay_reward(self, operator: Signer, round_: int, recipients: Sequence[str], amounts: Sequence[int]
                   ) -> list[TxResult]:
        out = []
        for k in self._pages(len(recipients), self.BATCH):
            out.append(self._send(operator, "payReward", round_,
                                  [address_bytes(a) for a in recipients[k:k + self.BATCH]],
                                  [int(x) for x in amounts[k:k + self.BATCH]], gas="estimate", batch=True))
        return out

    # -- guardian and administrator
    def pause(self, guardian: Signer) -> TxResult:
        return self._send(guardian, "pause")

    def unpause(self, guardian: Signer) -> TxResult:
        return self._send(guardian, "unpause")

    def paused(self) -> bool:
        return bool(self.contract.functions.paused().call())

    def grant_role(self, admin: Signer, role: bytes, account: str) -> TxResult:
        return self._send(admin, "grantRole", role, to_checksum_address(account))

    def revoke_role(self, admin: Signer, role: bytes, account: str) -> TxResult:
        return self._send(admin, "revokeRole", role, to_checksum_address(account))

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self.contract.functions.hasRole(role, to_checksum_address(account)).call())

    def admin(self) -> str:
        return str(self.contract.functions.defaultAdmin().call())

    # -- members (and relayers)
    def stake_hash(self, round_: int, validator: str, commitment_: bytes) -> bytes:
        """The EIP-712 hash a member signs (computed locally; the contract's ``stakeHash`` agrees)."""
        struct = keccak(encode(["bytes32", "uint256", "address", "bytes32"],
                               [STAKE_TYPEHASH, round_, address_bytes(validator), commitment_]))
        return typed_hash(self._separator, struct)

    def sign_stake(self, member: Signer, round_: int, validator: str, commitment_: bytes = bytes(32)
                   ) -> StakeIntent:
        """``member`` signs its stake with ``validator`` (itself, with a commitment, for a validator)."""
        r, vs = sign_hash(member, self.stake_hash(round_, validator, commitment_))
        return StakeIntent(member.address, validator, commitment_, r, vs)

    def stake(self, member: Signer, validator: str, commitment_: bytes = bytes(32)) -> TxResult:
        return self._send(member, "stake", to_checksum_address(validator), commitment_, gas="estimate")

    def stake_for(self, relayer: Signer, intents: Sequence[StakeIntent]) -> list[TxResult]:
        """Relay signed stakes in pages of :attr:`STAKE_BATCH` (validators must come before their delegators)."""
        out = []
        for k in self._pages(len(intents), self.STAKE_BATCH):
            out.append(self._send(relayer, "stakeFor", [i.as_tuple() for i in intents[k:k + self.STAKE_BATCH]],
                                  gas="estimate", batch=True))
        return out

    def reveal(self, sender: Signer, validators: Sequence[str], secrets: Sequence[bytes]) -> list[TxResult]:
        out = []
        for k in self._pages(len(validators), self.BATCH):
            out.append(self._send(sender, "reveal", [address_bytes(v) for v in validators[k:k + self.BATCH]],
                                  list(secrets[k:k + self.BATCH]), gas="estimate", batch=True))
        return out

    # -- anyone
    ELECT_HEADROOM_GAS = 1_500_000
    """Room above the node's estimate for ``elect``: the draws depend on the randomness of the block
    that includes the transaction, so the block the estimate ran on may have needed fewer of them
    (at most MAX_DRAWS = 32 rejection-sampled draws of O(log n) storage reads each per call)."""

    def elect(self, sender: Signer) -> TxResult:
        estimate = self.chain.estimate_gas(sender, self.address, self._encode("elect", []), 0)
        return self._send(sender, "elect", gas=estimate + self.ELECT_HEADROOM_GAS)

    def seal_hash(self, round_: int, digest: bytes) -> bytes:
        return typed_hash(self._separator, keccak(encode(["bytes32", "uint256", "bytes32"],
                                                         [SEAL_TYPEHASH, round_, digest])))

    def sign_seal(self, miner: Signer, round_: int, digest: bytes) -> tuple[bytes, bytes]:
        """The miner's EIP-712 signature of ``Seal(round, digest)``."""
        return sign_hash(miner, self.seal_hash(round_, digest))

    def seal(self, sender: Signer, payload: bytes, signature: tuple[bytes, bytes]) -> TxResult:
        return self._send(sender, "seal", payload, signature[0], signature[1], gas="estimate")

    def slash(self, sender: Signer) -> TxResult:
        return self._send(sender, "slash", gas="estimate")

    def challenge(self, sender: Signer, round_: int, other_digest: bytes, signature: tuple[bytes, bytes]
                  ) -> TxResult:
        return self._send(sender, "challenge", round_, other_digest, signature[0], signature[1], gas="estimate")

    def claim_reward(self, member: Signer, round_: int) -> TxResult:
        return self._send(member, "claimReward", round_, gas="estimate")

    # -- queries
    def kind(self) -> str:
        return str(self.contract.functions.kind().call())

    def slash_bps(self) -> int:
        return int(self.contract.functions.slashBps().call())

    def delta_bps(self) -> int:
        return int(self.contract.functions.deltaBps().call())

    def windows(self) -> dict[str, int]:
        f = self.contract.functions
        return {"stake": int(f.stakeWindow().call()), "reveal": int(f.revealWindow().call()),
                "seal": int(f.sealWindow().call()), "challenge": int(f.challengeWindow().call()),
                "reward": int(f.rewardWindow().call())}

    def current_round(self) -> int:
        return int(self.contract.functions.currentRound().call())

    def phase(self, round_: int | None = None) -> Phase:
        r = self.current_round() if round_ is None else round_
        return Phase(self.contract.functions.phaseOf(r).call())

    def round_info(self, round_: int) -> RoundInfo:
        t = self.contract.functions.roundInfo(round_).call()
        return RoundInfo(phase=Phase(t[0]), miner=None if t[1] == ZERO_ADDRESS else to_checksum_address(t[1]),
                         attempts=int(t[2]), members=int(t[3]), stakers=int(t[4]), validators=int(t[5]),
                         revealed=int(t[6]), credited=int(t[7]), staked=int(t[8]), eligible=int(t[9]),
                         slashed=int(t[10]), fee_pool=int(t[11]), reward=int(t[12]), traded_wh=int(t[13]),
                         stake_end=int(t[14]), reveal_deadline=int(t[15]), seal_deadline=int(t[16]),
                         challenge_end=int(t[17]), seed=bytes(t[18]), digest=bytes(t[19]), challenged=bool(t[20]))

    def outcome(self, round_: int) -> tuple[bool, str | None]:
        closed, miner = self.contract.functions.outcome(round_).call()
        return bool(closed), (None if miner == ZERO_ADDRESS else to_checksum_address(miner))

    def miner_of(self, round_: int) -> str | None:
        m = self.contract.functions.minerOf(round_).call()
        return None if m == ZERO_ADDRESS else to_checksum_address(m)

    def member_info(self, round_: int, member: str) -> MemberInfo:
        t = self.contract.functions.memberInfo(round_, to_checksum_address(member)).call()
        return MemberInfo(bool(t[0]), int(t[1]), int(t[2]), bool(t[3]),
                          None if t[4] == ZERO_ADDRESS else to_checksum_address(t[4]), bool(t[5]))

    def validator_info(self, round_: int, validator: str) -> ValidatorInfo:
        t = self.contract.functions.validatorInfo(round_, to_checksum_address(validator)).call()
        return ValidatorInfo(int(t[0]), int(t[1]), int(t[2]), ValidatorStatus(t[3]))

    def score_of(self, round_: int, member: str) -> int:
        return self.member_info(round_, member).score

    def validator_of(self, round_: int, member: str) -> str | None:
        return self.member_info(round_, member).validator

    def stake_behind(self, round_: int, validator: str) -> int:
        return self.validator_info(round_, validator).stake_behind

    def is_slashed(self, round_: int, validator: str) -> bool:
        return self.validator_info(round_, validator).status == ValidatorStatus.SLASHED

    def segments(self, round_: int, page: int = 500) -> tuple[list[int], list[str]]:
        """Every stake of the round in staking order: cumulative ends and validators (paged view)."""
        n = int(self.contract.functions.segmentCount(round_).call())
        ends: list[int] = []
        vals: list[str] = []
        for k in range(0, n, page):
            e, v = self.contract.functions.segments(round_, k, page).call()
            ends.extend(int(x) for x in e)
            vals.extend(to_checksum_address(a) for a in v)
        return ends, vals

    def validators(self, round_: int) -> list[str]:
        """The round's validators in the order they staked."""
        _, vals = self.segments(round_)
        seen: dict[str, None] = {}
        for v in vals:
            seen.setdefault(v, None)
        return list(seen)

    def pick(self, round_: int, attempt: int) -> tuple[str | None, int]:
        """(validator, segment) hit by draw ``attempt`` of the round's fixed seed."""
        v, k = self.contract.functions.pick(round_, attempt).call()
        return (None if v == ZERO_ADDRESS else to_checksum_address(v)), int(k)

    def block_digest(self, round_: int, payload: bytes) -> bytes:
        return bytes(self.contract.functions.blockDigest(round_, payload).call())
