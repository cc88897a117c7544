"""Record a community day on chain (thesis section 3.4.5; DESIGN "Data flow of one community day").

The day is computed off chain (:func:`~gridledger.scenarios.community.run.run_community_day`) with
the election drawn from a 32-byte seed, exactly as the contract draws it. Then, in one round of
the community's PoEG :class:`ProofStaking`:

1. the operator opens the round, committing to the seed;
2. the prosumers' proof scores (eq. 3.6) are credited as EPOS;
3. in every coalition the best scorer stakes on itself (a validator) and the other members
   stake with it (delegators), so that a coalition's stake is its proof score (eq. 3.5);
4. the day's energy transactions (P2P and with the EDC) are recorded;
5. the operator reveals the seed and the contract elects the miner (eq. 3.16); a coalition
   with a prosumer that refuses to seal is slashed and the election repeated (eq. 3.24);
6. the mining reward (eq. 3.23) is minted in UPOS to the winning coalition's members by their
   Shapley shares (eq. 3.17);
7. the members take their EPOS back.

The miner elected on chain must be the one the off-chain day elected; a mismatch raises
:class:`~gridledger.scenarios.community.run.InvariantError`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from gridledger.grid.dispatch import EDC
from gridledger.ledger.accounts import accounts_for
from gridledger.ledger.chain import Chain, signer_for
from gridledger.ledger.clients import Phase, StakingClient, TxResult, seed_commitment
from gridledger.ledger.deploy import StakingDeployment, deploy_community_ledger
from gridledger.ledger.units import kwh_to_token_units, kwh_to_wh, token_units_to_kwh
from gridledger.progress import SILENT, Reporter
from gridledger.scenarios.community.run import (
    CommunityConfig,
    CommunityDay,
    CommunityInput,
    InvariantError,
    run_community_day,
    stake_units,
)

ETHER = 10**18
GAS_FUNDING = ETHER // 10


def record_community_day(chain: Chain, data_dir: str | Path, config: CommunityConfig, inputs: CommunityInput,
                         rng: np.random.Generator, params: StakingDeployment | None = None,
                         reporter: Reporter = SILENT, seed: bytes | None = None
                         ) -> tuple[CommunityDay, dict[str, Any]]:
    """Compute a community day and record it as one round on chain; returns (day, ledger report).

    ``seed`` is the 32-byte election seed the operator commits to and reveals (default: drawn
    from ``rng``). Given, the election can be replayed off chain before the day is recorded:
    :func:`run_community_day` with ``election_seed=(seed, round)`` makes the same draw.
    """
    if seed is not None and len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    start = time.perf_counter()
    dep, new = deploy_community_ledger(chain, data_dir, params)
    staking = StakingClient(chain, dep.contracts["ProofStaking"])
    assert staking.upos is not None
    op = signer_for(chain, dep.administrator)
    txs: list[TxResult] = []
    last = staking.current_round()
    if last and staking.round_info(last).phase != Phase.CLOSED:
        txs.append(staking.close_round(op))  # a round left open by an interrupted run
    round_ = last + 1
    if seed is None:
        seed = rng.bytes(32)
    day = run_community_day(config, inputs, rng, election_seed=(seed, round_))

    n = config.prosumers
    members = accounts_for(data_dir, chain, "community-member", n)  # random keys in the data dir's vault
    addr = [m.address for m in members]
    units = stake_units(day.member_scores)
    part = day.formation.partition
    advance = reporter.task("recording the day on chain", n * 2 + len(part) + 4)
    for m in members:
        if chain.balance(m.address) < GAS_FUNDING // 2:
            chain.send_value(op, m.address, GAS_FUNDING)
    advance(n)

    txs.append(staking.open_round(op, seed_commitment(seed)))
    txs.extend(staking.credit(op, addr, units))
    validators: dict[tuple[int, ...], int] = {}
    for c in part:
        v = max(c, key=lambda i: (units[i], -i))  # the coalition's best scorer (first on ties)
        validators[c] = v
        txs.append(staking.stake(members[v], addr[v], units[v]))
        for i in c:
            if i != v:
                txs.append(staking.stake(members[i], addr[v], units[i]))
        advance(1)
    trades = [(None if t["from"] == EDC else addr[t["from"]], None if t["to"] == EDC else addr[t["to"]],
               kwh_to_wh(t["energy_kwh"]), kwh_to_wh(t["loss_kwh"])) for t in day.transactions]
    trades = [t for t in trades if t[2] > 0]
    if trades:
        txs.extend(staking.record_trades(op, trades))
    advance(1)

    attempts = []
    for a in day.election.attempts:
        coalition = part[a.candidate]
        res = staking.elect(op, seed)
        txs.append(res)
        elected = res.event("MinerElected").args["miner"]
        if elected != addr[validators[coalition]]:
            raise InvariantError(f"the chain elected {elected}, the off-chain draw coalition {list(coalition)}")
        entry = {"coalition": list(coalition), "validator": elected, "probability": a.probability,
                 "refused": a.refused, "tx": res.tx_hash}
        if a.refused:
            s = staking.slash(op)
            txs.append(s)
            burned = int(s.event("MinerSlashed").args["burned"])
            entry["slashed_units"] = burned
            entry["slashed_epos"] = token_units_to_kwh(burned)
            entry["slash_tx"] = s.tx_hash
        attempts.append(entry)
    advance(1)

    rewards = [0] * n
    if day.miner is not None:
        rewards = [kwh_to_token_units(float(day.reward_shares_kwh[i])) if i in day.miner else 0 for i in range(n)]
        paid = [i for i in day.miner if rewards[i] > 0]
        txs.append(staking.pay_reward(op, [addr[i] for i in paid], [rewards[i] for i in paid]))
    else:
        txs.append(staking.close_round(op))
    advance(1)
    for m in members:
        if staking.stake_of(round_, m.address) > 0:
            txs.append(staking.unstake(m, round_))
    advance(n)

    info = staking.round_info(round_)
    onchain_miner = staking.miner_of(round_)
    expected_miner = addr[validators[day.miner]] if day.miner is not None else None
    if onchain_miner != expected_miner:
        raise InvariantError(f"the chain's miner {onchain_miner} is not the day's {expected_miner}")
    report = {
        "chain": {"backend": chain.backend, "chain_id": chain.chain_id, "block_number": chain.block_number(),
                  "contracts": dep.contracts, "operator": dep.administrator, "deployed": new},
        "round": round_,
        "seed": "0x" + seed.hex(),
        "seed_commitment": "0x" + seed_commitment(seed).hex(),
        "accounts": addr,
        "validators": [{"coalition": list(c), "validator": addr[v], "stake_epos": token_units_to_kwh(
            sum(units[i] for i in c))} for c, v in validators.items()],
        "election": attempts,
        "miner": expected_miner,
        "miner_coalition": list(day.miner) if day.miner is not None else None,
        "epos_credited": [token_units_to_kwh(u) for u in units],
        "epos_balance": [token_units_to_kwh(staking.epos.balance_of(a)) for a in addr],
        "upos_reward": [token_units_to_kwh(r) for r in rewards],
        "upos_balance": [token_units_to_kwh(staking.upos.balance_of(a)) for a in addr],
        "trades_recorded": len(trades),
        "traded_kwh": info.traded_wh / 1000,
        "slashed_epos": token_units_to_kwh(info.slashed),
        "reward_upos": token_units_to_kwh(info.reward),
        "transactions": len(txs),
        "gas_used": sum(t.gas_used for t in txs),
        "seconds": time.perf_counter() - start,
    }
    return day, report
