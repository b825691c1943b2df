"""All SQL of the portal: the holder's eligibility records (all, with insurer names) and consents (all states)."""

from __future__ import annotations

import asyncpg

from service.core.database import Connection

HISTORY_LIMIT = 50  # a holder has a handful of records and consents; the cap only bounds a pathological case


async def eligibility_history(conn: Connection, holder_id: int) -> list[asyncpg.Record]:
    """The current version of every record linked to the holder (ended ones too), newest coverage first."""
    return list(await conn.fetch(
        "SELECT r.insurer_number, i.name AS insurer_name, r.symbol, r.number, r.branch, r.holder_kind, "
        "  r.qualified_on, r.disqualified_on, r.copay_ratio, r.limit_category "
        "FROM linked_current_records r JOIN insurers i ON i.number = r.insurer_number "
        "WHERE r.holder_id = $1 ORDER BY r.qualified_on DESC LIMIT $2",
        holder_id, HISTORY_LIMIT,
    ))


async def consents(conn: Connection, holder_id: int) -> list[asyncpg.Record]:
    """The holder's consents with the facility's name, newest first (refusals, with no category, left out)."""
    return list(await conn.fetch(
        "SELECT c.id, c.facility_code, f.name AS facility_name, c.categories, c.given_at, c.expires_at, "
        "  c.withdrawn_at FROM consents c JOIN facilities f ON f.code = c.facility_code "
        "WHERE c.holder_id = $1 AND cardinality(c.categories) > 0 ORDER BY c.given_at DESC LIMIT $2",
        holder_id, HISTORY_LIMIT,
    ))
