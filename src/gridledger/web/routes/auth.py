"""Sign-in, sign-out, sign-up and the signed-in account (``/api/auth``, ``/api/accounts``, ``/api/me``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from gridledger.ledger.keystore import KeystoreError
from gridledger.web import schemas as s
from gridledger.web.deps import Auth, State, account_out

router = APIRouter()


@router.get("/api/health", tags=["meta"])
def health(state: State) -> dict[str, Any]:
    with state.lock:
        return {"status": "ok", "backend": state.chain.backend, "chain_id": state.chain.chain_id,
                "block_number": state.chain.block_number(), "etsc": state.etsc.address}


@router.post("/api/auth/login", response_model=s.LoginOut, tags=["auth"],
          responses={401: {"model": s.ErrorOut}, 429: {"model": s.ErrorOut}})
def login(body: s.LoginIn, request: Request, response: Response, state: State) -> s.LoginOut:
    client = request.client.host if request.client else "?"
    if state.rate_limited(f"login:{client}") or state.rate_limited(f"login-name:{body.name.lower()}"):
        raise HTTPException(429, "too many sign-in attempts; wait a minute")
    try:
        signer = state.keystore.unlock(body.name, body.password)
    except KeystoreError:
        raise HTTPException(401, "unknown account or wrong password") from None
    entry = state.keystore.find(body.name)
    sess = state.new_session(entry.name, signer)
    secure = state.settings.env != "dev"
    response.set_cookie("gl_session", sess.token, httponly=True, samesite="strict", secure=secure)
    response.set_cookie("gl_csrf", sess.csrf, httponly=False, samesite="strict", secure=secure)
    return s.LoginOut(token=sess.token, csrf=sess.csrf, name=entry.name, address=sess.address,
                      roles=state.roles(sess.address))


@router.post("/api/auth/logout", tags=["auth"])
def logout(sess: Auth, response: Response, state: State) -> dict[str, bool]:
    state.sessions.pop(sess.token, None)
    response.delete_cookie("gl_session")
    response.delete_cookie("gl_csrf")
    return {"ok": True}


@router.post("/api/accounts", tags=["auth"], status_code=201,
          responses={400: {"model": s.ErrorOut}, 429: {"model": s.ErrorOut}})
def signup(body: s.SignupIn, request: Request, state: State) -> dict[str, str]:
    """Create a keystore account (encrypted with its password); funded on dev chains."""
    client = request.client.host if request.client else "?"
    if state.rate_limited(f"signup:{client}"):
        raise HTTPException(429, "too many sign-ups; wait a minute")
    entry = state.keystore.create(body.name, body.password)
    state.fund(entry.address)
    return {"name": entry.name, "address": entry.address}


@router.get("/api/me", response_model=s.AccountOut, tags=["portal"], responses={401: {"model": s.ErrorOut}})
def me(sess: Auth, state: State) -> s.AccountOut:
    out = account_out(state, sess.address)
    return out.model_copy(update={"name": out.name or sess.name})

