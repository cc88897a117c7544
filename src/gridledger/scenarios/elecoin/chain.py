"""Settle the elecoin market on chain (paper section III.B, Algorithm 2).

The market is solved off chain (any method of :mod:`gridledger.scenarios.elecoin.run`); then the
ETSC is deployed (or found), the administrator empowers the prosumers and retailers and
registers the retailers' smart meters (rated to the slot's demand), the meters report
generation, the edge server declares its equilibrium price(s), every prosumer buys its
equilibrium demand of elecoins and spends them on electricity from a retailer (y = x / Q), and
the retailers redeem the elecoins they received (the reserve refills). Balances are read before
and after.

One run is one trading slot. Meters may report at most their rating x the slot length per
slot, so on a dev chain (embedded, anvil) a run that needs more than what is left of the
current slot first moves the chain's clock to the next slot; on a live chain it waits for the
next slot instead. Every account (administrator, edge server, prosumers, retailers, meters)
has a random key in the data directory's key vault.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gridledger.errors import ConfigError
from gridledger.ledger.accounts import accounts_for, fund, signer_in_vault
from gridledger.ledger.chain import Chain, Signer
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
MAX_RATED_W = 10**9
"""ETSC.MAX_RATED_W (1 GW)."""
MAX_RATED_W = 10**9


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
    retailer_rated_kw: float | None = None
    """Rating of each retailer's meter; None: sized to report its slot's demand x margin in one slot."""
    slot_supply: float | None = None
    """Elecoins the servers may sell in this slot (the market's per-slot supply S); None: unchanged."""
    redeem: bool = True
    """Retailers redeem the elecoins they received at the end of the slot."""

    def __post_init__(self) -> None:
        check_int("retailers", self.retailers, ge=1, le=1000)
        check_int("wei_per_money", self.wei_per_money, ge=1)
        check_number("funding_ether", self.funding_ether, gt=0)
        check_number("generation_margin", self.generation_margin, ge=1)
        if self.retailer_rated_kw is not None:
            check_number("retailer_rated_kw", self.retailer_rated_kw, gt=0, le=1e6)
        if self.slot_supply is not None:
            check_number("slot_supply", self.slot_supply, gt=0)


def _state(etsc: ETSCClient, chain: Chain, role: str, name: str, signer: Signer) -> dict[str, Any]:
    a = etsc.account(signer.address)
    return {"role": role, "name": name, "address": signer.address, "elecoins": units_to_elecoins(a.elecoins),
            "avail_power_kwh": a.avail_power_wh / 1000, "native_wei": chain.balance(signer.address),
            "proceeds_wei": a.proceeds_wei}


def _next_slot(chain: Chain, etsc: ETSCClient) -> None:
    """Move a dev chain's clock to the start of the next trading slot (a live chain must wait)."""
    slot_s = etsc.slot_seconds()
    start = int(etsc.contract.functions.startTime().call())
    now = chain.timestamp()
    wait = slot_s - (now - start) % slot_s
    if not chain.dev_chain:
        raise ConfigError("slot", f"the meters' reports for this trading slot are used up; the next slot starts in "
                          f"{wait} s (chain {chain.chain_id} is live: its clock cannot be moved)")
    chain.advance_time(wait)


def settle_elecoin(chain: Chain, data_dir: str | Path, config: ElecoinConfig, method: str, pricing: str,
                   rng: np.random.Generator, settle: SettleConfig | None = None,
                   reporter: Reporter = SILENT) -> dict[str, Any]:
    """Solve the market with ``method`` and settle it on ``chain``; returns a JSON-ready report."""
    settle = settle or SettleConfig()
    start = time.perf_counter()
    m = config.market
    solution = solve_elecoin(config, method, pricing, rng)
    home = Path(data_dir)
    dep, new = deploy_market(chain, home, MarketDeployment(unit_power_price=m.Q, edge_servers=1, min_price=m.p_min,
                                                           max_price=m.p_max, redemption_price=m.p_min / 2,
                                                           wei_per_money=settle.wei_per_money))
    etsc = ETSCClient(chain, dep.contracts["ETSC"])
    admin = signer_in_vault(home, chain, etsc.administrator())
    server = signer_in_vault(home, chain, dep.edge_servers[0])
    q_units = etsc.unit_power_price()
    wei = int(settle.funding_ether * ETHER)
    prosumers = accounts_for(home, chain, "prosumer", m.n_prosumers)
    retailers = accounts_for(home, chain, "retailer", settle.retailers)
    meters = accounts_for(home, chain, "meter", settle.retailers)
    n_tx = 0
    advance = reporter.task("settling on chain", 3 * m.n_prosumers + 3 * settle.retailers + 1)

    # Demand of the slot: each prosumer buys x_i elecoins and spends them on x_i / Q kWh.
    amounts = [elecoins_to_units(float(x)) for x in solution.outcome.demands]
    energy_wh = [a // q_units for a in amounts]
    per_retailer = [0] * settle.retailers
    for i, wh in enumerate(energy_wh):
        per_retailer[i % settle.retailers] += wh
    need = [int(w * settle.generation_margin) + 1 for w in per_retailer]

    payer = None if chain.dev_signers() else admin
    n_tx += fund(chain, [*prosumers, *retailers, *meters], wei, payer)
    for i, p in enumerate(prosumers):
        if not etsc.account(p.address).registered:
            etsc.empower(admin, f"prosumer {i + 1}", p.address, False, True)
            n_tx += 1
    slot_hours = etsc.slot_seconds() / 3600
    for j, (r, meter) in enumerate(zip(retailers, meters, strict=True)):
        if not etsc.account(r.address).registered:
            etsc.empower(admin, f"retailer {j + 1}", r.address, True, False)
            n_tx += 1
        if etsc.meter_info(meter.address).user is None:
            rated_w = (round(settle.retailer_rated_kw * 1000) if settle.retailer_rated_kw is not None
                       else math.ceil(need[j] / slot_hours))
            etsc.register_meter(admin, meter.address, r.address, max(1, min(rated_w, MAX_RATED_W)))
            n_tx += 1
    if settle.slot_supply is not None:
        etsc.set_slot_supply(admin, elecoins_to_units(settle.slot_supply))
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
    # Electricity clearing: the retailers' meters report the slot's generation.
    shortfall = [max(0, n - etsc.account(r.address).avail_power_wh) for n, r in zip(need, retailers, strict=True)]
    room = [etsc.meter_info(mt.address).remaining_wh for mt in meters]
    if any(s_ > r_ for s_, r_ in zip(shortfall, room, strict=True)):
        _next_slot(chain, etsc)
    for j, meter in enumerate(meters):
        if shortfall[j] > 0:
            info = etsc.meter_info(meter.address)
            if shortfall[j] > info.remaining_wh:
                raise ConfigError("retailer_rated_kw", f"retailer {j + 1}'s meter is rated {info.rated_w} W: it may "
                                  f"report {info.remaining_wh} Wh per slot, the slot needs {shortfall[j]} Wh")
            etsc.generation(meter, shortfall[j])
            n_tx += 1
        advance(1)
    # Stage II: each prosumer buys its demand, then spends it on electricity (y = x / Q).
    if etsc.allocation(server.address) < sum(amounts):
        top_up = min(etsc.unallocated(), sum(amounts) - etsc.allocation(server.address))
        if top_up > 0:
            etsc.set_allocation(admin, server.address, etsc.allocation(server.address) + top_up)
            n_tx += 1
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
    if settle.redeem:
        for r in retailers:
            held = etsc.elecoin.balance_of(r.address)
            if held > 0:
                etsc.redeem(r, held)
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
                   "elecoin_supply": units_to_elecoins(totals.elecoin_supply),
                   "elecoins_redeemed": units_to_elecoins(totals.elecoins_redeemed),
                   "redemption_backing_wei": totals.redemption_backing_wei},
        "slot": {"index": etsc.current_slot(), "seconds": etsc.slot_seconds(),
                 "supply": units_to_elecoins(etsc.slot_supply()),
                 "sold": units_to_elecoins(etsc.sold_in_slot(etsc.current_slot()))},
        "transactions": n_tx, "seconds": time.perf_counter() - start,
    }
