"""``create_app(settings)``: the FastAPI application (JSON API under /api, pages, /rpc).

The routes live in one module per area under :mod:`gridledger.web.routes` (pages, auth,
portal, admin, edge server, wallet, rpc, explorer, dashboard); shared dependencies in
:mod:`gridledger.web.deps`.

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
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from gridledger.errors import ConfigError, GridledgerError
from gridledger.ledger.keystore import KeystoreError
from gridledger.web.middleware import RequestLimits, SecurityHeaders
from gridledger.web.routes import admin, auth, dashboard, explorer, pages, portal, rpc, server, wallet
from gridledger.web.settings import Settings
from gridledger.web.state import AppState, build_state, refuse_vault_password_file, refuse_well_known_keys
from gridledger.web.static_files import STATIC

ROUTERS = (pages, auth, portal, admin, server, wallet, rpc, explorer, dashboard)


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    """Build the app: opens (or connects to) the chain and deploys the market if needed.

    With ``env="prod"`` it refuses (:class:`~gridledger.errors.ConfigError`) a key vault whose
    password is not taken from ``$GRIDLEDGER_PASSWORD`` alone (a password file beside the vault
    gives whoever copies the data directory every privileged key), and a chain whose
    administrator, edge servers or faucet, or any role holder of the community's or the fleet's
    staking and settlement contracts, hold a well-known development key.
    """
    settings = settings or Settings()
    if settings.env == "prod" and state is None:
        refuse_vault_password_file(settings.data_dir)  # before the vault is opened (which creates the file)
    gl = state or build_state(settings)
    if settings.env == "prod":
        try:
            refuse_well_known_keys(gl)
        except ConfigError:
            gl.close()
            gl.chain.close()
            raise

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A served app indexes in the background and fills the first pages' caches, so that a
        # first visit (also right after a start on a long chain) is answered from the index.
        gl.start_background([explorer.warm, portal.warm, dashboard.warm])
        try:
            yield
        finally:
            gl.stop_background()

    # /docs and /redoc are served from local assets (routes.pages), not FastAPI's CDN pages.
    app = FastAPI(title="gridledger", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Prosumer portal, blockchain explorer and market dashboards of gridledger.")
    app.state.gl = gl
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes,
                       max_json_depth=settings.max_json_depth)
    app.add_middleware(SecurityHeaders)  # outermost: refusals by RequestLimits carry the headers too

    @app.exception_handler(GridledgerError)
    async def _user_error(request: Request, exc: GridledgerError) -> JSONResponse:
        code = 400 if isinstance(exc, (ConfigError, KeystoreError)) else 422
        return JSONResponse({"detail": str(exc)}, status_code=code)

    for module in ROUTERS:
        app.include_router(module.router)
    return app
