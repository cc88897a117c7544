"""Settle an EV fleet's held-out days on chain (thesis sections 4.3.4-4.3.5, Fig. 4.5).

A trained fleet trades on held-out days off chain; each day becomes one round of the fleet's
PoSOC :class:`ProofStaking` and one settlement of :class:`V2VSettlement`:

1. every EV subscribes once, accepting the fee share beta (eq. 4.20) with its signature;
2. per day: the operator opens a round and credits each EV's proof score of the day (PoSOC,
   eq. 4.17), crediting closes, every EV with a score stakes it on itself committing to a
   secret from the OS's CSPRNG; the secrets are revealed and, after the reveal deadline, the
   contract draws the mLAG with probability proportional to the stake (eq. 4.18) from the
   secrets and the chain's randomness; the off-chain replay of the draw must agree;
3. the mLAG seals the round with the digest of its block: the hash of the global model it
   averaged (eq. 4.19) and of the day's V2V trades (each EV's V2V cash and profit);
4. once the round's challenge window is over, the operator deposits each EV's profit of the day
   (money gained against grid-only trading, positive part) in batches, and the contract deducts
   the fee beta x profit for the mLAG at once (nothing for it to chase);
5. at the end every honest EV and every miner is paid out in batches (``release``); a selfish
   EV never acts: its fee was deducted all the same, and its net profit stays held until it
   collects it, or until it expires to the fleet's treasury (``sweepExpired``).

The EVs have random keys in the data directory's key vault (``accounts_for(..., "ev", n)``):
they sign; the operator, also a vault key, relays (nobody but the operator needs gas).

The report's ``v2v_blocks`` carry, per day, what the site market produced for the chain
(:func:`gridledger.learn.fleet.evaluate.day_rounds`: the off-chain mLAG proposal, the model
hash, the V2V trades buyer -> seller with kWh, price and amount, the fees); the mLAG's sealed
digest covers the model hash and each EV's net V2V payment and profit of the day. The V2V
payments themselves are settled off chain; the contract holds the profits and the fees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from eth_abi import encode
from eth_utils import keccak

from gridledger.errors import ConfigError
from gridledger.learn.fleet.env import V2VConfig
from gridledger.learn.fleet.evaluate import day_rounds, evaluate, held_out
from gridledger.ledger import rounds
from gridledger.ledger.accounts import accounts_for
from gridledger.ledger.chain import Chain
from gridledger.ledger.clients import StakingClient, TxResult, V2VSettlementClient
from gridledger.ledger.deploy import StakingDeployment, deploy_fleet_ledger, staking_operator
from gridledger.ledger.units import DEFAULT_WEI_PER_MONEY, kwh_to_token_units, price_to_wei
from gridledger.params import check_int
from gridledger.progress import SILENT, Reporter
from gridledger.scenarios.community.run import InvariantError


@dataclass(frozen=True)
class FleetSettleConfig:
    """How the fleet's held-out days are settled on chain."""

    evs: int = 10
    days: int = 3
    selfish: tuple[int, ...] = ()
    """EVs that would never pay their fee (thesis Fig. 4.5): they never act on chain."""
    beta_bps: int = 500
    """beta of eq. (4.20) in basis points."""
    wei_per_money: int = DEFAULT_WEI_PER_MONEY
    """Wei of the native coin for one unit of the market's money."""

    def __post_init__(self) -> None:
        check_int("evs", self.evs, ge=1, le=5000)
        check_int("days", self.days, ge=1, le=365)
        for k, i in enumerate(self.selfish):
            check_int(f"selfish[{k}]", i, ge=0, le=self.evs - 1)
        check_int("beta_bps", self.beta_bps, ge=1, le=10_000)
        check_int("wei_per_money", self.wei_per_money, ge=1)


def check_fleet_size(cfg: FleetSettleConfig, fleet: Any) -> None:
    """The settlement covers the model's whole fleet (EVs trade with each other)."""
    if len(fleet.fleet) != cfg.evs:
        raise ConfigError("evs", f"must equal the model's number of EVs, {len(fleet.fleet)} (got {cfg.evs})")


