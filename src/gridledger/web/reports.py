"""The one adapter between the scenarios' report files and the dashboards.

The chain records the community's rounds (PoEG stakes, miner, UPOS rewards, energy traded) and the
fleet's settlement (PoSOC rounds, profits and fees per EV), but not where prosumers are, which
coalitions formed, what each saved, nor the fleet's hourly market and batteries: those come from
the reports the scenarios write. This module finds them and turns them into what the dashboards
draw; nothing else in the web app reads report files.

Where: ``Settings.reports_dir`` (``GRIDLEDGER_REPORTS_DIR``), by default beside a data dir named
``chain`` (``gridledger demo --out DIR`` writes DIR/chain, DIR/community, DIR/v2v, DIR/elecoin),
else ``<data dir>/reports``. Looked for there and in its ``community/``, ``v2v/``, ``fleet/`` and
``elecoin/`` folders, recognised by content:

=========================== ============================================================================
community day               ``results.json`` with ``day`` (``gridledger community run --out``, demo), and
                            ``ledger.json`` beside it when the day was recorded on chain (``--chain``)
fleet, per-EV evaluation    ``results.json`` with ``evaluation.evs[]`` (hours, energy_kwh, soc, p_v2v):
                            SOC curves, the EVs' hourly purchases and sales, cash per EV
fleet, site market          ``results.json`` (or the document itself) with ``days[].hours[]`` holding
                            ``v2v_kwh``, ``grid_import_kwh``, ``grid_export_kwh`` and ``days[].evs[]``
                            with ``cash`` and ``soc_by_hour``: the hourly site market
fleet settlement            ``settlement.json`` with ``evs[].address`` (``gridledger v2v settle``, demo):
                            links EV numbers to their accounts
elecoin settlement          ``settlement.json`` with ``solution.analytic`` (``gridledger elecoin settle``,
                            demo): the equilibrium the chain's market was settled at
=========================== ============================================================================

A report that is missing, unreadable or of another shape gives ``None``: the dashboard then says
"no data yet" and how to produce it, never made-up numbers. Files are re-read when they change
(modification time).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

FOLDERS = ("", "community", "v2v", "fleet", "elecoin")
MAX_BYTES = 64 << 20
"""Larger report files are ignored (the dashboards never need that much)."""


def reports_dir(data_dir: Path, configured: Path | None) -> Path:
    if configured is not None:
        return Path(configured)
    return data_dir.parent if data_dir.name == "chain" else data_dir / "reports"


class Reports:
    """Reads and caches the report files under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _load(self, path: Path) -> Any:
        try:
            st = path.stat()
        except OSError:
            return None
        if st.st_size > MAX_BYTES:
            return None
        with self._lock:
            hit = self._cache.get(path)
            if hit is not None and hit[0] == st.st_mtime:
                return hit[1]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        with self._lock:
            self._cache[path] = (st.st_mtime, data)
        return data

    def shown(self, path: Path) -> str:
        """``path`` as the pages show it: relative to the reports directory (anonymous visitors do
        not learn the server's file layout)."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return path.name

    def _documents(self, name: str) -> list[tuple[Path, Any]]:
        out = []
        for folder in FOLDERS:
            p = self.root / folder / name if folder else self.root / name
            doc = self._load(p)
            if isinstance(doc, dict):
                out.append((p, doc))
        return out

    # -- community
    def community(self) -> dict[str, Any] | None:
        """The last community day: prosumers on the map, coalitions with their savings and rewards,
        the energy moved, and the on-chain round it was recorded as (if any)."""
        for path, doc in self._documents("results.json"):
            day = doc.get("day")
            if not isinstance(day, dict) or "partition" not in day or "positions_km" not in day:
                continue
            ledger = self._load(path.parent / "ledger.json")
            try:
                return community_view(day, doc.get("config") or {}, ledger if isinstance(ledger, dict) else None,
                                      self.shown(path))
            except (KeyError, IndexError, TypeError, ValueError):
                continue
        return None

    # -- fleet
    def fleet(self) -> dict[str, Any] | None:
        """The fleet's day: the hourly site market (when the report has it), the EVs' hourly
        purchases and sales, SOC curves and cash per EV, with the EVs' accounts when a settlement
        report is beside it."""
        settlement = None
        for _, doc in self._documents("settlement.json"):
            if isinstance(doc.get("evs"), list) and doc.get("beta_bps") is not None:
                settlement = doc
                break
        for path, doc in self._documents("results.json"):
            src = doc.get("evaluation") if isinstance(doc.get("evaluation"), dict) else doc
            try:
                if isinstance(src.get("days"), list) and src["days"] and "hours" in src["days"][0]:
                    return site_market_view(src, settlement, self.shown(path))
                if isinstance(src.get("evs"), list) and src["evs"] and "soc" in src["evs"][0]:
                    return ev_view(src, settlement, self.shown(path))
            except (KeyError, IndexError, TypeError, ValueError):
                continue
        return None

    # -- elecoin
    def elecoin_equilibrium(self) -> dict[str, Any] | None:
        """The equilibrium the chain's elecoin market was settled at (money units per elecoin)."""
        for path, doc in self._documents("settlement.json"):
            sol = doc.get("solution")
            if isinstance(sol, dict) and isinstance(sol.get("analytic"), dict):
                price = sol["analytic"]["price"]
                return {"source": self.shown(path), "pricing": sol.get("pricing", "unified"),
                        "price": price if isinstance(price, list) else [price],
                        "demands": sol.get("demands"), "method": sol.get("method")}
        return None


