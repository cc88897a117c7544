"""Scoring fleets on held-out days in money, and the reference policies: rule-based, grid-only
and the perfect-foresight optimum.

Money per EV-day (docs/v2v.md):

- ``cash``: currency received minus paid at the site market (V2V, V2B, grid);
- ``energy_value``: (battery energy at departure - at arrival) x the day's off-peak grid price
  (what the driver pays to put the energy back at home overnight);
- ``money`` = cash + energy_value;
- ``shortfall_cost``: kWh below the EV's required SOC at departure x shortfall_price_factor x
  the day's on-peak price; a departure below the required SOC is a range-anxiety violation;
- ``net`` = money - shortfall_cost (the sum of the ``money`` reward);
- ``delta_return``: the thesis's reward (eq. 4.14 with cleared prices) summed over the day.

The perfect-foresight optimum (:func:`oracle_schedule`) solves, per site and day, the linear
program that maximises the site's total ``net`` knowing every arrival, departure and price:
an upper bound of the fleet's total for any policy on those days (V2V payments cancel in the
total, so only grid, building and energy values and shortfalls remain, all linear). It is exact
where a dynamic programme over discretised SOC would be approximate; its schedule is replayed
through the same market, so every figure of the oracle comes from the same code as the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import linprog

from gridledger.data.fleet import EVProfile, FleetDays, PriceDays, sample_fleet_days
from gridledger.games.election import NoEligibleMinerError, weighted_random_selection
from gridledger.learn.fleet.env import DTYPE, FleetMarketEnv, V2VConfig, draw_prices, market_prices
from gridledger.learn.fleet.federated import Policy
from gridledger.learn.fleet.market import bilateral_trades


@dataclass
class EvalResult:
    """Per (EV, day) arrays of shape (evs, days); per (day, site, hour) arrays (days, sites, 24)."""

    came: np.ndarray
    """The EV was at its site that day."""
    cash: np.ndarray
    energy_value: np.ndarray
    shortfall_kwh: np.ndarray
    shortfall_cost: np.ndarray
    departure_soc: np.ndarray
    arrival_soc: np.ndarray
    delta_return: np.ndarray
    proof_score: np.ndarray
    surplus_vs_grid: np.ndarray
    discharged_kwh: np.ndarray
    charged_kwh: np.ndarray
    soc_required: np.ndarray
    v2v_kwh: np.ndarray
    v2b_kwh: np.ndarray
    grid_import_kwh: np.ndarray
    grid_export_kwh: np.ndarray
    site_ids: list[int]
    ev_ids: list[str]
    trades: list[list[dict[str, Any]]] = field(default_factory=list)
    """Per day: V2V trades (hour, site, buyer, seller, kwh, price_per_kwh, amount)."""
    hourly_ev: list[dict[str, np.ndarray]] = field(default_factory=list)
    """Per day (if asked): per EV and hour energy, SOC and p_v2v (evs, 24)."""

    @property
    def money(self) -> np.ndarray:
        return self.cash + self.energy_value

    @property
    def net(self) -> np.ndarray:
        return self.money - self.shortfall_cost

    @property
    def violation(self) -> np.ndarray:
        return self.came & (self.departure_soc < self.soc_required - 1e-9)

    def ev_days(self, x: np.ndarray) -> np.ndarray:
        """Values of the EV-days on which the EV came (flattened)."""
        return x[self.came]

    def summary(self) -> dict[str, Any]:
        """Means per EV-day (with 95% confidence half-widths over EV-days) and distributions."""
        out: dict[str, Any] = {"ev_days": int(self.came.sum())}
        for name in ("cash", "energy_value", "money", "shortfall_cost", "net", "delta_return", "proof_score",
                     "surplus_vs_grid", "discharged_kwh", "charged_kwh"):
            v = self.ev_days(getattr(self, name))
            out[name] = float(v.mean()) if len(v) else 0.0
            out[f"{name}_ci95"] = float(1.96 * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
        soc = self.ev_days(self.departure_soc)
        out["violation_rate"] = float(self.ev_days(self.violation).mean()) if len(soc) else 0.0
        out["departure_soc_quantiles"] = {q: float(np.quantile(soc, float(q))) for q in ("0.05", "0.25", "0.5", "0.75",
                                                                                        "0.95")} if len(soc) else {}
        out["departure_soc_histogram"] = np.histogram(soc, bins=np.linspace(0.0, 1.0, 11))[0].tolist()
        total_dis = float(self.discharged_kwh.sum())
        out["v2v_kwh_per_day"] = float(self.v2v_kwh.sum() / max(self.v2v_kwh.shape[0], 1))
        out["grid_import_kwh_per_day"] = float(self.grid_import_kwh.sum() / max(self.v2v_kwh.shape[0], 1))
        out["grid_export_kwh_per_day"] = float(self.grid_export_kwh.sum() / max(self.v2v_kwh.shape[0], 1))
        out["v2v_share_of_discharge"] = float(self.v2v_kwh.sum() / total_dis) if total_dis > 0 else 0.0
        return out


def held_out(fleet: tuple[EVProfile, ...], config: V2VConfig, days: int, seed: int,
             stream: int = 7919) -> tuple[FleetDays, PriceDays]:
    """Days no training run draws (a separate seed stream): the fleet's own patterns, new prices."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
    fd = sample_fleet_days(fleet, days, rng)
    pd = draw_prices(config, days, rng)
    return fd, pd


