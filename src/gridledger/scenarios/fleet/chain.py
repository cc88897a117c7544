"""Settle an EV fleet's held-out days on chain (thesis sections 4.3.4-4.3.5, Fig. 4.5).

A trained fleet trades on held-out days off chain; each day becomes one round of the fleet's
PoSOC :class:`ProofStaking` and one settlement of :class:`V2VSettlement`:

1. every EV subscribes once, accepting the fee share beta (eq. 4.20);
2. per day: the operator opens a round committing to a seed, credits each EV's proof score of
   the day (PoSOC, eq. 4.1) as EPOS, every EV stakes it on itself, and the contract draws the
   mLAG with probability proportional to the stake (eq. 4.18); the off-chain replay of the
   draw must agree;
3. the operator deposits each EV's profit of the day (money gained against grid-only trading,
   positive part) and the contract records the fee beta * profit owed to the day's miner;
4. at the end, honest EVs pay their fees and withdraw their profits; selfish EVs do not pay,
   and their withdrawals are refused (``V2VFeeOutstanding``): their profit stays confiscated
   until they pay. Miners withdraw the fees paid to them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gridledger.games.election import seeded_selection
from gridledger.learn.fleet.env import V2VConfig
from gridledger.learn.fleet.federated import evaluate, held_out_days
from gridledger.ledger.accounts import accounts_for
from gridledger.ledger.chain import Chain, signer_for
from gridledger.ledger.clients import Phase, StakingClient, TxResult, V2VSettlementClient, seed_commitment
from gridledger.ledger.deploy import StakingDeployment, deploy_fleet_ledger
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.units import DEFAULT_WEI_PER_MONEY, kwh_to_token_units, price_to_wei
from gridledger.params import check_int
from gridledger.progress import SILENT, Reporter
from gridledger.scenarios.community.run import InvariantError

ETHER = 10**18


@dataclass(frozen=True)
class FleetSettleConfig:
    """How the fleet's held-out days are settled on chain."""

    evs: int = 10
    days: int = 3
    selfish: tuple[int, ...] = ()
    """EVs that never pay their fee (thesis Fig. 4.5)."""
    beta_bps: int = 500
    """beta of eq. (4.20) in basis points."""
    slash_bps: int = 10_000
    wei_per_money: int = DEFAULT_WEI_PER_MONEY
    """Wei of the native coin for one unit of the market's money."""

    def __post_init__(self) -> None:
        check_int("evs", self.evs, ge=1, le=500)
        check_int("days", self.days, ge=1, le=365)
        for k, i in enumerate(self.selfish):
            check_int(f"selfish[{k}]", i, ge=0, le=self.evs - 1)
        check_int("beta_bps", self.beta_bps, ge=1, le=10_000)
        check_int("slash_bps", self.slash_bps, ge=0, le=10_000)
        check_int("wei_per_money", self.wei_per_money, ge=1)


