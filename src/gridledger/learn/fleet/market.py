"""The site market: EVs parked at the same site in the same hour trade with each other.

Clearing rule (thesis chapter 4 gives none; docs/decisions.md): **pro-rata at a posted price**.
Each present EV asks for a grid-side energy e_i (kWh in the hour; + charge, - discharge).
Sellers offer S = sum of discharges, buyers ask D = sum of charges. The matched V2V energy is
M = min(S, D); every seller sells the share M/S of its offer and every buyer buys the share M/D
of its demand, at the posted price p_v2v (the buyer also pays the assisted-V2V service cost
Omega per kWh, eq. 4.16, to the site). With the V2B option, the building then takes up to its
demand B from the sellers' remainder (pro rata again) at p_v2v. What is left goes to the grid:
sellers export at p_Gbuy and buyers import at p_Gsell. Because p_Gbuy < p_v2v < p_Gsell, every
matched kWh is better for both sides than the grid, and the rule never leaves a seller and a
buyer unmatched while both trade with the grid. Quantities are price-inelastic (the thesis's
action is an energy, eq. 4.12), so a double auction with pay-as-clear would give the same
quantities at a price between p_Gbuy and p_Gsell; the posted p_v2v plays that price.

Per site and hour (checked by :func:`check_conservation`):

- energy discharged = V2V matched + V2B + grid export; energy charged = V2V matched + grid import;
- money: what buyers pay for V2V = what sellers receive for V2V (+ Omega to the site); the EVs'
  cash sums to grid export revenue + building payments - grid import cost - Omega.

``market = "grid"`` matches nothing (every trade with the grid: the thesis's baseline1 without
V2V); ``market = "pool"`` is the thesis's reward as printed (eq. 4.14): every kWh bought or sold
at p_v2v against an unlimited counterparty, so nothing needs to balance at the site.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MARKETS = ("site", "grid", "pool")


@dataclass(frozen=True)
class Clearing:
    """Cleared quantities (kWh) and cash (currency) per EV, and per site group."""

    sold_v2v: torch.Tensor
    bought_v2v: torch.Tensor
    sold_v2b: torch.Tensor
    grid_export: torch.Tensor
    grid_import: torch.Tensor
    cash: torch.Tensor
    """Money received minus money paid, per EV."""
    surplus_vs_grid: torch.Tensor
    """Money gained against trading the same energy with the grid (what V2V/V2B earned), per EV."""
    site_discharged: torch.Tensor
    site_charged: torch.Tensor
    site_matched: torch.Tensor
    site_v2b: torch.Tensor
    site_export: torch.Tensor
    site_import: torch.Tensor


def clear(energy: torch.Tensor, group: torch.Tensor, groups: int, p_v2v: torch.Tensor, p_grid_buy: torch.Tensor,
          p_grid_sell: torch.Tensor, omega: float = 0.0, market: str = "site",
          building_kwh: torch.Tensor | float = 0.0) -> Clearing:
    """Clear one hour at every site.

    Parameters
    ----------
    energy
        Grid-side energy of each EV (any shape; + charge, - discharge; 0 when absent).
    group
        Site group of each EV (same shape, int64 in [0, groups)).
    p_v2v, p_grid_buy, p_grid_sell
        Prices of each EV's site in this hour (same shape as ``energy``).
    building_kwh
        V2B demand of each site group (shape (groups,) or a scalar; 0 = no building).
    """
    sell = torch.clamp(-energy, min=0.0)
    buy = torch.clamp(energy, min=0.0)
    g = group.reshape(-1)
    s_tot = torch.zeros(groups, dtype=energy.dtype).index_add_(0, g, sell.reshape(-1))
    d_tot = torch.zeros(groups, dtype=energy.dtype).index_add_(0, g, buy.reshape(-1))
    zero = torch.zeros_like(s_tot)
    m_tot = torch.minimum(s_tot, d_tot) if market == "site" else zero
    b = torch.as_tensor(building_kwh, dtype=energy.dtype)
    v_tot = torch.minimum(s_tot - m_tot, b.expand_as(s_tot)) if market != "pool" else zero
    frac_s = torch.where(s_tot > 0, m_tot / torch.where(s_tot > 0, s_tot, 1.0), zero)
    frac_v = torch.where(s_tot > 0, v_tot / torch.where(s_tot > 0, s_tot, 1.0), zero)
    frac_d = torch.where(d_tot > 0, m_tot / torch.where(d_tot > 0, d_tot, 1.0), zero)
    sold_v2v = sell * frac_s[group]
    sold_v2b = sell * frac_v[group]
    bought_v2v = buy * frac_d[group]
    grid_export = sell - sold_v2v - sold_v2b
    grid_import = buy - bought_v2v
    if market == "pool":  # eq. (4.14) as printed: the unlimited pool pays and charges p_v2v
        p_exp, p_imp = p_v2v, p_v2v + omega
        surplus = sell * (p_v2v - p_grid_buy) + buy * (p_grid_sell - p_v2v - omega)
    else:
        p_exp, p_imp = p_grid_buy, p_grid_sell
        surplus = (sold_v2v + sold_v2b) * (p_v2v - p_grid_buy) + bought_v2v * (p_grid_sell - p_v2v - omega)
    cash = ((sold_v2v + sold_v2b) * p_v2v + grid_export * p_exp - bought_v2v * (p_v2v + omega)
            - grid_import * p_imp)
    return Clearing(sold_v2v, bought_v2v, sold_v2b, grid_export, grid_import, cash, surplus,
                    s_tot, d_tot, m_tot, v_tot, s_tot - m_tot - v_tot, d_tot - m_tot)


def bilateral_trades(sold_v2v: torch.Tensor, bought_v2v: torch.Tensor) -> torch.Tensor:
    """Buyer-by-seller V2V energy of one site and hour: trade[b, s] = bought_b sold_s / M.

    The pro-rata rule fixes each EV's matched energy, not who trades with whom; this
    proportional decomposition is the one whose row sums are what each buyer bought and whose
    column sums are what each seller sold (every buyer takes the same mix of sellers).
    """
    m = sold_v2v.sum()
    if float(m) <= 0:
        return torch.zeros(len(bought_v2v), len(sold_v2v), dtype=sold_v2v.dtype)
    return torch.outer(bought_v2v, sold_v2v) / m


def check_conservation(c: Clearing, energy: torch.Tensor, group: torch.Tensor, groups: int,
                       p_v2v: torch.Tensor, p_grid_buy: torch.Tensor, p_grid_sell: torch.Tensor,
                       omega: float = 0.0, market: str = "site", tol: float = 1e-9) -> None:
    """Raise AssertionError unless energy and money balance at every site (see module docstring)."""
    g = group.reshape(-1)

    def site_sum(x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(groups, dtype=x.dtype).index_add_(0, g, x.reshape(-1))

    dis = site_sum(torch.clamp(-energy, min=0.0))
    chg = site_sum(torch.clamp(energy, min=0.0))
    sold, bought = site_sum(c.sold_v2v), site_sum(c.bought_v2v)
    scale = 1.0 + float(torch.max(torch.abs(energy))) if energy.numel() else 1.0
    checks = {
        "discharged = V2V + V2B + export": dis - (sold + site_sum(c.sold_v2b) + site_sum(c.grid_export)),
        "charged = V2V + import": chg - (bought + site_sum(c.grid_import)),
        "V2V sold = V2V bought": sold - bought,
        "site totals": c.site_discharged - (c.site_matched + c.site_v2b + c.site_export),
    }
    if market != "pool":
        p_exp, p_imp = p_grid_buy, p_grid_sell
    else:
        p_exp, p_imp = p_v2v, p_v2v + omega
    paid_v2v = site_sum(c.bought_v2v * p_v2v)
    received_v2v = site_sum(c.sold_v2v * p_v2v)
    checks["V2V money: buyers pay = sellers receive"] = paid_v2v - received_v2v
    external = (site_sum(c.grid_export * p_exp) + site_sum(c.sold_v2b * p_v2v) - site_sum(c.grid_import * p_imp)
                - omega * site_sum(c.bought_v2v))
    checks["EVs' cash = grid + building - Omega"] = site_sum(c.cash) - external
    for name, diff in checks.items():
        worst = float(torch.max(torch.abs(diff))) if diff.numel() else 0.0
        if worst > tol * scale * 10:
            raise AssertionError(f"{name}: off by {worst:.3g}")
