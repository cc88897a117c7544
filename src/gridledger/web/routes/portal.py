"""The prosumer portal's API: market, prices, accounts, history (sentences, daily totals, CSV),
quotes, buying elecoins, trading energy, readings."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from gridledger.ledger.units import elecoins_to_units, kwh_to_wh, units_to_elecoins
from gridledger.web import schemas as s
from gridledger.web.deps import Auth, State, account_out, chain_access, tx_out
from gridledger.web.present import HISTORY_EVENTS, amount, csv_text, describe, scale
from gridledger.web.routes.explorer import sync_for_read
from gridledger.web.state import AppState

router = APIRouter(tags=["portal"])


def _checked(address: str) -> str:
    from eth_utils import to_checksum_address

    if not re.fullmatch(s.ADDRESS, address):
        raise HTTPException(422, "address must be 0x followed by 40 hex digits")
    return to_checksum_address(address)


@router.get("/api/market")
def market(state: State) -> dict[str, Any]:
    """Edge servers with their prices and what each may still sell, retailers, users with their
    rights and meters, Q, the market's bounds (prices, slot supply, redemption), whether it is
    paused, symbols and totals."""
    sync_for_read(state)
    return state.at_head(("market", state.index.last_indexed()), lambda: _market(state))


def _declared_at(state: AppState) -> dict[str, int]:
    """When each edge server last declared its uniform price (block timestamp)."""
    out: dict[str, int] = {}
    for e in state.index.events_named(("PriceDeclared",), emitter=state.etsc.address):
        out[e["args"]["server"]] = int(e["timestamp"])
    return out


def _meters(state: AppState) -> dict[str, dict[str, Any]]:
    """Meter -> {user, rated_w, active, block} from the ETSC's MeterRegistered/MeterRevoked events."""
    out: dict[str, dict[str, Any]] = {}
    for ev in state.index.events_named(("MeterRegistered", "MeterRevoked"), 100_000, emitter=state.etsc.address):
        a = ev["args"]
        if ev["name"] == "MeterRegistered":
            out[a["meter"]] = {"meter": a["meter"], "user": a["user"], "rated_w": int(a.get("ratedW") or 0),
                               "active": True, "block": ev["block"]}
        elif a["meter"] in out:
            out[a["meter"]]["active"] = False
    return out


def _market(state: AppState) -> dict[str, Any]:
    sym = state.symbols
    names = state.names()
    declared = _declared_at(state)
    meters: dict[str, list[str]] = {}
    for m in _meters(state).values():
        if m["active"]:
            meters.setdefault(m["user"], []).append(m["meter"])
    users = state.etsc_users()  # re-reads only the accounts the new blocks changed
    with state.lock:
        e = state.etsc
        prices = [(a, int(e.contract.functions.uniformPrice(a).call()), e.allocation(a)) for a in e.edge_servers()]
        t = e.totals()
        q_units = e.unit_power_price()
        paused = e.paused()
        lo, hi = e.price_bounds()
        redemption = e.redemption_price()
        slot_supply, slot_left, slot_seconds = e.slot_supply(), e.slot_remaining(), e.slot_seconds()
    q = Decimal(q_units * 1000).scaleb(-18)  # elecoins per kWh
    servers = []
    for k, (a, wei, left) in enumerate(prices):
        per_elc = Decimal(wei).scaleb(-18)
        servers.append({"address": a, "label": names.get(a, f"edge server {k + 1}"), "uniform_price_wei": str(wei),
                        "price": float(per_elc), "price_display": amount(wei, "native_per_elecoin", sym) if wei else
                        "no price declared", "kwh_price": float(per_elc * q),
                        "kwh_price_display": f"{amount(int(wei * q), 'native', sym)}/kWh" if wei else "",
                        "declared_at": declared.get(a), "allocation_left": units_to_elecoins(left),
                        "allocation_left_display": amount(left, "elecoin", sym)})
    return {"etsc": e.address, "elecoin": e.elecoin.address, "symbols": sym.to_json(),
            "unit_power_price_elecoins_per_kwh": float(q),
            "unit_power_price_display": f"{q.normalize():f} {sym.elecoin}/kWh",
            "edge_servers": servers, "wei_per_money": str(state.settings.wei_per_money),
            "paused": paused,
            "bounds": {"min_price_wei": str(lo), "max_price_wei": str(hi), "min_price": float(Decimal(lo).scaleb(-18)),
                       "max_price": float(Decimal(hi).scaleb(-18)),
                       "display": f"{amount(lo, 'native_per_elecoin', sym)} to {amount(hi, 'native_per_elecoin', sym)}",
                       "redemption_price_wei": str(redemption),
                       "redemption_display": amount(redemption, "native_per_elecoin", sym),
                       "slot_seconds": slot_seconds, "slot_supply_display": amount(slot_supply, "elecoin", sym),
                       "slot_left": units_to_elecoins(slot_left),
                       "slot_left_display": amount(slot_left, "elecoin", sym)},
            "retailers": [{"address": u.address, "name": u.name, "avail_power_kwh": u.avail_power_wh / 1000}
                          for u in users if u.registered and u.gen_right],
            "users": [{"address": u.address, "name": u.name, "gen_right": u.gen_right, "trans_right": u.trans_right,
                       "avail_power_kwh": u.avail_power_wh / 1000, "elecoins": units_to_elecoins(u.elecoins),
                       "total_gen_kwh": u.total_gen_wh / 1000, "total_use_kwh": u.total_use_wh / 1000,
                       "meters": meters.get(u.address, [])} for u in users],
            "totals": {"users": t.users, "avail_power_kwh": t.avail_power_wh / 1000,
                       "elecoin_reserve": units_to_elecoins(t.elecoin_reserve)}}


