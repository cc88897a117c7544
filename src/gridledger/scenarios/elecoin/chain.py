"""Settle the elecoin market on chain (paper section III.B, Algorithm 2).

The market is solved off chain (any method of :mod:`gridledger.scenarios.elecoin.run`); then the
ETSC is deployed (or found), the administrator empowers the prosumers and retailers and
registers the retailers' smart meters, the meters report generation, the edge server declares
its equilibrium price(s), every prosumer buys its equilibrium demand of elecoins and spends
them on electricity from a retailer (y = x / Q). Balances are read before and after.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gridledger.ledger.chain import Chain, Signer, derived_signer, signer_for
from gridledger.ledger.clients import ETSCClient
from gridledger.ledger.deploy import MarketDeployment, deploy_market
from gridledger.ledger.units import (
    DEFAULT_WEI_PER_MONEY,
    elecoins_to_units,
    price_to_wei,
    units_to_elecoins,
)
from gridledger.params import check_int, check_number
from gridledger.progress import SILENT, Reporter
from gridledger.scenarios.elecoin.run import ElecoinConfig, solve_elecoin

ETHER = 10**18


@dataclass(frozen=True)
class SettleConfig:
    """How the market is mapped onto accounts and money on chain."""

    retailers: int = 2
    """Retailers (sellers of electricity), each with a smart meter."""
    wei_per_money: int = DEFAULT_WEI_PER_MONEY
    """Wei of the native coin for one unit of the market's money (prices are per elecoin)."""
    funding_ether: float = 10.0
    """Native coin given to each new account for gas and elecoin purchases."""
    generation_margin: float = 1.1
    """Retailers' meters report this multiple of the energy the prosumers will buy."""

    def __post_init__(self) -> None:
        check_int("retailers", self.retailers, ge=1, le=1000)
        check_int("wei_per_money", self.wei_per_money, ge=1)
        check_number("funding_ether", self.funding_ether, gt=0)
        check_number("generation_margin", self.generation_margin, ge=1)


def _state(etsc: ETSCClient, chain: Chain, role: str, name: str, signer: Signer) -> dict[str, Any]:
    a = etsc.account(signer.address)
    return {"role": role, "name": name, "address": signer.address, "elecoins": units_to_elecoins(a.elecoins),
            "avail_power_kwh": a.avail_power_wh / 1000, "native_wei": chain.balance(signer.address),
            "proceeds_wei": a.proceeds_wei}


