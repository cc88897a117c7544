"""A community day and a fleet's held-out days recorded on both backends: the chain elects the
miner the off-chain replay elects, pays the Shapley shares in UPOS, returns the EPOS, and holds
a selfish EV's profit (thesis section 3.4.5, Fig. 4.5)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gridledger.ledger.clients import StakingClient, UPOSClient
from gridledger.ledger.units import kwh_to_token_units
from gridledger.scenarios.community.chain import record_community_day
from gridledger.scenarios.community.run import CommunityConfig, check_invariants, synthetic_input
from gridledger.scenarios.fleet.chain import FleetSettleConfig, settle_fleet

pytestmark = pytest.mark.integration


def test_community_day_on_chain(chain, tmp_path):
    cfg = CommunityConfig(prosumers=8)
    rng = np.random.default_rng(4)
    day, ledger = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    assert check_invariants(day) == []
    staking = StakingClient(chain, ledger["chain"]["contracts"]["ProofStaking"])
    upos = UPOSClient(chain, ledger["chain"]["contracts"]["UPOS"])
    addr = ledger["accounts"]
    assert day.miner is not None and ledger["miner"] == staking.miner_of(1)
    # The miner is its coalition's validator: the member with the largest proof score.
    assert ledger["miner"] == addr[max(day.miner, key=lambda i: (day.member_scores[i], -i))]
    for i in range(8):
        expected = kwh_to_token_units(float(day.reward_shares_kwh[i])) if i in day.miner else 0
        assert upos.balance_of(addr[i]) == expected
        # No slashing: every member has its whole score back in its wallet.
        assert staking.epos.balance_of(addr[i]) == kwh_to_token_units(max(float(day.member_scores[i]), 0.0))
    assert staking.epos.balance_of(staking.address) == 0
    assert ledger["traded_kwh"] == pytest.approx(sum(t["energy_kwh"] for t in day.transactions), abs=0.01)


def test_community_day_with_refusing_coalitions_is_slashed(chain, tmp_path):
    cfg = CommunityConfig(prosumers=8, malicious=(0, 1, 2, 3))
    rng = np.random.default_rng(4)
    day, ledger = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    refused = [a for a in ledger["election"] if a["refused"]]
    assert len(refused) == len(day.election.slashed) >= 1
    staking = StakingClient(chain, ledger["chain"]["contracts"]["ProofStaking"])
    assert staking.round_info(1).slashed == sum(a["slashed_units"] for a in refused)
    slashed_members = {i for k in day.election.slashed for i in day.formation.partition[k]}
    for i in slashed_members:  # eq. (3.24): the whole stake is burned by default
        assert staking.epos.balance_of(ledger["accounts"][i]) == 0
    # A second day is the next round on the same contracts.
    _, ledger2 = record_community_day(chain, tmp_path, replace(cfg, malicious=()),
                                         synthetic_input(cfg, rng), rng)
    assert ledger2["round"] == 2 and not ledger2["chain"]["deployed"]


class ScriptedFleet:
    """Three EVs at one site acting by a fixed rule: EV 0 always charges, EVs 1 and 2 always
    discharge, so they trade V2V every hour they overlap. EV 0's proof score is never positive
    (it only charges and leaves full), so it is never the miner and owes every round's fee."""

    def __init__(self) -> None:
        from gridledger.data.fleet import synthetic_fleet

        self.fleet = synthetic_fleet(3, 1, np.random.default_rng(0))

    def policy(self):
        import torch

        return lambda obs, env: torch.tensor([[1.0], [-1.0], [-1.0]], dtype=torch.float64).expand(3, env.worlds)

    def model_hash(self) -> str:
        return "scripted"


def test_fleet_days_on_chain_hold_the_selfish_evs_profit(chain, tmp_path):
    from gridledger.learn.fleet.env import V2VConfig

    report = settle_fleet(chain, tmp_path, ScriptedFleet(), V2VConfig(), 1,
                          FleetSettleConfig(evs=3, days=2, selfish=(0,)))
    evs = report["evs"]
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    assert all(r["miner_ev"] in (1, 2) for r in report["rounds"])
    assert all(sum(t["kwh"] for t in b["trades"]) > 0 for b in report["v2v_blocks"])
    selfish = evs[0]
    # EV 0 bought V2V (a positive surplus) and is never the miner: it owes both rounds' fees.
    assert selfish["fee_owed_wei"] == sum(r["fees_wei"][0] for r in report["rounds"]) > 0
    assert selfish["refused"] == "V2VFeeOutstanding" and selfish["held_wei"] == selfish["profit_wei"]
    assert report["confiscated_wei"] == selfish["held_wei"]
    for e in evs[1:]:
        assert e["held_wei"] == 0 and e.get("withdrawn_wei", 0) == e["profit_wei"]
    assert report["contract_balance_wei"] == report["confiscated_wei"]
    # Fees received by the miners are exactly the fees the honest EVs paid.
    assert sum(e["fees_received_wei"] for e in evs) == sum(e.get("fee_paid_wei", 0) for e in evs)


def test_a_round_left_open_by_an_interrupted_run_is_closed(chain, tmp_path):
    from gridledger.ledger.chain import signer_for
    from gridledger.ledger.clients import Phase, seed_commitment

    cfg = CommunityConfig(prosumers=5)
    rng = np.random.default_rng(8)
    _, first = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    staking = StakingClient(chain, first["chain"]["contracts"]["ProofStaking"])
    staking.open_round(signer_for(chain, first["chain"]["operator"]), seed_commitment(bytes(32)))  # then "crash"
    _, again = record_community_day(chain, tmp_path, cfg, synthetic_input(cfg, rng), rng)
    assert again["round"] == 3 and staking.round_info(2).phase == Phase.CLOSED
    assert staking.round_info(3).phase == Phase.CLOSED and staking.miner_of(3) == again["miner"]