def evaluate(policy: Policy, fleet: tuple[EVProfile, ...], config: V2VConfig, days: FleetDays, prices: PriceDays,
             trades: bool = False, hourly_ev: bool = False, chunk: int = 512) -> EvalResult:
    """Run ``policy`` on the given days (each day a world; ``chunk`` days at once)."""
    n, d_total = days.shape
    parts: list[dict[str, np.ndarray]] = []
    all_trades: list[list[dict[str, Any]]] = []
    all_hourly: list[dict[str, np.ndarray]] = []
    env0 = FleetMarketEnv(fleet, config, 1)
    sites = env0.sites
    for s in range(0, d_total, chunk):
        idx = np.arange(s, min(s + chunk, d_total))
        w = len(idx)
        env = FleetMarketEnv(fleet, config, w, seed=0)
        env.start_day(days.columns(idx), prices.rows(idx))
        env.day_index = idx
        acc = {k: np.zeros((n, w)) for k in ("cash", "energy_value", "shortfall_kwh", "shortfall_cost", "delta_return",
                                "proof_score", "surplus", "dis", "chg")}
        site_acc = {k: np.zeros((w, sites, 24)) for k in ("v2v", "v2b", "imp", "exp")}
        dep_soc = env.soc.numpy().copy()
        arr_soc = env.soc.numpy().copy()
        day_trades: list[list[dict[str, Any]]] = [[] for _ in range(w)]
        hourly = [{"energy_kwh": np.zeros((n, 24)), "soc": np.full((n, 24), np.nan), "p_v2v": np.zeros(24),
                   "p_grid_sell": np.zeros(24)} for _ in range(w)] if hourly_ev else []
        while not env.day_over:
            obs = env.observe()
            act = policy(obs, env)
            r = env.step(act)
            h = r.hour
            pres = r.present.numpy()
            cl = r.clearing
            acc["cash"] += cl.cash.numpy()
            acc["delta_return"] += np.where(pres, r.reward_delta.numpy(), 0.0)
            acc["proof_score"] += np.where(pres, r.proof_score.numpy(), 0.0)
            acc["surplus"] += cl.surplus_vs_grid.numpy()
            acc["energy_value"] += r.energy_value.numpy()
            acc["shortfall_kwh"] += r.shortfall_kwh.numpy()
            acc["shortfall_cost"] += (r.shortfall_kwh * env.shortfall_price).numpy()
            e = r.energy_kwh.numpy()
            acc["dis"] += np.clip(-e, 0, None)
            acc["chg"] += np.clip(e, 0, None)
            dep = r.departing.numpy()
            dep_soc = np.where(dep, r.soc.numpy(), dep_soc)
            for key, val in (("v2v", cl.site_matched), ("v2b", cl.site_v2b), ("imp", cl.site_import),
                             ("exp", cl.site_export)):
                site_acc[key][:, :, h] = val.numpy().reshape(w, sites)
            if hourly_ev:
                soc_now = r.soc.numpy()
                for k in range(w):
                    hourly[k]["energy_kwh"][:, h] = e[:, k]
                    hourly[k]["soc"][:, h] = np.where(pres[:, k], soc_now[:, k], np.nan)
                    hourly[k]["p_v2v"][h] = float(r.p_v2v[0, k])
                    hourly[k]["p_grid_sell"][h] = float(r.p_grid_sell[0, k])
            if trades and float(cl.site_matched.sum()) > 0:
                sold, bought = cl.sold_v2v, cl.bought_v2v
                for k in range(w):
                    for si in range(sites):
                        members = np.flatnonzero(env.site_index.numpy() == si)
                        if float(sold[members, k].sum()) <= 0:
                            continue
                        mat = bilateral_trades(sold[members, k], bought[members, k]).numpy()
                        price = float(r.p_v2v[0, k])
                        for b, s_ in zip(*np.nonzero(mat > 1e-12), strict=True):
                            kwh = float(mat[b, s_])
                            day_trades[k].append({"hour": h, "site": int(env.site_ids[si]),
                                                  "buyer": int(members[b]), "seller": int(members[s_]),
                                                  "kwh": kwh, "price_per_kwh": price, "amount": kwh * price})
        came = (days.departure_h[:, idx] > days.arrival_h[:, idx])
        parts.append({**acc, "dep_soc": np.where(came, dep_soc, np.nan), "arr_soc": arr_soc, "came": came,
                      **{f"site_{k}": v for k, v in site_acc.items()}})
        all_trades += day_trades
        all_hourly += hourly

    def cat(key: str, axis: int = 1) -> np.ndarray:
        return np.concatenate([p[key] for p in parts], axis=axis)

    req = np.array([e.soc_required for e in fleet])[:, None] * np.ones((1, d_total))
    return EvalResult(
        came=cat("came"), cash=cat("cash"), energy_value=cat("energy_value"), shortfall_kwh=cat("shortfall_kwh"),
        shortfall_cost=cat("shortfall_cost"), departure_soc=cat("dep_soc"), arrival_soc=cat("arr_soc"),
        delta_return=cat("delta_return"), proof_score=cat("proof_score"), surplus_vs_grid=cat("surplus"),
        discharged_kwh=cat("dis"), charged_kwh=cat("chg"), soc_required=req,
        v2v_kwh=cat("site_v2v", 0), v2b_kwh=cat("site_v2b", 0), grid_import_kwh=cat("site_imp", 0),
        grid_export_kwh=cat("site_exp", 0), site_ids=[int(x) for x in env0.site_ids],
        ev_ids=[e.ev_id for e in fleet], trades=all_trades, hourly_ev=all_hourly)