def settle_elecoin(chain: Chain, data_dir: str | Path, config: ElecoinConfig, method: str, pricing: str,
                   rng: np.random.Generator, settle: SettleConfig | None = None,
                   reporter: Reporter = SILENT) -> dict[str, Any]:
    """Solve the market with ``method`` and settle it on ``chain``; returns a JSON-ready report."""
    settle = settle or SettleConfig()
    start = time.perf_counter()
    m = config.market
    solution = solve_elecoin(config, method, pricing, rng)
    dep, new = deploy_market(chain, data_dir, MarketDeployment(unit_power_price=m.Q, edge_servers=1))
    etsc = ETSCClient(chain, dep.contracts["ETSC"])
    admin = signer_for(chain, dep.administrator)
    server = signer_for(chain, dep.edge_servers[0])
    q_units = etsc.unit_power_price()
    tag = f"elecoin:{chain.chain_id}"
    prosumers = [derived_signer(f"{tag}:prosumer", i) for i in range(m.n_prosumers)]
    retailers = [derived_signer(f"{tag}:retailer", j) for j in range(settle.retailers)]
    meters = [derived_signer(f"{tag}:meter", j) for j in range(settle.retailers)]
    n_tx = 0
    advance = reporter.task("settling on chain", 3 * m.n_prosumers + 3 * settle.retailers + 1)

    for s in (*prosumers, *retailers, *meters):
        if chain.balance(s.address) < ETHER:
            chain.send_value(admin, s.address, int(settle.funding_ether * ETHER))
            n_tx += 1
    for i, p in enumerate(prosumers):
        if not etsc.account(p.address).registered:
            etsc.empower(admin, f"prosumer {i + 1}", p.address, False, True)
            n_tx += 1
    for j, (r, meter) in enumerate(zip(retailers, meters, strict=True)):
        if not etsc.account(r.address).registered:
            etsc.empower(admin, f"retailer {j + 1}", r.address, True, False)
            n_tx += 1
        if etsc.account(meter.address).meter_of is None:
            etsc.register_meter(admin, meter.address, r.address)
            n_tx += 1
    before = ([_state(etsc, chain, "edge server", "edge server 1", server)]
              + [_state(etsc, chain, "prosumer", f"prosumer {i + 1}", p) for i, p in enumerate(prosumers)]
              + [_state(etsc, chain, "retailer", f"retailer {j + 1}", r) for j, r in enumerate(retailers)])

    # Stage I on chain: the leader declares its price(s).
    prices = solution.outcome.prices
    if pricing == "unified":
        etsc.declare_price(server, price_to_wei(float(prices[0]), settle.wei_per_money))
        n_tx += 1
    else:
        for p, price in zip(prosumers, prices, strict=True):
            etsc.declare_price_for(server, p.address, price_to_wei(float(price), settle.wei_per_money))
            n_tx += 1
    advance(1)
    # Stage II: each prosumer buys its demand, then spends it on electricity (y = x / Q).
    amounts = [elecoins_to_units(float(x)) for x in solution.outcome.demands]
    energy_wh = [a // q_units for a in amounts]
    per_retailer = np.zeros(settle.retailers, dtype=object)
    for i, wh in enumerate(energy_wh):
        per_retailer[i % settle.retailers] += wh
    for j, meter in enumerate(meters):
        need = int(per_retailer[j] * settle.generation_margin) + 1
        have = etsc.account(retailers[j].address).avail_power_wh
        if have < need:
            etsc.generation(meter, need - have)
            n_tx += 1
        advance(1)
    trades = []
    for i, (p, amount, wh) in enumerate(zip(prosumers, amounts, energy_wh, strict=True)):
        if amount > 0:
            res = etsc.buy_token(p, server.address, amount)
            n_tx += 1
            paid = res.event("ElecoinsBought").args["paid"]
        else:
            paid = 0
        advance(1)
        retailer = retailers[i % settle.retailers]
        if wh > 0:
            qual = etsc.check_qualification(p.address, retailer.address, wh)
            res = etsc.trade(p, retailer.address, wh)
            n_tx += 1
            trades.append({"prosumer": p.address, "retailer": retailer.address, "energy_kwh": wh / 1000,
                           "elecoins": units_to_elecoins(res.event("Traded").args["elecoins"]),
                           "paid_wei": int(paid), "qualification": qual.name.lower(), "tx_hash": res.tx_hash})
        advance(1)
    if etsc.account(server.address).proceeds_wei > 0:
        etsc.withdraw_proceeds(server)
        n_tx += 1
    after = ([_state(etsc, chain, "edge server", "edge server 1", server)]
             + [_state(etsc, chain, "prosumer", f"prosumer {i + 1}", p) for i, p in enumerate(prosumers)]
             + [_state(etsc, chain, "retailer", f"retailer {j + 1}", r) for j, r in enumerate(retailers)])
    totals = etsc.totals()
    return {
        "chain": {"backend": chain.backend, "chain_id": chain.chain_id, "block_number": chain.block_number()},
        "deployment": dep.to_json(), "deployed_now": new,
        "solution": solution.to_json(),
        "accounts_before": before, "accounts_after": after, "trades": trades,
        "totals": {"users": totals.users, "avail_power_kwh": totals.avail_power_wh / 1000,
                   "gen_power_kwh": totals.gen_power_wh / 1000, "use_power_kwh": totals.use_power_wh / 1000,
                   "elecoin_reserve": units_to_elecoins(totals.elecoin_reserve),
                   "elecoin_supply": units_to_elecoins(totals.elecoin_supply)},
        "transactions": n_tx, "seconds": time.perf_counter() - start,
    }