def settle_fleet(chain: Chain, data_dir: str | Path, fleet: Any, env: V2VConfig, seed: int,
                 settle: FleetSettleConfig | None = None, reporter: Reporter = SILENT) -> dict[str, Any]:
    """Run ``fleet`` on held-out days and settle every day on ``chain``; returns a JSON-ready report."""
    cfg = settle or FleetSettleConfig()
    start = time.perf_counter()
    dep, new = deploy_fleet_ledger(chain, data_dir, StakingDeployment(cfg.slash_bps, cfg.beta_bps))
    settlement = V2VSettlementClient(chain, dep.contracts["V2VSettlement"])
    staking: StakingClient = settlement.staking
    op = signer_for(chain, dep.administrator)
    n = cfg.evs
    evs = accounts_for(data_dir, chain, "ev", n)  # random keys in the data dir's vault
    addr = [e.address for e in evs]
    txs: list[TxResult] = []
    advance = reporter.task("settling the fleet on chain", n + cfg.days * (n + 4) + 2 * n)

    held = held_out_days(env, n, cfg.days, seed)
    result = evaluate(fleet.policy(), env, held, n)
    profit_money = np.clip(result.profit_vs_grid, 0.0, None)  # (evs, days)
    scores = np.clip(result.proof_scores, 0.0, None)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 104729]))

    for e in evs:
        if chain.balance(e.address) < ETHER // 2:
            chain.send_value(op, e.address, ETHER)
        if not settlement.subscribed(e.address):
            txs.append(settlement.subscribe(e, cfg.beta_bps))
        advance(1)
    last = staking.current_round()
    if last and staking.round_info(last).phase != Phase.CLOSED:
        txs.append(staking.close_round(op))

    rounds = []
    for d in range(cfg.days):
        round_ = staking.current_round() + 1
        s = rng.bytes(32)
        units = [kwh_to_token_units(float(x)) for x in scores[:, d]]
        txs.append(staking.open_round(op, seed_commitment(s)))
        txs.extend(staking.credit(op, addr, units))
        stakers = [i for i in range(n) if units[i] > 0]
        for i in stakers:
            txs.append(staking.stake(evs[i], addr[i], units[i]))
            advance(1)
        advance(n - len(stakers))
        expected = seeded_selection([units[i] for i in stakers], s, round_)
        if expected is None:  # nobody has a proof score: no miner, nothing to settle this day
            txs.append(staking.close_round(op))
            rounds.append({"round": round_, "miner": None, "seed": "0x" + s.hex()})
            advance(4)
            continue
        res = staking.elect(op, s)
        txs.append(res)
        miner = res.event("MinerElected").args["miner"]
        if miner != addr[stakers[expected]]:
            raise InvariantError(f"round {round_}: the chain elected {miner}, the replay EV {stakers[expected]}")
        txs.append(staking.close_round(op))
        for i in stakers:
            txs.append(staking.unstake(evs[i], round_))
        profits_wei = [price_to_wei(float(p), cfg.wei_per_money) for p in profit_money[:, d]]
        st = settlement.settle(op, round_, addr, profits_wei)
        txs.append(st)
        fees = {e.args["ev"]: int(e.args["fee"]) for e in st.events if e.name == "Settled"}
        rounds.append({"round": round_, "seed": "0x" + s.hex(), "miner": miner, "miner_ev": stakers[expected],
                       "proof_scores": scores[:, d].tolist(), "profits_wei": profits_wei,
                       "fees_wei": [fees.get(a, 0) for a in addr], "settle_tx": st.tx_hash,
                       "elect_tx": res.tx_hash})
        advance(4)

    # Fig. 4.5: honest EVs pay and withdraw; selfish EVs do not pay and cannot withdraw.
    per_ev = []
    for i, e in enumerate(evs):
        owed = settlement.owed(e.address)
        entry: dict[str, Any] = {"ev": i, "address": e.address, "selfish": i in cfg.selfish,
                                 "profit_wei": int(sum(r.get("profits_wei", [0] * n)[i] for r in rounds)),
                                 "fee_owed_wei": owed}
        if owed > 0 and i not in cfg.selfish:
            txs.append(settlement.pay_fees(e))
            entry["fee_paid_wei"] = owed
        try:
            if settlement.held(e.address) > 0:
                w = settlement.withdraw_profit(e)
                txs.append(w)
                entry["withdrawn_wei"] = int(w.event("ProfitWithdrawn").args["amount"])
        except ContractRevert as exc:
            if exc.name != "V2VFeeOutstanding":
                raise
            entry["refused"] = exc.name
        entry["held_wei"] = settlement.held(e.address)
        per_ev.append(entry)
        advance(1)
    for i, e in enumerate(evs):
        credit = settlement.miner_credit(e.address)
        per_ev[i]["fees_received_wei"] = credit
        if credit > 0:
            txs.append(settlement.withdraw_fees(e))
        advance(1)

    balance = chain.balance(settlement.address)
    owed_left = sum(settlement.held(a) for a in addr) + sum(settlement.miner_credit(a) for a in addr)
    if balance != owed_left:
        raise InvariantError(f"settlement holds {balance} wei but owes {owed_left}")
    if any(e["selfish"] and e["fee_owed_wei"] > 0 and e.get("withdrawn_wei") for e in per_ev):
        raise InvariantError("a selfish EV withdrew its profit without paying its fee")
    return {
        "chain": {"backend": chain.backend, "chain_id": chain.chain_id, "block_number": chain.block_number(),
                  "contracts": dep.contracts, "operator": dep.administrator, "deployed": new},
        "beta_bps": cfg.beta_bps, "wei_per_money": cfg.wei_per_money, "days": cfg.days,
        "rounds": rounds, "evs": per_ev,
        "confiscated_wei": sum(e["held_wei"] for e in per_ev if e["selfish"]),
        "contract_balance_wei": balance,
        "transactions": len(txs), "gas_used": sum(t.gas_used for t in txs),
        "seconds": time.perf_counter() - start,
    }
