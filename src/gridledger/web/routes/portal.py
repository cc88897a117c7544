"""The prosumer portal's API: market, accounts, quotes, buying elecoins, trading energy, readings."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from gridledger.ledger.units import elecoins_to_units, kwh_to_wh, units_to_elecoins
from gridledger.web import schemas as s
from gridledger.web.deps import Auth, State, account_out, chain_access, tx_out
from gridledger.web.state import AppState

router = APIRouter(tags=["portal"])


@router.get("/api/market")
def market(state: State) -> dict[str, Any]:
    return state.at_head("market", lambda: _market(state))


def _market(state: AppState) -> dict[str, Any]:
    with state.lock:
        e = state.etsc
        servers = [{"address": a, "uniform_price_wei": str(e.contract.functions.uniformPrice(a).call())}
                   for a in e.edge_servers()]
        users = [e.account(a) for a in e.users()]
        t = e.totals()
    return {"etsc": e.address, "elecoin": e.elecoin.address, "unit_power_price_elecoins_per_kwh":
            e.unit_power_price() * 1000 / 1e18, "edge_servers": servers, "wei_per_money":
            str(state.settings.wei_per_money),
            "retailers": [{"address": u.address, "name": u.name, "avail_power_kwh": u.avail_power_wh / 1000}
                          for u in users if u.gen_right],
            "users": [{"address": u.address, "name": u.name, "gen_right": u.gen_right,
                       "trans_right": u.trans_right} for u in users],
            "totals": {"users": t.users, "avail_power_kwh": t.avail_power_wh / 1000,
                       "elecoin_reserve": units_to_elecoins(t.elecoin_reserve)}}


@router.get("/api/accounts/{address}", response_model=s.AccountOut,
         responses={422: {"model": s.ErrorOut}})
def account(address: str, state: State) -> s.AccountOut:
    if not re.fullmatch(s.ADDRESS, address):
        raise HTTPException(422, "address must be 0x followed by 40 hex digits")
    return account_out(state, address)


@router.get("/api/accounts/{address}/history")
def history(address: str, state: State, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    if not re.fullmatch(s.ADDRESS, address):
        raise HTTPException(422, "address must be 0x followed by 40 hex digits")
    state.index.sync()
    names = ("ElecoinsBought", "Traded", "Generated", "Consumed", "UserEmpowered", "RightsChanged",
             "MeterRegistered", "PriceDeclared", "PersonalPriceDeclared", "ProceedsWithdrawn")
    return {"events": state.index.events_for(address, names, limit)}


@router.get("/api/quote")
def quote(sess: Auth, state: State, server: Annotated[str, Query(pattern=s.ADDRESS)],
          elecoins: Annotated[float, Query(gt=0, le=1_000_000)]) -> dict[str, str]:
    with chain_access(state):
        return {"wei": str(state.etsc.quote(server, sess.address, elecoins_to_units(elecoins))),
                "price_wei_per_elecoin": str(state.etsc.price_for(server, sess.address))}


@router.post("/api/buy", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def buy(body: s.BuyIn, sess: Auth, state: State) -> s.TxOut:
    """Buy elecoins from an edge server at its declared price (ETSC.buyToken)."""
    with chain_access(state):
        res = state.etsc.buy_token(sess.signer, body.server, elecoins_to_units(body.elecoins))
    state.index.sync()
    return tx_out(res)


@router.get("/api/qualification")
def qualification(sess: Auth, state: State, retailer: Annotated[str, Query(pattern=s.ADDRESS)],
                  energy_kwh: Annotated[float, Query(gt=0, le=1_000_000)]) -> dict[str, Any]:
    """ETSC.checkQualification for the signed-in prosumer, before sending a trade."""
    with chain_access(state):
        q = state.etsc.check_qualification(sess.address, retailer, kwh_to_wh(energy_kwh))
    return {"qualification": q.name.lower(), "qualified": q.value == 0}


@router.post("/api/trade", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def trade(body: s.TradeIn, sess: Auth, state: State) -> s.TxOut:
    """Buy energy_kwh of a retailer's available power, paying elecoins (ETSC.trade)."""
    with chain_access(state):
        res = state.etsc.trade(sess.signer, body.retailer, kwh_to_wh(body.energy_kwh))
    state.index.sync()
    return tx_out(res)


@router.get("/api/meters/{address}/readings")
def readings(address: str, state: State) -> dict[str, Any]:
    if not re.fullmatch(s.ADDRESS, address):
        raise HTTPException(422, "address must be 0x followed by 40 hex digits")
    state.index.sync()
    evs = state.index.events_for(address, ("Generated", "Consumed"), 500)
    kinds = {"Generated": "generation", "Consumed": "consumption"}
    return {"readings": [{"kind": kinds[e["name"]], "energy_kwh": e["args"]["energyWh"] / 1000,
                          "block": e["block"], "tx": e["tx"], "user": e["args"]["user"],
                          "meter": e["args"]["meter"]} for e in evs]}

