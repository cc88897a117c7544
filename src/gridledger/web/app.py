"""``create_app(settings)``: the FastAPI application (JSON API under /api, pages, /rpc).

Authentication: ``POST /api/auth/login`` unlocks the user's keystore account and opens a
session, returned as a bearer token (API clients: ``Authorization: Bearer``) and set as an
HttpOnly cookie plus a CSRF cookie; cookie-authenticated state changes must echo the CSRF token
in ``X-CSRF-Token``. Sign-in and sign-up are rate-limited per client. Keys never leave the
server's keystore (and are never logged or returned); a browser wallet (EIP-1193, e.g.
MetaMask) can sign instead: ``/api/wallet/prepare`` returns the transaction to sign and ``/rpc``
relays it to the chain.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gridledger.errors import ConfigError, GridledgerError
from gridledger.ledger.clients import TxResult
from gridledger.ledger.errors import ContractRevert
from gridledger.ledger.keystore import KeystoreError
from gridledger.ledger.units import elecoins_to_units, kwh_to_wh, price_to_wei, units_to_elecoins
from gridledger.web import schemas as s
from gridledger.web.settings import Settings
from gridledger.web.state import AppState, Session, build_state

STATIC = Path(str(resources.files("gridledger.web").joinpath("static")))
MAX_BLOCK = 2**63 - 1  # the explorer's SQLite index stores block numbers as 64-bit integers
PAGES = ("index", "login", "portal", "admin", "server", "explorer", "dashboard")
RPC_METHODS = {"eth_chainId", "eth_blockNumber", "eth_getBalance", "eth_call", "eth_getTransactionCount",
               "eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_getBlockByNumber", "eth_gasPrice",
               "eth_estimateGas", "eth_sendRawTransaction", "net_version", "eth_getCode"}


def _state(request: Request) -> AppState:
    return request.app.state.gl


State = Annotated[AppState, Depends(_state)]


def _session(request: Request, state: State) -> Session:
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


Auth = Annotated[Session, Depends(_session)]


def _require(state: AppState, sess: Session, role: str) -> None:
    if role not in state.roles(sess.address):
        raise HTTPException(403, f"this needs the {role} role")


def _tx(res: TxResult) -> s.TxOut:
    from gridledger.web.indexer import _jsonable

    return s.TxOut(tx_hash=res.tx_hash, block_number=res.block_number, gas_used=res.gas_used,
                   events=[{"name": e.name, "address": e.address, "args": _jsonable(e.args)} for e in res.events])


@contextlib.contextmanager
def _chain(state: AppState) -> Iterator[None]:
    """Serialise chain access (py-evm is not thread-safe) and map reverts to 409."""
    with state.lock:
        try:
            yield
        except ContractRevert as exc:
            raise HTTPException(409, {"error": exc.name, "args": {k: str(v) for k, v in exc.args_dict.items()}}) \
                from None


def _account(state: AppState, address: str) -> s.AccountOut:
    a = to_checksum_address(address)
    acc = state.at_head(("account", a), lambda: state.etsc.account(a))
    native = state.at_head(("native", a), lambda: state.chain.balance(a))
    return s.AccountOut(address=a, name=acc.name, registered=acc.registered, gen_right=acc.gen_right,
                        trans_right=acc.trans_right, edge_server=acc.edge_server, meter_of=acc.meter_of,
                        avail_power_kwh=acc.avail_power_wh / 1000, elecoins=units_to_elecoins(acc.elecoins),
                        total_gen_kwh=acc.total_gen_wh / 1000, total_use_kwh=acc.total_use_wh / 1000,
                        proceeds_wei=str(acc.proceeds_wei), native_wei=str(native), roles=state.roles(a))


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    """Build the app: opens (or connects to) the chain and deploys the market if needed."""
    settings = settings or Settings()
    gl = state or build_state(settings)
    app = FastAPI(title="gridledger", version="0.1.0",
                  description="Prosumer portal, blockchain explorer and market dashboards of gridledger.")
    app.state.gl = gl
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(GridledgerError)
    async def _user_error(request: Request, exc: GridledgerError) -> JSONResponse:
        code = 400 if isinstance(exc, (ConfigError, KeystoreError)) else 422
        return JSONResponse({"detail": str(exc)}, status_code=code)

    # ---------------------------------------------------------------- pages
    for page in PAGES:
        def _page(page: str = page) -> FileResponse:
            return FileResponse(STATIC / f"{page}.html", media_type="text/html")

        app.get("/" if page == "index" else f"/{page}", include_in_schema=False)(_page)

    for sub in ("block", "tx", "address"):
        @app.get(f"/explorer/{sub}/{{key}}", include_in_schema=False)
        def _explorer_page(key: str) -> FileResponse:
            return FileResponse(STATIC / "explorer.html", media_type="text/html")

    # ---------------------------------------------------------------- auth
    @app.get("/api/health", tags=["meta"])
    def health(state: State) -> dict[str, Any]:
        with state.lock:
            return {"status": "ok", "backend": state.chain.backend, "chain_id": state.chain.chain_id,
                    "block_number": state.chain.block_number(), "etsc": state.etsc.address}

    @app.post("/api/auth/login", response_model=s.LoginOut, tags=["auth"],
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

    @app.post("/api/auth/logout", tags=["auth"])
    def logout(sess: Auth, response: Response, state: State) -> dict[str, bool]:
        state.sessions.pop(sess.token, None)
        response.delete_cookie("gl_session")
        response.delete_cookie("gl_csrf")
        return {"ok": True}

    @app.post("/api/accounts", tags=["auth"], status_code=201,
              responses={400: {"model": s.ErrorOut}, 429: {"model": s.ErrorOut}})
    def signup(body: s.SignupIn, request: Request, state: State) -> dict[str, str]:
        """Create a keystore account (encrypted with its password); funded on dev chains."""
        client = request.client.host if request.client else "?"
        if state.rate_limited(f"signup:{client}"):
            raise HTTPException(429, "too many sign-ups; wait a minute")
        entry = state.keystore.create(body.name, body.password)
        state.fund(entry.address)
        return {"name": entry.name, "address": entry.address}

    @app.get("/api/me", response_model=s.AccountOut, tags=["portal"], responses={401: {"model": s.ErrorOut}})
    def me(sess: Auth, state: State) -> s.AccountOut:
        out = _account(state, sess.address)
        return out.model_copy(update={"name": out.name or sess.name})

    # ---------------------------------------------------------------- market and portal
    @app.get("/api/market", tags=["portal"])
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

    @app.get("/api/accounts/{address}", response_model=s.AccountOut, tags=["portal"],
             responses={422: {"model": s.ErrorOut}})
    def account(address: str, state: State) -> s.AccountOut:
        if not re.fullmatch(s.ADDRESS, address):
            raise HTTPException(422, "address must be 0x followed by 40 hex digits")
        return _account(state, address)

    @app.get("/api/accounts/{address}/history", tags=["portal"])
    def history(address: str, state: State, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
        if not re.fullmatch(s.ADDRESS, address):
            raise HTTPException(422, "address must be 0x followed by 40 hex digits")
        state.index.sync()
        names = ("ElecoinsBought", "Traded", "Generated", "Consumed", "UserEmpowered", "RightsChanged",
                 "MeterRegistered", "PriceDeclared", "PersonalPriceDeclared", "ProceedsWithdrawn")
        return {"events": state.index.events_for(address, names, limit)}

    @app.get("/api/quote", tags=["portal"])
    def quote(sess: Auth, state: State, server: Annotated[str, Query(pattern=s.ADDRESS)],
              elecoins: Annotated[float, Query(gt=0, le=1_000_000)]) -> dict[str, str]:
        with _chain(state):
            return {"wei": str(state.etsc.quote(server, sess.address, elecoins_to_units(elecoins))),
                    "price_wei_per_elecoin": str(state.etsc.price_for(server, sess.address))}

    @app.post("/api/buy", response_model=s.TxOut, tags=["portal"],
              responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def buy(body: s.BuyIn, sess: Auth, state: State) -> s.TxOut:
        """Buy elecoins from an edge server at its declared price (ETSC.buyToken)."""
        with _chain(state):
            res = state.etsc.buy_token(sess.signer, body.server, elecoins_to_units(body.elecoins))
        state.index.sync()
        return _tx(res)

    @app.get("/api/qualification", tags=["portal"])
    def qualification(sess: Auth, state: State, retailer: Annotated[str, Query(pattern=s.ADDRESS)],
                      energy_kwh: Annotated[float, Query(gt=0, le=1_000_000)]) -> dict[str, Any]:
        """ETSC.checkQualification for the signed-in prosumer, before sending a trade."""
        with _chain(state):
            q = state.etsc.check_qualification(sess.address, retailer, kwh_to_wh(energy_kwh))
        return {"qualification": q.name.lower(), "qualified": q.value == 0}

    @app.post("/api/trade", response_model=s.TxOut, tags=["portal"],
              responses={401: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def trade(body: s.TradeIn, sess: Auth, state: State) -> s.TxOut:
        """Buy energy_kwh of a retailer's available power, paying elecoins (ETSC.trade)."""
        with _chain(state):
            res = state.etsc.trade(sess.signer, body.retailer, kwh_to_wh(body.energy_kwh))
        state.index.sync()
        return _tx(res)

    @app.get("/api/meters/{address}/readings", tags=["portal"])
    def readings(address: str, state: State) -> dict[str, Any]:
        if not re.fullmatch(s.ADDRESS, address):
            raise HTTPException(422, "address must be 0x followed by 40 hex digits")
        state.index.sync()
        evs = state.index.events_for(address, ("Generated", "Consumed"), 500)
        kinds = {"Generated": "generation", "Consumed": "consumption"}
        return {"readings": [{"kind": kinds[e["name"]], "energy_kwh": e["args"]["energyWh"] / 1000,
                              "block": e["block"], "tx": e["tx"], "user": e["args"]["user"],
                              "meter": e["args"]["meter"]} for e in evs]}

    # ---------------------------------------------------------------- administrator
    @app.post("/api/admin/users", response_model=s.TxOut, tags=["admin"],
              responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def empower(body: s.EmpowerIn, sess: Auth, state: State) -> s.TxOut:
        """Register a user with its rights (ETSC.empower)."""
        _require(state, sess, "admin")
        with _chain(state):
            res = state.etsc.empower(sess.signer, body.user_name, body.address, body.gen_right, body.trans_right)
        state.index.sync()
        return _tx(res)

    @app.post("/api/admin/rights", response_model=s.TxOut, tags=["admin"],
              responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def rights(body: s.RightsIn, sess: Auth, state: State) -> s.TxOut:
        _require(state, sess, "admin")
        with _chain(state):
            res = state.etsc.set_rights(sess.signer, body.address, body.gen_right, body.trans_right)
        state.index.sync()
        return _tx(res)

    @app.post("/api/admin/meters", tags=["admin"], status_code=201,
              responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def add_meter(body: s.MeterIn, sess: Auth, state: State) -> dict[str, Any]:
        """Create a smart-meter account (key kept in the server's keystore) and register it for a user."""
        _require(state, sess, "admin")
        user = to_checksum_address(body.user)
        with _chain(state):
            if not state.etsc.account(user).registered:
                raise HTTPException(409, {"error": "ETSCNotRegistered", "args": {"account": user}})
            n = len([e for e in state.keystore.list() if e.name.startswith("meter-")])
            entry = state.keystore.create(f"meter-{n + 1}", state.settings.meter_password)
            res = state.etsc.register_meter(sess.signer, entry.address, user)
        state.fund(entry.address)
        state.index.sync()
        return {"meter": entry.address, "user": user, "tx": _tx(res).model_dump()}

    @app.post("/api/admin/readings", response_model=s.TxOut, tags=["admin"],
              responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def reading(body: s.ReadingIn, sess: Auth, state: State) -> s.TxOut:
        """Report a smart meter's reading (signed by the meter's key)."""
        _require(state, sess, "admin")
        meter = to_checksum_address(body.meter)
        try:
            signer = state.keystore.unlock(meter, state.settings.meter_password)
        except KeystoreError:
            raise HTTPException(404, "no meter with that address in the server's keystore") from None
        with _chain(state):
            wh = kwh_to_wh(body.energy_kwh)
            res = state.etsc.generation(signer, wh) if body.kind == "generation" else state.etsc.consumption(
                signer, wh)
        state.index.sync()
        return _tx(res)

    # ---------------------------------------------------------------- edge server
    @app.post("/api/server/price", response_model=s.TxOut, tags=["edge server"],
              responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def declare(body: s.PriceIn, sess: Auth, state: State) -> s.TxOut:
        """Declare the unit elecoin price: uniform, or personal for one prosumer (discriminated)."""
        _require(state, sess, "edge_server")
        wei = price_to_wei(body.price, state.settings.wei_per_money)
        with _chain(state):
            res = (state.etsc.declare_price(sess.signer, wei) if body.prosumer is None
                   else state.etsc.declare_price_for(sess.signer, body.prosumer, wei))
        state.index.sync()
        return _tx(res)

    @app.get("/api/server/sales", tags=["edge server"], responses={401: {"model": s.ErrorOut}})
    def sales(sess: Auth, state: State) -> dict[str, Any]:
        _require(state, sess, "edge_server")
        state.index.sync()
        evs = [e for e in state.index.events_for(sess.address, ("ElecoinsBought",), 500)
               if e["args"]["server"] == sess.address]
        with state.lock:
            proceeds = state.etsc.account(sess.address).proceeds_wei
        return {"sales": [{"prosumer": e["args"]["prosumer"], "elecoins": int(e["args"]["amount"]) / 1e18,
                           "paid_wei": str(e["args"]["paid"]), "tx": e["tx"], "block": e["block"]} for e in evs],
                "proceeds_wei": str(proceeds)}

    @app.post("/api/server/withdraw", response_model=s.TxOut, tags=["edge server"],
              responses={401: {"model": s.ErrorOut}, 403: {"model": s.ErrorOut}, 409: {"model": s.ErrorOut}})
    def withdraw(sess: Auth, state: State) -> s.TxOut:
        _require(state, sess, "edge_server")
        with _chain(state):
            res = state.etsc.withdraw_proceeds(sess.signer)
        state.index.sync()
        return _tx(res)

    # ---------------------------------------------------------------- browser wallets (EIP-1193)
    @app.post("/api/wallet/prepare", tags=["wallet"], responses={409: {"model": s.ErrorOut}})
    def prepare(body: s.PrepareIn, state: State) -> dict[str, Any]:
        """The transaction a browser wallet should sign for a buy or a trade (nothing is sent)."""
        e = state.etsc
        with _chain(state):
            if body.action == "buy":
                if body.server is None:
                    raise HTTPException(422, "server is required for a buy")
                amount = elecoins_to_units(body.amount)
                data = e.contract.encode_abi("buyToken", args=[to_checksum_address(body.server), amount])
                value = e.quote(body.server, body.sender, amount)
            else:
                if body.retailer is None:
                    raise HTTPException(422, "retailer is required for a trade")
                data = e.contract.encode_abi("trade", args=[to_checksum_address(body.retailer),
                                                             kwh_to_wh(body.amount)])
                value = 0
            return {"to": e.address, "data": data, "value": hex(value), "chainId": hex(state.chain.chain_id),
                    "from": to_checksum_address(body.sender)}

    @app.post("/rpc", include_in_schema=False)
    async def rpc(request: Request) -> JSONResponse:
        """JSON-RPC relay for browser wallets (a whitelist of read and send-raw methods)."""
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
        gl: AppState = request.app.state.gl
        method = body.get("method") if isinstance(body, dict) else None
        rid = body.get("id") if isinstance(body, dict) else None
        if method not in RPC_METHODS:
            return JSONResponse({"jsonrpc": "2.0", "id": rid,
                                 "error": {"code": -32601, "message": "method not allowed"}})
        params = body.get("params", [])
        if not isinstance(params, list):
            params = []
        with gl.lock:
            try:
                result = _rpc_call(gl, method, params)
            except Exception as exc:
                return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": str(exc)}})
        if method == "eth_sendRawTransaction":
            gl.index.sync()
        return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": _hexify(result)})

    # ---------------------------------------------------------------- explorer
    @app.get("/api/explorer/blocks", tags=["explorer"])
    def blocks(state: State, before: Annotated[int | None, Query(ge=0, le=MAX_BLOCK)] = None,
               limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
        head = state.index.sync()
        return {"head": head, "blocks": state.index.blocks(before, limit),
                "transactions": state.index.latest_txs(limit) if before is None else []}

    @app.get("/api/explorer/blocks/{number}", tags=["explorer"], responses={404: {"model": s.ErrorOut}})
    def block(number: Annotated[int, PathParam(ge=0, le=MAX_BLOCK)], state: State) -> dict[str, Any]:
        state.index.sync()
        b = state.index.block(number)
        if b is None:
            raise HTTPException(404, f"no block {number}")
        return b

    @app.get("/api/explorer/tx/{tx_hash}", tags=["explorer"], responses={404: {"model": s.ErrorOut}})
    def tx(tx_hash: str, state: State) -> dict[str, Any]:
        if not re.fullmatch(r"0x[0-9a-fA-F]{64}", tx_hash):
            raise HTTPException(422, "transaction hash must be 0x followed by 64 hex digits")
        state.index.sync()
        t = state.index.tx(tx_hash)
        if t is None:
            raise HTTPException(404, f"no transaction {tx_hash}")
        return t

    @app.get("/api/explorer/address/{address}", tags=["explorer"])
    def address(address: str, state: State, page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
        if not re.fullmatch(s.ADDRESS, address):
            raise HTTPException(422, "address must be 0x followed by 40 hex digits")
        state.index.sync()
        txs, total = state.index.address_txs(address, page, limit)
        a = to_checksum_address(address)

        def read() -> tuple[bool, dict[str, Any]]:
            return state.chain.has_code(a), {"native_wei": str(state.chain.balance(a)),
                                             "elecoins": units_to_elecoins(state.etsc.elecoin.balance_of(a))}

        code, balances = state.at_head(("balances", a), read)
        return {"address": a, "contract": state.index.contract_names.get(a) if code else None, "balances": balances,
                "transactions": txs, "total": total, "page": page, "pages": max(1, math.ceil(total / limit))}

    @app.get("/api/explorer/search", tags=["explorer"])
    def search(state: State, q: Annotated[str, Query(min_length=1, max_length=100)]) -> dict[str, Any]:
        """Find a block (number or hash), a transaction (hash) or an address."""
        state.index.sync()
        q = q.strip()
        if q.isdigit():
            n = int(q)
            return {"kind": "block", "key": n} if n <= MAX_BLOCK and state.index.block(n) else {"kind": None}
        if re.fullmatch(r"0x[0-9a-fA-F]{64}", q):
            if state.index.tx(q):
                return {"kind": "tx", "key": q.lower()}
            n = state.index.block_by_hash(q)
            return {"kind": "block", "key": n} if n is not None else {"kind": None}
        if re.fullmatch(s.ADDRESS, q):
            return {"kind": "address", "key": to_checksum_address(q)}
        return {"kind": None}

    # ---------------------------------------------------------------- dashboards
    @app.get("/api/dashboard/elecoin", tags=["dashboard"])
    def dashboard(state: State) -> dict[str, Any]:
        """Equilibrium prices and demands, and DMA-UBRL convergence (the CLI's results)."""
        if state.dashboard is None:
            state.dashboard = _elecoin_dashboard()
        return state.dashboard

    @app.get("/api/dashboard/ledger", tags=["dashboard"])
    def ledger_dashboard(state: State, rounds: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, Any]:
        """The community's PoEG rounds and the fleet's PoSOC rounds and settlement, read from the chain."""
        return state.at_head(("ledger", rounds), lambda: _ledger_dashboard(state, rounds))

    return app


def _ledger_dashboard(gl: AppState, last: int) -> dict[str, Any]:
    from gridledger.ledger.clients import StakingClient, V2VSettlementClient
    from gridledger.ledger.deploy import load_deployment
    from gridledger.ledger.units import token_units_to_kwh

    def rounds(st: StakingClient) -> list[dict[str, Any]]:
        out = []
        top = st.current_round()
        for r in range(top, max(top - last, 0), -1):
            info = st.round_info(r)
            validators = [{"address": v, "stake": token_units_to_kwh(st.stake_behind(r, v)),
                           "backers": len(st.backers(r, v)), "slashed": st.is_slashed(r, v)}
                          for v in st.validators(r)]
            out.append({"round": r, "phase": info.phase.name.lower(), "miner": st.miner_of(r),
                        "members": info.members, "credited": token_units_to_kwh(info.credited),
                        "slashed": token_units_to_kwh(info.slashed), "reward": token_units_to_kwh(info.reward),
                        "traded_kwh": info.traded_wh / 1000, "validators": validators})
        return out

    out: dict[str, Any] = {"community": None, "fleet": None}
    with gl.lock:
        dep = load_deployment(gl.chain, gl.settings.data_dir, "community")
        if dep is not None:
            st = StakingClient(gl.chain, dep.contracts["ProofStaking"])
            out["community"] = {"contracts": dep.contracts, "slash_bps": st.slash_bps(), "rounds": rounds(st),
                                "upos_supply": token_units_to_kwh(st.upos.total_supply()) if st.upos else 0.0}
        dep = load_deployment(gl.chain, gl.settings.data_dir, "fleet")
        if dep is not None:
            settle = V2VSettlementClient(gl.chain, dep.contracts["V2VSettlement"])
            evs = sorted({e["args"]["ev"] for e in gl.index.events_of(settle.address, "Settled")})
            out["fleet"] = {
                "contracts": dep.contracts, "beta_bps": settle.beta_bps(), "rounds": rounds(settle.staking),
                "held_wei": str(gl.chain.balance(settle.address)),
                "evs": [{"address": a, "held_wei": str(settle.held(a)), "owed_wei": str(settle.owed(a)),
                         "fees_credit_wei": str(settle.miner_credit(a))} for a in evs]}
    return out


def _rpc_call(gl: AppState, method: str, params: list[Any]) -> Any:
    """Answer one whitelisted JSON-RPC method from the chain (values in JSON-RPC's hex form)."""
    w3 = gl.chain.w3
    if gl.chain.backend == "rpc":  # a real node: pass the request through
        response = w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(response["error"].get("message", "node error"))
        return response["result"]
    p = list(params) + [None] * 3
    block = p[1] if p[1] is not None else "latest"
    match method:
        case "eth_chainId" | "net_version":
            return gl.chain.chain_id if method == "eth_chainId" else str(gl.chain.chain_id)
        case "eth_blockNumber":
            return gl.chain.block_number()
        case "eth_gasPrice":
            return int(w3.eth.gas_price)
        case "eth_getBalance":
            return int(w3.eth.get_balance(to_checksum_address(p[0]), block))
        case "eth_getCode":
            return bytes(w3.eth.get_code(to_checksum_address(p[0]), block))
        case "eth_getTransactionCount":
            return int(w3.eth.get_transaction_count(to_checksum_address(p[0]), block))
        case "eth_call":
            return bytes(w3.eth.call(p[0], block))
        case "eth_estimateGas":
            return int(w3.eth.estimate_gas(p[0]))
        case "eth_sendRawTransaction":
            return bytes(w3.eth.send_raw_transaction(p[0]))
        case "eth_getTransactionReceipt":
            return _plain(w3.eth.get_transaction_receipt(p[0]))
        case "eth_getTransactionByHash":
            return _plain(w3.eth.get_transaction(p[0]))
        case "eth_getBlockByNumber":
            return _plain(w3.eth.get_block(p[0] if p[0] is not None else "latest", bool(p[1])))
    raise RuntimeError("method not allowed")


def _plain(v: Any) -> Any:
    if isinstance(v, dict) or hasattr(v, "items"):
        return {k: _plain(x) for k, x in dict(v).items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _hexify(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, dict):
        return {k: _hexify(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_hexify(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool):
        return hex(v)
    return v


def _elecoin_dashboard() -> dict[str, Any]:
    import numpy as np

    from gridledger.scenarios.elecoin.run import ElecoinConfig, market_with, solve_elecoin

    cfg = market_with(ElecoinConfig(), n_prosumers=4)
    out: dict[str, Any] = {}
    for pricing in ("unified", "discriminated"):
        sol = solve_elecoin(cfg, "dma-ubrl", pricing, np.random.default_rng(0))
        tr = sol.trace
        step = max(1, len(tr.episodes) // 200)
        out[pricing] = {"analytic": sol.analytic.to_json(), "learned": sol.outcome.to_json(),
                        "episodes": tr.episodes[::step].tolist(), "prices": tr.prices[::step].T.tolist(),
                        "demands": tr.demands[::step].T.tolist(), "seconds": sol.seconds}
    return out