def warm(state: AppState) -> None:
    """Fill the caches the portal's, administrator's and edge server's first visit reads (every
    user's account, the market's state)."""
    market(state)


@router.get("/api/market/prices")
def prices(state: State, prosumer: Annotated[str, Query(pattern=s.ADDRESS)]) -> dict[str, Any]:
    """What ``prosumer`` pays each edge server per elecoin now (its personal price when the server
    declared one, else the uniform price; 0: no price)."""
    p = _checked(prosumer)

    def read() -> list[dict[str, Any]]:
        e = state.etsc
        out = []
        for a in e.edge_servers():
            uniform = int(e.contract.functions.uniformPrice(a).call())
            mine = e.price_for(a, p)
            out.append({"server": a, "price_wei": str(mine), "personal": mine != uniform and mine != 0,
                        "price": float(Decimal(mine).scaleb(-18)),
                        "price_display": amount(mine, "native_per_elecoin", state.symbols) if mine else
                        "no price declared"})
        return out

    return {"prosumer": p, "prices": state.at_head(("prices", p), read)}


@router.get("/api/accounts/{address}", response_model=s.AccountOut,
         responses={422: {"model": s.ErrorOut}})
def account(address: str, state: State) -> s.AccountOut:
    return account_out(state, _checked(address))


def _rows(state: AppState, address: str, limit: int) -> list[dict[str, Any]]:
    names = state.names()
    events = state.index.events_for(address, HISTORY_EVENTS, limit, emitter=state.etsc.address)
    return [describe(e, address, names, state.symbols) for e in events]