def fleet_payload(model_hash: bytes, accounts: list[str], v2v_cash_wei: list[int], profits_wei: list[int]) -> bytes:
    """The mLAG's block of a day: keccak256(model hash, keccak256 of the EVs' V2V cash and profits)."""
    trades = keccak(encode(["address[]", "int256[]", "uint256[]"], [accounts, v2v_cash_wei, profits_wei]))
    return keccak(encode(["bytes32", "bytes32"], [model_hash, trades]))


@dataclass(frozen=True)
class FleetDay:
    """One day of the fleet as the ledger records it (token units and wei)."""

    scores: list[int]
    """PoSOC proof scores (eq. 4.17), EPOS units; EVs with 0 are not credited."""
    profits_wei: list[int]
    payload: bytes


def record_fleet_days(chain: Chain, staking: StakingClient, settlement: V2VSettlementClient, operator: Any,
                      evs: list[Any], days: list[FleetDay], reporter: Reporter = SILENT,
                      txs: list[TxResult] | None = None) -> list[dict[str, Any]]:
    """Run each day as a PoSOC round and settle it; returns one JSON-ready entry per round."""
    txs = txs if txs is not None else []
    addr = [e.address for e in evs]
    n = len(evs)
    advance = reporter.task("settling the fleet on chain", len(days))
    out = []
    for day in days:
        stakers = [i for i in range(n) if day.scores[i] > 0]
        txs.append(staking.open_round(operator))
        round_ = staking.current_round()
        if stakers:
            txs.extend(staking.credit(operator, [addr[i] for i in stakers], [day.scores[i] for i in stakers]))
        txs.append(staking.open_staking(operator))
        plan = rounds.Coalitions([evs[i] for i in stakers], list(range(len(stakers))))
        if stakers:
            txs.extend(rounds.relay_stakes(staking, operator, round_, plan))
            txs.extend(rounds.relay_reveals(staking, operator, plan))
        drawn = rounds.draw_when_due(chain, staking, operator)
        txs.extend(drawn)
        rounds.check_replay(staking, round_, 0, set())
        info = staking.round_info(round_)
        entry: dict[str, Any] = {"round": round_, "seed": "0x" + info.seed.hex(), "miner": info.miner,
                                 "miner_ev": addr.index(info.miner) if info.miner else None,
                                 "proof_scores_units": day.scores, "profits_wei": day.profits_wei,
                                 "elect_tx": drawn[-1].tx_hash}
        if info.miner is not None:
            miner = evs[addr.index(info.miner)]
            digest = staking.block_digest(round_, day.payload)
            sealed = staking.seal(operator, day.payload, staking.sign_seal(miner, round_, digest))
            txs.append(sealed)
            entry.update({"digest": "0x" + digest.hex(), "payload": "0x" + day.payload.hex(),
                          "seal_tx": sealed.tx_hash})
            rounds.wait_until_block(chain, staking.round_info(round_).challenge_end + 1)
        settled = settlement.settle(operator, round_, addr, day.profits_wei)
        txs.extend(settled)
        fees = {e.args["ev"]: int(e.args["fee"]) for t in settled for e in t.events if e.name == "Settled"}
        entry["fees_wei"] = [fees.get(a, 0) for a in addr]
        entry["settle_txs"] = [t.tx_hash for t in settled]
        entry["settle_max_gas"] = max(t.gas_used for t in settled)
        out.append(entry)
        advance(1)
    return out