def _f(x: Any) -> float:
    return float(x)


def community_view(day: dict[str, Any], config: dict[str, Any], ledger: dict[str, Any] | None,
                   source: str) -> dict[str, Any]:
    n = int(day["prosumers"])
    pos = day["positions_km"]
    area = float((config.get("loss") or {}).get("area_km", 20.0))
    edc = day.get("edc_km") or [area / 2, area / 2]  # community_grid puts the EDC at the centre
    alone = day.get("loss_by_prosumer_alone_kwh") or [None] * n
    inside = day.get("loss_by_prosumer_coalition_kwh") or [None] * n
    shares = day.get("reward_shares") or [0.0] * n
    miner = set(day.get("miner") or [])
    slashed = [set(c) for c in day.get("slashed") or []]
    accounts = (ledger or {}).get("accounts") or [None] * n
    upos = (ledger or {}).get("upos_reward") or [None] * n
    coalition_of = {}
    for k, c in enumerate(day["partition"]):
        for i in c:
            coalition_of[int(i)] = k
    prosumers = []
    for i in range(n):
        saving = None if alone[i] is None or inside[i] is None else _f(alone[i]) - _f(inside[i])
        prosumers.append({"index": i, "name": f"P{i}", "address": accounts[i] if i < len(accounts) else None,
                          "x": _f(pos[i][0]), "y": _f(pos[i][1]), "coalition": coalition_of.get(i),
                          "production_kwh": _f(day["production_kwh"][i]) if "production_kwh" in day else None,
                          "consumption_kwh": _f(day["consumption_kwh"][i]) if "consumption_kwh" in day else None,
                          "loss_alone_kwh": alone[i], "loss_coalition_kwh": inside[i], "saving_kwh": saving,
                          "reward_kwh": _f(shares[i]) if i < len(shares) else 0.0,
                          "reward_upos": upos[i] if i < len(upos) else None})
    scores = day.get("coalition_proof_scores") or [None] * len(day["partition"])
    coalitions = []
    for k, c in enumerate(day["partition"]):
        members = [int(i) for i in c]
        saves = [prosumers[i]["saving_kwh"] for i in members]
        coalitions.append({"index": k, "members": members, "proof_score": scores[k],
                           "saving_kwh": sum(saves) if all(x is not None for x in saves) else None,
                           "reward_kwh": sum(prosumers[i]["reward_kwh"] for i in members),
                           "miner": set(members) == miner, "slashed": set(members) in slashed})

    def end(x: Any) -> int:
        return -1 if x == "EDC" else int(x)

    transactions = [{"from": end(t["from"]), "to": end(t["to"]), "energy_kwh": _f(t["energy_kwh"]),
                     "loss_kwh": _f(t.get("loss_kwh", 0.0))} for t in day.get("transactions") or []]
    return {"source": source, "round": (ledger or {}).get("round"), "area_km": area, "edc_km": [_f(edc[0]),
                                                                                              _f(edc[1])],
            "prosumers": prosumers, "coalitions": coalitions, "transactions": transactions,
            "totals": {"savings_pct": day.get("savings_pct"), "loss_alone_kwh": day.get("loss_alone_kwh"),
                       "loss_coalition_kwh": day.get("loss_coalition_kwh"),
                       "mining_reward_kwh": day.get("mining_reward"),
                       "traded_in_coalitions_pct": day.get("traded_in_coalitions_pct")}}


