"""HTML pages (static files; the explorer's deep links serve the explorer page; /docs and /redoc).

Every page answers GET and HEAD. /docs (Swagger UI) and /redoc (ReDoc) load their scripts from
``/static/vendor`` (see its README), never from a CDN.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from gridledger.web.static_files import STATIC

PAGES = ("index", "login", "portal", "admin", "server", "explorer", "dashboard")
DOCS = {"/docs": "docs.html", "/redoc": "redoc.html"}

router = APIRouter(include_in_schema=False)


def _page(path: str, file: str, name: str) -> None:
    def serve_page() -> FileResponse:
        return FileResponse(STATIC / file, media_type="text/html")

    router.api_route(path, methods=["GET", "HEAD"], name=name)(serve_page)


for _p in PAGES:
    _page("/" if _p == "index" else f"/{_p}", f"{_p}.html", f"page_{_p}")
for _path, _file in DOCS.items():
    _page(_path, _file, f"docs_{_path[1:]}")


def _explorer_route(kind: str) -> None:
    def explorer_page(key: str) -> FileResponse:
        """Deep links of the explorer: ``/explorer/block/N``, ``/explorer/tx/H``, ``/explorer/address/A``,
        ``/explorer/token/A``."""
        return FileResponse(STATIC / "explorer.html", media_type="text/html")

    router.api_route(f"/explorer/{kind}/{{key}}", methods=["GET", "HEAD"], name=f"explorer_{kind}")(explorer_page)


for _k in ("block", "tx", "address", "token"):
    _explorer_route(_k)


def serve_tokens_page() -> FileResponse:
    """``/explorer/tokens``: the token list (the explorer page)."""
    return FileResponse(STATIC / "explorer.html", media_type="text/html")


router.api_route("/explorer/tokens", methods=["GET", "HEAD"], name="explorer_tokens")(serve_tokens_page)
