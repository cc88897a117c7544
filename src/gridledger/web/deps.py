"""Dependencies shared by the routers: the app state, sessions, roles, chain access."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import Depends, HTTPException, Request

from gridledger.ledger.clients import TxResult
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.units import units_to_elecoins
from gridledger.web import schemas as s
from gridledger.web.state import AppState, Session

MAX_BLOCK = 2**63 - 1  # the explorer's SQLite index stores block numbers as 64-bit integers


def get_state(request: Request) -> AppState:
    return request.app.state.gl


State = Annotated[AppState, Depends(get_state)]


def get_session(request: Request, state: State) -> Session:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        sess = state.session(auth[7:].strip())
        if sess is None:
            raise HTTPException(401, "invalid or expired token")
        return sess
    sess = state.session(request.cookies.get("gl_session"))
    if sess is None:
        raise HTTPException(401, "sign in first")
    if request.method not in ("GET", "HEAD") and request.headers.get("x-csrf-token") != sess.csrf:
        raise HTTPException(403, "missing or wrong CSRF token (X-CSRF-Token)")
    return sess


Auth = Annotated[Session, Depends(get_session)]


def require_role(state: AppState, sess: Session, role: str) -> None:
    if role not in state.roles(sess.address):
        raise HTTPException(403, f"this needs the {role} role")


def tx_out(res: TxResult) -> s.TxOut:
    from gridledger.web.decoding import jsonable as _jsonable

    return s.TxOut(tx_hash=res.tx_hash, block_number=res.block_number, gas_used=res.gas_used,
                   events=[{"name": e.name, "address": e.address, "args": _jsonable(e.args)} for e in res.events])


def revert_detail(state: AppState, name: str, args: dict[str, Any], me: str | None = None) -> dict[str, Any]:
    """A contract refusal as the API returns it: the custom error's name and arguments, and the
    sentence of :mod:`gridledger.web.contract_errors` (``message``: what it means, ``hint``: what
    to do)."""
    from gridledger.web.contract_errors import explain

    shown = {k: str(v) for k, v in args.items()}
    try:
        names = dict(state.names())
    except Exception:  # labels are a nicety; the refusal must still be answered
        names = {}
    if me is not None:
        names[to_checksum_address(me)] = "your account"
    return {"error": name, "args": shown, **explain(name, shown, names, state.symbols)}


@contextlib.contextmanager
def chain_access(state: AppState, me: str | None = None) -> Iterator[None]:
    """Serialise chain access (py-evm is not thread-safe) and map reverts to 409 (``me``: the
    signed-in account, called "your account" in the sentence)."""
    with state.lock:
        try:
            yield
        except ContractRevert as exc:
            raise HTTPException(409, revert_detail(state, exc.name, exc.args_dict, me)) from None


def account_out(state: AppState, address: str) -> s.AccountOut:
    a = to_checksum_address(address)
    acc = state.at_head(("account", a), lambda: state.etsc.account(a))
    native = state.at_head(("native", a), lambda: state.chain.balance(a))
    return s.AccountOut(address=a, name=acc.name, registered=acc.registered, gen_right=acc.gen_right,
                        trans_right=acc.trans_right, edge_server=acc.edge_server, meter_of=acc.meter_of,
                        avail_power_kwh=acc.avail_power_wh / 1000, elecoins=units_to_elecoins(acc.elecoins),
                        total_gen_kwh=acc.total_gen_wh / 1000, total_use_kwh=acc.total_use_wh / 1000,
                        proceeds_wei=str(acc.proceeds_wei), native_wei=str(native), roles=state.roles(a))