@router.get("/api/accounts/{address}/history")
def history(address: str, state: State, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    """The account's market events (newest first): ``rows`` as sentences with the signed amounts they
    moved for the account (ELC, kWh, native coin), ``events`` as decoded."""
    a = _checked(address)
    sync_for_read(state)
    events = state.index.events_for(a, HISTORY_EVENTS, limit, emitter=state.etsc.address)
    names = state.names()
    return {"events": events, "rows": [describe(e, a, names, state.symbols) for e in events],
            "symbols": state.symbols.to_json()}


CSV_COLUMNS = ["time_utc", "block", "event", "description", "elecoins", "kwh", "native", "tx"]


@router.get("/api/accounts/{address}/history.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def history_csv(address: str, state: State) -> Response:
    """The account's history as CSV (amounts in ELC, kWh and the native coin; cells that would start
    a spreadsheet formula are quoted)."""
    a = _checked(address)
    sync_for_read(state)
    body = state.at_index(("history.csv", a), lambda: _history_csv(state, a))  # one build per account and block
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="gridledger-{a[:10]}-history.csv"'})


def _history_csv(state: AppState, a: str) -> str:
    rows = []
    for r in _rows(state, a, 10_000):
        ts = r.get("timestamp")
        rows.append({**r, "description": r["text"], "native": r["native"],
                     "time_utc": dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else ""})
    sym = state.symbols
    header = [c if c != "native" else f"native_{sym.native}" for c in CSV_COLUMNS]
    return csv_text([{**r, f"native_{sym.native}": r["native"]} for r in rows], header)


@router.get("/api/accounts/{address}/daily")
def daily(address: str, state: State) -> dict[str, Any]:
    """Per day (UTC, from block times): energy produced and consumed (meter readings), bought and
    sold (trades), elecoins spent and earned on electricity, elecoins bought and what they cost,
    elecoins redeemed and what they paid back."""
    a = _checked(address)
    sync_for_read(state)
    return state.at_index(("daily", a), lambda: _daily(state, a))  # one build per account and block


def _daily(state: AppState, a: str) -> dict[str, Any]:
    events = state.index.events_for(a, ("Generated", "Consumed", "Traded", "ElecoinsBought", "Redeemed"), 100_000,
                                    emitter=state.etsc.address)
    keys = ("production_kwh", "consumption_kwh", "bought_kwh", "sold_kwh", "elecoins_spent", "elecoins_earned",
            "elecoins_bought", "native_spent", "elecoins_redeemed", "native_received")
    days: dict[str, dict[str, Decimal]] = {}
    for e in events:
        day = dt.datetime.fromtimestamp(int(e["timestamp"]), dt.UTC).strftime("%Y-%m-%d")
        d = days.setdefault(day, dict.fromkeys(keys, Decimal(0)))
        x = e["args"]
        if e["name"] == "Generated" and x["user"] == a:
            d["production_kwh"] += scale(x["energyWh"], "wh")
        elif e["name"] == "Consumed" and x["user"] == a:
            d["consumption_kwh"] += scale(x["energyWh"], "wh")
        elif e["name"] == "Traded" and x["prosumer"] == a:
            d["bought_kwh"] += scale(x["energyWh"], "wh")
            d["elecoins_spent"] += scale(x["elecoins"], "elecoin")
        elif e["name"] == "Traded" and x["retailer"] == a:
            d["sold_kwh"] += scale(x["energyWh"], "wh")
            d["elecoins_earned"] += scale(x["elecoins"], "elecoin")
        elif e["name"] == "ElecoinsBought" and x["prosumer"] == a:
            d["elecoins_bought"] += scale(x["amount"], "elecoin")
            d["native_spent"] += scale(x["paid"], "native")
        elif e["name"] == "Redeemed" and x["retailer"] == a:
            d["elecoins_redeemed"] += scale(x["amount"], "elecoin")
            d["native_received"] += scale(x["paid"], "native")
    out = [{"day": k, **{f: float(v) for f, v in d.items()}} for k, d in sorted(days.items())]
    total = {f: float(sum((d[f] for d in days.values()), Decimal(0))) for f in keys}
    return {"address": a, "days": out, "total": total, "symbols": state.symbols.to_json()}


@router.get("/api/quote")
def quote(sess: Auth, state: State, server: Annotated[str, Query(pattern=s.ADDRESS)],
          elecoins: Annotated[float, Query(gt=0, le=1_000_000)]) -> dict[str, str]:
    with chain_access(state, sess.address):
        wei = state.etsc.quote(server, sess.address, elecoins_to_units(elecoins))
        price = state.etsc.price_for(server, sess.address)
    return {"wei": str(wei), "price_wei_per_elecoin": str(price),
            "display": amount(wei, "native", state.symbols),
            "price_display": amount(price, "native_per_elecoin", state.symbols)}


@router.post("/api/buy", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def buy(body: s.BuyIn, sess: Auth, state: State) -> s.TxOut:
    """Buy elecoins from an edge server at its declared price (ETSC.buyToken)."""
    with chain_access(state, sess.address):
        res = state.etsc.buy_token(sess.signer, body.server, elecoins_to_units(body.elecoins))
    state.index.sync()
    return tx_out(res)


QUALIFICATION_TEXT = {
    "qualified": "You may buy this now.",
    "zero_amount": "Enter an amount above zero.",
    "buyer_not_registered": "Your account is not registered yet: ask the administrator (share your address).",
    "buyer_no_trans_right": "Your account may not trade yet: ask the administrator for the trading right.",
    "self_trade": "You cannot buy from yourself: choose another retailer.",
    "retailer_not_registered": "This retailer is not registered.",
    "retailer_no_gen_right": "This retailer may not sell electricity (no generation right).",
    "insufficient_power": "The retailer does not have that much available power: buy less or choose another.",
    "insufficient_elecoins": "You do not hold enough elecoins: buy elecoins first.",
}


@router.get("/api/qualification")
def qualification(sess: Auth, state: State, retailer: Annotated[str, Query(pattern=s.ADDRESS)],
                  energy_kwh: Annotated[float, Query(gt=0, le=1_000_000)]) -> dict[str, Any]:
    """ETSC.checkQualification for the signed-in prosumer, before sending a trade, with the cost."""
    wh = kwh_to_wh(energy_kwh)
    with chain_access(state, sess.address):
        q = state.etsc.check_qualification(sess.address, retailer, wh)
        cost = wh * state.etsc.unit_power_price()
        held = state.etsc.elecoin.balance_of(sess.address)
    name = q.name.lower()
    return {"qualification": name, "qualified": q.value == 0, "message": QUALIFICATION_TEXT.get(name, name),
            "cost_elecoins": units_to_elecoins(cost), "cost_display": amount(cost, "elecoin", state.symbols),
            "balance_display": amount(held, "elecoin", state.symbols)}


@router.post("/api/trade", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def trade(body: s.TradeIn, sess: Auth, state: State) -> s.TxOut:
    """Buy energy_kwh of a retailer's available power, paying elecoins (ETSC.trade)."""
    with chain_access(state, sess.address):
        res = state.etsc.trade(sess.signer, body.retailer, kwh_to_wh(body.energy_kwh))
    state.index.sync()
    return tx_out(res)


@router.get("/api/meters")
def meters(state: State) -> dict[str, Any]:
    """Every registered smart meter with its user, the user's rights, its rating and the reading
    kinds it may report (generation needs the user's generation right). Read from the index and
    the market's user list (no chain read per meter)."""
    users = {u["address"]: u for u in market(state)["users"]}

    def read() -> list[dict[str, Any]]:
        out = []
        for m in _meters(state).values():
            u = users.get(m["user"], {})
            gen = bool(u.get("gen_right"))
            out.append({"meter": m["meter"], "user": m["user"], "user_name": u.get("name"),
                        "gen_right": gen, "trans_right": bool(u.get("trans_right")), "active": m["active"],
                        "rated_kw": m["rated_w"] / 1000,
                        "kinds": (["generation", "consumption"] if gen else ["consumption"]) if m["active"] else [],
                        "avail_power_kwh": u.get("avail_power_kwh", 0.0), "block": m["block"]})
        return out

    return {"meters": state.at_index("meters", read)}


@router.get("/api/meters/{address}/readings")
def readings(address: str, state: State) -> dict[str, Any]:
    a = _checked(address)
    sync_for_read(state)
    evs = state.index.events_for(a, ("Generated", "Consumed"), 500, emitter=state.etsc.address)
    kinds = {"Generated": "generation", "Consumed": "consumption"}
    return {"readings": [{"kind": kinds[e["name"]], "energy_kwh": e["args"]["energyWh"] / 1000,
                          "block": e["block"], "timestamp": e["timestamp"], "tx": e["tx"], "user": e["args"]["user"],
                          "meter": e["args"]["meter"]} for e in evs]}
