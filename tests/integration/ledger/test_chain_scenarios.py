"""A community day and a fleet's held-out days recorded on both backends: the chain elects the
miner its off-chain replay elects, the miner seals the digest of the recorded day, the reward
pool delta x savings (eq. 3.23) is paid by Shapley shares in UPOS, and the fleet's fees are
deducted at settlement (thesis section 3.4.5, Fig. 4.5)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gridledger.grid.dispatch import EDC
from gridledger.ledger.chain import signer_for
from gridledger.ledger.clients import Phase, StakingClient, UPOSClient, V2VSettlementClient, block_digest, trades_digest
from gridledger.ledger.units import kwh_to_token_units, kwh_to_wh
from gridledger.scenarios.community.chain import day_payload, record_community_day
from gridledger.scenarios.community.run import CommunityConfig, PreElection, check_invariants, synthetic_input
from gridledger.scenarios.fleet.chain import FleetSettleConfig, settle_fleet
from gridledger.scenarios.fleet.run import train, train_config

pytestmark = pytest.mark.integration


def test_community_day_on_chain(chain, tmp_path):
    cfg = CommunityConfig(prosumers=8)
    rng = np.random.default_rng(4)
    day, ledger = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    assert check_invariants(day) == []
    staking = StakingClient(chain, ledger["chain"]["contracts"]["ProofStaking"])
    upos = UPOSClient(chain, ledger["chain"]["contracts"]["UPOS"])
    addr = ledger["accounts"]
    assert day.miner is not None and staking.outcome(1) == (True, ledger["miner"])
    # The miner is its coalition's validator: the member with the largest proof score.
    assert ledger["miner"] == addr[max(day.miner, key=lambda i: (day.member_scores[i], -i))]
    info = staking.round_info(1)
    savings = [kwh_to_token_units(max(float(x), 0.0)) for x in day.savings_kwh]
    assert info.fee_pool == sum(x * 1_000 // 10_000 for x in savings)  # eq. (3.23), delta = 0.1
    assert upos.total_supply() == info.reward == info.fee_pool == sum(upos.balance_of(a) for a in addr)
    for i in range(8):
        assert (upos.balance_of(addr[i]) > 0) == (i in day.miner and day.reward_shares_kwh[i] > 0)
        # No slashing: every member's EPOS is its proof score of the round.
        assert staking.epos.balance_of(addr[i]) == kwh_to_token_units(max(float(day.member_scores[i]), 0.0))
    # The sealed digest covers the recorded transactions and the miner's block, recomputed here.
    trades = [(None if t["from"] == EDC else addr[t["from"]], None if t["to"] == EDC else addr[t["to"]],
               kwh_to_wh(t["energy_kwh"]), kwh_to_wh(t["loss_kwh"])) for t in day.transactions]
    trades = [t for t in trades if t[2] > 0]
    pre = PreElection(day.formation.partition, day.member_scores, day.savings_kwh, day.transactions, frozenset())
    assert info.digest == block_digest(1, trades_digest(trades), day_payload(pre, addr))
    assert ledger["traded_kwh"] == pytest.approx(sum(t["energy_kwh"] for t in day.transactions), abs=0.01)
    assert ledger["max_gas"] < 30_000_000


def test_community_day_with_refusing_coalitions_is_slashed(chain, tmp_path):
    cfg = CommunityConfig(prosumers=8, malicious=(0, 1, 2, 3))
    rng = np.random.default_rng(4)
    day, ledger = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    refused = [a for a in ledger["election"] if a["refused"]]
    assert len(refused) == len(day.election.slashed) >= 1
    staking = StakingClient(chain, ledger["chain"]["contracts"]["ProofStaking"])
    assert staking.round_info(1).slashed == sum(a["slashed_units"] for a in refused)
    slashed_members = {i for k in day.election.slashed for i in day.formation.partition[k]}
    for i in slashed_members:  # eq. (3.24): the whole stake is burned
        assert staking.epos.balance_of(ledger["accounts"][i]) == 0
    if day.miner is None:
        assert staking.outcome(1) == (True, None) and ledger["reward_upos"] == 0
    # A second day is the next round on the same contracts.
    _, ledger2 = record_community_day(chain, tmp_path, replace(cfg, malicious=()), synthetic_input(cfg, rng), rng)
    assert ledger2["round"] == 2 and not ledger2["chain"]["deployed"]


@pytest.mark.seed_sensitive
def test_fleet_days_on_chain_deduct_the_fee_of_a_selfish_ev(chain, tmp_path):
    cfg = train_config({"federation": {"evs": 3, "rounds": 4}})
    fleet = train(cfg, 0)
    report = settle_fleet(chain, tmp_path, fleet, cfg.env, 1, FleetSettleConfig(evs=3, days=2, selfish=(0,)))
    evs, rounds_ = report["evs"], report["rounds"]
    assert [r["round"] for r in rounds_] == [1, 2]
    settlement = V2VSettlementClient(chain, report["chain"]["contracts"]["V2VSettlement"])
    for r in rounds_:
        assert settlement.staking.outcome(r["round"]) == (True, r["miner"])  # every miner sealed
        for i, e in enumerate(evs):
            fee = 0 if e["address"] == r["miner"] else r["profits_wei"][i] * 500 // 10_000
            assert r["fees_wei"][i] == fee
        assert r["settle_max_gas"] < 30_000_000
    selfish = evs[0]
    # The selfish EV never acted: it kept nothing of the fee, its net profit is held for it.
    assert selfish["withdrawn_wei"] == 0
    assert selfish["held_wei"] == selfish["profit_wei"] - selfish["fee_paid_wei"]
    for e in evs[1:]:
        assert e["held_wei"] == e["fees_held_wei"] == 0
        assert e["withdrawn_wei"] == e["profit_wei"] - e["fee_paid_wei"] + e["fees_received_wei"]
    assert sum(e["fees_received_wei"] for e in evs) == sum(e["fee_paid_wei"] for e in evs)
    assert report["contract_balance_wei"] == report["uncollected_wei"] == settlement.total_owed()


def test_a_round_left_open_by_an_interrupted_run_is_finished(chain, tmp_path):
    cfg = CommunityConfig(prosumers=5)
    rng = np.random.default_rng(8)
    _, first = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    staking = StakingClient(chain, first["chain"]["contracts"]["ProofStaking"])
    op = signer_for(chain, first["chain"]["operator"])
    staking.open_round(op)  # then "crash" while crediting
    staking.credit(op, first["accounts"][:2], [10**18, 10**18])
    _, again = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    # Round 2 ran out its deadlines (nobody staked: no miner, nothing redrawn); the day is round 3.
    assert again["round"] == 3 and staking.round_info(2).phase == Phase.CLOSED and staking.outcome(2) == (True, None)
    assert staking.outcome(3)[1] == again["miner"]
