"""Batched tabular WoLF-PHC learners (Bowling & Veloso, "Multiagent learning using a variable
learning rate", Artificial Intelligence 136, 2002), the design of the paper's reference [11].

A :class:`WoLFPHC` holds B *independent* learners with the same state and action counts; each
has its own Q-table, mixed policy pi, average policy pi-bar and visit counts, and is updated
only from its own (state, action, reward, next state). Batching them is a speed device: the
learners never read each other's rows.

Per update of learner b in state s after action a with reward r and next state s'
(Bowling & Veloso, Table 2):

1. Q(s,a) <- (1 - sigma) Q(s,a) + sigma (r + gamma max_a' Q(s',a')), the paper's step 4
   with learning rate sigma_e and discount gamma_e;
2. C(s) += 1, pi-bar(s,.) += (pi(s,.) - pi-bar(s,.)) / C(s);
3. delta = epsilon_win if sum pi Q > sum pi-bar Q ("winning") else epsilon_lose;
4. pi(s,.) moves toward argmax_a Q(s,a): every other action loses min(pi(s,a), delta/(|A|-1)).
   Values that agree to ``tie`` (relative; default 1e-12) are tied and ties go to the first
   action, so that rounding in the last digits of equal rewards does not pick the greedy action
   (the market's convention: among equally good prices or demands, the lowest).

Two documented additions (docs/decisions.md, "DMA-UBRL"): the behaviour policy mixes pi with
a uniformly random action with a probability ``explore`` chosen by the caller (WoLF-PHC needs
exploration to see every action), and the learning rate may follow max(sigma, 1/n(s,a)), n the
visit count, so that a deterministic reward is learned in one visit instead of ~1/sigma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gridledger.params import check_choice, check_number

LR_SCHEDULES = ("harmonic", "constant")
FUTURES = ("shared", "per-action")


@dataclass(frozen=True)
class WoLFConfig:
    """Hyper-parameters of WoLF-PHC."""

    sigma: float = 0.1
    """sigma_e, learning rate in (0, 1] (paper III.A; value lost in extraction, chosen)."""
    gamma: float = 0.1
    """gamma_e, importance of future reward in (0, 1] (paper III.A; value lost, chosen)."""
    eps_win: float = 0.0025
    """Policy step when winning (paper IV.A: epsilon_win = 0.0025)."""
    eps_lose: float = 0.01
    """Policy step when losing (paper IV.A: epsilon_lose = 0.01)."""
    lr_schedule: str = "harmonic"
    """"harmonic": rate max(sigma, 1/n(s,a)); "constant": rate sigma."""
    future: str = "shared"
    """How gamma max Q(s',.) enters: "per-action" (textbook Q-learning) or "shared": one
    running estimate F(s) per state of the discounted next-state value, common to every action,
    kept apart from the immediate-reward estimates R(s,a) (Q = R + F). "shared" is exact when
    the next state does not depend on the agent's own action (true in the repeated elecoin
    game), removes the noise that the per-action form adds to the comparison of actions, and
    keeps a deterministic reward exact in R (no rounding from F's updates)."""

    tie: float = 1e-12
    """Value estimates that agree to this relative tolerance are tied; ties go to the first
    (lowest) action."""

    def __post_init__(self) -> None:
        check_number("tie", self.tie, ge=0, lt=1)
        check_number("sigma", self.sigma, gt=0, le=1)
        check_number("gamma", self.gamma, gt=0, le=1)
        check_number("eps_win", self.eps_win, gt=0, le=1)
        check_number("eps_lose", self.eps_lose, gt=0, le=1)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_choice("future", self.future, FUTURES)


class WoLFPHC:
    """B independent tabular WoLF-PHC learners, updated together.

    Parameters
    ----------
    n_learners, n_states, n_actions
        Sizes B, S, A.
    config
        Hyper-parameters shared by the learners.
    rng
        The learners' own random generator (action sampling).
    """

    def __init__(self, n_learners: int, n_states: int, n_actions: int, config: WoLFConfig,
                 rng: np.random.Generator) -> None:
        if n_actions < 2:
            raise ValueError("WoLF-PHC needs at least 2 actions")
        self.config = config
        self.rng = rng
        self.shape = (n_learners, n_states, n_actions)
        self.q = np.zeros(self.shape)
        """Q(s,a) ("per-action") or the immediate part R(s,a) ("shared"); see :meth:`q_values`."""
        self.pi = np.full(self.shape, 1.0 / n_actions)
        self.pi_avg = np.full(self.shape, 1.0 / n_actions)
        self.state_visits = np.zeros((n_learners, n_states))
        self.visits = np.zeros(self.shape)
        self.future_value = np.zeros((n_learners, n_states))
        self._rows = np.arange(n_learners)

    @property
    def n_actions(self) -> int:
        return self.shape[2]

    def act(self, states: NDArray[np.int64], explore: float = 0.0) -> NDArray[np.int64]:
        """Sample one action per learner from pi(s,.) mixed with uniform noise of weight ``explore``."""
        b = self._rows
        probs = self.pi[b, states]
        u = self.rng.random(len(b))
        cdf = np.cumsum(probs, axis=1)
        actions = np.minimum((cdf < u[:, None] * cdf[:, -1:]).sum(axis=1), self.n_actions - 1)
        if explore > 0.0:
            coin = self.rng.random(len(b)) < explore
            if coin.any():
                actions = np.where(coin, self.rng.integers(self.n_actions, size=len(b)), actions)
        return actions

    def q_values(self) -> NDArray[np.float64]:
        """Q(s,a) of every learner: the table itself ("per-action"), or R(s,a) + F(s) ("shared")."""
        if self.config.future == "per-action":
            return self.q
        return self.q + self.future_value[:, :, None]

    def update(self, states: NDArray[np.int64], actions: NDArray[np.int64], rewards: NDArray[np.float64],
               next_states: NDArray[np.int64]) -> None:
        """One WoLF-PHC update per learner from its own transition (steps 1-4 above)."""
        cfg = self.config
        b = self._rows
        s, a = states, actions
        self.visits[b, s, a] += 1.0
        rate = np.maximum(cfg.sigma, 1.0 / self.visits[b, s, a]) if cfg.lr_schedule == "harmonic" else cfg.sigma
        self.state_visits[b, s] += 1.0
        if cfg.future == "per-action":
            next_value = cfg.gamma * self.q[b, next_states].max(axis=1)
            self.q[b, s, a] += rate * (rewards + next_value - self.q[b, s, a])
        else:
            # Q(s,a) = R(s,a) + F(s): the table holds R, the average immediate reward of (s,a);
            # F(s) averages the discounted next-state value seen from s, whatever the action.
            next_value = cfg.gamma * (self.q[b, next_states].max(axis=1) + self.future_value[b, next_states])
            f_old = self.future_value[b, s]
            f_rate = np.maximum(cfg.sigma, 1.0 / self.state_visits[b, s])
            self.future_value[b, s] = f_old + f_rate * (next_value - f_old)
            self.q[b, s, a] += rate * (rewards - self.q[b, s, a])
        pi_s = self.pi[b, s]
        avg_s = self.pi_avg[b, s]
        avg_s += (pi_s - avg_s) * (1.0 / self.state_visits[b, s])[:, None]
        self.pi_avg[b, s] = avg_s

        # With "shared", Q(s,.) and R(s,.) differ by F(s) for every action: the same greedy action
        # and, as pi and pi-bar both sum to 1, the same winning test.
        q_s = self.q[b, s]
        winning = (pi_s * q_s).sum(axis=1) > (avg_s * q_s).sum(axis=1)
        delta = np.where(winning, cfg.eps_win, cfg.eps_lose)
        best = q_s.max(axis=1, keepdims=True)
        greedy = np.argmax(q_s >= best - cfg.tie * np.abs(best), axis=1)
        dec = np.minimum(pi_s, delta[:, None] / (self.n_actions - 1))
        dec[b, greedy] = 0.0
        pi_s = pi_s - dec
        pi_s[b, greedy] += dec.sum(axis=1)
        self.pi[b, s] = pi_s

    def greedy(self, states: NDArray[np.int64]) -> NDArray[np.int64]:
        """Most probable action of each learner's policy in its state."""
        return np.argmax(self.pi[self._rows, states], axis=1)
