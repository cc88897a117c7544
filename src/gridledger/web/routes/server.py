"""The edge server's API: declare prices, sales, withdraw proceeds."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gridledger.ledger.units import price_to_wei
from gridledger.web import schemas as s
from gridledger.web.deps import Auth, State, chain_access, require_role, tx_out

router = APIRouter(tags=["edge server"])


@router.post("/api/server/price", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def declare(body: s.PriceIn, sess: Auth, state: State) -> s.TxOut:
    """Declare the unit elecoin price: uniform, or personal for one prosumer (discriminated)."""
    require_role(state, sess, "edge_server")
    wei = price_to_wei(body.price, state.settings.wei_per_money)
    with chain_access(state):
        res = (state.etsc.declare_price(sess.signer, wei) if body.prosumer is None
               else state.etsc.declare_price_for(sess.signer, body.prosumer, wei))
    state.index.sync()
    return tx_out(res)


@router.get("/api/server/sales", responses={401: {"model": s.ErrorOut}})
def sales(sess: Auth, state: State) -> dict[str, Any]:
    require_role(state, sess, "edge_server")
    state.index.sync()
    evs = [e for e in state.index.events_for(sess.address, ("ElecoinsBought",), 500)
           if e["args"]["server"] == sess.address]
    with state.lock:
        proceeds = state.etsc.account(sess.address).proceeds_wei
    return {"sales": [{"prosumer": e["args"]["prosumer"], "elecoins": int(e["args"]["amount"]) / 1e18,
                       "paid_wei": str(e["args"]["paid"]), "tx": e["tx"], "block": e["block"]} for e in evs],
            "proceeds_wei": str(proceeds)}


@router.post("/api/server/withdraw", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def withdraw(sess: Auth, state: State) -> s.TxOut:
    require_role(state, sess, "edge_server")
    with chain_access(state):
        res = state.etsc.withdraw_proceeds(sess.signer)
    state.index.sync()
    return tx_out(res)

