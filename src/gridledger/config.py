"""Reading configuration: TOML or JSON files and ``--set key=value`` overrides.

A configuration is a nested mapping. Files give a base; ``--set`` items override single keys
(dotted keys reach into tables: ``--set dma_ubrl.sigma=0.5``). Values in ``--set`` are read as
TOML values (``3``, ``0.5``, ``true``, ``[1, 2]``, ``"text"``); a bare word is a string.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gridledger.errors import ConfigError, InputFileError


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``) or JSON (``.json``, or anything else) configuration file.

    Raises
    ------
    InputFileError
        If the file is missing, unreadable, malformed (with line and column), or not a table.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(str(p), "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(str(p), f"cannot read file ({exc})") from None
    if p.suffix.lower() == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            # Python 3.11's tomllib reports the position only inside the message.
            text_msg = str(exc)
            pos = re.search(r"\(at line (\d+), column (\d+)\)", text_msg)
            line, col = (int(pos.group(1)), int(pos.group(2))) if pos else (None, None)
            reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", text_msg)
            raise InputFileError(str(p), f"invalid TOML ({reason})", line, col) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(str(p), f"invalid JSON ({exc.msg})", exc.lineno, exc.colno) from None
    if not isinstance(data, dict):
        raise InputFileError(str(p), "the top level must be a table/object of keys")
    return data


def parse_set_items(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["a=1", "t.b=[1, 2]"]`` into a nested mapping ``{"a": 1, "t": {"b": [1, 2]}}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError("--set", f"expected key=value (got {item!r})")
        raw = raw.strip()
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(key, "is both a value and a table")
            node = child
        node[parts[-1]] = value
    return out


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge two mappings; ``override`` wins."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def gather(config_file: str | Path | None, set_items: Iterable[str] = ()) -> dict[str, Any]:
    """Configuration from an optional file overridden by ``--set`` items."""
    base = load_config_file(config_file) if config_file else {}
    return merge(base, parse_set_items(set_items))
