"""Situations built on purpose, so that a test does not depend on what a seed happens to draw.

Training (torch, numba) gives different numbers on different CPUs, and the on-chain elections
draw from the validators' secrets (the OS's CSPRNG) and the chain's randomness, so a test never
counts on whom a draw elects. A test that needs a particular situation builds it here: a
community made by hand, a fleet acting by a script, or what a day fixes before its election
(its coalitions, the EVs' profits), replayed off chain before the run.
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


class ScriptedFleet:
    """Three EVs at one site acting by a fixed rule: EV 0 always charges, EVs 1 and 2 always
    discharge, so they trade V2V every hour they overlap. EV 0 buys (a positive surplus, so a fee)
    and only charges: its proof score (eq. 4.1) is at most the SOC it lacks when it leaves, far
    below the sellers' (the chain may still draw it: tests do not count on who mines)."""

    algo = "scripted"

    def __init__(self) -> None:
        from types import SimpleNamespace

        from gridledger.data.fleet import synthetic_fleet
        from gridledger.learn.fleet.env import V2VConfig

        self.fleet = synthetic_fleet(3, 1, np.random.default_rng(0))
        self.env_config = V2VConfig()
        self.federation = SimpleNamespace(beta=0.1, mode="scripted")  # what evaluate_fleet reads

    def policy(self):
        import torch

        return lambda obs, env: torch.tensor([[1.0], [-1.0], [-1.0]], dtype=torch.float64).expand(3, env.worlds)

    def model_hash(self) -> str:
        import hashlib

        return hashlib.sha256(b"scripted fleet").hexdigest()
