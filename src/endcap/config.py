"""Typed settings, one small class per concern, read from the environment first.

Every variable carries the ``ENDCAP_`` prefix, e.g. ``ENDCAP_DATABASE_URL``.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_DATABASE_", extra="ignore")

    # The embedded default: a SQLite file next to where Endcap runs, so a first
    # look needs no server at all.
    url: str = "sqlite+aiosqlite:///./endcap.db"
    pool_size: int = Field(default=10, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    # Seconds to wait for a connection before answering 503; a request must
    # never hang on a database that is down.
    connect_timeout: float = Field(default=3.0, gt=0)
    pool_timeout: float = Field(default=5.0, gt=0)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the plain URLs people paste and pick the async driver for them."""
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if value.startswith(plain):
                return driver + value[len(plain) :]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    debug: bool = False


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_AUTH_", extra="ignore")

    # Visible in every key so that leaked keys are easy to find with secret scanners.
    key_prefix: str = Field(default="ek", pattern=r"^[a-z]{2,8}$")


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_LOG_", extra="ignore")

    level: str = "INFO"
    # JSON for machines (the default); "console" for a human at a terminal.
    format: str = Field(default="json", pattern=r"^(json|console)$")


class Settings:
    """All settings, grouped by concern."""

    def __init__(self) -> None:
        self.database = DatabaseSettings()
        self.server = ServerSettings()
        self.auth = AuthSettings()
        self.log = LogSettings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
