"""Compiled (numba) inner loops of DMA-UBRL.

:func:`wolf_act` and :func:`wolf_update` implement exactly the update of
:class:`gridledger.learn.wolf.WoLFPHC` (the readable numpy reference;
``tests/unit/learn/test_kernels.py`` checks that both give the same tables on the same
transitions); the reward formulas are those of :mod:`gridledger.games.stackelberg`, compiled
from the same Python functions. :func:`play` runs many time slots of the whole game in one call;
every function here is plain Python that numba compiles, and the tests also run :func:`play`
uncompiled (``play.py_func``) and require identical tables.

The code keeps the agents apart: the *environment* block of :func:`play` alone reads the market
parameters (theta, eta, w_i, k, e_c, U^m, S) and hands each agent its own reward; the server's
price learners decide from their own rewards and bounds [p_min, p_max]; each prosumer decides
from the price it is offered, its own rewards, its own bounds [x_min, x_max] and its own
archive of settled demands. The server's price grid is public (the prices it may quote).

Learner parameter vectors (float64): ``[sigma, gamma, eps_win, eps_lose, harmonic, shared, tie]``.
Schedule vector (float64), see :class:`gridledger.learn.elecoin.dma_ubrl.DMAUBRLConfig`:
``[purity, explore_start, explore_visits, stable_visits, warmup_max, price_tol, demand_tol,
demand_tol_abs, bound_resolution, candidate_gap, max_candidates, max_stages, eval_every,
candidate_separation, round_purity, rationed_visits]``.
Market vector: ``[theta, eta, Q, k, e_c, U^m, S (or -1), p_min, p_max, x_min, x_max]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from gridledger.games.stackelberg import prosumer_utility_value, server_utility_share, server_utility_value

_prosumer_utility = njit(cache=True)(prosumer_utility_value)
_server_utility = njit(cache=True)(server_utility_value)
_server_share = njit(cache=True)(server_utility_share)

# Columns of the price learners' integer state ``lint`` (B, N_LINT): phase, slots in the phase,
# stages ended, candidate grids waiting (a stack), pinned prices recorded, reinstalling the best
# one, last warm-up stopped by its cap, record of the current grid, stopped with the price pinned,
# candidates kept so far.
PHASE, T_PHASE, STAGE, N_CAND, N_FINAL, REINSTALL, CAPPED, CURRENT, DONE_FLOOR, CAND_TOTAL = range(10)
N_LINT = 10
# Phases of a price learner.
WARMUP, LEARN, DONE = 0, 1, 2
# Relative tolerance under which two rewards at the same price count as the same.
SAME_REWARD = 1e-12


@njit(cache=True)
def wolf_act(pi, b, s, explore, rng):
    """Action of learner b in state s: from pi(s,.), or uniform with probability ``explore``."""
    row = pi[b, s]
    n_actions = row.shape[0]
    u = rng.random()
    total = 0.0
    for a in range(n_actions):
        total += row[a]
    threshold = u * total
    cum = 0.0
    action = n_actions - 1
    for a in range(n_actions):
        cum += row[a]
        if threshold <= cum:
            action = a
            break
    if explore > 0.0 and rng.random() < explore:
        action = rng.integers(0, n_actions)
    return action


@njit(cache=True)
def wolf_update(q, pi, pi_avg, state_visits, visits, future, b, s, a, reward, s_next, par):
    """One WoLF-PHC update of learner b (see gridledger.learn.wolf for the steps); returns the greedy action."""
    sigma, gamma, eps_win, eps_lose, harmonic, shared, tie = par[0], par[1], par[2], par[3], par[4], par[5], par[6]
    qs = q[b, s]
    ps = pi[b, s]
    avs = pi_avg[b, s]
    qn = q[b, s_next]
    n_actions = qs.shape[0]
    visits[b, s, a] += 1.0
    rate = max(sigma, 1.0 / visits[b, s, a]) if harmonic > 0.5 else sigma
    state_visits[b, s] += 1.0
    best_next = qn[0]
    for k in range(1, n_actions):
        if qn[k] > best_next:
            best_next = qn[k]
    if shared > 0.5:
        # q holds R(s,a); Q = R + F (see gridledger.learn.wolf).
        next_value = gamma * (best_next + future[b, s_next])
        f_old = future[b, s]
        future[b, s] = f_old + max(sigma, 1.0 / state_visits[b, s]) * (next_value - f_old)
        qs[a] += rate * (reward - qs[a])
    else:
        qs[a] += rate * (reward + gamma * best_next - qs[a])
    inv_count = 1.0 / state_visits[b, s]
    e_pi = 0.0
    e_avg = 0.0
    best = qs[0]
    for k in range(n_actions):
        avs[k] += (ps[k] - avs[k]) * inv_count
        qk = qs[k]
        e_pi += ps[k] * qk
        e_avg += avs[k] * qk
        if qk > best:
            best = qk
    # Values equal to the last digits are a tie, and ties go to the first (lowest) action.
    greedy = 0
    floor = best - tie * abs(best)
    while qs[greedy] < floor:
        greedy += 1
    step = (eps_win if e_pi > e_avg else eps_lose) / (n_actions - 1)
    moved = 0.0
    for k in range(n_actions):
        if k != greedy:
            d = min(ps[k], step)
            ps[k] -= d
            moved += d
    ps[greedy] += moved
    return greedy


@njit(cache=True)
def argmax_row(x, b, s):
    """First index of the largest x[b, s, :]."""
    best = 0
    for k in range(1, x.shape[2]):
        if x[b, s, k] > x[b, s, best]:
            best = k
    return best


# --- Action grids -------------------------------------------------------------------------------

@njit(cache=True)
def fill_linear(out, lo, hi):
    """Evenly spaced levels from lo to hi."""
    k = out.shape[0]
    for j in range(k):
        out[j] = lo + (hi - lo) * j / (k - 1)
    out[k - 1] = hi


@njit(cache=True)
def fill_geometric(out, lo, hi):
    """Levels in constant ratio from lo > 0 to hi (a price grid that knows only its bounds)."""
    k = out.shape[0]
    r = np.log(hi / lo)
    for j in range(k):
        out[j] = lo * np.exp(r * j / (k - 1))
    out[0] = lo
    out[k - 1] = hi


@njit(cache=True)
def fill_toward_low(out, bound, top, resolution):
    """The bound, then levels whose distances to it grow geometrically from ``resolution`` (top - bound)
    to (top - bound): resolves a maximiser on the bound or anywhere just above it in one stage."""
    k = out.shape[0]
    out[0] = bound
    for j in range(1, k):
        out[j] = bound + (top - bound) * resolution ** ((k - 1 - j) / (k - 2))
    out[k - 1] = top


@njit(cache=True)
def fill_toward_high(out, bottom, bound, resolution):
    """Mirror image of :func:`fill_toward_low` for a maximiser on or just below an upper bound."""
    k = out.shape[0]
    for j in range(k - 1):
        out[j] = bound - (bound - bottom) * resolution ** (j / (k - 2))
    out[0] = bottom
    out[k - 1] = bound


@njit(cache=True)
def next_grid(levels, g, bound_lo, bound_hi, resolution, tol_rel, tol_abs, out):
    """Trust-region step of an action grid from its greedy level ``g``; True when the maximiser is pinned.

    For a unimodal reward the maximiser lies between the neighbours of the best grid level:

    - ``g`` inside the grid: the bracket [levels[g-1], levels[g+1]]; pinned when narrower than
      tol_rel |levels[g]| + tol_abs, else ``out`` gets evenly spaced levels over it;
    - ``g`` on an edge that is the agent's bound: the bracket [bound, neighbour], refined with
      levels approaching the bound geometrically (:func:`fill_toward_low`);
    - ``g`` on an edge that is not a bound: the maximiser may lie beyond, so the grid moves that
      way and widens (to the neighbour and twice the grid's width beyond the edge); never pinned.
    """
    k = levels.shape[0]
    if 0 < g < k - 1:
        lo = levels[g - 1]
        hi = levels[g + 1]
        if hi - lo <= tol_rel * abs(levels[g]) + tol_abs:
            return True
        fill_linear(out, lo, hi)
        return False
    width = levels[k - 1] - levels[0]
    if g == 0:
        if levels[0] <= bound_lo:
            if levels[1] - levels[0] <= tol_rel * abs(levels[0]) + tol_abs:
                return True
            fill_toward_low(out, bound_lo, levels[1], resolution)
        else:
            fill_linear(out, max(bound_lo, levels[0] - 2.0 * width), levels[1])
        return False
    if levels[k - 1] >= bound_hi:
        if levels[k - 1] - levels[k - 2] <= tol_rel * abs(levels[k - 1]) + tol_abs:
            return True
        fill_toward_high(out, levels[k - 2], bound_hi, resolution)
    else:
        fill_linear(out, levels[k - 2], min(bound_hi, levels[k - 1] + 2.0 * width))
    return False


# --- A prosumer's archive of settled demands ----------------------------------------------------

@njit(cache=True)
def archive_neighbours(arch_p, n_arch, i, price):
    """Indices of prosumer i's archived prices nearest at-or-below and at-or-above ``price`` (-1: none)."""
    m = min(n_arch[i], arch_p.shape[1])
    below = -1
    above = -1
    for j in range(m):
        pj = arch_p[i, j]
        if pj <= price and (below < 0 or pj > arch_p[i, below]):
            below = j
        if pj >= price and (above < 0 or pj < arch_p[i, above]):
            above = j
    return below, above


@njit(cache=True)
def archive_estimate(arch_p, arch_x, n_arch, i, price):
    """Prosumer i's own estimate of its demand at ``price``, interpolated from its archive (nan: empty)."""
    below, above = archive_neighbours(arch_p, n_arch, i, price)
    if below < 0 and above < 0:
        return np.nan
    if below < 0:
        return arch_x[i, above]
    if above < 0:
        return arch_x[i, below]
    p0 = arch_p[i, below]
    p1 = arch_p[i, above]
    if p1 <= p0:
        return arch_x[i, below]
    return arch_x[i, below] + (arch_x[i, above] - arch_x[i, below]) * (price - p0) / (p1 - p0)


@njit(cache=True)
def archive_add(arch_p, arch_x, n_arch, i, price, demand):
    """Record a settled (price, demand) pair of prosumer i (a ring buffer: the oldest goes first)."""
    j = n_arch[i] % arch_p.shape[1]
    arch_p[i, j] = price
    arch_x[i, j] = demand
    n_arch[i] += 1


@njit(cache=True)
def demand_window(arch_p, arch_x, n_arch, i, price, x_min, x_max, tol_rel, tol_abs, resolution, out):
    """First demand grid of prosumer i at a newly announced ``price``, from its own archive.

    Its demand falls as the price rises (eq. 4), so the settled demands at the nearest archived
    prices above and below bracket it; the bracket is widened by a quarter either side (and never
    narrower than the tolerance), in case the response is not monotone (rationing). With nothing
    archived the grid covers [x_min, x_max], approaching x_min geometrically so that a demand of
    any size, however small against x_max, is seen in the first stage.
    """
    below, above = archive_neighbours(arch_p, n_arch, i, price)
    if below < 0 and above < 0:
        fill_toward_low(out, x_min, x_max, resolution)
        return
    hi = arch_x[i, below] if below >= 0 else x_max
    lo = arch_x[i, above] if above >= 0 else x_min
    if lo > hi:
        lo, hi = hi, lo
    pad = 0.25 * (hi - lo) + tol_rel * abs(0.5 * (lo + hi)) + tol_abs
    fill_linear(out, max(x_min, lo - pad), min(x_max, hi + pad))


@njit(cache=True)
def reset_row(q, pi, pi_avg, state_visits, visits, b, s):
    """A fresh WoLF-PHC learner for state s of learner b (new action grid)."""
    k = q.shape[2]
    for a in range(k):
        q[b, s, a] = 0.0
        pi[b, s, a] = 1.0 / k
        pi_avg[b, s, a] = 1.0 / k
        visits[b, s, a] = 0.0
    state_visits[b, s] = 0.0


# --- Agents' own stage decisions ----------------------------------------------------------------

@njit(cache=True)
def install_prices(b, levels, lev, llast, lstable, lrat, lint, learner_of, xlev, pq, ppi, pavg, pns, pnv, ft, fset,
                   arch_p, arch_x, n_arch, has_prev, market, sched):
    """Price learner b announces a new price grid; its prosumers set up their demand grids for it."""
    kp = lev.shape[1]
    for s in range(kp):
        lev[b, s] = levels[s]
        llast[b, s] = 0.0
        lstable[b, s] = -1
        lrat[b, s] = 0
    lint[b, PHASE] = WARMUP
    lint[b, T_PHASE] = 0
    x_min, x_max = market[9], market[10]
    for i in range(xlev.shape[0]):
        if learner_of[i] != b:
            continue
        # The pending transition belongs to a grid that no longer exists.
        has_prev[i] = 0
        for s in range(kp):
            demand_window(arch_p, arch_x, n_arch, i, lev[b, s], x_min, x_max, sched[6], sched[7] * (x_max - x_min),
                          sched[8], xlev[i, s])
            reset_row(pq, ppi, pavg, pns, pnv, i, s)
            ft[i, s] = 0
            fset[i, s] = 0


@njit(cache=True)
def prosumer_round(i, s, price, received, xlev, pq, ppi, pavg, pns, pnv, ft, fset, arch_p, arch_x, n_arch, market,
                   sched, buf):
    """Prosumer i's own end-of-round rule for state s, after an update there.

    Once exploration is over and its policy at s is pure, it either settles (the maximiser is
    pinned to the tolerance: what it receives at that price is archived, ``received`` being the
    fraction of a request served in the last slot) or moves to the next grid with a fresh
    learner (:func:`next_grid`).
    """
    purity, explore_visits, round_purity = sched[0], sched[2], sched[14]
    x_min, x_max = market[9], market[10]
    g = argmax_row(ppi, i, s)
    if ppi[i, s, g] >= round_purity and ft[i, s] >= explore_visits:
        if next_grid(xlev[i, s], g, x_min, x_max, sched[8], sched[6], sched[7] * (x_max - x_min), buf):
            if fset[i, s] == 0 and ppi[i, s, g] >= purity:
                fset[i, s] = 1
                archive_add(arch_p, arch_x, n_arch, i, price, xlev[i, s, g] * received)
        else:
            for a in range(buf.shape[0]):
                xlev[i, s, a] = buf[a]
            reset_row(pq, ppi, pavg, pns, pnv, i, s)
            ft[i, s] = 0
            fset[i, s] = 0
    elif ppi[i, s, g] < purity:
        fset[i, s] = 0


@njit(cache=True)
def record_final(b, levels, value, g, floor, lint, fin_lev, fin_val, fin_g, fin_floor):
    j = lint[b, N_FINAL]
    if j >= fin_val.shape[1]:
        return -1
    for s in range(levels.shape[0]):
        fin_lev[b, j, s] = levels[s]
    fin_val[b, j] = value
    fin_g[b, j] = g
    fin_floor[b, j] = 1 if floor else 0
    lint[b, N_FINAL] = j + 1
    return j


@njit(cache=True)
def price_stage_end(b, g, lev, sq, lint, lest, cand_lev, fin_lev, fin_val, fin_g, fin_floor, market, sched,
                    tie, buf, nxt):
    """Price learner b's own end-of-stage rule, once its policy is pure; returns True if it installs ``nxt``.

    Other local maxima of its Q-values within ``candidate_gap`` of the best are kept as candidate
    grids and refined later; when the current grid has pinned its maximiser the learner turns to
    the next candidate, and at the end reinstalls the best pinned price found and stops.
    """
    kp = lev.shape[1]
    p_min, p_max = market[7], market[8]
    gap, max_cand, max_stages, sep = sched[9], int(sched[10]), int(sched[11]), sched[13]
    lint[b, STAGE] += 1
    lest[b] = lev[b, g]
    best = sq[b, 0, g]
    if lint[b, REINSTALL] == 0:
        for j in range(kp):
            if abs(j - g) < 2 or lint[b, CAND_TOTAL] >= max_cand or abs(lev[b, j] - lev[b, g]) <= sep * lev[b, g]:
                continue
            # A peak of its own: above both neighbours by more than a tie (not a plateau).
            margin = tie * abs(sq[b, 0, j])
            left = j == 0 or sq[b, 0, j] > sq[b, 0, j - 1] + margin
            right = j == kp - 1 or sq[b, 0, j] > sq[b, 0, j + 1] + margin
            if left and right and sq[b, 0, j] >= best - gap * abs(best):
                lint[b, CAND_TOTAL] += 1
                if next_grid(lev[b], j, p_min, p_max, sched[8], sched[5], 0.0, buf):
                    record_final(b, lev[b], sq[b, 0, j], j, True, lint, fin_lev, fin_val, fin_g, fin_floor)
                else:
                    c = lint[b, N_CAND]
                    for s in range(kp):
                        cand_lev[b, c, s] = buf[s]
                    lint[b, N_CAND] = c + 1
        floor = next_grid(lev[b], g, p_min, p_max, sched[8], sched[5], 0.0, nxt)
        out_of_stages = lint[b, STAGE] >= max_stages
        if not (floor or out_of_stages):
            return True
        lint[b, CURRENT] = record_final(b, lev[b], best, g, floor, lint, fin_lev, fin_val, fin_g, fin_floor)
        # Candidates still to refine (the stack is popped from the top).
        if lint[b, N_CAND] > 0 and not out_of_stages:
            c = lint[b, N_CAND] - 1
            for s in range(kp):
                nxt[s] = cand_lev[b, c, s]
            lint[b, N_CAND] = c
            return True
    # Every candidate refined: the best pinned price is the answer.
    n_fin = lint[b, N_FINAL]
    top = fin_val[b, 0]
    for j in range(1, n_fin):
        top = max(top, fin_val[b, j])
    # The lowest price among the pinned ones whose values tie with the best.
    chosen = -1
    for j in range(n_fin):
        if fin_val[b, j] >= top - tie * abs(top) and (
                chosen < 0 or fin_lev[b, j, fin_g[b, j]] < fin_lev[b, chosen, fin_g[b, chosen]]):
            chosen = j
    if lint[b, REINSTALL] == 1 or chosen == lint[b, CURRENT]:
        lint[b, PHASE] = DONE
        lint[b, DONE_FLOOR] = fin_floor[b, chosen] if lint[b, CAPPED] == 0 else 0
        return False
    for s in range(kp):
        nxt[s] = fin_lev[b, chosen, s]
    lint[b, REINSTALL] = 1
    lint[b, CURRENT] = chosen
    return True


# --- The game -----------------------------------------------------------------------------------

@njit(cache=True)
def play(leader, follower, learner_of, w, market, sched, srv_par, pro_par, unified, rng, episodes, clock,
         look_p, look_x, look_stage):
    """Play up to ``episodes`` time slots in place; return (slots played, looks recorded, all done).

    ``leader`` = (lev, sq, spi, savg, sns, snv, sfut, lint, llast, lobs, lasked, lstable, lrat, lrat0, lest,
    cand_lev, fin_lev, fin_val, fin_g, fin_floor); ``follower`` = (xlev, pq, ppi, pavg, pns, pnv, pfut, ft,
    fset, arch_p, arch_x, n_arch, prev_s, prev_a, prev_r, has_prev). ``clock[0]`` counts slots over calls; every
    ``eval_every`` slots the price estimates and the prosumers' own demand estimates at them are
    written to ``look_*``.
    """
    (lev, sq, spi, savg, sns, snv, sfut, lint, llast, lobs, lasked, lstable, lrat, lrat0, lest, cand_lev, fin_lev,
     fin_val, fin_g, fin_floor) = leader
    (xlev, pq, ppi, pavg, pns, pnv, pfut, ft, fset, arch_p, arch_x, n_arch, prev_s, prev_a, prev_r,
     has_prev) = follower
    theta, eta, Q, k, e_c, mining, supply = market[0], market[1], market[2], market[3], market[4], market[5], \
        market[6]
    purity, explore_start, explore_visits = sched[0], sched[1], sched[2]
    stable_visits, warmup_max, eval_every = int(sched[3]), int(sched[4]), int(sched[12])
    rationed_visits = int(sched[15])
    n_learners, kp = lev.shape
    n, _, kx = xlev.shape
    price_idx = np.zeros(n_learners, dtype=np.int64)
    prices = np.zeros(n_learners)
    asked = np.zeros(n)
    alloc = np.zeros(n)
    buf_p = np.zeros(kp)
    nxt_p = np.zeros(kp)
    buf_x = np.zeros(kx)
    played = 0
    looks = 0
    all_done = False
    prev_received = 1.0
    for _ in range(episodes):
        # The run ends once every agent has stopped by its own rule: each price learner has pinned its
        # price, and each prosumer has settled at the price it is offered.
        all_done = True
        for b in range(n_learners):
            if lint[b, PHASE] != DONE:
                all_done = False
        if all_done:
            for i in range(n):
                if fset[i, argmax_row(spi, learner_of[i], 0)] == 0:
                    all_done = False
        if all_done:
            break
        played += 1
        clock[0] += 1
        # The server's price learners quote (uniformly while their prosumers settle).
        for b in range(n_learners):
            a = rng.integers(0, kp) if lint[b, PHASE] == WARMUP else wolf_act(spi, b, 0, 0.0, rng)
            price_idx[b] = a
            prices[b] = lev[b, a]
        # Each prosumer sees its price, closes its last transition there, and asks for elecoins.
        for i in range(n):
            b = learner_of[i]
            s = price_idx[b]
            if has_prev[i] == 1:
                ps = prev_s[i]
                wolf_update(pq, ppi, pavg, pns, pnv, pfut, i, ps, prev_a[i], prev_r[i], s, pro_par)
                ft[i, ps] += 1
                prosumer_round(i, ps, lev[b, ps], prev_received, xlev, pq, ppi, pavg, pns, pnv, ft, fset, arch_p,
                               arch_x, n_arch, market, sched, buf_x)
            explore = explore_start * max(0.0, 1.0 - ft[i, s] / explore_visits) if explore_visits > 0 else 0.0
            a = wolf_act(ppi, i, s, explore, rng)
            prev_s[i] = s
            prev_a[i] = a
            has_prev[i] = 1
            asked[i] = xlev[i, s, a]
            alloc[i] = asked[i]
        # Environment: pro-rata rationing beyond the supply, then the rewards of eqs. (2)-(3).
        rationed = False
        total_asked = 0.0
        for i in range(n):
            total_asked += asked[i]
        if supply > 0.0 and total_asked > supply:
            rationed = True
            for i in range(n):
                alloc[i] *= supply / total_asked
        revenue = 0.0
        total = 0.0
        for i in range(n):
            p = prices[learner_of[i]]
            prev_r[i] = _prosumer_utility(theta, eta, Q, w[i], alloc[i], p)
            revenue += p * alloc[i]
            total += alloc[i]
        # The server's price learners learn from their own rewards and decide their stages.
        for b in range(n_learners):
            a = price_idx[b]
            if unified:
                r = _server_utility(mining, k, Q, e_c, revenue, total)
            else:
                r = _server_share(mining, k, Q, e_c, n, prices[b], alloc[b])
            # What the server observes of the demands (its state s_e^t): the amounts asked for at its
            # price(s), folded into one number per price learner.
            if unified:
                obs = 0.0
                for i in range(n):
                    obs += asked[i] * (1.0 + 0.6180339887498949 * i)
            else:
                obs = asked[b]
            phase = lint[b, PHASE]
            lint[b, T_PHASE] += 1
            if phase == WARMUP:
                same = abs(r - llast[b, a]) <= SAME_REWARD * max(abs(r), abs(llast[b, a])) and \
                    abs(obs - lobs[b, a]) <= SAME_REWARD * max(abs(obs), abs(lobs[b, a]))
                if lstable[b, a] >= 0 and same:
                    lstable[b, a] += 1
                else:
                    lstable[b, a] = 0
                llast[b, a] = r
                lobs[b, a] = obs
                lasked[b, a] = total_asked
                # Where it had to ration, the server sold all of S whatever was asked for: its reward
                # there does not depend on the prosumers' answers as long as they keep asking for more.
                # Asking for more is lasting only if the total asked for does not shrink meanwhile
                # (above the clearing price the prosumers, each receiving more than it wants, cut their
                # requests until rationing stops).
                if rationed:
                    if lrat[b, a] == 0:
                        lrat0[b, a] = total_asked
                    lrat[b, a] += 1
                else:
                    lrat[b, a] = 0
                ready = True
                for s in range(kp):
                    if lstable[b, s] < stable_visits and not (lrat[b, s] >= rationed_visits and
                                                             lasked[b, s] >= lrat0[b, s] * (1.0 - SAME_REWARD)):
                        ready = False
                if ready or lint[b, T_PHASE] >= warmup_max:
                    lint[b, CAPPED] = 0 if ready else 1
                    # A fresh learner whose Q starts from the rewards it has just observed.
                    reset_row(sq, spi, savg, sns, snv, b, 0)
                    for s in range(kp):
                        sq[b, 0, s] = llast[b, s]
                        snv[b, 0, s] = 1.0
                    sfut[b, 0] = 0.0
                    lint[b, PHASE] = LEARN
                    lint[b, T_PHASE] = 0
            else:
                wolf_update(sq, spi, savg, sns, snv, sfut, b, 0, a, r, 0, srv_par)
                if phase == LEARN:
                    g = argmax_row(spi, b, 0)
                    if spi[b, 0, g] >= purity and price_stage_end(b, g, lev, sq, lint, lest, cand_lev, fin_lev,
                                                                  fin_val, fin_g, fin_floor, market, sched,
                                                                  srv_par[6], buf_p, nxt_p):
                        install_prices(b, nxt_p, lev, llast, lstable, lrat, lint, learner_of, xlev, pq, ppi, pavg, pns,
                                       pnv, ft, fset, arch_p, arch_x, n_arch, has_prev, market, sched)
        prev_received = supply / total_asked if rationed else 1.0
        if clock[0] % eval_every == 0 and looks < look_p.shape[0]:
            for b in range(n_learners):
                look_p[looks, b] = lev[b, argmax_row(spi, b, 0)] if lint[b, PHASE] == DONE else lest[b]
            for i in range(n):
                look_x[looks, i] = archive_estimate(arch_p, arch_x, n_arch, i, look_p[looks, learner_of[i]])
            look_stage[looks] = lint[0, STAGE]
            looks += 1
    return played, looks, all_done
