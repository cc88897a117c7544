"""The administrator's API: users and rights, smart meters, meter readings."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, HTTPException

from gridledger.ledger.keystore import KeystoreError
from gridledger.ledger.units import kwh_to_wh
from gridledger.web import schemas as s
from gridledger.web.deps import Auth, State, chain_access, require_role, tx_out

router = APIRouter(tags=["admin"])


@router.post("/api/admin/users", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def empower(body: s.EmpowerIn, sess: Auth, state: State) -> s.TxOut:
    """Register a user with its rights (ETSC.empower)."""
    require_role(state, sess, "admin")
    with chain_access(state):
        res = state.etsc.empower(sess.signer, body.user_name, body.address, body.gen_right, body.trans_right)
    state.index.sync()
    return tx_out(res)


@router.post("/api/admin/rights", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def rights(body: s.RightsIn, sess: Auth, state: State) -> s.TxOut:
    require_role(state, sess, "admin")
    with chain_access(state):
        res = state.etsc.set_rights(sess.signer, body.address, body.gen_right, body.trans_right)
    state.index.sync()
    return tx_out(res)


@router.post("/api/admin/meters", status_code=201,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def add_meter(body: s.MeterIn, sess: Auth, state: State) -> dict[str, Any]:
    """Create a smart-meter account (key kept in the server's keystore) and register it for a user."""
    require_role(state, sess, "admin")
    user = to_checksum_address(body.user)
    with chain_access(state):
        if not state.etsc.account(user).registered:
            raise HTTPException(409, {"error": "ETSCNotRegistered", "args": {"account": user}})
        n = len([e for e in state.keystore.list() if e.name.startswith("meter-")])
        entry = state.keystore.create(f"meter-{n + 1}", state.settings.meter_password)
        res = state.etsc.register_meter(sess.signer, entry.address, user)
    state.fund(entry.address)
    state.index.sync()
    return {"meter": entry.address, "user": user, "tx": tx_out(res).model_dump()}


@router.post("/api/admin/readings", response_model=s.TxOut,
          responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def reading(body: s.ReadingIn, sess: Auth, state: State) -> s.TxOut:
    """Report a smart meter's reading (signed by the meter's key)."""
    require_role(state, sess, "admin")
    meter = to_checksum_address(body.meter)
    try:
        signer = state.keystore.unlock(meter, state.settings.meter_password)
    except KeystoreError:
        raise HTTPException(404, "no meter with that address in the server's keystore") from None
    with chain_access(state):
        wh = kwh_to_wh(body.energy_kwh)
        res = state.etsc.generation(signer, wh) if body.kind == "generation" else state.etsc.consumption(
            signer, wh)
    state.index.sync()
    return tx_out(res)

