"""Settings of the web app, validated at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

DEV_ADMIN_PASSWORD = "dev-admin-password"
DEV_METER_PASSWORD = "dev-meter-password"


class Settings(BaseModel):
    """Everything ``create_app`` needs; environment variables GRIDLEDGER_* fill the defaults."""

    env: Literal["dev", "prod"] = "dev"
    data_dir: Path = Field(default_factory=lambda: Path(os.environ.get("GRIDLEDGER_DATA_DIR",
                                                                      Path.home() / ".gridledger")))
    rpc_url: str | None = None
    admin_password: str = Field(default_factory=lambda: os.environ.get("GRIDLEDGER_ADMIN_PASSWORD",
                                                                       DEV_ADMIN_PASSWORD))
    """Password of the administrator's and edge servers' keystore accounts."""
    meter_password: str = Field(default_factory=lambda: os.environ.get("GRIDLEDGER_METER_PASSWORD",
                                                                       DEV_METER_PASSWORD))
    """Password of the smart meters' keystore accounts (held by the server)."""
    faucet_ether: float = Field(default=10.0, ge=0)
    """Native coin given to new accounts on dev chains (0: none)."""
    keystore_kdf: Literal["scrypt", "pbkdf2"] = "scrypt"
    keystore_iterations: int | None = Field(default=None, ge=1)
    login_attempts_per_minute: int = Field(default=5, ge=1)
    session_hours: float = Field(default=8.0, gt=0)
    wei_per_money: int = Field(default=10**15, ge=1)
    """Wei per unit of the market's money (prices per elecoin)."""

    @model_validator(mode="after")
    def _no_placeholder_secrets_outside_dev(self) -> Settings:
        if self.env != "dev":
            for name, placeholder in (("admin_password", DEV_ADMIN_PASSWORD), ("meter_password", DEV_METER_PASSWORD)):
                value = getattr(self, name)
                if value == placeholder or len(value) < 12:
                    raise ValueError(f"{name}: set a real secret of at least 12 characters outside dev "
                                     f"(GRIDLEDGER_{name.upper()})")
        return self