# -- reference policies ---------------------------------------------------------------------------
def rule_policy() -> Policy:
    """The rule of :meth:`FleetMarketEnv.rule_actions` (sell on-peak above the required SOC, charge
    off-peak, top up to the required SOC in mid-peak or when time runs short)."""
    return lambda obs, env: env.rule_actions()


def grid_charge_policy() -> Policy:
    """Charge as fast as possible up to SOC_max and never sell."""
    return lambda obs, env: torch.ones(env.n, env.worlds, dtype=DTYPE)


def random_policy(seed: int) -> Policy:
    gen = torch.Generator().manual_seed(seed)
    return lambda obs, env: torch.rand(env.n, env.worlds, generator=gen, dtype=DTYPE) * 2 - 1


def oracle_schedule(fleet: tuple[EVProfile, ...], config: V2VConfig, days: FleetDays,
                    prices: PriceDays) -> np.ndarray:
    """Perfect-foresight grid-side energy per EV, day and hour (evs, days, 24) maximising each
    site's total net money (module docstring); one LP per site and day (HiGHS through SciPy)."""
    n, d_total = days.shape
    c = config
    env = FleetMarketEnv(fleet, config, 1)
    cap = env.capacity.numpy().ravel()
    ch = env.charge_kw.numpy().ravel()
    dis = env.discharge_kw.numpy().ravel()
    e_c = env.eff_ch.numpy().ravel()
    e_d = env.eff_dis.numpy().ravel()
    req = env.soc_required.numpy().ravel()
    site = env.site_index.numpy()
    p_sell_all = prices.grid_sell
    value_all = prices.off_peak
    short_all = c.shortfall_prices(prices)
    out = np.zeros((n, d_total, 24))
    omega = c.omega
    for day in range(d_total):
        p_sell = p_sell_all[day]
        p_v2v, p_buy = market_prices(p_sell, c)
        if c.market == "pool":
            p_buy, p_sell = p_v2v, p_v2v + omega
        for s in range(env.sites):
            evs = [i for i in np.flatnonzero(site == s) if days.departure_h[i, day] > days.arrival_h[i, day]]
            if not evs:
                continue
            hours = sorted({h for i in evs for h in range(days.arrival_h[i, day], days.departure_h[i, day])})
            # Columns: per (EV, present hour) charge and discharge; per EV shortfall; per hour m, v, imp, exp.
            cols_c: dict[tuple[int, int], int] = {}
            cols_d: dict[tuple[int, int], int] = {}
            cost: list[float] = []
            ub: list[float] = []
            for i in evs:
                for h in range(days.arrival_h[i, day], days.departure_h[i, day]):
                    cols_c[i, h] = len(cost)
                    cost.append(-value_all[day] * e_c[i])
                    ub.append(ch[i])
                    cols_d[i, h] = len(cost)
                    cost.append(value_all[day] / e_d[i])
                    ub.append(dis[i])
            col_short = {}
            for i in evs:
                col_short[i] = len(cost)
                cost.append(short_all[day])
                ub.append(np.inf)
            base = len(cost)
            for h in hours:  # m_h, v_h, imp_h, exp_h
                cost += [omega, -p_v2v[h], p_sell[h], -p_buy[h]]
                ub += [np.inf if c.market == "site" else 0.0, c.v2b_kwh if c.market != "pool" else 0.0, np.inf,
                       np.inf]
            rows: list[int] = []
            cols: list[int] = []
            vals: list[float] = []
            b_eq: list[float] = []
            r = 0
            for k, h in enumerate(hours):  # charged = m + imp ; discharged = m + v + exp
                for i in evs:
                    if (i, h) in cols_c:
                        rows += [r, r + 1]
                        cols += [cols_c[i, h], cols_d[i, h]]
                        vals += [1.0, 1.0]
                m, v, imp, exp = base + 4 * k, base + 4 * k + 1, base + 4 * k + 2, base + 4 * k + 3
                rows += [r, r, r + 1, r + 1, r + 1]
                cols += [m, imp, m, v, exp]
                vals += [-1.0, -1.0, -1.0, -1.0, -1.0]
                b_eq += [0.0, 0.0]
                r += 2
            a_eq = sp.csr_matrix((vals, (rows, cols)), shape=(r, len(cost)))
            rows, cols, vals, b_ub = [], [], [], []
            r = 0
            for i in evs:
                e0 = days.soc0[i, day] * cap[i]
                hrs = list(range(days.arrival_h[i, day], days.departure_h[i, day]))
                for k in range(1, len(hrs) + 1):
                    upper = max(c.soc_max * cap[i], e0 - k * dis[i] / e_d[i])
                    lower = min(c.soc_min * cap[i], e0 + k * ch[i] * e_c[i])
                    for h in hrs[:k]:
                        rows += [r, r, r + 1, r + 1]
                        cols += [cols_c[i, h], cols_d[i, h], cols_c[i, h], cols_d[i, h]]
                        vals += [e_c[i], -1.0 / e_d[i], -e_c[i], 1.0 / e_d[i]]
                    b_ub += [upper - e0 + 1e-9, e0 - lower + 1e-9]
                    r += 2
                # shortfall >= req cap - E_end  <=>  -short - sum(e_c c - d/e_d) <= e0 - req cap
                for h in hrs:
                    rows += [r, r]
                    cols += [cols_c[i, h], cols_d[i, h]]
                    vals += [-e_c[i], 1.0 / e_d[i]]
                rows.append(r)
                cols.append(col_short[i])
                vals.append(-1.0)
                b_ub.append(e0 - req[i] * cap[i])
                r += 1
            a_ub = sp.csr_matrix((vals, (rows, cols)), shape=(r, len(cost)))
            res = linprog(np.array(cost), A_ub=a_ub, b_ub=np.array(b_ub), A_eq=a_eq, b_eq=np.array(b_eq),
                          bounds=list(zip(np.zeros(len(ub)), ub, strict=True)), method="highs")
            if res.status != 0:
                raise RuntimeError(f"oracle LP failed on day {day}, site {s}: {res.message}")
            x = res.x
            for (i, h), col in cols_c.items():
                out[i, day, h] = x[col] - x[cols_d[i, h]]
    return out


