"""The edge server's API: declare prices, the current prices, sales and proceeds over time, withdraw."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter

from gridledger.ledger.units import price_to_wei
from gridledger.web import schemas as s
from gridledger.web.deps import Auth, State, chain_access, require_role, tx_out
from gridledger.web.present import amount, scale
from gridledger.web.routes.explorer import sync_for_read

router = APIRouter(tags=["edge server"])


@router.post("/api/server/price", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def declare(body: s.PriceIn, sess: Auth, state: State) -> s.TxOut:
    """Declare the unit elecoin price: uniform, or personal for one prosumer (discriminated)."""
    require_role(state, sess, "edge_server")
    wei = price_to_wei(body.price, state.settings.wei_per_money)
    with chain_access(state, sess.address):
        res = (state.etsc.declare_price(sess.signer, wei) if body.prosumer is None
               else state.etsc.declare_price_for(sess.signer, body.prosumer, wei))
    state.index.sync()
    return tx_out(res)


@router.get("/api/server/sales", responses={401: {"model": s.ErrorOut}})
def sales(sess: Auth, state: State) -> dict[str, Any]:
    """The signed-in edge server's sales (newest first), the cumulative elecoins sold, payments and
    proceeds over time (a payment minus the elecoins' redemption backing, which stays in the
    market), withdrawals, its current uniform and personal prices, the price bounds it must keep
    to, what it may still sell, and the proceeds to withdraw."""
    require_role(state, sess, "edge_server")
    sync_for_read(state)
    me = sess.address
    sym = state.symbols
    names = state.names()
    etsc = state.etsc.address
    evs = [e for e in state.index.events_for(me, ("ElecoinsBought",), 10_000, emitter=etsc)
           if e["args"]["server"] == me]
    withdrawals = [e for e in state.index.events_for(me, ("ProceedsWithdrawn",), 10_000, emitter=etsc)
                   if e["args"]["server"] == me]
    personal: dict[str, int] = {}
    for e in state.index.events_for(me, ("PersonalPriceDeclared",), 10_000, emitter=etsc)[::-1]:
        if e["args"]["server"] == me:
            personal[e["args"]["prosumer"]] = int(e["args"]["weiPerElecoin"])
    with state.lock:
        proceeds = state.etsc.account(me).proceeds_wei
        uniform = int(state.etsc.contract.functions.uniformPrice(me).call())
        redemption = state.etsc.redemption_price()
        lo, hi = state.etsc.price_bounds()
        left = state.etsc.allocation(me)

    def backing(e: dict[str, Any]) -> int:  # ETSC.buyToken: amount x redemptionPrice, rounded up
        return -(-int(e["args"]["amount"]) * redemption // 10**18)

    series = []
    sold = paid = earned = Decimal(0)
    for e in sorted(evs, key=lambda e: (e["block"], e["log_index"])):
        sold += scale(e["args"]["amount"], "elecoin")
        paid += scale(e["args"]["paid"], "native")
        earned += scale(int(e["args"]["paid"]) - backing(e), "native")
        series.append({"timestamp": e["timestamp"], "block": e["block"], "elecoins": float(sold),
                       "paid": float(paid), "proceeds": float(earned)})
    wpm = Decimal(state.settings.wei_per_money)
    return {
        "sales": [{"prosumer": e["args"]["prosumer"], "prosumer_label": names.get(e["args"]["prosumer"]),
                   "elecoins": float(scale(e["args"]["amount"], "elecoin")),
                   "elecoins_display": amount(e["args"]["amount"], "elecoin", sym),
                   "paid_wei": str(e["args"]["paid"]), "paid_display": amount(e["args"]["paid"], "native", sym),
                   "proceeds_display": amount(int(e["args"]["paid"]) - backing(e), "native", sym),
                   "price_display": amount(int(Decimal(int(e["args"]["paid"])) * 10**18 / int(e["args"]["amount"])),
                                           "native_per_elecoin", sym) if int(e["args"]["amount"]) else "",
                   "tx": e["tx"], "block": e["block"], "timestamp": e["timestamp"]} for e in evs],
        "series": series,
        "withdrawals": [{"amount_display": amount(e["args"]["amount"], "native", sym), "tx": e["tx"],
                         "timestamp": e["timestamp"], "block": e["block"]} for e in withdrawals],
        "proceeds_wei": str(proceeds), "proceeds_display": amount(proceeds, "native", sym),
        "redemption_price_display": amount(redemption, "native_per_elecoin", sym),
        "allocation_left_display": amount(left, "elecoin", sym),
        "uniform_price_wei": str(uniform),
        "uniform_price_display": amount(uniform, "native_per_elecoin", sym) if uniform else "no price declared",
        "price_money": float(Decimal(uniform) / wpm),
        "bounds": {"min_price_wei": str(lo), "max_price_wei": str(hi), "min_money": float(Decimal(lo) / wpm),
                   "max_money": float(Decimal(hi) / wpm),
                   "display": f"{amount(lo, 'native_per_elecoin', sym)} to {amount(hi, 'native_per_elecoin', sym)}"},
        "personal_prices": [{"prosumer": p, "label": names.get(p), "price_wei": str(w),
                             "price_display": amount(w, "native_per_elecoin", sym)}
                            for p, w in personal.items() if w],
        "wei_per_money": str(state.settings.wei_per_money), "symbols": sym.to_json(),
    }


@router.post("/api/server/withdraw", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def withdraw(sess: Auth, state: State) -> s.TxOut:
    require_role(state, sess, "edge_server")
    with chain_access(state, sess.address):
        res = state.etsc.withdraw_proceeds(sess.signer)
    state.index.sync()
    return tx_out(res)
