"""The reception terminal program against the real service on a socket: one whole visit, as at a clinic desk."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
from fastapi import FastAPI

from terminals.reception import main
from tests.factories import linked_card, make_card, make_terminal


def _run(live_url: str, token: str, *args: str, answers: list[str]) -> tuple[int, str]:
    lines: list[str] = []
    replies = iter(answers)
    ask: Callable[[str], str] = lambda prompt: next(replies, "")  # noqa: E731
    code = main(["--url", live_url, "--token", token, *args], input=ask, output=lines.append,
                getpass=lambda prompt: "", sleep=lambda seconds: None)
    return code, "\n".join(lines)


async def test_a_whole_visit_with_pin_and_consent(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, live_url: str
) -> None:
    card = await linked_card(client, conn, app.state.authority, tmp_path)
    terminal = await make_terminal(conn)
    code, screen = await asyncio.to_thread(
        _run, live_url, terminal["token"], "--card", str(card.path), "--presence", "pin", "--pin", "1234",
        answers=["y", "n"],
    )
    assert code == 0, screen
    assert "山田太郎" in screen and "3割" in screen and "12・345678・01" in screen
    consent = await conn.fetchrow("SELECT categories, terminal_id::text FROM consents")
    assert (consent["categories"], consent["terminal_id"]) == (["medication"], terminal["terminal_id"])


async def test_an_unregistered_card_is_told_what_to_do(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, live_url: str
) -> None:
    card = await make_card(conn, app.state.authority, tmp_path)
    terminal = await make_terminal(conn)
    code, screen = await asyncio.to_thread(
        _run, live_url, terminal["token"], "--card", str(card.path), "--presence", "visual", answers=["y", "n"],
    )
    assert code == 1, screen
    assert "利用登録" in screen
    assert await conn.fetchval("SELECT result FROM verifications") == "not_registered"
