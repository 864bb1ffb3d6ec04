"""Typed settings, one small class per concern, read from the environment first.

Every variable carries the ``ENDCAP_`` prefix, e.g. ``ENDCAP_DATABASE_URL``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Final

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from endcap.privacy.settings import PrivacyGateSettings

# What one parallel batch statement may hold across its processes unless configured: with
# the refresh process's few hundred MiB beside it, a 1M-profile refresh stays within 2 GiB
# (issue 4's goal).
BATCH_STATEMENT_MEMORY_MB: Final = 1024
DEFAULT_CURRENCY: Final = "SEK"


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
    # Memory PostgreSQL may use per sort or hash in batch work (loads, key chains,
    # trait refreshes), set for that transaction only; the server default (4 MB)
    # spills those to disk.
    batch_work_mem_mb: int = Field(default=256, ge=4)
    # What one parallel batch statement (a full refresh's spend roll-ups) may hold in all,
    # across its parallel workers; its work_mem is cut to fit (db/parallel.py).
    batch_statement_memory_mb: int = Field(default=BATCH_STATEMENT_MEMORY_MB, ge=16)

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
    # How long an Idempotency-Key is remembered. Its record holds a hash of the request,
    # an erasure's included: kept for ever, it would outlive the shopper it names.
    idempotency_hours: float = Field(default=24.0, gt=0)


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_AUTH_", extra="ignore")

    # Visible in every key so that leaked keys are easy to find with secret scanners.
    key_prefix: str = Field(default="ek", pattern=r"^[a-z]{2,8}$")
    # Keep looked-up keys in memory (PostgreSQL only), dropped on every change to a key or
    # partner as PostgreSQL notifies it: a request then needs no key look-up.
    key_cache: bool = True
    # Seconds between checks that the notifications still arrive; a cached key is used only
    # while the last check is at most three of these old (auth/key_changes.py), and a
    # revocation answers once that long has passed (then no process can still accept it).
    key_cache_heartbeat_seconds: float = Field(default=0.5, gt=0, le=10)
    key_cache_max_keys: int = Field(default=10_000, ge=1)

    @property
    def key_cache_fresh_for(self) -> float:
        """Seconds a process serves cached keys after its last heartbeat was sent."""
        return 3 * self.key_cache_heartbeat_seconds


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_LOG_", extra="ignore")

    level: str = "INFO"
    # JSON for machines (the default); "console" for a human at a terminal.
    format: str = Field(default="json", pattern=r"^(json|console)$")


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_INGEST_", extra="ignore")

    # Bytes of CSV parsed per chunk (and rows per chunk for Parquet/NDJSON): files
    # are streamed chunk by chunk and never read whole.
    # 2 MiB: pyarrow's reader buffers some 30 blocks ahead, so this bounds memory too.
    chunk_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    chunk_rows: int = Field(default=100_000, ge=1)
    # The rejected-row report keeps this many rows; the count covers them all.
    rejection_cap: int = Field(default=1000, ge=1)
    # Negative quantities and values are returns; refused unless the retailer has them.
    allow_returns: bool = False
    # Largest upload the API accepts (413 beyond it).
    max_upload_bytes: int = Field(default=4 * 1024**3, ge=1024)
    spool_dir: str = "./endcap-uploads"


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_IDENTITY_", extra="ignore")

    # An identifier on more customer records than this is a shared one (a house
    # card, a family e-mail): flagged, never merged on.
    shared_identifier_threshold: int = Field(default=5, ge=2)
    # Keep raw e-mails and phones beside their hashes (off: only SHA-256 is kept).
    keep_raw: bool = False
    # Country for phone numbers written without an international prefix.
    default_phone_region: str = Field(default="SE", pattern=r"^[A-Z]{2}$")


class PrivacySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_PRIVACY_", extra="ignore")

    # What erasure does to a shopper's purchases: "detach" keeps the anonymous
    # lines for category totals; "delete" removes them.
    erasure_transactions: str = Field(default="detach", pattern=r"^(detach|delete)$")


class AudienceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_AUDIENCE_", extra="ignore")

    # Rule estimates count a hashed sample of about this many profiles (a refresh keeps
    # it); a retailer with fewer than twice as many is counted exactly. 0: always exact.
    estimate_sample_profiles: int = Field(default=50_000, ge=0)


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_WORKER_", extra="ignore")

    # Run jobs inside the API process (the demo); set false when `endcap worker` runs them.
    in_process: bool = True
    poll_seconds: float = Field(default=0.5, gt=0)
    # A running job whose heartbeat is older than this is taken to be abandoned (its
    # worker died); a live worker renews it every third of this. Workers' clocks must
    # agree to well within it.
    lease_seconds: float = Field(default=60.0, gt=0)
    # Runs an abandoned job gets in all before it is failed rather than queued again:
    # a job that keeps killing its worker (out of memory) must not do so forever.
    max_attempts: int = Field(default=3, ge=1)


class MarketplaceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_MARKETPLACE_", extra="ignore")

    # Longer flights than a year are contracts, not campaigns; they are booked by hand.
    max_flight_days: int = Field(default=366, ge=1)
    # Capacity and prices are not planned further ahead than this.
    max_days_ahead: int = Field(default=730, ge=1)
    # The share of the audience kept out of every channel, so incrementality can be measured.
    default_holdout_share: float = Field(default=0.10, gt=0, lt=1)
    # Below 2% the holdout is too small to measure against; above half, the brand buys
    # mostly people it will not reach.
    min_holdout_share: float = Field(default=0.02, gt=0, lt=1)
    max_holdout_share: float = Field(default=0.5, gt=0, lt=1)
    # Keep the bookable audiences and rate cards that drafts and forecasts read in memory
    # (PostgreSQL only), dropped on every change as PostgreSQL notifies it
    # (marketplace/quote_changes.py); a booking always reads them in its own transaction.
    quote_cache: bool = True
    quote_cache_max_audiences: int = Field(default=10_000, ge=1)
    # The one currency rate cards, audience prices and budgets are in (ISO 4217).
    currency: str = Field(default=DEFAULT_CURRENCY, pattern=r"^[A-Z]{3}$")


class ActivationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_ACTIVATION_", extra="ignore")

    # Where exports go for channels without an endpoint (a folder their SFTP reads).
    drop_dir: str = "./endcap-activations"
    # HMAC key for the signature on every push; a push without one is refused.
    signing_secret: str = ""
    timeout_seconds: float = Field(default=30.0, gt=0)
    # Tries per push before the activation fails (with exponential back-off between them).
    attempts: int = Field(default=4, ge=1)
    backoff_seconds: float = Field(default=0.5, ge=0)
    # Members read per round trip while exporting (bounds memory on large audiences).
    chunk_rows: int = Field(default=50_000, ge=100)


class Settings:
    """All settings, grouped by concern."""

    def __init__(self) -> None:
        self.database = DatabaseSettings()
        self.server = ServerSettings()
        self.auth = AuthSettings()
        self.log = LogSettings()
        self.ingest = IngestSettings()
        self.identity = IdentitySettings()
        self.privacy = PrivacySettings()
        self.privacy_gate = _privacy_gate()
        self.audience = AudienceSettings()
        self.worker = WorkerSettings()
        self.marketplace = MarketplaceSettings()
        self.activation = ActivationSettings()


def _privacy_gate() -> PrivacyGateSettings:
    # Imported here: the gate's settings live beside its rules, in privacy/.
    from endcap.privacy.settings import PrivacyGateSettings  # noqa: PLC0415

    return PrivacyGateSettings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