def _addresses(settlement: dict[str, Any] | None) -> dict[int, str]:
    if not settlement:
        return {}
    return {int(e["ev"]): e["address"] for e in settlement.get("evs", []) if "address" in e and "ev" in e}


def ev_view(evaluation: dict[str, Any], settlement: dict[str, Any] | None, source: str) -> dict[str, Any]:
    """Per-EV hourly records (actions, SOC, V2V price): no site market in these reports."""
    addr = _addresses(settlement)
    hours: dict[int, dict[str, float]] = {}
    soc, cash = [], []
    for e in evaluation["evs"]:
        i = int(e["ev"])
        money = 0.0
        for h, x, p in zip(e["hours"], e["energy_kwh"], e["p_v2v"], strict=True):
            row = hours.setdefault(int(h), {"bought_kwh": 0.0, "sold_kwh": 0.0})
            row["bought_kwh"] += max(_f(x), 0.0)
            row["sold_kwh"] += max(-_f(x), 0.0)
            money += -_f(x) * _f(p)  # sold earns, bought pays, at the V2V price (as evaluate()'s cash)
        soc.append({"ev": i, "address": addr.get(i), "hours": [int(h) for h in e["hours"]],
                    "soc": [_f(x) for x in e["soc"]]})
        cash.append({"ev": i, "address": addr.get(i), "cash": money, "miner": bool(e.get("miner"))})
    return {"source": source, "kind": "per-ev", "site_market": None,
            "ev_trades": [{"hour": h, **v} for h, v in sorted(hours.items())], "soc": soc, "cash": cash,
            "cash_unit": "money"}


def site_market_view(doc: dict[str, Any], settlement: dict[str, Any] | None, source: str,
                     day: int = 0) -> dict[str, Any]:
    """The hourly site market (matched V2V energy, V2B, grid import and export, summed over sites),
    SOC curves and cash per EV of one day of a site-market report."""
    addr = _addresses(settlement)
    d = doc["days"][day]
    hours: dict[int, dict[str, float]] = {h: {"v2v_kwh": 0.0, "v2b_kwh": 0.0, "grid_import_kwh": 0.0,
                                              "grid_export_kwh": 0.0} for h in range(24)}
    for row in d["hours"]:
        h = hours.setdefault(int(row["hour"]), {"v2v_kwh": 0.0, "v2b_kwh": 0.0, "grid_import_kwh": 0.0,
                                                "grid_export_kwh": 0.0})
        for k in h:
            h[k] += _f(row.get(k, 0.0))
    soc, cash = [], []
    mlag = (d.get("round") or {}).get("mlag")  # the day's miner (mLAG), when the report has the round
    for e in d.get("evs", []):
        i = int(e["ev"])
        if e.get("soc_by_hour"):
            pts = [(h, x) for h, x in enumerate(e["soc_by_hour"]) if x is not None]
            soc.append({"ev": i, "address": addr.get(i), "hours": [h for h, _ in pts], "soc": [_f(x) for _, x in pts]})
        if "cash" in e:
            cash.append({"ev": i, "address": addr.get(i), "cash": _f(e["cash"]),
                         "miner": mlag is not None and i == mlag})
    return {"source": source, "kind": "site-market", "day": day, "days": len(doc["days"]),
            "site_market": [{"hour": h, **v} for h, v in sorted(hours.items())], "ev_trades": None, "soc": soc,
            "cash": cash, "cash_unit": "money"}
