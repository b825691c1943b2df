"""Database migrations: plain SQL files in `service/migrations/`, applied by yoyo-migrations (a maintained tool).

They live in the package because the installed service applies them at start-up: they ship in the wheel and
the image as package data (service.core.resources), with no second copy and no path to a checkout.

Applied at start-up and by `python -m service.admin migrate`; repeatable (yoyo records what it applied and
takes a lock, so two processes starting together apply each migration once).
"""

from __future__ import annotations

from yoyo import get_backend, read_migrations

from service.core.resources import migrations_dir


def yoyo_url(database_url: str) -> str:
    """The same DSN in the form yoyo expects (psycopg 3 driver)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in {"postgres", "postgresql", "postgresql+psycopg"}:
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    return f"postgresql+psycopg://{rest}"


def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration; return the ids applied (empty when up to date)."""
    backend = get_backend(yoyo_url(database_url))
    migrations = read_migrations(str(migrations_dir()))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]
