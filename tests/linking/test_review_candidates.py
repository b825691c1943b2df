"""The review queue is never a lookup (four of five fields, the holder's value only for a spelling variant), a
birthdate typo reaches it, and two active same-day records of one person at two insurers link none (code 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from service.authority.ca import CertificateAuthority
from service.linking import service as linking
from tests.factories import (
    bearer,
    eligibility_csv,
    eligibility_row,
    holder_of,
    linked_card,
    make_card,
    make_holder,
    make_insurer,
    make_terminal,
    upload_and_wait,
    verify_card,
)


def _authority(app: FastAPI) -> CertificateAuthority:
    authority: CertificateAuthority = app.state.authority
    return authority


async def _reviews(client: httpx.AsyncClient, insurer: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/insurers/{insurer['insurer_number']}/link-reviews",
                                headers=bearer(insurer["token"]))
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


async def _registered(app: FastAPI, conn: asyncpg.Connection, **identity: Any) -> linking.Registration:
    """A new holder (the default identity, with overrides) who registers their card."""
    holder_id, serial = await make_holder(conn, _authority(app), **identity)
    async with conn.transaction():
        return await linking.register(conn, holder_id=holder_id, serial=serial, actor="test")


async def _linked_at(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, insurer: dict[str, str],
    **row: str,
) -> Any:
    """A card linked to the first insurer's record, checked once (code 1)."""
    card = await linked_card(client, conn, _authority(app), tmp_path, insurer=insurer, row=eligibility_row(**row))
    assert (await verify_card(client, await make_terminal(conn), card)).json()["validity_code"] == 1
    return card


async def test_a_kana_name_and_birthdate_alone_disclose_nothing(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    await _registered(app, conn)  # 山田 太郎, ヤマダ タロウ, 1980-04-01, male, 千代田区霞が関1丁目2番3号
    probe = await make_insurer(conn)
    row = eligibility_row(record_id="PROBE", name_kanji="何某", name_kana="ヤマダ タロウ", sex="2",
                          address="どこか1-1-1")  # only the kana name and the birthdate are the holder's
    status = await upload_and_wait(client, insurer=probe, body=eligibility_csv([row]))
    assert (status["rows_accepted"], status["needs_review"], status["linked"]) == (1, 0, 0)
    assert await _reviews(client, probe) == []  # no kanji name, sex or address of the holder to see


async def test_four_of_five_is_a_candidate_and_only_a_spelling_variant_shows_the_holders_value(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    await _registered(app, conn, name_kanji="髙橋 健", name_kana="タカハシ ケン")
    await _registered(app, conn, name_kanji="佐藤 花子", name_kana="サトウ ハナコ", sex=2)
    insurer = await make_insurer(conn)
    variant = eligibility_row(record_id="VARIANT", name_kanji="高橋健", name_kana="タカハシ ケン")
    moved = eligibility_row(record_id="MOVED", name_kanji="佐藤花子", name_kana="サトウ ハナコ", sex="2",
                            address="大阪府大阪市北区梅田1-1-1")
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([variant, moved]))
    assert status["needs_review"] == 2
    reviews = {r["record_id"]: r["fields"] for r in await _reviews(client, insurer)}
    assert reviews["VARIANT"] == {"name_kanji": {"record": "高橋健", "holder": "髙橋 健", "reason": "variant_kanji"}}
    assert reviews["MOVED"] == {"address": {"record": "大阪府大阪市北区梅田1-1-1", "reason": "different_value"}}


async def test_a_birthdate_typo_reaches_the_review_queue_without_the_holders_birthdate(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    await _registered(app, conn)
    insurer = await make_insurer(conn)
    typo = eligibility_row(record_id="TYPO", birthdate="1980-04-10")
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([typo]))
    assert (status["needs_review"], status["linked"]) == (1, 0)
    assert [(r["record_id"], r["reason"], r["fields"]) for r in await _reviews(client, insurer)] == [
        ("TYPO", "fields_differ", {"birthdate": {"record": "1980-04-10", "reason": "different_date"}})]


async def test_a_registration_with_a_birthdate_typo_on_the_record_is_needs_review(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(birthdate="1980-01-04")]))
    assert (await _registered(app, conn)).status == "needs_review"
    assert [r["fields"] for r in await _reviews(client, insurer)] == [
        {"birthdate": {"record": "1980-01-04", "reason": "different_date"}}]


async def test_two_active_same_day_records_at_two_insurers_link_none_and_answer_code_5(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    first, second = await make_insurer(conn), await make_insurer(conn)
    card = await _linked_at(app, client, conn, tmp_path, first, record_id="A-1", qualified_on="2024-04-01")
    terminal = await make_terminal(conn)
    status = await upload_and_wait(client, insurer=second, body=eligibility_csv(
        [eligibility_row(record_id="B-1", symbol="99", qualified_on="2024-04-01")]))
    assert (status["linked"], status["ambiguous"]) == (0, 1)
    assert await conn.fetchval("SELECT count(*) FROM links WHERE unlinked_at IS NULL") == 0  # link none
    for insurer, record_id in ((first, "A-1"), (second, "B-1")):  # both insurers' review queues
        assert [(r["record_id"], r["reason"]) for r in await _reviews(client, insurer)] == [(record_id, "ambiguous")]
    answer = (await verify_card(client, terminal, card)).json()
    assert (answer["result"], answer["validity_code"], answer["coverage"]) == ("not_eligible", 5, None)
    # the second insurer terminates its record: the other one stands alone again, both queues are cleared
    await upload_and_wait(client, insurer=second, body=eligibility_csv([eligibility_row(
        record_id="B-1", symbol="99", action="terminate", qualified_on="2024-04-01", disqualified_on="2024-05-01")]))
    assert await _reviews(client, first) == [] and await _reviews(client, second) == []
    settled = (await verify_card(client, terminal, card)).json()
    assert (settled["validity_code"], settled["coverage"]["insurer_number"]) == (1, first["insurer_number"])


async def test_a_later_start_at_another_insurer_is_still_a_job_change(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    first, second = await make_insurer(conn), await make_insurer(conn)
    card = await _linked_at(app, client, conn, tmp_path, first, record_id="OLD", qualified_on="2020-04-01")
    status = await upload_and_wait(client, insurer=second, body=eligibility_csv(
        [eligibility_row(record_id="NEW", symbol="99", qualified_on="2024-04-01")]))
    assert status["linked"] == 1
    answer = (await verify_card(client, await make_terminal(conn), card)).json()
    assert (answer["validity_code"], answer["coverage"]["insurer_number"]) == (1, second["insurer_number"])


async def test_registration_with_same_day_records_at_two_insurers_is_ambiguous(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    first, second = await make_insurer(conn), await make_insurer(conn)
    for insurer, record_id in ((first, "A-1"), (second, "B-1")):
        await upload_and_wait(client, insurer=insurer, body=eligibility_csv(
            [eligibility_row(record_id=record_id, qualified_on="2024-04-01")]))
    card = await make_card(conn, _authority(app), tmp_path)
    async with conn.transaction():
        outcome = await linking.register(conn, holder_id=await holder_of(conn, card), serial=card.serial,
                                         actor="test")
    assert outcome.status == "ambiguous" and outcome.linked == []
    assert [r["reason"] for r in await _reviews(client, first)] == ["ambiguous"]
    assert [r["reason"] for r in await _reviews(client, second)] == ["ambiguous"]
    assert (await verify_card(client, await make_terminal(conn), card)).json()["validity_code"] == 5