def oracle_policy(schedule: np.ndarray) -> Policy:
    """Replay an :func:`oracle_schedule` (evs, days, 24) on the days it was solved for: the action
    that asks for the planned energy (``env.day_index`` names the days of the worlds)."""

    def act(obs: torch.Tensor, env: FleetMarketEnv) -> torch.Tensor:
        e = torch.from_numpy(schedule[:, env.day_index, env.hour])
        return torch.where(e >= 0, e / env.charge_kw, e / env.discharge_kw).clamp(-1.0, 1.0)

    return act


def day_rounds(result: EvalResult, fleet: tuple[EVProfile, ...], model_hash: str, beta: float,
               seed: int) -> list[dict[str, Any]]:
    """What the chain records per held-out day (one PoSOC round each; Algorithm 4 line 34, Fig. 4.5).

    Per day: the EVs' proof scores (eq. 4.1 summed over the day), the mLAG drawn by weighted
    random selection (eq. 4.18; the chain draws its own, this is the off-chain proposal), the
    global-model hash, the block of V2V trades (buyer, seller, kWh, price, amount: money to move
    from buyer to seller), each EV's net V2V payment, and the fees: beta x each EV's positive V2V
    surplus, owed to the mLAG (eq. 4.20, Fig. 4.5; the mLAG owes itself nothing).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 104729]))
    out = []
    n, days = result.cash.shape
    for d in range(days):
        scores = np.where(result.came[:, d], result.proof_score[:, d], 0.0)
        try:
            mlag: int | None = weighted_random_selection(np.clip(scores, 0.0, None), rng)
        except NoEligibleMinerError:
            mlag = None
        surplus = np.where(result.came[:, d], result.surplus_vs_grid[:, d], 0.0)
        fees = beta * np.clip(surplus, 0.0, None)
        if mlag is not None:
            fees[mlag] = 0.0
        else:
            fees[:] = 0.0
        trades = result.trades[d] if d < len(result.trades) else []
        pay = np.zeros(n)
        for t in trades:
            pay[t["buyer"]] -= t["amount"]
            pay[t["seller"]] += t["amount"]
        out.append({
            "day": d, "ev_ids": [e.ev_id for e in fleet], "proof_scores": scores.tolist(), "mlag": mlag,
            "mlag_ev": fleet[mlag].ev_id if mlag is not None else None, "model_hash": model_hash,
            "trades": trades, "v2v_payments": pay.tolist(), "surplus_vs_grid": surplus.tolist(),
            "beta": beta, "fees": fees.tolist(), "mining_reward": float(fees.sum()),
            "grid_import_kwh": float(result.grid_import_kwh[d].sum()),
            "grid_export_kwh": float(result.grid_export_kwh[d].sum()),
        })
    return out
