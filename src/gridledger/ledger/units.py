"""Conversions between the market's floats and the contracts' integers.

- energy: kWh (float) <-> Wh (int);
- elecoins: elecoins (float) <-> smallest units (int, 18 decimals);
- the unit power price Q: elecoins per kWh <-> elecoin units per Wh;
- edge-server prices: market money per elecoin <-> wei per elecoin, with ``wei_per_money``
  wei for one unit of the market's money (default 1e15 wei = 0.001 of the native coin, a
  documented choice: the paper's prices have no currency).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

ELECOIN_UNITS = 10**18
WH_PER_KWH = 1000
DEFAULT_WEI_PER_MONEY = 10**15


def _round(x: float | Decimal) -> int:
    return int(Decimal(str(x)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def kwh_to_wh(kwh: float) -> int:
    return _round(Decimal(str(kwh)) * WH_PER_KWH)


def wh_to_kwh(wh: int) -> float:
    return wh / WH_PER_KWH


def elecoins_to_units(elecoins: float) -> int:
    return _round(Decimal(str(elecoins)) * ELECOIN_UNITS)


def units_to_elecoins(units: int) -> float:
    return units / ELECOIN_UNITS


def unit_power_price_units(q_elecoins_per_kwh: float) -> int:
    """Q in elecoin units per Wh (the ETSC's ``unitPowerPrice``)."""
    return _round(Decimal(str(q_elecoins_per_kwh)) * ELECOIN_UNITS / WH_PER_KWH)


def price_to_wei(price: float, wei_per_money: int = DEFAULT_WEI_PER_MONEY) -> int:
    """An edge-server price (money per elecoin) in wei per elecoin."""
    return _round(Decimal(str(price)) * wei_per_money)


TOKEN_UNITS = 10**18
"""Smallest units of one EPOS (kWh of proof score) or one UPOS (kWh of energy credit)."""


def kwh_to_token_units(kwh: float) -> int:
    """A proof score or energy credit in kWh as EPOS/UPOS units (18 decimals)."""
    return _round(Decimal(str(kwh)) * TOKEN_UNITS)


def token_units_to_kwh(units: int) -> float:
    return units / TOKEN_UNITS
