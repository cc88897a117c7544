"""Settings of the web app, validated at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

DEV_ADMIN_PASSWORD = "dev-admin-password"
DEV_METER_PASSWORD = "dev-meter-password"

ENV_PREFIX = "GRIDLEDGER_"
"""Every field can be set by an environment variable: GRIDLEDGER_<FIELD NAME IN CAPITALS>."""


class Settings(BaseModel):
    """Everything ``create_app`` needs; environment variables GRIDLEDGER_* fill the defaults."""

    env: Literal["dev", "prod"] = "dev"
    data_dir: Path = Field(default_factory=lambda: Path(os.environ.get("GRIDLEDGER_DATA_DIR",
                                                                      Path.home() / ".gridledger")))
    rpc_url: str | None = None
    admin_password: str = DEV_ADMIN_PASSWORD
    """Password of the administrator's and edge servers' keystore accounts."""
    meter_password: str = DEV_METER_PASSWORD
    """Password of the smart meters' keystore accounts (held by the server)."""
    faucet_ether: float = Field(default=10.0, ge=0, le=1e9)
    """Native coin given to new accounts on dev chains (0: none)."""
    keystore_kdf: Literal["scrypt", "pbkdf2"] = "scrypt"
    keystore_iterations: int | None = Field(default=None, ge=1)

    # -- authentication (OWASP Authentication Cheat Sheet: throttling without lock-out)
    login_attempts_per_minute: int = Field(default=5, ge=1, le=10_000)
    """Sign-in attempts one client (IP address) may make per minute, whatever the account."""
    login_failures_per_account: int = Field(default=10, ge=1, le=10_000)
    """Failed sign-ins per account and 15 minutes from clients without a device cookie of that account;
    beyond it only such devices may try (the owner's known devices never wait for an attacker)."""
    login_failures_per_device: int = Field(default=5, ge=1, le=10_000)
    """Failed sign-ins per device cookie and 15 minutes (a stolen device cookie buys no guesses)."""
    signups_per_minute: int = Field(default=5, ge=1, le=10_000)
    """Sign-ups one client may make per minute."""
    kdf_concurrency: int = Field(default=2, ge=1, le=64)
    """Password checks (scrypt: ~0.7 s and 256 MiB each) run at once; more wait, up to kdf_queue."""
    kdf_queue: int = Field(default=16, ge=0, le=10_000)
    """Password checks that may wait for a slot; beyond, 503 with Retry-After."""
    session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    device_cookie_days: float = Field(default=180.0, gt=0, le=3650)

    # -- request limits
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=1 << 30)
    """Largest request body accepted (413 beyond)."""
    max_json_depth: int = Field(default=32, ge=2, le=1000)
    """Deepest nesting of arrays and objects in a JSON body (checked on the raw bytes, before parsing)."""

    # -- the /rpc relay
    rpc_gas_cap: int = Field(default=1_000_000, ge=21_000, le=100_000_000)
    """Gas given at most to eth_call and eth_estimateGas, and accepted in eth_sendRawTransaction."""
    rpc_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    """A relayed call that has not answered by then gets a JSON-RPC error (-32002)."""
    rpc_calls_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    """JSON-RPC calls one client may make per minute (429 beyond)."""
    rpc_executors: int = Field(default=2, ge=1, le=64)
    """EVM executions (eth_call, eth_estimateGas) that run at once; more get -32005 (busy)."""

    wei_per_money: int = Field(default=10**15, ge=1)
    """Wei per unit of the market's money (prices per elecoin)."""

    # -- presentation
    native_symbol: str = Field(default="ETH", min_length=1, max_length=12, pattern=r"^[A-Za-z0-9]+$")
    """Symbol of the chain's native coin on the pages (amounts in wei are shown in whole coins)."""
    reports_dir: Path | None = None
    """Where the dashboards read scenario reports (community map, fleet market, the elecoin
    equilibrium settled on chain); default: beside a data dir named ``chain`` (the layout of
    ``gridledger demo --out DIR``: DIR/chain, DIR/community, DIR/v2v, DIR/elecoin), else DIR/reports."""

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        """Fill unset fields from GRIDLEDGER_<NAME> environment variables."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name in cls.model_fields:
            var = ENV_PREFIX + name.upper()
            if name not in out and var in os.environ:
                out[name] = os.environ[var]
        return out

    @model_validator(mode="after")
    def _no_placeholder_secrets_outside_dev(self) -> Settings:
        if self.env != "dev":
            for name, placeholder in (("admin_password", DEV_ADMIN_PASSWORD), ("meter_password", DEV_METER_PASSWORD)):
                value = getattr(self, name)
                if value == placeholder or len(value) < 12:
                    raise ValueError(f"{name}: set a real secret of at least 12 characters outside dev "
                                     f"(GRIDLEDGER_{name.upper()})")
        return self
