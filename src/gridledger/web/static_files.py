"""Where the web app's static files (pages, scripts, styles) are installed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

STATIC = Path(str(resources.files("gridledger.web").joinpath("static")))
