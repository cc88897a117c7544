"""A community day and a fleet's held-out days recorded on both backends: the chain elects the
miner its off-chain replay elects, the miner seals the digest of the recorded day, the reward
pool delta x savings (eq. 3.23) is paid by Shapley shares in UPOS, refusing coalitions are
slashed (eq. 3.24), and the fleet's fees are deducted at settlement (thesis section 3.4.5,
Fig. 4.5). Who the chain elects is never counted on: the situations are built before the run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from situations import ScriptedFleet, honest_day, positive_coalitions, two_neighbourhoods

from gridledger.grid.dispatch import EDC
from gridledger.ledger.accounts import signer_in_vault
from gridledger.ledger.clients import Phase, StakingClient, UPOSClient, V2VSettlementClient, block_digest, trades_digest
from gridledger.ledger.keys import is_well_known
from gridledger.ledger.units import kwh_to_token_units, kwh_to_wh
from gridledger.scenarios.community.chain import day_payload, record_community_day
from gridledger.scenarios.community.run import (
    CommunityConfig,
    PreElection,
    check_invariants,
    stake_units,
    synthetic_input,
)
from gridledger.scenarios.fleet.chain import FleetSettleConfig, settle_fleet

pytestmark = pytest.mark.integration


@pytest.mark.seed_sensitive
def test_community_day_on_chain(chain, tmp_path):
    # Two neighbourhoods with sellers: some coalition has a positive stake, so a miner is
    # elected; which one the chain draws does not matter to what is checked.
    cfg = CommunityConfig(prosumers=8)
    rng = np.random.default_rng(4)
    day, ledger = record_community_day(chain, tmp_path, cfg, two_neighbourhoods(), rng)
    assert check_invariants(day) == []
    staking = StakingClient(chain, ledger["chain"]["contracts"]["ProofStaking"])
    upos = UPOSClient(chain, ledger["chain"]["contracts"]["UPOS"])
    addr = ledger["accounts"]
    assert day.miner is not None and day.miner in positive_coalitions(day)
    assert staking.outcome(1) == (True, ledger["miner"])
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
    # The operator that relayed everything is a random key of the data dir's vault.
    operator = ledger["chain"]["operator"]
    assert not is_well_known(operator) and signer_in_vault(tmp_path, chain, operator).address == operator


@pytest.mark.seed_sensitive
def test_community_day_with_refusing_coalitions_is_slashed(chain, tmp_path):
    # The day's coalitions are fixed before the draw: every coalition with a positive stake but
    # one refuses to seal. Whatever order the chain draws them in, each refusing coalition drawn
    # loses its whole stake (eq. 3.24) and the honest one mines.
    base = CommunityConfig(prosumers=8)
    inputs = two_neighbourhoods()
    honest = honest_day(base, inputs)
    candidates = positive_coalitions(honest)
    assert len(candidates) >= 2
    keep, refusing = candidates[0], candidates[1:]
    cfg = replace(base, malicious=tuple(i for c in refusing for i in c))
    rng = np.random.default_rng(4)
    day, ledger = record_community_day(chain, tmp_path, cfg, inputs, rng)
    assert day.formation.partition == honest.formation.partition
    units = stake_units(day.member_scores)
    addr = ledger["accounts"]
    staking = StakingClient(chain, ledger["chain"]["contracts"]["ProofStaking"])
    refused = [tuple(a["coalition"]) for a in ledger["election"] if a["refused"]]
    assert set(refused) <= set(refusing) and len(set(refused)) == len(refused)
    assert [day.formation.partition[k] for k in day.election.slashed] == refused
    assert day.miner == keep and staking.outcome(1) == (True, ledger["miner"])
    assert ledger["miner"] == addr[max(keep, key=lambda i: (units[i], -i))]
    burned = [a["slashed_units"] for a in ledger["election"] if a["refused"]]
    assert burned == [sum(units[i] for i in c) for c in refused]
    assert staking.round_info(1).slashed == sum(burned)
    slashed_members = {i for c in refused for i in c}
    for i in range(8):  # a slashed member's EPOS of the round is burned; the others keep theirs
        assert staking.epos.balance_of(addr[i]) == (0 if i in slashed_members else units[i])

    # A second day, the next round on the same contracts: every coalition refuses. Each one is
    # drawn in turn and slashed; nobody mines and nothing is minted.
    everyone = replace(base, malicious=tuple(range(8)))
    day2, ledger2 = record_community_day(chain, tmp_path, everyone, inputs, rng)
    assert ledger2["round"] == 2 and not ledger2["chain"]["deployed"]
    assert day2.miner is None and staking.outcome(2) == (True, None) and ledger2["reward_upos"] == 0
    assert all(a["refused"] for a in ledger2["election"])
    assert sorted(tuple(a["coalition"]) for a in ledger2["election"]) == sorted(candidates)
    assert staking.round_info(2).slashed == sum(units[i] for c in candidates for i in c)
    assert staking.round_info(2).reward == 0


@pytest.mark.seed_sensitive
def test_fleet_days_on_chain_deduct_the_fee_of_a_selfish_ev(chain, tmp_path):
    from gridledger.learn.fleet.env import V2VConfig

    # A scripted fleet (tests/situations.py): EV 0 only buys V2V, so it has a profit every day;
    # it is the selfish EV. Who mines is the chain's draw; the assertions hold for any miner.
    bad = 0
    report = settle_fleet(chain, tmp_path, ScriptedFleet(), V2VConfig(), 1,
                          FleetSettleConfig(evs=3, days=2, selfish=(bad,)))
    evs, rounds_ = report["evs"], report["rounds"]
    assert [r["round"] for r in rounds_] == [1, 2]
    assert all(sum(t["kwh"] for t in b["trades"]) > 0 for b in report["v2v_blocks"])
    settlement = V2VSettlementClient(chain, report["chain"]["contracts"]["V2VSettlement"])
    for r in rounds_:
        assert settlement.staking.outcome(r["round"]) == (True, r["miner"])  # every miner sealed
        for i, e in enumerate(evs):
            # eq. (4.20): beta = 5% of each profit made on a day someone else mined
            fee = 0 if e["address"] == r["miner"] else r["profits_wei"][i] * 500 // 10_000
            assert r["fees_wei"][i] == fee
        assert r["settle_max_gas"] < 30_000_000
    selfish = evs[bad]
    # The selfish EV never acted: the fee was deducted all the same, its net profit is held for it.
    assert selfish["profit_wei"] > 0 and selfish["withdrawn_wei"] == 0
    assert selfish["fee_paid_wei"] == sum(r["fees_wei"][bad] for r in rounds_)
    assert selfish["held_wei"] == selfish["profit_wei"] - selfish["fee_paid_wei"] > 0
    for k, e in enumerate(evs):
        if k != bad:  # honest EVs were paid out: profit net of fees, plus the fees they earned mining
            assert e["held_wei"] == e["fees_held_wei"] == 0
            assert e["withdrawn_wei"] == e["profit_wei"] - e["fee_paid_wei"] + e["fees_received_wei"]
    assert sum(e["fees_received_wei"] for e in evs) == sum(e["fee_paid_wei"] for e in evs)
    assert report["contract_balance_wei"] == report["uncollected_wei"] == settlement.total_owed()


@pytest.mark.seed_sensitive
def test_a_round_left_open_by_an_interrupted_run_is_finished(chain, tmp_path):
    cfg = CommunityConfig(prosumers=5)
    rng = np.random.default_rng(8)
    _, first = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    staking = StakingClient(chain, first["chain"]["contracts"]["ProofStaking"])
    op = signer_in_vault(tmp_path, chain, first["chain"]["operator"])
    staking.open_round(op)  # then "crash" while crediting
    staking.credit(op, first["accounts"][:2], [10**18, 10**18])
    _, again = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    # Round 2 ran out its deadlines (nobody staked: no miner, nothing redrawn); the day is round 3.
    assert again["round"] == 3 and staking.round_info(2).phase == Phase.CLOSED and staking.outcome(2) == (True, None)
    assert staking.outcome(3)[1] == again["miner"]
