"""The administrator's API: users and rights, smart meters, meter readings."""

from __future__ import annotations

import re
from typing import Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, HTTPException

from gridledger.ledger.keystore import KeystoreError
from gridledger.ledger.units import kwh_to_wh
from gridledger.web import schemas as s
from gridledger.web.deps import Auth, State, chain_access, require_role, revert_detail, tx_out
from gridledger.web.security import Busy, name_key

router = APIRouter(tags=["admin"])


@router.post("/api/admin/users", response_model=s.TxOut,
             responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def empower(body: s.EmpowerIn, sess: Auth, state: State) -> s.TxOut:
    """Register a user with its rights (ETSC.empower)."""
    require_role(state, sess, "admin")
    with chain_access(state, sess.address):
        res = state.etsc.empower(sess.signer, body.user_name, body.address, body.gen_right, body.trans_right)
    state.index.sync()
    return tx_out(res)


@router.post("/api/admin/rights", response_model=s.TxOut,
             responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def rights(body: s.RightsIn, sess: Auth, state: State) -> s.TxOut:
    require_role(state, sess, "admin")
    with chain_access(state, sess.address):
        res = state.etsc.set_rights(sess.signer, body.address, body.gen_right, body.trans_right)
    state.index.sync()
    return tx_out(res)


@router.post("/api/admin/meters", status_code=201,
             responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def add_meter(body: s.MeterIn, sess: Auth, state: State) -> dict[str, Any]:
    """Create a smart-meter account (key kept in the server's keystore) and register it for a user.

    The meter is named ``meter-N`` with the first N not taken (names compared case-insensitively;
    users cannot take these names). If the chain refuses the registration, the keystore entry is
    removed again.
    """
    require_role(state, sess, "admin")
    user = to_checksum_address(body.user)
    with chain_access(state, sess.address):
        if not state.etsc.account(user).registered:
            raise HTTPException(409, revert_detail(state, "ETSCNotRegistered", {"account": user}))
    with state.signup_lock:
        taken = {name_key(e.name) for e in state.keystore.list()}
        n = 1 + sum(1 for k in taken if re.fullmatch(r"meter-\d+", k))
        while f"meter-{n}" in taken:
            n += 1
        try:
            with state.passwords.slot():
                entry = state.keystore.create(f"meter-{n}", state.settings.meter_password)
        except Busy:
            raise HTTPException(429, "the server is busy checking passwords; retry shortly",
                                headers={"Retry-After": "2"}) from None
    try:
        with chain_access(state, sess.address):
            res = state.etsc.register_meter(sess.signer, entry.address, user, round(body.rated_kw * 1000))
    except BaseException:
        entry.path.unlink(missing_ok=True)
        raise
    state.fund(entry.address)
    state.index.sync()
    return {"meter": entry.address, "user": user, "tx": tx_out(res).model_dump()}


@router.post("/api/admin/readings", response_model=s.TxOut,
             responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
def reading(body: s.ReadingIn, sess: Auth, state: State) -> s.TxOut:
    """Report a smart meter's reading (signed by the meter's key)."""
    require_role(state, sess, "admin")
    meter = to_checksum_address(body.meter)
    signer = state.service_signers.get(meter)
    if signer is None:
        try:
            if not re.fullmatch(r"meter-\d+", name_key(state.keystore.find(meter).name)):
                raise KeystoreError("not a meter")
            with state.passwords.slot():
                signer = state.keystore.unlock(meter, state.settings.meter_password)
        except Busy:
            raise HTTPException(429, "the server is busy checking passwords; retry shortly",
                                headers={"Retry-After": "2"}) from None
        except KeystoreError:
            raise HTTPException(404, "no meter with that address in the server's keystore") from None
        state.service_signers[meter] = signer  # meters' keys are the server's own: unlock once
    with chain_access(state, sess.address):
        wh = kwh_to_wh(body.energy_kwh)
        res = state.etsc.generation(signer, wh) if body.kind == "generation" else state.etsc.consumption(
            signer, wh)
    state.index.sync()
    return tx_out(res)

