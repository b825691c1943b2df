"""Settings from the environment (prefix ONSHI_; DATABASE_URL and REDIS_URL as the contract names them)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SESSION_SECRET = "development-only-session-secret-change-me"
# The checkout's own data directory, whatever the working directory of the command (server, admin, tests).
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / ".onshi-data"


class Settings(BaseSettings):
    """Every knob of the service; see README "Settings"."""

    model_config = SettingsConfigDict(env_prefix="ONSHI_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "ONSHI_DATABASE_URL"))
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "ONSHI_REDIS_URL"))
    db_pool_min: int = 2
    db_pool_max: int = 16
    authority_dir: Path | None = None  # defaults to <data_dir>/authority
    authority_name: str = "Onshi Demo Authority"
    challenge_ttl_seconds: int = 60
    # A terminal may ask for this many challenges per window (a desk needs a few a minute; more is a fault or
    # an attack): beyond it, 429 with Retry-After.
    challenge_limit: int = 30
    challenge_limit_seconds: float = 10.0
    token_cache_seconds: float = 5.0  # a revoked bearer token stops working within this many seconds
    max_batch_bytes: int = 512 * 1024 * 1024
    batch_chunk_bytes: int = 1024 * 1024
    batch_rows_per_step: int = 2000
    batch_poll_seconds: float = 0.5
    run_batch_worker: bool = True
    checkup_at_pharmacies: bool = False  # pharmacies may view checkups since 2020-11; the seed's default is no
    session_secret: str = DEV_SESSION_SECRET
    log_level: str = "INFO"
    log_json: bool = True

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
    def authority_path(self) -> Path:
        """Directory of the authority's key and certificate."""
        return self.authority_dir or self.data_dir / "authority"

    @property
    def may_create_authority(self) -> bool:
        """A fresh authority key is generated on first start only outside production."""
        return self.env != "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
