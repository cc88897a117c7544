"""Situations built on purpose, so that a test does not depend on what a seed happens to draw.

Training (torch, numba) gives different numbers on different CPUs, so a seed that elects EV 0
or a coalition that happens to hold prosumer 3 on one machine may not on another. A test that
needs a particular situation builds it here: a community made by hand, or the outcome of a
draw replayed before the run (the draws are functions of the day's numbers and a seed, so a
replay in the same process makes the same draw on any machine).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from typing import Any

import numpy as np

from gridledger.scenarios.community.run import CommunityConfig, CommunityInput, run_community_day


def two_neighbourhoods() -> CommunityInput:
    """Eight prosumers in two neighbourhoods at opposite corners of the 20 km area, far from the
    EDC in the middle; each neighbourhood has two sellers (surplus) and two buyers. Sellers have
    positive proof scores (eq. 3.4) and the neighbours gain from trading together, so the day
    has several coalitions with a positive proof score, whatever the election draws."""
    positions = np.array([[2.0, 2.5], [3.0, 1.5], [1.5, 3.5], [3.5, 3.0],
                          [18.0, 17.5], [17.0, 18.5], [18.5, 16.5], [16.5, 17.0]])
    production = np.array([16.0, 13.0, 1.0, 0.5, 15.0, 12.5, 0.0, 2.0])
    consumption = np.array([3.0, 4.0, 11.0, 9.5, 2.5, 5.0, 10.0, 12.0])
    return CommunityInput(production, consumption, positions)


def positive_coalitions(day: Any) -> list[tuple[int, ...]]:
    """The day's coalitions with a positive stake (the election's candidates)."""
    from gridledger.scenarios.community.run import stake_units

    units = stake_units(day.member_scores)
    return [c for c in day.formation.partition if sum(units[i] for i in c) > 0]


def first_drawn_coalition(config: CommunityConfig, inputs: CommunityInput, seed: bytes, round_: int = 1
                          ) -> tuple[int, ...]:
    """The coalition the on-chain election (ProofStaking, round ``round_``, election seed ``seed``)
    draws first, replayed off chain with honest prosumers."""
    day = run_community_day(replace(config, malicious=()), inputs, np.random.default_rng(0),
                            election_seed=(seed, round_))
    assert day.election.attempts, "nobody has a positive proof score: no election"
    return day.formation.partition[day.election.attempts[0].candidate]


def ev_owing_a_fee(fleet: Any, env: Any, seed: int, settle: Any) -> int:
    """The EV that owes the largest fee when ``fleet`` settles its held-out days (``seed``) with
    nobody selfish, found by settling them first on a scratch embedded chain. A fresh deployment
    numbers its rounds from 1 and the rounds' draws depend only on the days' proof scores and
    ``seed``, so the same EV owes the same fee on any fresh deployment (settle_fleet itself
    checks that the chain elects the replayed miner)."""
    from gridledger.ledger.chain import EmbeddedChain
    from gridledger.scenarios.fleet.chain import settle_fleet

    chain = EmbeddedChain(None)
    try:
        with tempfile.TemporaryDirectory(prefix="gridledger-replay-") as scratch:
            report = settle_fleet(chain, scratch, fleet, env, seed, replace(settle, selfish=()))
    finally:
        chain.close()
    owed = [e["fee_owed_wei"] for e in report["evs"]]
    assert max(owed) > 0, f"no EV owes a fee on these days (every profit is zero?): {report['rounds']}"
    return int(np.argmax(owed))
