"""Validation helpers and construction of frozen parameter dataclasses from plain mappings.

Parameter classes are frozen dataclasses whose ``__post_init__`` validates every field
with the helpers below; they raise :class:`~gridledger.errors.ConfigError` naming the field
and the allowed range. :func:`from_mapping` builds such a class from a (possibly nested)
mapping read from a config file or ``--set`` overrides, rejecting unknown keys.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from gridledger.errors import ConfigError

T = TypeVar("T")


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_number(field: str, value: float, *, gt: float | None = None, ge: float | None = None,
                 lt: float | None = None, le: float | None = None) -> None:
    """Raise ConfigError unless ``value`` is a finite number within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(field, f"must be a number (got {value!r})")
    parts = []
    if gt is not None:
        parts.append(f"> {_fmt(gt)}")
    if ge is not None:
        parts.append(f">= {_fmt(ge)}")
    if lt is not None:
        parts.append(f"< {_fmt(lt)}")
    if le is not None:
        parts.append(f"<= {_fmt(le)}")
    allowed = " and ".join(parts) if parts else "finite"
    ok = math.isfinite(value)
    ok = ok and (gt is None or value > gt) and (ge is None or value >= ge)
    ok = ok and (lt is None or value < lt) and (le is None or value <= le)
    if not ok:
        raise ConfigError(field, f"must be {allowed} (got {_fmt(value)})")


def check_int(field: str, value: int, *, ge: int | None = None, le: int | None = None) -> None:
    """Raise ConfigError unless ``value`` is an integer within [ge, le]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"must be an integer (got {value!r})")
    if (ge is not None and value < ge) or (le is not None and value > le):
        lo = "-inf" if ge is None else str(ge)
        hi = "inf" if le is None else str(le)
        raise ConfigError(field, f"must be an integer in [{lo}, {hi}] (got {value})")


def check_choice(field: str, value: str, choices: Sequence[str]) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(field, f"must be one of {', '.join(choices)} (got {value!r})")


def check_vector(field: str, values: Sequence[float], length: int, length_name: str, *,
                 gt: float | None = None, ge: float | None = None) -> None:
    """Raise ConfigError unless ``values`` has ``length`` numbers, each within the bounds."""
    if len(values) != length:
        raise ConfigError(field, f"must have {length_name}={length} values (got {len(values)})")
    for i, v in enumerate(values):
        check_number(f"{field}[{i}]", v, gt=gt, ge=ge)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(field: str, tp: Any, value: Any) -> Any:
    """Convert a value read from TOML/JSON/--set to the annotated type (or raise ConfigError)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors: list[ConfigError] = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(field, arg, value)
            except ConfigError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        raise ConfigError(field, f"invalid value {value!r}")
    if _is_dataclass_type(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(field, f"must be a table of keys (got {value!r})")
        return from_mapping(tp, value, prefix=f"{field}.")
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ConfigError(field, f"must be a list (got {value!r})")
        item_tp = args[0] if args else Any
        return tuple(_coerce(f"{field}[{i}]", item_tp, v) for i, v in enumerate(value))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(field, f"must be a number (got {value!r})")
        return float(value)
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(field, f"must be an integer (got {value!r})")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(field, f"must be true or false (got {value!r})")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(field, f"must be a string (got {value!r})")
        return value
    return value


def from_mapping(cls: type[T], mapping: Mapping[str, Any], prefix: str = "") -> T:
    """Build the frozen dataclass ``cls`` from ``mapping``; keys absent keep their defaults.

    Raises
    ------
    ConfigError
        For an unknown key (listing the allowed ones), a value of the wrong type, or a value
        that the class's own validation refuses.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in mapping.items():
        if key not in names:
            raise ConfigError(f"{prefix}{key}", f"unknown key (allowed: {', '.join(names)})")
        kwargs[key] = _coerce(f"{prefix}{key}", hints[key], value)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        if prefix and not exc.field.startswith(prefix):
            raise ConfigError(prefix + exc.field, exc.message) from None
        raise


def to_mapping(obj: Any) -> dict[str, Any]:
    """Plain-dict view of a parameter dataclass (tuples become lists), for reports and JSON."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            value = to_mapping(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out
