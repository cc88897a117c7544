"""Record a community day on chain (thesis section 3.4.5; DESIGN "Data flow of one community day").

The day is computed off chain up to its election (:func:`~gridledger.scenarios.community.run.
run_community_day`); the election itself is the chain's, in one round of the community's PoEG
:class:`ProofStaking`:

1. the operator opens the round and credits every prosumer's proof score (eq. 3.6, its EPOS for
   the round) and energy saving (eq. 3.19); each member's fee delta x saving forms the reward
   pool M_r (eq. 3.23, Lemma 2); the day's energy transactions (P2P and with the EDC) are
   recorded; then staking opens (crediting is closed for good);
2. in every coalition the best scorer stakes on itself (a validator, committing to a secret
   from the OS's CSPRNG) and the other members stake with it (delegators), so a coalition's
   weight is its proof score (eq. 3.5, 3.16); each member signs its stake and the operator
   relays the signatures in batches;
3. the validators' secrets are revealed; after the reveal deadline the contract draws the
   miner from the secrets and the chain's randomness (eq. 3.16), and the draw is replayed off
   chain (:mod:`gridledger.games.election`);
4. a coalition with a prosumer that refuses to seal lets the seal deadline pass: anyone slashes
   it (its stake is burned, eq. 3.24) and the election continues; the miner that seals signs the
   digest of the recorded transactions and its block (the day's coalitions and proof scores);
5. after the challenge window the reward pool is minted in UPOS to the miner's coalition by
   Shapley shares (eq. 3.17), exactly M_r.

Accounts: the prosumers have random keys in the data directory's key vault
(``accounts_for(..., "community-member", n)``) and need no gas; the operator, also a vault key
(never a well-known development key), relays their signed stakes and pays for every transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gridledger.errors import ConfigError
from gridledger.games.election import ElectionAttempt, ElectionResult
from gridledger.grid.dispatch import EDC
from gridledger.ledger import rounds
from gridledger.ledger.accounts import accounts_for
from gridledger.ledger.chain import Chain, Signer
from gridledger.ledger.clients import StakingClient, TxResult
from gridledger.ledger.deploy import StakingDeployment, deploy_community_ledger, staking_operator
from gridledger.ledger.units import kwh_to_token_units, kwh_to_wh, token_units_to_kwh
from gridledger.progress import SILENT, Reporter
from gridledger.scenarios.community.run import (
    CommunityConfig,
    CommunityDay,
    CommunityInput,
    InvariantError,
    PreElection,
    run_community_day,
    stake_units,
)


def delta_bps(delta: float) -> int:
    """delta of eq. (3.23) in basis points, as the contract holds it (must be a whole number)."""
    bps = round(delta * 10_000)
    if abs(bps - delta * 10_000) > 1e-6:
        raise ConfigError("delta", f"must be a multiple of 0.0001 to be recorded on chain (got {delta})")
    return bps


def day_payload(pre: PreElection, accounts: list[str]) -> bytes:
    """keccak256 of the miner's block (thesis Algorithm 3's output): the coalitions and proof scores."""
    from eth_utils import keccak

    block = {"partition": [[accounts[i] for i in c] for c in pre.partition],
             "proof_scores_units": stake_units(pre.member_scores)}
    return keccak(json.dumps(block, sort_keys=True, separators=(",", ":")).encode())


@dataclass
class OnChainElection:
    """What :func:`elect_on_chain` did: the election as the day sees it, and the ledger's record."""

    result: ElectionResult
    round: int
    validators: dict[int, int]
    """Partition index -> the member that validates for the coalition."""
    units: list[int]
    savings: list[int]
    trades: int
    entries: list[dict[str, Any]]
    seed: dict[str, str]
    txs: list[TxResult] = field(default_factory=list)


