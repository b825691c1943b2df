"""All SQL of the accounts domain."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from service.core.database import Connection


@dataclass(frozen=True, slots=True)
class TokenRow:
    """What a bearer token resolves to."""

    id: str
    kind: str
    terminal_id: str | None
    facility_code: str | None
    insurer_number: str | None
    claims_processor_id: str | None


async def insert_facility(conn: Connection, *, code: str, name: str, type_: str) -> bool:
    """Insert a facility; False when the code exists."""
    row = await conn.fetchval(
        "INSERT INTO facilities (code, name, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING code",
        code, name, type_,
    )
    return row is not None


async def facility_exists(conn: Connection, code: str) -> bool:
    """Whether the facility exists."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM facilities WHERE code = $1)", code))


async def insert_terminal(conn: Connection, *, facility_code: str) -> str:
    """A new terminal of the facility; returns its id."""
    value = await conn.fetchval("INSERT INTO terminals (facility_code) VALUES ($1) RETURNING id::text", facility_code)
    return str(value)


async def insert_staff(
    conn: Connection, *, facility_code: str, role: str, login: str, password_hash: str
) -> str | None:
    """A new staff member; None when the login is taken."""
    value = await conn.fetchval(
        "INSERT INTO staff (facility_code, role, login, password_hash) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (login) DO NOTHING RETURNING id::text",
        facility_code, role, login, password_hash,
    )
    return None if value is None else str(value)


async def insert_insurer(conn: Connection, *, number: str, name: str) -> bool:
    """Insert an insurer; False when the number exists."""
    row = await conn.fetchval(
        "INSERT INTO insurers (number, name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING number", number, name
    )
    return row is not None


async def insert_claims_processor(conn: Connection, *, name: str) -> str:
    """A new claims processor (審査支払機関); returns its id."""
    return str(await conn.fetchval("INSERT INTO claims_processors (name) VALUES ($1) RETURNING id::text", name))


async def insert_operator(conn: Connection, *, name: str) -> str:
    """A new authority operator; returns its id."""
    return str(await conn.fetchval("INSERT INTO operators (name) VALUES ($1) RETURNING id::text", name))


async def insert_token(
    conn: Connection, *, token_hash: bytes, kind: str, terminal_id: str | None = None,
    insurer_number: str | None = None, claims_processor_id: str | None = None, operator_id: str | None = None,
) -> None:
    """Store a token's hash with what it grants."""
    await conn.execute(
        "INSERT INTO api_tokens (token_hash, kind, terminal_id, insurer_number, claims_processor_id, operator_id) "
        "VALUES ($1, $2, $3::uuid, $4, $5::uuid, $6::uuid)",
        token_hash, kind, terminal_id, insurer_number, claims_processor_id, operator_id,
    )


async def find_token(conn: Connection | asyncpg.Pool, token_hash: bytes) -> TokenRow | None:
    """The live token with this hash, with the facility of its terminal."""
    row = await conn.fetchrow(
        "SELECT t.id::text, t.kind, t.terminal_id::text, term.facility_code, t.insurer_number, "
        "       t.claims_processor_id::text "
        "FROM api_tokens t LEFT JOIN terminals term ON term.id = t.terminal_id "
        "WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        token_hash,
    )
    return None if row is None else TokenRow(**row)
