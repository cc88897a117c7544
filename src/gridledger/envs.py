"""Every environment gridledger ships, from one place.

Gymnasium (registered when ``gridledger`` is imported, as env packages do):

- ``gridledger/V2V-v0``: one EV's day of thesis chapter 4 (eqs. 4.10-4.16), class
  :class:`gridledger.learn.fleet.env.V2VEnv`.

PettingZoo (Parallel API):

- :func:`elecoin_parallel_env`: the elecoin Stackelberg market of the paper (one edge server,
  N prosumers), class :class:`gridledger.learn.elecoin.env.ElecoinParallelEnv`.

Classes are imported on first use, so ``import gridledger`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gridledger.learn.elecoin.env import ElecoinParallelEnv
    from gridledger.learn.fleet.env import V2VEnv

GYMNASIUM_ENVS: dict[str, str] = {
    "gridledger/V2V-v0": "gridledger.learn.fleet.env:V2VEnv",
}
"""Gymnasium id -> entry point."""

__all__ = ["GYMNASIUM_ENVS", "ElecoinParallelEnv", "V2VEnv", "elecoin_parallel_env", "register_envs"]


def register_envs() -> None:
    """Register every id of :data:`GYMNASIUM_ENVS` with Gymnasium (idempotent)."""
    import gymnasium as gym

    for env_id, entry_point in GYMNASIUM_ENVS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


def elecoin_parallel_env(**kwargs: Any) -> Any:
    """A PettingZoo ParallelEnv of the elecoin market (keyword arguments of the class)."""
    from gridledger.learn.elecoin.env import ElecoinParallelEnv

    return ElecoinParallelEnv(**kwargs)


def __getattr__(name: str) -> Any:
    if name == "V2VEnv":
        from gridledger.learn.fleet.env import V2VEnv

        return V2VEnv
    if name == "ElecoinParallelEnv":
        from gridledger.learn.elecoin.env import ElecoinParallelEnv

        return ElecoinParallelEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
