"""Sign-in, sign-out, sign-up and the signed-in account (``/api/auth``, ``/api/accounts``, ``/api/me``).

Sign-in follows OWASP's Authentication Cheat Sheet (see :mod:`gridledger.web.security`): the
same key derivation for unknown and known names, one failure counter per account whatever
identifier was typed, and throttles that slow an attacker without locking the owner out of a
device that signed in before.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from gridledger.errors import ConfigError
from gridledger.ledger.keys import random_signer
from gridledger.ledger.keystore import KeystoreError
from gridledger.web import schemas as s
from gridledger.web.deps import Auth, State, account_out
from gridledger.web.security import Busy, DeviceCookies, is_reserved, name_key

router = APIRouter()

BUSY = "the server is checking many passwords right now; retry in a few seconds"


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _too_many(message: str, retry_after: int) -> HTTPException:
    return HTTPException(429, message, headers={"Retry-After": str(retry_after)})


@router.head("/api/health", include_in_schema=False)
@router.get("/api/health", tags=["meta"])
async def health(state: State) -> dict[str, Any]:
    """Liveness and the chain's head, read without the write lock (answers while writes run).

    On the embedded chain the head is two key lookups in the chain's file, done on the event loop;
    an rpc node is asked from a worker thread.
    """
    head = state.reader.head() if state.reader.local else await run_in_threadpool(state.reader.head)
    return {"status": "ok", "backend": state.chain.backend, "chain_id": state.chain.chain_id,
            "block_number": head, "etsc": state.etsc.address}


@router.post("/api/auth/login", response_model=s.LoginOut, tags=["auth"],
             responses={401: {"model": s.ErrorOut}, 429: {"model": s.ErrorOut}})
def login(body: s.LoginIn, request: Request, response: Response, state: State) -> s.LoginOut:
    """Sign in by name or address. Wrong passwords: 401 (the same for unknown accounts); too many: 429."""
    client = _client(request)
    if not state.client_throttle.take(client):
        raise _too_many("too many sign-in attempts from this address; wait a minute",
                        state.client_throttle.retry_after(client))
    entry = state.passwords.find(body.name)
    # One counter per account whatever identifier was typed; unknown names get their own.
    account = entry.address if entry is not None else "unknown:" + name_key(body.name)
    device = state.devices.read(request.cookies.get(DeviceCookies.COOKIE))
    known_device = device is not None and device.account == account
    if known_device:
        assert device is not None
        throttle, key = state.device_throttle, device.nonce
        message = "too many failed sign-ins from this device; wait 15 minutes"
    else:
        throttle, key = state.account_throttle, account
        message = ("too many failed sign-ins for this account from new devices; sign in from a device "
                   "you used before, or wait 15 minutes")
    if throttle.exhausted(key):
        raise _too_many(message, throttle.retry_after(key))
    try:
        signer = state.passwords.check(entry, body.password)
    except Busy:
        raise _too_many(BUSY, 2) from None
    if signer is None or entry is None:
        throttle.hit(key)
        raise HTTPException(401, "unknown account or wrong password")
    sess = state.new_session(entry.name, signer)
    secure = state.settings.env != "dev"
    response.set_cookie("gl_session", sess.token, httponly=True, samesite="strict", secure=secure)
    response.set_cookie("gl_csrf", sess.csrf, httponly=False, samesite="strict", secure=secure)
    response.set_cookie(DeviceCookies.COOKIE, state.devices.issue(account), max_age=state.devices.max_age_s,
                        httponly=True, samesite="strict", secure=secure, path="/api/auth")
    return s.LoginOut(token=sess.token, csrf=sess.csrf, name=entry.name, address=sess.address,
                      roles=state.roles(sess.address))


@router.post("/api/auth/logout", tags=["auth"])
def logout(sess: Auth, response: Response, state: State) -> dict[str, bool]:
    state.sessions.pop(sess.token, None)
    response.delete_cookie("gl_session")
    response.delete_cookie("gl_csrf")
    return {"ok": True}


@router.post("/api/accounts", tags=["auth"], status_code=201,
             responses={400: {"model": s.ErrorOut}, 422: {"model": s.ErrorOut}, 429: {"model": s.ErrorOut}})
def signup(body: s.SignupIn, request: Request, state: State) -> dict[str, str]:
    """Create a keystore account (encrypted with its password); funded on dev chains.

    Atomic: the account is funded first and written to the keystore after, so a failure leaves
    nothing behind and the same name can be tried again.
    """
    client = _client(request)
    if not state.signup_throttle.take(client):
        raise _too_many("too many sign-ups from this address; wait a minute", state.signup_throttle.retry_after(client))
    if is_reserved(body.name):
        raise HTTPException(422, [{"loc": ["body", "name"], "type": "value_error",
                                   "msg": "this name is reserved for the server's own accounts "
                                          "(admin, edge-server-N, meter-N)"}])
    with state.signup_lock:
        if state.passwords.find(body.name) is not None:
            raise HTTPException(400, f"name: an account named {body.name!r} already exists")
        signer = random_signer()
        try:
            state.fund(signer.address)
        except Exception as exc:  # the chain refused or failed: nothing was written
            raise HTTPException(409, f"the new account could not be funded ({type(exc).__name__}); nothing was "
                                     "created, try again") from None
        try:
            with state.passwords.slot():
                entry = state.keystore.create(body.name, body.password, private_key=bytes(signer.account.key))
        except Busy:
            raise _too_many(BUSY, 2) from None
        except (KeystoreError, ConfigError) as exc:
            raise HTTPException(400, str(exc)) from None
    return {"name": entry.name, "address": entry.address}


@router.get("/api/me", response_model=s.AccountOut, tags=["portal"], responses={401: {"model": s.ErrorOut}})
def me(sess: Auth, state: State) -> s.AccountOut:
    out = account_out(state, sess.address)
    return out.model_copy(update={"name": out.name or sess.name})
