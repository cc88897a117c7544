"""Situations built on purpose, so that a test does not depend on what a seed happens to draw.

Training (torch, numba) gives different numbers on different CPUs, and the on-chain elections
draw from the validators' secrets (the OS's CSPRNG) and the chain's randomness, so a test never
counts on whom a draw elects. A test that needs a particular situation builds it here: a
community made by hand, or what a day fixes before its election (its coalitions, the EVs'
profits), replayed off chain before the run.
"""

from __future__ import annotations

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


def honest_day(config: CommunityConfig, inputs: CommunityInput) -> Any:
    """The day with every prosumer honest, computed off chain. Its coalitions and proof scores
    are fixed by the inputs before any miner is drawn (coalition formation draws nothing), so a
    test can make some coalitions refuse to seal before the day is recorded on chain."""
    return run_community_day(replace(config, malicious=()), inputs, np.random.default_rng(0))


def ev_with_the_largest_profit(fleet: Any, env: Any, seed: int, settle: Any) -> int:
    """The EV with the largest profit on ``fleet``'s held-out days (``seed``), replayed off chain:
    the days and the profits are the fleet's, fixed before any round is drawn on chain (the
    miners are not: they come from the validators' secrets and the chain's randomness)."""
    from gridledger.learn.fleet.federated import evaluate, held_out_days

    held = held_out_days(env, settle.evs, settle.days, seed)
    result = evaluate(fleet.policy(), env, held, settle.evs)
    profit = np.clip(result.profit_vs_grid, 0.0, None).sum(axis=1)
    assert profit.max() > 0, "no EV makes a profit on these days"
    return int(np.argmax(profit))
