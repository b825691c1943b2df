"""Five-field linking in both directions against the real database: every outcome, evidence, review queue."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from service.authority.ca import CertificateAuthority
from service.linking import service as linking
from tests.factories import bearer, eligibility_csv, eligibility_row, make_holder, make_insurer, upload_and_wait


def _authority(app: FastAPI) -> CertificateAuthority:
    authority: CertificateAuthority = app.state.authority
    return authority


async def _register(conn: asyncpg.Connection, holder_id: int, serial: str) -> linking.Registration:
    async with conn.transaction():
        return await linking.register(conn, holder_id=holder_id, serial=serial, actor="test")


async def _links(conn: asyncpg.Connection) -> set[tuple[int, str]]:
    rows = await conn.fetch("SELECT holder_id, record_id FROM links WHERE unlinked_at IS NULL")
    return {(r["holder_id"], r["record_id"]) for r in rows}


async def _reviews(client: httpx.AsyncClient, insurer: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/insurers/{insurer['insurer_number']}/link-reviews",
                                headers=bearer(insurer["token"]))
    assert response.status_code == 200
    body: list[dict[str, Any]] = response.json()
    assert all(r["created_at"].endswith("+00:00") for r in body)  # RFC 3339 as the contract writes it, not "Z"
    return body


# --- registration direction ---------------------------------------------------------------------------------


async def test_registration_links_a_record_equal_after_normalisation(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    row = eligibility_row(record_id="N1", name_kanji="山田　太郎", name_kana="ﾔﾏﾀﾞ ﾀﾛｳ",
                          address="千代田区霞が関一丁目2番地3号")
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([row]))
    holder_id, serial = await make_holder(conn, _authority(app))
    outcome = await _register(conn, holder_id, serial)
    assert outcome.status == "linked"
    assert [r.record_id for r in outcome.linked] == ["N1"]
    assert await _links(conn) == {(holder_id, "N1")}
    evidence = await conn.fetchval("SELECT evidence FROM link_decisions WHERE outcome = 'linked'")
    assert evidence["matched"] is True
    assert evidence["fields"]["address"]["record_normalized"] == evidence["fields"]["address"]["holder_normalized"]
    assert evidence["fields"]["name_kana"]["record"] == "ﾔﾏﾀﾞ ﾀﾛｳ"


async def test_registration_with_a_variant_kanji_goes_to_review_not_a_link(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer,
                          body=eligibility_csv([eligibility_row(record_id="K1", name_kanji="高橋健",
                                                                name_kana="タカハシ ケン")]))
    holder_id, serial = await make_holder(conn, _authority(app), name_kanji="髙橋 健", name_kana="タカハシ ケン")
    outcome = await _register(conn, holder_id, serial)
    assert outcome.status == "needs_review"
    assert await _links(conn) == set()
    reviews = await _reviews(client, insurer)
    assert len(reviews) == 1
    assert reviews[0]["record_id"] == "K1"
    assert reviews[0]["reason"] == "fields_differ"
    assert reviews[0]["fields"] == {"name_kanji": {"record": "高橋健", "holder": "髙橋 健", "reason": "variant_kanji"}}


async def test_four_of_five_is_never_a_link(app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    insurer = await make_insurer(conn)
    # the 2023 mis-link: same birthdate and the same maiden-name kana, a different person at another address
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([
        eligibility_row(record_id="M1", name_kanji="山田花子", name_kana="ヤマダ ハナコ", sex="2",
                        address="横浜市中区本町1-1"),
    ]))
    holder_id, serial = await make_holder(conn, _authority(app), name_kanji="山田 花子", name_kana="ヤマダ ハナコ",
                                          sex=2)
    outcome = await _register(conn, holder_id, serial)
    assert outcome.status == "needs_review"
    assert await _links(conn) == set()
    (review,) = await _reviews(client, insurer)
    assert set(review["fields"]) == {"address"}


async def test_registration_without_any_candidate_is_no_match(app: FastAPI, conn: asyncpg.Connection) -> None:
    holder_id, serial = await make_holder(conn, _authority(app))
    outcome = await _register(conn, holder_id, serial)
    assert outcome.status == "no_match"
    assert await conn.fetchval("SELECT count(*) FROM registrations WHERE unregistered_at IS NULL") == 1


async def test_two_overlapping_records_of_one_insurer_are_ambiguous(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([
        eligibility_row(record_id="DUP-1"), eligibility_row(record_id="DUP-2", number="999999"),
    ]))
    holder_id, serial = await make_holder(conn, _authority(app))
    outcome = await _register(conn, holder_id, serial)
    assert outcome.status == "ambiguous"
    assert await _links(conn) == set()
    reviews = await _reviews(client, insurer)
    assert {(r["record_id"], r["reason"]) for r in reviews} == {("DUP-1", "ambiguous"), ("DUP-2", "ambiguous")}


async def test_two_people_identical_on_five_fields_link_nobody(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="TWIN")]))
    first, first_serial = await make_holder(conn, _authority(app))
    assert (await _register(conn, first, first_serial)).status == "linked"
    second, second_serial = await make_holder(conn, _authority(app))
    assert (await _register(conn, second, second_serial)).status == "ambiguous"
    assert await _links(conn) == set()  # the first link is withdrawn: nobody can tell who is who
    holders = {r["holder_id"] for r in await conn.fetch("SELECT holder_id FROM link_reviews WHERE resolved_at IS NULL")}
    assert holders == {first, second}


async def test_twins_with_the_same_address_link_each_to_their_own_record(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([
        eligibility_row(record_id="TW-A", name_kanji="佐藤翔太", name_kana="サトウ ショウタ", branch="02"),
        eligibility_row(record_id="TW-B", name_kanji="佐藤陽太", name_kana="サトウ ヨウタ", branch="03"),
    ]))
    a, a_serial = await make_holder(conn, _authority(app), name_kanji="佐藤 翔太", name_kana="サトウ ショウタ")
    b, b_serial = await make_holder(conn, _authority(app), name_kanji="佐藤 陽太", name_kana="サトウ ヨウタ")
    assert (await _register(conn, a, a_serial)).status == "linked"
    assert (await _register(conn, b, b_serial)).status == "linked"
    assert await _links(conn) == {(a, "TW-A"), (b, "TW-B")}


async def test_registering_again_reports_already_linked(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="A1")]))
    holder_id, serial = await make_holder(conn, _authority(app))
    await _register(conn, holder_id, serial)
    again = await _register(conn, holder_id, serial)
    assert again.status == "already_linked"
    assert await conn.fetchval("SELECT count(*) FROM links") == 1


# --- upload direction ---------------------------------------------------------------------------------------


async def test_upload_links_records_of_registered_holders(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    holder_id, serial = await make_holder(conn, _authority(app))
    await _register(conn, holder_id, serial)
    unregistered, _ = await make_holder(conn, _authority(app), name_kanji="鈴木 一郎", name_kana="スズキ イチロウ")
    insurer = await make_insurer(conn)
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([
        eligibility_row(record_id="U1"),
        eligibility_row(record_id="U2", name_kanji="鈴木一郎", name_kana="スズキ イチロウ"),
    ]))
    assert (status["linked"], status["needs_review"], status["ambiguous"]) == (1, 0, 0)
    assert await _links(conn) == {(holder_id, "U1")}
    assert unregistered not in {h for h, _ in await _links(conn)}


async def test_upload_sends_partial_matches_to_review(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    holder_id, serial = await make_holder(conn, _authority(app), name_kana="ヤマダ タロー")
    await _register(conn, holder_id, serial)
    insurer = await make_insurer(conn)
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="P1")]))
    assert (status["linked"], status["needs_review"]) == (0, 1)
    (review,) = await _reviews(client, insurer)
    assert review["fields"]["name_kana"]["reason"] == "long_vowel"


async def test_upload_matching_two_identical_registered_holders_is_ambiguous(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    for _ in range(2):
        holder_id, serial = await make_holder(conn, _authority(app))
        await _register(conn, holder_id, serial)
    insurer = await make_insurer(conn)
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="AM")]))
    assert (status["linked"], status["ambiguous"]) == (0, 1)
    assert await _links(conn) == set()


async def test_changed_record_is_unlinked_and_reviewed_then_relinked_when_fixed(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    holder_id, serial = await make_holder(conn, _authority(app))
    await _register(conn, holder_id, serial)
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="CH")]))
    assert await _links(conn) == {(holder_id, "CH")}
    moved = eligibility_row(record_id="CH", address="大阪市北区梅田3-1-1")
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([moved]))
    assert status["needs_review"] == 1
    assert await _links(conn) == set()
    unlinked = await conn.fetchval("SELECT unlink_reason FROM links WHERE record_id = 'CH'")
    assert unlinked == "record_changed"
    fixed = eligibility_row(record_id="CH", address="東京都千代田区霞が関1-2-3")
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([fixed]))
    assert status["linked"] == 1
    assert await _links(conn) == {(holder_id, "CH")}
    assert await _reviews(client, insurer) == []  # the review closed when the new version matched


async def test_job_change_links_the_new_insurer_record_beside_the_old(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    holder_id, serial = await make_holder(conn, _authority(app))
    await _register(conn, holder_id, serial)
    old, new = await make_insurer(conn), await make_insurer(conn)
    await upload_and_wait(client, insurer=old, body=eligibility_csv([eligibility_row(record_id="OLD")]))
    status = await upload_and_wait(client, insurer=new, body=eligibility_csv([
        eligibility_row(record_id="NEW", symbol="77", qualified_on="2026-04-01"),
    ]))
    assert status["linked"] == 1
    assert await _links(conn) == {(holder_id, "OLD"), (holder_id, "NEW")}
    linked = await linking.repo.linked_records_of_holder(conn, holder_id)
    assert [r.record_id for r in linked] == ["OLD", "NEW"]  # ordered by 資格取得日: the newest last


async def test_same_insurer_overlap_on_upload_is_ambiguous(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    holder_id, serial = await make_holder(conn, _authority(app))
    await _register(conn, holder_id, serial)
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="S1")]))
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv([
        eligibility_row(record_id="S2", number="111111"),
    ]))
    assert status["ambiguous"] == 1
    assert await _links(conn) == {(holder_id, "S1")}
    assert await conn.fetchval(
        "SELECT count(*) FROM link_reviews WHERE holder_id = $1 AND reason = 'ambiguous' AND resolved_at IS NULL",
        holder_id,
    ) == 1


# --- unlinking ----------------------------------------------------------------------------------------------


async def test_holder_can_unlink_and_evidence_is_kept(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    insurer = await make_insurer(conn)
    await upload_and_wait(client, insurer=insurer, body=eligibility_csv([eligibility_row(record_id="UL")]))
    holder_id, serial = await make_holder(conn, _authority(app))
    await _register(conn, holder_id, serial)
    async with conn.transaction():
        ended = await linking.unregister(conn, holder_id=holder_id, actor=f"card:{serial}")
    assert ended == 1
    assert await _links(conn) == set()
    decisions = await conn.fetch("SELECT outcome, direction, actor FROM link_decisions ORDER BY id")
    assert [(d["outcome"], d["direction"]) for d in decisions] == [("linked", "registration"), ("unlinked", "unlink")]
    assert decisions[1]["actor"] == f"card:{serial}"
    # a later upload does not link an unregistered holder
    await upload_and_wait(client, insurer=insurer,
                          body=eligibility_csv([eligibility_row(record_id="UL", copay_ratio="20")]))
    assert await _links(conn) == set()


async def test_unlinking_twice_is_a_conflict(app: FastAPI, conn: asyncpg.Connection) -> None:
    holder_id, serial = await make_holder(conn, _authority(app))
    await _register(conn, holder_id, serial)
    async with conn.transaction():
        await linking.unregister(conn, holder_id=holder_id, actor="test")
    try:
        async with conn.transaction():
            await linking.unregister(conn, holder_id=holder_id, actor="test")
    except linking.NotRegistered as exc:
        assert exc.status == 409
    else:
        raise AssertionError("a second unlink must fail")


# --- the review queue is per insurer ------------------------------------------------------------------------


async def test_review_queue_is_scoped_to_its_insurer(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    holder_id, serial = await make_holder(conn, _authority(app), name_kanji="髙橋 健", name_kana="タカハシ ケン")
    await _register(conn, holder_id, serial)
    mine, theirs = await make_insurer(conn), await make_insurer(conn)
    await upload_and_wait(client, insurer=theirs, body=eligibility_csv([
        eligibility_row(record_id="THEIRS", name_kanji="高橋健", name_kana="タカハシ ケン"),
    ]))
    assert await _reviews(client, mine) == []
    assert [r["record_id"] for r in await _reviews(client, theirs)] == ["THEIRS"]
    peek = await client.get(f"/v1/insurers/{theirs['insurer_number']}/link-reviews", headers=bearer(mine["token"]))
    assert peek.status_code == 404
