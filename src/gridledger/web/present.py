"""How the pages show the chain's integers: units and symbols, sensible decimals, sentences.

One table (:data:`UNITS`) gives the unit of every integer argument of every function, event and
constructor of our ABIs (``tests/unit/web/test_present.py`` checks that none is missing), so
that the explorer shows "2.5 ELC", "5 kWh" or "0.0822 ETH/ELC" instead of raw 18-decimal
integers. :func:`describe` turns an account's events into history sentences.

Units:

===================== ====================================================================
``native``            wei of the chain's native coin, shown in whole coins (``native_symbol``)
``elecoin``           elecoin units (18 decimals), shown in ELC
``epos``, ``upos``    EPOS / UPOS units (18 decimals; 1 EPOS = 1 kWh of proof score, 1 UPOS
                      = 1 kWh of energy credit)
``token``             the emitting token's own units (ERC-20 ``Transfer``/``Approval``)
``wh``                Wh, shown in kWh
``native_per_elecoin`` wei per whole elecoin (edge-server prices), shown in coin per ELC
``elecoin_per_wh``    elecoin units per Wh (the unit power price Q), shown in ELC per kWh
``bps``               basis points, shown in %
``count``             a plain number (rounds, attempts, block numbers)
``blocks``            a duration in blocks (the staking and settlement windows)
``w``                 W (a meter's rated power), shown in kW
``seconds``           a duration in seconds
``time``              a Unix time (seconds), shown as a UTC date and time
===================== ====================================================================
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any

TOKEN_UNIT = {"Elecoin": "elecoin", "EPOS": "epos", "UPOS": "upos"}

UNITS: dict[str, dict[str, str]] = {
    # keys: argument name, or "Member.argument" when one member's argument differs
    "Elecoin": {"totalElecoins": "elecoin", "value": "elecoin", "amount": "elecoin"},
    "ETSC": {"totalElecoins": "elecoin", "unitPowerPrice_": "elecoin_per_wh", "unitPowerPrice": "elecoin_per_wh",
             "energyWh": "wh", "amount": "elecoin", "paid": "native", "weiPerElecoin": "native_per_elecoin",
             "elecoins": "elecoin", "ProceedsWithdrawn.amount": "native", "ratedW": "w",
             "releasedAllocation": "elecoin", "supply": "elecoin", "slotSupply": "elecoin",
             "minPrice": "native_per_elecoin", "maxPrice": "native_per_elecoin",
             "newMinPrice": "native_per_elecoin", "newMaxPrice": "native_per_elecoin",
             "redemptionPrice": "native_per_elecoin", "slotSeconds": "seconds", "adminDelay": "seconds",
             "newDelay": "seconds", "acceptSchedule": "time", "effectSchedule": "time"},
    "EPOS": {"value": "epos", "amount": "epos"},
    "UPOS": {"value": "upos", "amount": "upos"},
    "ProofStaking": {"slashBps_": "bps", "round": "count", "attempt": "count", "weight": "epos",
                     "totalWeight": "epos", "burned": "epos", "amount": "epos", "score": "epos", "scores": "epos",
                     "RewardShared.amount": "upos", "reward": "upos", "payReward.amounts": "upos",
                     "energyWh": "wh", "lossWh": "wh", "savings": "upos", "fee": "upos", "feePool": "upos",
                     "credited": "epos", "staked": "epos", "deltaBps_": "bps", "members": "count",
                     "stakers": "count", "eligible": "count", "attempts": "count", "reason": "count",
                     "windows": "blocks", "stakeDeadline": "count", "revealDeadline": "count",
                     "adminDelay": "seconds", "newDelay": "seconds", "acceptSchedule": "time",
                     "effectSchedule": "time"},
    "V2VSettlement": {"betaBps_": "bps", "betaBps": "bps", "acceptedBetaBps": "bps", "round": "count",
                      "profit": "native", "fee": "native", "amount": "native", "profits": "native",
                      "fees": "native", "claimWindow_": "blocks", "adminDelay": "seconds", "newDelay": "seconds",
                      "acceptSchedule": "time", "effectSchedule": "time"},
}

DECIMALS = {"native": 6, "elecoin": 4, "epos": 4, "upos": 4, "wh": 3, "native_per_elecoin": 6,
            "elecoin_per_wh": 4, "bps": 2, "count": 0, "w": 3, "seconds": 0, "blocks": 0}
"""Decimals shown for each unit (values smaller than the last shown decimal keep 2 significant digits)."""


def unit_of(contract: str | None, member: str | None, arg: str) -> str | None:
    """The unit of argument ``arg`` of ``member`` (function, event or "constructor") of ``contract``."""
    table = UNITS.get(contract or "")
    if table is None:
        return None
    unit = table.get(f"{member}.{arg}", table.get(arg))
    if unit == "token":
        return TOKEN_UNIT.get(contract or "")
    return unit


def _dec(value: int | str | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(int(value))


def scale(value: int | str, unit: str) -> Decimal:
    """The integer ``value`` in the display unit of ``unit`` (exact)."""
    with localcontext(EXACT):
        return _scale(_dec(value), unit)


def _scale(v: Decimal, unit: str) -> Decimal:
    if unit in ("native", "elecoin", "epos", "upos", "native_per_elecoin"):
        return v.scaleb(-18)
    if unit in ("wh", "w"):
        return v.scaleb(-3)
    if unit == "elecoin_per_wh":
        return (v * 1000).scaleb(-18)
    if unit == "bps":
        return v.scaleb(-2)
    return v


EXACT = Context(prec=200, Emax=999_999, Emin=-999_999)
"""Enough digits for any 256-bit integer scaled to any unit (the default context keeps 28)."""


def number(x: Decimal | float | int, decimals: int) -> str:
    """``x`` with at most ``decimals`` decimals, trailing zeros dropped, thousands separated; a
    nonzero value below the last decimal keeps two significant digits (never a misleading 0)."""
    d = Decimal(str(x)) if isinstance(x, float) else Decimal(x)
    if d == 0:
        return "0"
    if not d.is_finite():
        return str(d)
    with localcontext(EXACT):  # any uint256 in any unit: up to 78 integer digits plus the decimals
        if decimals > 0 and abs(d) < Decimal(1).scaleb(-decimals):
            exp = d.adjusted() - 1
            q = d.quantize(Decimal(1).scaleb(exp), rounding=ROUND_HALF_EVEN)
            return f"{q:f}".rstrip("0").rstrip(".") if "." in f"{q:f}" else f"{q:f}"
        q = d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    text = f"{q:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class Symbols:
    """Symbols of the chain's currencies (``native`` from the settings, the rest from the tokens)."""

    def __init__(self, native: str = "ETH", elecoin: str = "ELC") -> None:
        self.native = native
        self.elecoin = elecoin

    def of(self, unit: str) -> str:
        return {"native": self.native, "elecoin": self.elecoin, "epos": "EPOS", "upos": "UPOS", "wh": "kWh",
                "native_per_elecoin": f"{self.native}/{self.elecoin}", "elecoin_per_wh": f"{self.elecoin}/kWh",
                "bps": "%", "count": "", "w": "kW", "seconds": "s", "blocks": "blocks"}.get(unit, "")

    def to_json(self) -> dict[str, str]:
        return {"native": self.native, "elecoin": self.elecoin, "energy": "kWh"}


