"""Settings from the environment (prefix ONSHI_; DATABASE_URL and REDIS_URL as the contract names them)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.core.rates import Rate

DEV_SESSION_SECRET = "development-only-session-secret-change-me"


def _default_data_dir() -> Path:
    """A checkout's own `.onshi-data` (whatever the working directory of the command: server, admin, tests);
    for an installed package (a wheel, the image), `.onshi-data` in the working directory."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "service" / "core").is_dir():
        return checkout / ".onshi-data"
    return Path.cwd() / ".onshi-data"


DEFAULT_DATA_DIR = _default_data_dir()


class Settings(BaseSettings):
    """Every knob of the service; see README "Settings"."""

    model_config = SettingsConfigDict(env_prefix="ONSHI_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "ONSHI_DATABASE_URL"))
    # The login the service answers requests with (least privilege, see migration 0009); default: DATABASE_URL's
    # server and database as the role onshi_app without a password (trust, peer or a .pgpass entry)
    app_database_url: str | None = None
    database_replica_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_REPLICA_URL", "ONSHI_DATABASE_REPLICA_URL"))
    replica_max_lag_seconds: float = 5.0  # a replica further behind is not read (the primary is)
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "ONSHI_REDIS_URL"))
    redis_cluster: bool = False  # REDIS_URL names one node of a Redis Cluster
    redis_max_connections: int = 64  # per process (per node in a cluster); a burst beyond waits up to 5 s
    db_pool_min: int = 2
    db_pool_max: int = 16
    db_command_timeout_seconds: float = 60.0  # no query of the service takes that long: a hung one is a fault
    authority_dir: Path | None = None  # defaults to <data_dir>/authority
    authority_name: str = "Onshi Demo Authority"
    challenge_ttl_seconds: int = 60
    retention_months: int = 0  # drop months of verifications, access log and audit older than this (0: keep)
    maintenance_interval_seconds: float = 6 * 3600  # partitions are made ahead and retention applied this often
    audit_anchor_seconds: float = 60.0  # the audit heads are signed and written outside the database this often
    audit_anchor_dir: Path | None = None  # defaults to <data_dir>/audit-anchors (ship it off the machine)
    token_cache_seconds: float = 5.0  # a revoked bearer token stops working within this many seconds
    max_batch_bytes: int = 512 * 1024 * 1024
    batch_chunk_bytes: int = 1024 * 1024
    batch_rows_per_step: int = 500  # one transaction each; small enough that a step is a short burst of work
    # While the process answers requests, the batch worker validates and applies for at most this share of the
    # time, resting in between (service.batches.worker.Pacer); alone, it runs flat out.
    batch_share_under_load: float = Field(default=0.5, gt=0, le=1)
    batch_poll_seconds: float = 0.5
    run_batch_worker: bool = True
    direct_lane: bool = True  # the challenge and the verification served beside FastAPI (service.core.lane)
    batch_lease_seconds: float = 10.0  # a killed worker's batch is taken over this long after its last renewal
    batch_retry_seconds: float = 120.0  # a database fault longer than this puts the batch off (never fails it)
    shutdown_grace_seconds: float = 10.0  # the batch worker stops within this after SIGTERM
    # An idle client connection is closed after this. Longer than what clients and balancers keep idle connections
    # for (HAProxy here: 60 s): a request sent just as the server closes a connection fails (uvicorn's 5 s
    # failed 2 of 30,000 paced checks that came more than 5 s after a terminal's last one).
    keep_alive_seconds: float = 75.0
    checkup_at_pharmacies: bool = False  # pharmacies may view checkups since 2020-11; the seed's default is no
    session_secret: str = DEV_SESSION_SECRET
    # Rate limits, COUNT/PERIOD (s, m, h, d): see service/core/ratelimit.py and docs/reliability.md.
    rate_limit_login: str = "5/15m"  # wrong passwords per login; then locked (429) until the window frees
    rate_limit_login_address: str = "30/5m"  # wrong passwords per client address
    rate_limit_uploads: str = "60/1h"  # batch uploads per insurer or claims processor
    rate_limit_challenges: str = "120/1m"  # challenges per terminal
    password_hash_threads: int = 1  # scrypt runs in these threads, never on the event loop
    log_level: str = "INFO"
    log_format: Literal["console", "json"] | None = None  # default: json in production, console elsewhere
    log_json: bool | None = None  # the older setting, still honoured: true is json, false console
    access_log: bool = True  # one line per request (service.core.logging.AccessLog)

    @field_validator("rate_limit_login", "rate_limit_login_address", "rate_limit_uploads", "rate_limit_challenges")
    @classmethod
    def _valid_rate(cls, value: str) -> str:
        Rate.parse(value)
        return value

    @model_validator(mode="after")
    def _enforce_non_default_secrets(self) -> Settings:
        if self.env == "production" and (problems := self.production_problems()):
            raise ValueError("\n".join(problems))
        return self

    def production_problems(self) -> list[str]:
        """What production needs and lacks, one line each (no embedded servers, no default secret)."""
        problems = []
        if not self.database_url:
            problems.append("set DATABASE_URL (production never starts an embedded PostgreSQL)")
        if not self.redis_url:
            problems.append("set REDIS_URL (production never starts an embedded Redis)")
        if self.session_secret == DEV_SESSION_SECRET or len(self.session_secret) < 32:
            problems.append("set ONSHI_SESSION_SECRET to a random value of 32 characters or more")
        return problems

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        """ONSHI_LOG_FORMAT, else ONSHI_LOG_JSON, else JSON in production and console lines elsewhere."""
        if self.log_format is not None:
            return self.log_format
        if self.log_json is not None:
            return "json" if self.log_json else "console"
        return "json" if self.env == "production" else "console"

    @property
    def authority_path(self) -> Path:
        """Directory of the authority's key and certificate."""
        return self.authority_dir or self.data_dir / "authority"

    @property
    def audit_anchor_path(self) -> Path:
        """Directory of the audit anchors and the key that signs them."""
        return self.audit_anchor_dir or self.data_dir / "audit-anchors"

    @property
    def may_create_authority(self) -> bool:
        """A fresh authority key is generated on first start only outside production."""
        return self.env != "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