def elect_on_chain(chain: Chain, staking: StakingClient, operator: Signer, members: Sequence[Signer],
                   pre: PreElection, advance: Callable[[int], None] = lambda k: None) -> OnChainElection:
    """One PoEG round up to its sealed miner (steps 1-4 of the module's docstring)."""
    n = len(members)
    addr = [m.address for m in members]
    txs: list[TxResult] = []
    units = stake_units(pre.member_scores)
    savings = [kwh_to_token_units(max(float(x), 0.0)) for x in pre.savings_kwh]
    part = pre.partition
    validator_of = [0] * n
    validators: dict[int, int] = {}  # partition index -> validator member
    for k, c in enumerate(part):
        v = max(c, key=lambda i: (units[i], -i))  # the coalition's best scorer (first on ties)
        validators[k] = v
        for i in c:
            validator_of[i] = v
    coalition_of = {addr[v]: k for k, v in validators.items()}

    txs.append(staking.open_round(operator))
    round_ = staking.current_round()
    txs.extend(staking.credit(operator, addr, units, savings))
    trades = [(None if t["from"] == EDC else addr[t["from"]], None if t["to"] == EDC else addr[t["to"]],
               kwh_to_wh(t["energy_kwh"]), kwh_to_wh(t["loss_kwh"])) for t in pre.transactions]
    trades = [t for t in trades if t[2] > 0]
    if trades:
        txs.extend(staking.record_trades(operator, trades))
    txs.append(staking.open_staking(operator))
    advance(1)
    plan = rounds.Coalitions(members, validator_of)
    txs.extend(rounds.relay_stakes(staking, operator, round_, plan))
    advance(1)
    txs.extend(rounds.relay_reveals(staking, operator, plan))
    drawn = rounds.draw_when_due(chain, staking, operator)
    txs.extend(drawn)
    advance(1)
    seed_event = drawn[0].event("SeedDrawn").args

    attempts: list[ElectionAttempt] = []
    entries: list[dict[str, Any]] = []
    slashed: list[int] = []
    excluded: set[str] = set()
    attempt = rounds.check_replay(staking, round_, 0, excluded)
    last = drawn
    payload = day_payload(pre, addr)
    while True:
        info = staking.round_info(round_)
        if info.miner is None:
            break
        k = coalition_of[info.miner]
        elected = next(e for t in last for e in t.events if e.name == "MinerElected").args
        refused = bool(pre.malicious.intersection(part[k]))
        prob = int(elected["weight"]) / int(elected["totalWeight"])
        attempts.append(ElectionAttempt(k, prob, refused))
        entry: dict[str, Any] = {"coalition": list(part[k]), "validator": info.miner, "probability": prob,
                                 "refused": refused, "draw": int(elected["attempt"]), "tx": last[-1].tx_hash}
        entries.append(entry)
        if not refused:
            miner = members[validators[k]]
            digest = staking.block_digest(round_, payload)
            sealed = staking.seal(operator, payload, staking.sign_seal(miner, round_, digest))
            txs.append(sealed)
            entry["digest"] = "0x" + digest.hex()
            entry["seal_tx"] = sealed.tx_hash
            break
        last = rounds.slash_when_due(chain, staking, operator)  # the seal deadline passes: anyone slashes
        txs.extend(last)
        burned = int(next(e for t in last for e in t.events if e.name == "MinerSlashed").args["burned"])
        entry["slashed_units"] = burned
        entry["slashed_epos"] = token_units_to_kwh(burned)
        entry["slash_tx"] = last[0].tx_hash
        slashed.append(k)
        excluded.add(info.miner)
        attempt = rounds.check_replay(staking, round_, attempt, excluded)
    advance(1)
    winner = attempts[-1].candidate if attempts and not attempts[-1].refused else None
    seed = {k: "0x" + bytes(seed_event[k]).hex() for k in ("seed", "entropy", "beacon")}
    return OnChainElection(ElectionResult(winner, tuple(attempts), tuple(slashed)), round_, validators, units,
                           savings, len(trades), entries, seed, txs)


def pay_shares(chain: Chain, staking: StakingClient, operator: Signer, round_: int, members: Sequence[str],
               coalition: Sequence[int], shares_kwh: Sequence[float]) -> tuple[list[int], list[TxResult]]:
    """After the challenge window, mint the round's pool M_r (eq. 3.23) to the miner's coalition
    in proportion to ``shares_kwh`` (the Shapley shares, eq. 3.17), exactly M_r in integers;
    returns (units per member of ``members``, transactions)."""
    info = staking.round_info(round_)
    rounds.wait_until_block(chain, info.challenge_end + 1)
    shares = rounds.split_exactly(info.fee_pool, list(shares_kwh))
    paid = [(members[i], sh) for i, sh in zip(coalition, shares, strict=True) if sh > 0]
    txs = staking.pay_reward(operator, round_, [a for a, _ in paid], [sh for _, sh in paid]) if paid else []
    rewards = [0] * len(members)
    for i, sh in zip(coalition, shares, strict=True):
        rewards[i] = sh
    return rewards, txs