def settle_fleet(chain: Chain, data_dir: str | Path, fleet: Any, env: V2VConfig, seed: int,
                 settle: FleetSettleConfig | None = None, reporter: Reporter = SILENT) -> dict[str, Any]:
    """Run ``fleet`` on held-out days and settle every day on ``chain``; returns a JSON-ready report."""
    cfg = settle or FleetSettleConfig()
    check_fleet_size(cfg, fleet)
    start = time.perf_counter()
    dep, new = deploy_fleet_ledger(chain, data_dir, StakingDeployment(beta_bps=cfg.beta_bps))
    settlement = V2VSettlementClient(chain, dep.contracts["V2VSettlement"])
    staking: StakingClient = settlement.staking
    settlement.preflight_batches = staking.preflight_batches = False  # batches built here: sent once each
    op = staking_operator(chain, data_dir, dep)  # a random key in the data dir's vault
    n = cfg.evs
    evs = accounts_for(data_dir, chain, "ev", n)  # random keys in the data dir's vault
    addr = [e.address for e in evs]
    txs: list[TxResult] = list(rounds.finish_round(chain, staking, op))
    new_evs = [e for e in evs if not settlement.subscribed(e.address)]
    if new_evs:
        txs.extend(settlement.subscribe_for(op, new_evs))
    before = {a: settlement.account(a) for a in addr}

    days_, prices = held_out(fleet.fleet, env, cfg.days, seed)
    result = evaluate(fleet.policy(), fleet.fleet, env, days_, prices, trades=True)
    model_hex = fleet.model_hash()
    model = bytes.fromhex(model_hex.removeprefix("0x"))
    blocks = day_rounds(result, fleet.fleet, model_hex, cfg.beta_bps / 10_000, seed)
    profit_money = np.clip(result.surplus_vs_grid, 0.0, None)  # (evs, days)
    scores = np.clip(np.where(result.came, result.proof_score, 0.0), 0.0, None)  # as day_rounds: present EVs
    days = []
    for d in range(cfg.days):
        profits = [price_to_wei(float(p), cfg.wei_per_money) for p in profit_money[:, d]]
        cash = [round(float(c) * cfg.wei_per_money) for c in blocks[d]["v2v_payments"]]
        days.append(FleetDay([kwh_to_token_units(float(x)) for x in scores[:, d]], profits,
                             fleet_payload(model, addr, cash, profits)))
    op = staking_operator(chain, data_dir, dep, deposit_wei=sum(sum(d.profits_wei) for d in days))
    rounds_out = record_fleet_days(chain, staking, settlement, op, evs, days, reporter, txs)

    # Fig. 4.5: the fee was deducted at settlement; honest EVs and the miners are paid out,
    # selfish EVs never act and their net profit stays held (until it expires to the treasury).
    honest = [a for i, a in enumerate(addr) if i not in cfg.selfish]
    due = [a for a in honest if settlement.held(a) + settlement.miner_credit(a) > 0]
    released: dict[str, int] = {}
    if due:
        for t in settlement.release(op, due):
            txs.append(t)
            for e in t.events:
                if e.name == "Withdrawn":
                    released[e.args["account"]] = int(e.args["profit"]) + int(e.args["fees"])
    per_ev = []
    for i, a in enumerate(addr):
        profit = sum(r["profits_wei"][i] for r in rounds_out)
        fee = sum(r["fees_wei"][i] for r in rounds_out)
        fees_received = sum(sum(r["fees_wei"]) for r in rounds_out if r["miner"] == a)
        per_ev.append({"ev": i, "address": a, "selfish": i in cfg.selfish, "profit_wei": profit,
                       "fee_paid_wei": fee, "fees_received_wei": fees_received,
                       "withdrawn_wei": released.get(a, 0), "held_wei": settlement.held(a),
                       "fees_held_wei": settlement.miner_credit(a)})
    balance = chain.balance(settlement.address)
    owed = settlement.total_owed()
    if balance != owed:
        raise InvariantError(f"settlement holds {balance} wei but owes {owed}")
    for i, a in enumerate(addr):
        gained = per_ev[i]["profit_wei"] - per_ev[i]["fee_paid_wei"] + per_ev[i]["fees_received_wei"]
        was = before[a].held + before[a].fees
        if was + gained != per_ev[i]["withdrawn_wei"] + per_ev[i]["held_wei"] + per_ev[i]["fees_held_wei"]:
            raise InvariantError(f"EV {i}: profit - fee + fees received does not match what it got and holds")
    return {
        "chain": {"backend": chain.backend, "chain_id": chain.chain_id, "block_number": chain.block_number(),
                  "contracts": dep.contracts, "operator": op.address, "deployed": new},
        "beta_bps": cfg.beta_bps, "wei_per_money": cfg.wei_per_money, "days": cfg.days,
        "model_hash": "0x" + model.hex(),
        "rounds": rounds_out, "evs": per_ev, "v2v_blocks": blocks,
        "uncollected_wei": sum(e["held_wei"] + e["fees_held_wei"] for e in per_ev if e["selfish"]),
        "contract_balance_wei": balance,
        "transactions": len(txs), "gas_used": sum(t.gas_used for t in txs),
        "max_gas": max((t.gas_used for t in txs), default=0),
        "seconds": time.perf_counter() - start,
    }
