"""Credentials are stored hashed, scoped, and checked on every request."""

from __future__ import annotations

import asyncpg
import pytest

from service.accounts import service as accounts
from service.core.errors import InvalidInput
from service.core.security import hash_token, verify_password
from tests.factories import make_facility


async def test_tokens_and_passwords_are_never_stored_in_clear(conn: asyncpg.Connection) -> None:
    facility = await make_facility(conn)
    terminal = await accounts.create_terminal(conn, facility_code=facility)
    await accounts.create_staff(conn, facility_code=facility, role="pharmacist", login="ph", password="s3cret-pass")
    stored = await conn.fetchval("SELECT token_hash FROM api_tokens WHERE terminal_id = $1::uuid",
                                 terminal["terminal_id"])
    assert stored == hash_token(terminal["token"])
    assert terminal["token"].encode() not in stored
    password_hash = await conn.fetchval("SELECT password_hash FROM staff WHERE login = 'ph'")
    assert "s3cret-pass" not in password_hash
    assert verify_password("s3cret-pass", password_hash)
    assert not verify_password("wrong-pass", password_hash)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": "12345", "name": "x", "type_": "clinic"}, "10 digits"),
        ({"code": "1234567890", "name": "x", "type_": "spa"}, "facility type"),
        ({"code": "1234567890", "name": " ", "type_": "clinic"}, "name"),
    ],
)
async def test_facility_validation(conn: asyncpg.Connection, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        await accounts.create_facility(conn, **kwargs)


async def test_staff_validation(conn: asyncpg.Connection) -> None:
    facility = await make_facility(conn)
    with pytest.raises(InvalidInput, match="role"):
        await accounts.create_staff(conn, facility_code=facility, role="janitor", login="j", password="password1")
    with pytest.raises(InvalidInput, match="8 characters"):
        await accounts.create_staff(conn, facility_code=facility, role="doctor", login="d", password="short")