def record_community_day(chain: Chain, data_dir: str | Path, config: CommunityConfig, inputs: CommunityInput,
                         rng: np.random.Generator, params: StakingDeployment | None = None,
                         reporter: Reporter = SILENT) -> tuple[CommunityDay, dict[str, Any]]:
    """Compute a community day and record it as one round on chain; returns (day, ledger report)."""
    start = time.perf_counter()
    bps = delta_bps(config.delta)
    params = params or StakingDeployment(delta_bps=bps)
    if params.delta_bps != bps:
        raise ConfigError("delta_bps", f"must equal the day's delta x 10000 = {bps} (got {params.delta_bps})")
    dep, new = deploy_community_ledger(chain, data_dir, params)
    staking = StakingClient(chain, dep.contracts["ProofStaking"])
    staking.preflight_batches = False  # the batches below are built here: send each once, decode a failure
    assert staking.upos is not None
    op = staking_operator(chain, data_dir, dep)  # a random key in the data dir's vault
    txs: list[TxResult] = list(rounds.finish_round(chain, staking, op))  # a round an interrupted run left open
    n = config.prosumers
    members = accounts_for(data_dir, chain, "community-member", n)  # random keys in the data dir's vault
    addr = [m.address for m in members]
    advance = reporter.task("recording the day on chain", 5)
    held: list[OnChainElection] = []

    def electer(pre: PreElection) -> ElectionResult:
        held.append(elect_on_chain(chain, staking, op, members, pre, advance))
        return held[0].result

    day = run_community_day(config, inputs, rng, electer=electer)
    e = held[0]
    txs.extend(e.txs)
    round_ = e.round
    rewards = [0] * n
    if day.miner is not None:
        coalition = list(day.miner)
        rewards, paid = pay_shares(chain, staking, op, round_, addr, coalition,
                                   [float(day.reward_shares_kwh[i]) for i in coalition])
        txs.extend(paid)
    advance(1)

    info = staking.round_info(round_)
    expected_miner = addr[e.validators[day.election.miner]] if day.miner is not None else None
    closed, rewarded = staking.outcome(round_)
    if rewarded != expected_miner or info.reward != sum(rewards):
        raise InvariantError(f"the chain's rewarded miner {rewarded} is not the day's {expected_miner}")
    report = {
        "chain": {"backend": chain.backend, "chain_id": chain.chain_id, "block_number": chain.block_number(),
                  "contracts": dep.contracts, "operator": op.address, "deployed": new},
        "round": round_,
        **e.seed,
        "accounts": addr,
        "validators": [{"coalition": list(day.formation.partition[k]), "validator": addr[v],
                        "stake_epos": token_units_to_kwh(sum(e.units[i] for i in day.formation.partition[k]))}
                       for k, v in e.validators.items()],
        "election": e.entries,
        "miner": expected_miner,
        "miner_coalition": list(day.miner) if day.miner is not None else None,
        "digest": "0x" + info.digest.hex() if day.miner is not None else None,
        "closed": closed,
        "epos_credited": [token_units_to_kwh(u) for u in e.units],
        "epos_balance": [token_units_to_kwh(staking.epos.balance_of(a)) for a in addr],
        "savings_kwh": [token_units_to_kwh(x) for x in e.savings],
        "fee_pool_upos": token_units_to_kwh(info.fee_pool),
        "upos_reward": [token_units_to_kwh(r) for r in rewards],
        "upos_balance": [token_units_to_kwh(staking.upos.balance_of(a)) for a in addr],
        "trades_recorded": e.trades,
        "traded_kwh": info.traded_wh / 1000,
        "slashed_epos": token_units_to_kwh(info.slashed),
        "reward_upos": token_units_to_kwh(info.reward),
        "transactions": len(txs),
        "gas_used": sum(t.gas_used for t in txs),
        "max_gas": max((t.gas_used for t in txs), default=0),
        "seconds": time.perf_counter() - start,
    }
    return day, report
