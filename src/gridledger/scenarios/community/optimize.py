"""`gridledger community optimize`: one coalition's dispatch LP from a JSON file.

Input: {"loss_per_km": C, "edc": {"x_km": .., "y_km": ..},
        "prosumers": [{"id": .., "x_km": .., "y_km": .., "production_kwh": .., "consumption_kwh": ..}, ...]}
A transfer of X kWh over d km loses X C d (eq. 3.11, no floor or cap).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gridledger.errors import ConfigError
from gridledger.grid.dispatch import EDC, solve_dispatch


def _num(value: Any, field: str, minimum: float | None = None, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(field, f"must be a finite number (got {value!r})")
    if minimum is not None and value < minimum:
        raise ConfigError(field, f"must be >= {minimum:g} (got {value})")
    if maximum is not None and value > maximum:
        raise ConfigError(field, f"must be <= {maximum:g} (got {value})")
    return float(value)


def _get(obj: Any, key: str, field: str) -> Any:
    if not isinstance(obj, dict):
        raise ConfigError(field, "must be an object")
    if key not in obj:
        raise ConfigError(f"{field}.{key}" if field else key, "is required")
    return obj[key]


def optimize_coalition(data: dict[str, Any]) -> dict[str, Any]:
    """Validate the input and solve eqs. (3.11)-(3.15); returns transactions and total loss."""
    c = _num(_get(data, "loss_per_km", ""), "loss_per_km", 0.0, 1.0)
    edc = _get(data, "edc", "")
    ex = _num(_get(edc, "x_km", "edc"), "edc.x_km")
    ey = _num(_get(edc, "y_km", "edc"), "edc.y_km")
    prosumers = _get(data, "prosumers", "")
    if not isinstance(prosumers, list) or not prosumers:
        raise ConfigError("prosumers", "must be a non-empty list")
    ids, pos, prod, cons = [], [], [], []
    for k, p in enumerate(prosumers):
        f = f"prosumers[{k}]"
        pid = _get(p, "id", f)
        if not isinstance(pid, (str, int)) or isinstance(pid, bool) or pid == EDC:
            raise ConfigError(f"{f}.id", f"must be a string or an integer other than {EDC!r} (got {pid!r})")
        if pid in ids:
            raise ConfigError(f"{f}.id", f"duplicate id {pid!r}")
        ids.append(pid)
        pos.append((_num(_get(p, "x_km", f), f"{f}.x_km"), _num(_get(p, "y_km", f), f"{f}.y_km")))
        prod.append(_num(_get(p, "production_kwh", f), f"{f}.production_kwh", 0.0))
        cons.append(_num(_get(p, "consumption_kwh", f), f"{f}.consumption_kwh", 0.0))
    nodes = np.vstack([np.asarray(pos), [[ex, ey]]])
    dist = np.linalg.norm(nodes[:, None, :] - nodes[None, :, :], axis=2)
    frac = c * dist
    balance = np.asarray(prod) - np.asarray(cons)
    res = solve_dispatch(np.arange(len(ids)), balance, frac)
    assert res is not None  # without caps the LP is always feasible
    tx = res.transactions(frac)
    for t in tx:
        t["from"] = EDC if t["from"] == EDC else ids[t["from"]]
        t["to"] = EDC if t["to"] == EDC else ids[t["to"]]
    return {"transactions": tx, "loss_kwh": res.loss_kwh,
            "loss_by_prosumer_kwh": {str(i): float(v) for i, v in zip(ids, res.member_loss_kwh, strict=True)}}
