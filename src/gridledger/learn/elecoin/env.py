"""The elecoin Stackelberg game as an environment for independent learners.

:class:`ElecoinGame` is the vectorised core used by DMA-UBRL: it alone holds the market
parameters and turns the agents' prices and demands into rewards (paper eqs. 2-3).
:class:`ElecoinParallelEnv` exposes the same game through PettingZoo's Parallel API.

The Stackelberg order (price first, then demands that observe it) is kept in the Parallel API
by two phases per time slot: in the *pricing* phase only the server's action counts; in the
*demand* phase only the prosumers' actions count, each prosumer observing the price offered to
it, and both sides are rewarded. Observations carry the phase.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray
from pettingzoo import ParallelEnv

from gridledger.games.stackelberg import (
    PRICINGS,
    ElecoinMarket,
    prosumer_utility,
    ration,
    server_utility,
    server_utility_share,
)
from gridledger.params import check_choice, check_int


class ElecoinGame:
    """Rewards of the elecoin game for the learners (the environment side of DMA-UBRL).

    The server's learners receive only their own reward, the prosumers only theirs; neither
    side is given the other's parameters.
    """

    def __init__(self, market: ElecoinMarket, pricing: str) -> None:
        check_choice("pricing", pricing, PRICINGS)
        self.market = market
        self.pricing = pricing
        self.n = market.n_prosumers
        self.n_price_learners = 1 if pricing == "unified" else self.n

    def offered_prices(self, prices: ArrayLike) -> NDArray[np.float64]:
        """Price offered to each prosumer given the server's action(s)."""
        p = np.atleast_1d(np.asarray(prices, dtype=float))
        return np.full(self.n, p[0]) if self.pricing == "unified" else p

    def rewards(self, prices: ArrayLike, demands: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(server learners' rewards, prosumers' rewards) for one time slot.

        Unified: one server reward, eq. (2). Discriminated: one reward per price learner,
        (p_i - k/Q) x_i + (U^m - k e_c) / N, whose sum is eq. (2). Prosumers: eq. (3). In the
        supply-limited market the demands asked for are first rationed pro rata
        (:func:`gridledger.games.stackelberg.ration`) and rewards are paid on what was received.
        """
        m = self.market
        p = self.offered_prices(prices)
        x = ration(m, np.asarray(demands, dtype=float))
        r_pro = prosumer_utility(m, x, p)
        if self.pricing == "unified":
            r_srv = np.array([server_utility(m, p, x)])
        else:
            r_srv = server_utility_share(m.leader_mining_utility(), m.k, m.Q, m.e_c, self.n, p, x)
        return r_srv, r_pro


SERVER = "server"
PRICING_PHASE, DEMAND_PHASE = 0, 1


class ElecoinParallelEnv(ParallelEnv):
    """PettingZoo Parallel API view of the elecoin game (two phases per time slot).

    Agents: ``"server"`` (action: the unit elecoin price in [p_min, p_max], one value under
    unified pricing, one per prosumer under discriminated pricing) and ``"prosumer_0"``, ...
    (action: elecoin demand in [x_min, x_max]).
    Observations: the server sees ``[phase, x_1^{t-1}, ..., x_N^{t-1}]`` (its state s_e^t of
    paper III.A, zeros before the first slot); prosumer i sees ``[phase, p_i^t]`` (s_p^t; the
    price is 0 in the pricing phase, before it is announced). Rewards (eqs. 2-3) are paid in
    the demand phase; the episode is truncated after ``max_slots`` time slots. In the
    supply-limited market the demands are rationed pro rata and ``info["demand"]`` is what each
    prosumer received.
    """

    metadata: ClassVar[dict[str, Any]] = {"name": "elecoin_stackelberg_v0", "render_modes": []}

    def __init__(self, market: ElecoinMarket | None = None, pricing: str = "unified",
                 max_slots: int = 100) -> None:
        check_int("max_slots", max_slots, ge=1)
        self.game = ElecoinGame(market or ElecoinMarket(), pricing)
        self.max_slots = max_slots
        n = self.game.n
        self.possible_agents = [SERVER] + [f"prosumer_{i}" for i in range(n)]
        self.agents: list[str] = []
        self._phase = PRICING_PHASE
        self._slot = 0
        self._prices = np.zeros(self.game.n_price_learners)
        self._last_demand = np.zeros(n)

    @functools.cache  # noqa: B019 - fixed per agent, as PettingZoo advises
    def observation_space(self, agent: str) -> spaces.Space:
        m = self.game.market
        if agent == SERVER:
            low = np.zeros(1 + self.game.n, dtype=np.float32)
            high = np.concatenate([[1.0], np.full(self.game.n, m.x_max)]).astype(np.float32)
            return spaces.Box(low, high, dtype=np.float32)
        return spaces.Box(np.zeros(2, dtype=np.float32), np.array([1.0, m.p_max], dtype=np.float32),
                          dtype=np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        m = self.game.market
        if agent == SERVER:
            k = self.game.n_price_learners
            return spaces.Box(np.full(k, m.p_min, dtype=np.float32), np.full(k, m.p_max, dtype=np.float32),
                              dtype=np.float32)
        return spaces.Box(np.array([m.x_min], dtype=np.float32), np.array([m.x_max], dtype=np.float32),
                          dtype=np.float32)

    def _observations(self) -> dict[str, NDArray[np.float32]]:
        obs = {SERVER: np.concatenate([[self._phase], self._last_demand]).astype(np.float32)}
        offered = (self.game.offered_prices(self._prices) if self._phase == DEMAND_PHASE
                   else np.zeros(self.game.n))
        for i in range(self.game.n):
            obs[f"prosumer_{i}"] = np.array([self._phase, offered[i]], dtype=np.float32)
        return obs

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new episode. The game has no randomness of its own; ``seed`` seeds the spaces."""
        if seed is not None:
            for i, agent in enumerate(self.possible_agents):
                self.action_space(agent).seed(seed + i)
        self.agents = list(self.possible_agents)
        self._phase = PRICING_PHASE
        self._slot = 0
        self._last_demand = np.zeros(self.game.n)
        return self._observations(), {a: {"phase": self._phase} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        m = self.game.market
        n = self.game.n
        rewards = {a: 0.0 for a in self.agents}
        infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        if self._phase == PRICING_PHASE:
            p = np.atleast_1d(np.asarray(actions[SERVER], dtype=float))
            self._prices = np.clip(p, m.p_min, m.p_max)
            self._phase = DEMAND_PHASE
        else:
            x = np.array([float(np.asarray(actions[f"prosumer_{i}"]).reshape(-1)[0]) for i in range(n)])
            x = ration(m, np.clip(x, m.x_min, m.x_max))
            r_srv, r_pro = self.game.rewards(self._prices, x)
            rewards[SERVER] = float(r_srv.sum())
            offered = self.game.offered_prices(self._prices)
            for i in range(n):
                rewards[f"prosumer_{i}"] = float(r_pro[i])
                infos[f"prosumer_{i}"] = {"price": float(offered[i]), "demand": float(x[i])}
            infos[SERVER] = {"learner_rewards": r_srv.tolist(), "demands": x.tolist()}
            self._last_demand = x
            self._phase = PRICING_PHASE
            self._slot += 1
        truncated = self._slot >= self.max_slots
        obs = self._observations()
        terms = {a: False for a in self.agents}
        truncs = {a: truncated for a in self.agents}
        for a in self.agents:
            infos[a]["phase"] = self._phase
        if truncated:
            self.agents = []
        return obs, rewards, terms, truncs, infos
