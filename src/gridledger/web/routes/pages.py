"""HTML pages (static files; the explorer's deep links serve the explorer page)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from gridledger.web.static_files import STATIC

PAGES = ("index", "login", "portal", "admin", "server", "explorer", "dashboard")

router = APIRouter(include_in_schema=False)


def _page_route(page: str) -> None:
    def serve_page() -> FileResponse:
        return FileResponse(STATIC / f"{page}.html", media_type="text/html")

    router.get("/" if page == "index" else f"/{page}", name=f"page_{page}")(serve_page)


for _p in PAGES:
    _page_route(_p)


def _explorer_route(kind: str) -> None:
    def explorer_page(key: str) -> FileResponse:
        """Deep links of the explorer: ``/explorer/block/N``, ``/explorer/tx/H``, ``/explorer/address/A``."""
        return FileResponse(STATIC / "explorer.html", media_type="text/html")

    router.get(f"/explorer/{kind}/{{key}}", name=f"explorer_{kind}")(explorer_page)


for _k in ("block", "tx", "address"):
    _explorer_route(_k)
