"""Compiled (numba) inner loops of DMA-UBRL.

They implement exactly the update of :class:`gridledger.learn.wolf.WoLFPHC` (the readable
numpy reference; ``tests/unit/learn/test_kernels.py`` checks that both give the same tables on
the same transitions) and the reward formulas of :mod:`gridledger.games.stackelberg`, compiled
from the same Python functions. A stage of DMA-UBRL runs here in one call; Python code sees
only the learners' tables before and after.

Learner parameter vectors (float64): ``[sigma, gamma, eps_win, eps_lose, harmonic, shared]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from gridledger.games.stackelberg import prosumer_utility_value, server_utility_share, server_utility_value

_prosumer_utility = njit(cache=True)(prosumer_utility_value)
_server_utility = njit(cache=True)(server_utility_value)
_server_share = njit(cache=True)(server_utility_share)


@njit(cache=True)
def wolf_act(pi, b, s, explore, rng):
    """Action of learner b in state s: from pi(s,.), or uniform with probability ``explore``."""
    n_actions = pi.shape[2]
    u = rng.random()
    cum = 0.0
    total = 0.0
    for a in range(n_actions):
        total += pi[b, s, a]
    action = n_actions - 1
    for a in range(n_actions):
        cum += pi[b, s, a]
        if u * total <= cum:
            action = a
            break
    if explore > 0.0 and rng.random() < explore:
        action = rng.integers(0, n_actions)
    return action


@njit(cache=True)
def wolf_update(q, pi, pi_avg, state_visits, visits, future, b, s, a, reward, s_next, par):
    """One WoLF-PHC update of learner b (see gridledger.learn.wolf for the steps)."""
    sigma, gamma, eps_win, eps_lose, harmonic, shared = par[0], par[1], par[2], par[3], par[4], par[5]
    n_actions = q.shape[2]
    visits[b, s, a] += 1.0
    rate = max(sigma, 1.0 / visits[b, s, a]) if harmonic > 0.5 else sigma
    state_visits[b, s] += 1.0
    best_next = q[b, s_next, 0]
    for k in range(1, n_actions):
        if q[b, s_next, k] > best_next:
            best_next = q[b, s_next, k]
    next_value = gamma * best_next
    if shared > 0.5:
        f_old = future[b, s]
        f_new = f_old + max(sigma, 1.0 / state_visits[b, s]) * (next_value - f_old)
        future[b, s] = f_new
        r_old = q[b, s, a] - f_old
        for k in range(n_actions):
            q[b, s, k] += f_new - f_old
        q[b, s, a] = f_new + r_old + rate * (reward - r_old)
    else:
        q[b, s, a] += rate * (reward + next_value - q[b, s, a])
    count = state_visits[b, s]
    e_pi = 0.0
    e_avg = 0.0
    greedy = 0
    for k in range(n_actions):
        pi_avg[b, s, k] += (pi[b, s, k] - pi_avg[b, s, k]) / count
        e_pi += pi[b, s, k] * q[b, s, k]
        e_avg += pi_avg[b, s, k] * q[b, s, k]
        if q[b, s, k] > q[b, s, greedy]:
            greedy = k
    delta = eps_win if e_pi > e_avg else eps_lose
    moved = 0.0
    for k in range(n_actions):
        if k != greedy:
            d = min(pi[b, s, k], delta / (n_actions - 1))
            pi[b, s, k] -= d
            moved += d
    pi[b, s, greedy] += moved


@njit(cache=True)
def _argmax_row(x, b, s):
    best = 0
    for k in range(1, x.shape[2]):
        if x[b, s, k] > x[b, s, best]:
            best = k
    return best


@njit(cache=True)
def play_stage(srv, pro, price_lo, price_hi, u_p, demand_lo, demand_hi, u_x, learner_of,
               market, w, unified, schedule, srv_par, pro_par, rng, look_prices, look_demands):
    """Play one DMA-UBRL stage in place; return (episodes played, looks recorded).

    ``srv`` and ``pro`` are tuples (q, pi, pi_avg, state_visits, visits, future) of the server's
    (B, 1, Kp) and the prosumers' (N, Kp, Kx) learners. ``market`` is
    [theta, eta, Q, k, e_c, U^m]; ``schedule`` is [stage_episodes, explore_start,
    follower_explore_episodes, leader_uniform_episodes, leader_explore_episodes, eval_every,
    patience, purity]. Greedy prices and demands are written to ``look_prices[j]`` and
    ``look_demands[j]`` at every look j.
    """
    sq, spi, savg, sns, snv, sfut = srv
    pq, ppi, pavg, pns, pnv, pfut = pro
    theta, eta, Q, k, e_c, mining = market[0], market[1], market[2], market[3], market[4], market[5]
    n = pq.shape[0]
    n_learners = sq.shape[0]
    stage_episodes = int(schedule[0])
    explore_start = schedule[1]
    f_explore = schedule[2]
    l_uniform = schedule[3]
    l_explore = schedule[4]
    eval_every = int(schedule[5])
    patience = int(schedule[6])
    purity = schedule[7]

    price_idx = np.zeros(n_learners, dtype=np.int64)
    prices = np.zeros(n_learners)
    state = np.zeros(n, dtype=np.int64)
    demand_idx = np.zeros(n, dtype=np.int64)
    demands = np.zeros(n)
    prev_state = np.zeros(n, dtype=np.int64)
    prev_action = np.zeros(n, dtype=np.int64)
    prev_reward = np.zeros(n)
    last_key = np.full(n_learners + n, -1, dtype=np.int64)
    key = np.zeros(n_learners + n, dtype=np.int64)
    stable = 0
    looks = 0
    played = 0
    for t in range(stage_episodes):
        played = t + 1
        eps_pro = explore_start * max(0.0, 1.0 - t / f_explore) if f_explore > 0 else 0.0
        if t < l_uniform:
            eps_srv = 1.0
        elif l_explore > 0:
            eps_srv = max(0.0, 1.0 - (t - l_uniform) / l_explore)
        else:
            eps_srv = 0.0
        for b in range(n_learners):
            a = wolf_act(spi, b, 0, eps_srv, rng)
            price_idx[b] = a
            prices[b] = price_lo[b] + (price_hi[b] - price_lo[b]) * u_p[a]
        for i in range(n):
            state[i] = price_idx[learner_of[i]]
            # The prosumer's previous transition ends in the state it observes now.
            if t > 0:
                wolf_update(pq, ppi, pavg, pns, pnv, pfut, i, prev_state[i], prev_action[i], prev_reward[i],
                            state[i], pro_par)
            a = wolf_act(ppi, i, state[i], eps_pro, rng)
            demand_idx[i] = a
            lo = demand_lo[i, state[i]]
            demands[i] = lo + (demand_hi[i, state[i]] - lo) * u_x[a]
        # Environment: rewards from eqs. (2)-(3); each learner gets its own.
        revenue = 0.0
        total = 0.0
        for i in range(n):
            p = prices[learner_of[i]]
            prev_reward[i] = _prosumer_utility(theta, eta, Q, w[i], demands[i], p)
            revenue += p * demands[i]
            total += demands[i]
            prev_state[i] = state[i]
            prev_action[i] = demand_idx[i]
        if unified:
            wolf_update(sq, spi, savg, sns, snv, sfut, 0, 0, price_idx[0],
                        _server_utility(mining, k, Q, e_c, revenue, total), 0, srv_par)
        else:
            for b in range(n_learners):
                wolf_update(sq, spi, savg, sns, snv, sfut, b, 0, price_idx[b],
                            _server_share(mining, k, Q, e_c, n, prices[b], demands[b]), 0, srv_par)

        if (t + 1) % eval_every == 0 and looks < look_prices.shape[0]:
            pure = True
            for b in range(n_learners):
                g = _argmax_row(spi, b, 0)
                key[b] = g
                look_prices[looks, b] = price_lo[b] + (price_hi[b] - price_lo[b]) * u_p[g]
                if spi[b, 0, g] < purity:
                    pure = False
            for i in range(n):
                s = key[learner_of[i]]
                g = _argmax_row(ppi, i, s)
                key[n_learners + i] = g
                lo = demand_lo[i, s]
                look_demands[looks, i] = lo + (demand_hi[i, s] - lo) * u_x[g]
                if ppi[i, s, g] < purity:
                    pure = False
            looks += 1
            same = True
            for j in range(n_learners + n):
                if key[j] != last_key[j]:
                    same = False
                last_key[j] = key[j]
            stable = stable + 1 if same else 0
            if eps_srv == 0.0 and eps_pro == 0.0 and stable >= patience and pure:
                break
    # Close the prosumers' last transition (the next state is the one they are in).
    for i in range(n):
        wolf_update(pq, ppi, pavg, pns, pnv, pfut, i, prev_state[i], prev_action[i], prev_reward[i],
                    prev_state[i], pro_par)
    return played, looks