def amount(value: int | str, unit: str | None, sym: Symbols) -> str:
    """``value`` (an integer in the contract's units) as text with its symbol, e.g. "2.5 ELC"."""
    if unit is None:
        return str(value)
    if unit == "time":
        t = int(value)
        if t <= 0 or t >= 253_402_300_800:  # 0: none; beyond year 9999: not a date
            return str(t)
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    shown = number(scale(value, unit), DECIMALS.get(unit, 4))
    s = sym.of(unit)
    return f"{shown} {s}".strip() if unit != "bps" else f"{shown}%"


def display_args(contract: str | None, member: str | None, args: dict[str, Any] | None, sym: Symbols,
                 names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Each argument as ``{name, value, display, unit}`` (addresses keep their label in ``label``)."""
    out = []
    for k, v in (args or {}).items():
        if isinstance(v, dict):  # a struct: one row per component, named "arg.component"
            for item in display_args(contract, member, v, sym, names):
                out.append({**item, "name": f"{k}.{item['name']}"})
            continue
        unit = unit_of(contract, member, k)
        item: dict[str, Any] = {"name": k, "value": v, "unit": unit}
        if isinstance(v, list) and unit:
            item["display"] = ", ".join(amount(x, unit, sym) for x in v)
        elif isinstance(v, (int, str)) and not isinstance(v, bool) and unit and str(v).lstrip("-").isdigit():
            item["display"] = amount(v, unit, sym)
        elif isinstance(v, str) and v.startswith("0x") and len(v) == 42 and names:
            item["label"] = names.get(v)
        elif k in ("role", "neededRole") and isinstance(v, str) and v.lower().removeprefix("0x") in ROLES:
            item["display"] = ROLES[v.lower().removeprefix("0x")]
        out.append(item)
    return out


def _role_id(name: str) -> str:
    from eth_utils import keccak

    return keccak(text=name).hex()


ROLES = {"00" * 32: "administrator (DEFAULT_ADMIN_ROLE)",
         **{_role_id(r): r for r in ("OPERATOR_ROLE", "GUARDIAN_ROLE")}}
"""Names of our contracts' AccessControl roles by their bytes32 id (hex, no 0x)."""


# ---------------------------------------------------------------------------- account history
HISTORY_EVENTS = ("ElecoinsBought", "Traded", "Generated", "Consumed", "UserEmpowered", "RightsChanged",
                  "MeterRegistered", "MeterRevoked", "PriceDeclared", "PersonalPriceDeclared", "ProceedsWithdrawn",
                  "Redeemed", "EdgeServerAdded", "EdgeServerRemoved", "AllocationSet")


def _rights(gen: bool, trans: bool) -> str:
    parts = [p for p, ok in (("trade", trans), ("generate (sell electricity)", gen)) if ok]
    return " and ".join(parts) if parts else "no rights"


def describe(ev: dict[str, Any], me: str, names: dict[str, str], sym: Symbols) -> dict[str, Any]:
    """One history row of account ``me``: a sentence and the signed amounts it moved for ``me``
    (``elecoins`` in ELC, ``kwh``, ``native`` in whole coins; strings of exact decimals)."""
    a = ev["args"]
    name = ev["name"]

    def who(x: str) -> str:
        return names.get(x) or (x[:8] + "…" + x[-6:])

    def amt(v: Any, unit: str) -> str:
        return amount(v, unit, sym)

    elc = kwh = native = Decimal(0)
    text = name
    if name == "ElecoinsBought":
        if a["prosumer"] == me:
            text = f"Bought {amt(a['amount'], 'elecoin')} from {who(a['server'])} for {amt(a['paid'], 'native')}"
            elc, native = scale(a["amount"], "elecoin"), -scale(a["paid"], "native")
        else:
            text = f"Sold {amt(a['amount'], 'elecoin')} to {who(a['prosumer'])} for {amt(a['paid'], 'native')}"
    elif name == "Traded":
        if a["prosumer"] == me:
            text = (f"Bought {amt(a['energyWh'], 'wh')} of electricity from {who(a['retailer'])} for "
                    f"{amt(a['elecoins'], 'elecoin')}")
            kwh, elc = scale(a["energyWh"], "wh"), -scale(a["elecoins"], "elecoin")
        else:
            text = (f"Sold {amt(a['energyWh'], 'wh')} of electricity to {who(a['prosumer'])} for "
                    f"{amt(a['elecoins'], 'elecoin')}")
            kwh, elc = -scale(a["energyWh"], "wh"), scale(a["elecoins"], "elecoin")
    elif name == "Generated":
        if a["user"] == me:
            text = f"Your smart meter reported {amt(a['energyWh'], 'wh')} generated"
            kwh = scale(a["energyWh"], "wh")
        else:
            text = f"Reported {amt(a['energyWh'], 'wh')} generated by {who(a['user'])}"
    elif name == "Consumed":
        if a["user"] == me:
            text = f"Your smart meter reported {amt(a['energyWh'], 'wh')} consumed"
            kwh = -scale(a["energyWh"], "wh")
        else:
            text = f"Reported {amt(a['energyWh'], 'wh')} consumed by {who(a['user'])}"
    elif name == "UserEmpowered":
        text = f"Registered as “{a['name']}” with the right to {_rights(a['genRight'], a['transRight'])}"
    elif name == "RightsChanged":
        text = f"Rights changed: may now {_rights(a['genRight'], a['transRight'])}"
    elif name == "MeterRegistered":
        rating = f", rated {amt(a['ratedW'], 'w')}" if a.get("ratedW") else ""
        text = (f"Smart meter {a['meter'][:8]}…{a['meter'][-4:]} registered for you{rating}" if a["user"] == me
                else f"Registered as the smart meter of {who(a['user'])}{rating}")
    elif name == "MeterRevoked":
        text = (f"Smart meter {a['meter'][:8]}…{a['meter'][-4:]} revoked (its readings are no longer accepted)"
                if a["user"] == me else f"Revoked as the smart meter of {who(a['user'])}")
    elif name == "Redeemed":
        text = f"Redeemed {amt(a['amount'], 'elecoin')} for {amt(a['paid'], 'native')}"
        elc, native = -scale(a["amount"], "elecoin"), scale(a["paid"], "native")
    elif name == "EdgeServerAdded":
        text = "Became an edge server of the market"
    elif name == "EdgeServerRemoved":
        text = (f"Removed as an edge server ({amt(a['releasedAllocation'], 'elecoin')} of unsold allocation "
                "returned to the market)")
    elif name == "AllocationSet":
        text = f"May now sell {amt(a['amount'], 'elecoin')} (allocation set by the administrator)"
    elif name == "PriceDeclared":
        text = f"Declared the price {amt(a['weiPerElecoin'], 'native_per_elecoin')}"
    elif name == "PersonalPriceDeclared":
        text = (f"Personal price {amt(a['weiPerElecoin'], 'native_per_elecoin')} for {who(a['prosumer'])}"
                if a["server"] == me else
                f"{who(a['server'])} declared a personal price of {amt(a['weiPerElecoin'], 'native_per_elecoin')}")
        if int(a["weiPerElecoin"]) == 0:
            text = f"Personal price cleared for {who(a['prosumer'])} (the uniform price applies)"
    elif name == "ProceedsWithdrawn":
        text = f"Withdrew {amt(a['amount'], 'native')} of proceeds"
        native = scale(a["amount"], "native")
    return {"block": ev["block"], "timestamp": ev.get("timestamp"), "tx": ev["tx"], "event": name, "text": text,
            "elecoins": _signed(elc), "kwh": _signed(kwh), "native": _signed(native)}


def _signed(d: Decimal) -> str:
    return "0" if d == 0 else f"{d.normalize():f}"


def csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """CSV of ``rows``; a cell that a spreadsheet would read as a formula (=, +, -, @, tab, CR
    first) is prefixed with ' so that on-chain names cannot inject formulas (OWASP CSV injection)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            s = "" if v is None else str(v)
            if s and s[0] in "=+-@\t\r" and not _is_number(s):
                s = "'" + s
            cells.append(s)
        w.writerow(cells)
    return buf.getvalue()


def _is_number(s: str) -> bool:
    try:
        Decimal(s)
    except Exception:
        return False
    return s.strip() == s and all(ch in "0123456789.-+eE" for ch in s)
