"""Every environment gridledger ships, from one place.

Gymnasium (registered when ``gridledger`` is imported, as env packages do):

- ``gridledger/V2VSite-v0``: one EV's day at its site (thesis chapter 4, eqs. 4.10-4.16, with hour
  and hours to departure in the state); the other EVs at the site act by a rule and the site
  market clears every hour, class :class:`gridledger.learn.fleet.env.V2VEnv`.
- ``gridledger/V2V-v0``: the thesis's MDP as printed (state 4.10, every kWh at p_v2v with an
  unlimited pool), class :class:`gridledger.learn.fleet.env.ThesisV2VEnv`.

PettingZoo (Parallel API):

- :func:`elecoin_parallel_env`: the elecoin Stackelberg market of the paper (one edge server,
  N prosumers), class :class:`gridledger.learn.elecoin.env.ElecoinParallelEnv`.
- :func:`v2v_site_parallel_env`: one site's EVs trading with each other for a day (thesis
  chapter 4, the site market), class :class:`gridledger.learn.fleet.env.V2VSiteParallelEnv`.

Batched (torch, many worlds at once): :class:`gridledger.learn.fleet.env.FleetMarketEnv`.

Classes are imported on first use, so ``import gridledger`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gridledger.learn.elecoin.env import ElecoinParallelEnv
    from gridledger.learn.fleet.env import ThesisV2VEnv, V2VEnv, V2VSiteParallelEnv

GYMNASIUM_ENVS: dict[str, str] = {
    "gridledger/V2V-v0": "gridledger.learn.fleet.env:ThesisV2VEnv",
    "gridledger/V2VSite-v0": "gridledger.learn.fleet.env:V2VEnv",
}
"""Gymnasium id -> entry point."""

__all__ = ["GYMNASIUM_ENVS", "ElecoinParallelEnv", "ThesisV2VEnv", "V2VEnv", "V2VSiteParallelEnv",
           "elecoin_parallel_env", "register_envs", "v2v_site_parallel_env"]


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


def v2v_site_parallel_env(**kwargs: Any) -> Any:
    """A PettingZoo ParallelEnv of one site's V2V market (keyword arguments of the class)."""
    from gridledger.learn.fleet.env import V2VSiteParallelEnv

    return V2VSiteParallelEnv(**kwargs)


def __getattr__(name: str) -> Any:
    if name in ("V2VEnv", "ThesisV2VEnv", "V2VSiteParallelEnv"):
        import gridledger.learn.fleet.env as fleet_env

        return getattr(fleet_env, name)
    if name == "ElecoinParallelEnv":
        from gridledger.learn.elecoin.env import ElecoinParallelEnv

        return ElecoinParallelEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
