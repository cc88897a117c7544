"""Request and response schemas of the JSON API (split by direction)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gridledger.web.security import canonical_name

ADDRESS = r"^0x[0-9a-fA-F]{40}$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$"


class Strict(BaseModel):
    """Request bodies: no unknown fields, no coercion (``true`` is not a number, ``"1"`` is not one either)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _canonical(v: object) -> object:
    return canonical_name(v) if isinstance(v, str) else v


# -- requests
class LoginIn(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=NAME, description="Account name or address")
    password: str = Field(min_length=1, max_length=256)

    _name = field_validator("name", mode="before")(_canonical)


class SignupIn(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=NAME)
    password: str = Field(min_length=8, max_length=256)

    _name = field_validator("name", mode="before")(_canonical)


class BuyIn(Strict):
    server: str = Field(pattern=ADDRESS)
    elecoins: float = Field(gt=0, le=1_000_000, description="Elecoins to buy (> 0)")


class TradeIn(Strict):
    retailer: str = Field(pattern=ADDRESS)
    energy_kwh: float = Field(gt=0, le=1_000_000, description="kWh to buy (> 0)")


class EmpowerIn(Strict):
    address: str = Field(pattern=ADDRESS)
    user_name: str = Field(min_length=1, max_length=64, pattern=NAME)
    gen_right: bool
    trans_right: bool

    _name = field_validator("user_name", mode="before")(_canonical)


class RightsIn(Strict):
    address: str = Field(pattern=ADDRESS)
    gen_right: bool
    trans_right: bool


class MeterIn(Strict):
    user: str = Field(pattern=ADDRESS)
    rated_kw: float = Field(10.0, ge=0.001, le=1_000_000, description="the meter's rated power in kW (ETSC: a "
                            "meter reports at most rated power x slot length per slot)")


class ReadingIn(Strict):
    meter: str = Field(pattern=ADDRESS)
    kind: Literal["generation", "consumption"]
    energy_kwh: float = Field(gt=0, le=1_000_000)


class PriceIn(Strict):
    price: float = Field(gt=0, le=1e9, description="Money per elecoin (1 money = wei_per_money wei)")
    prosumer: str | None = Field(default=None, pattern=ADDRESS, description="Personal price for this prosumer")


class PrepareIn(Strict):
    action: Literal["buy", "trade"]
    server: str | None = Field(default=None, pattern=ADDRESS)
    retailer: str | None = Field(default=None, pattern=ADDRESS)
    amount: float = Field(gt=0, le=1_000_000, description="Elecoins (buy) or kWh (trade)")
    sender: str = Field(pattern=ADDRESS)


# -- responses
class TxOut(BaseModel):
    tx_hash: str
    block_number: int
    gas_used: int
    events: list[dict[str, Any]]


class LoginOut(BaseModel):
    token: str
    csrf: str
    name: str
    address: str
    roles: list[str]


class AccountOut(BaseModel):
    address: str
    name: str
    registered: bool
    gen_right: bool
    trans_right: bool
    edge_server: bool
    meter_of: str | None
    avail_power_kwh: float
    elecoins: float
    total_gen_kwh: float
    total_use_kwh: float
    proceeds_wei: str
    native_wei: str
    roles: list[str]


class ErrorOut(BaseModel):
    error: str
    detail: Any = None
