"""The FHIR R4 views: every resource validates with the fhir.resources models; the JSON API's authorization holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fhir.resources.R4B import get_fhir_model_class

from service.core.clock import clock
from service.fhir import codes
from tests.factories import (
    bearer,
    card_proof,
    checkup_row,
    consented_patient,
    days_ago,
    make_card,
    make_named_facility,
    make_staff,
    make_terminal,
    medication_row,
    upload_records,
    verify_card,
)

FHIR = "application/fhir+json"


def validated(body: dict[str, Any]) -> Any:
    """The resource parsed by its R4B model (which refuses unknown elements and missing required ones)."""
    return get_fhir_model_class(body["resourceType"]).model_validate(body)


def entries(bundle: dict[str, Any], resource_type: str | None = None) -> list[dict[str, Any]]:
    """The bundle's resources (each validated on its own too), optionally of one type."""
    validated(bundle)
    found = [e["resource"] for e in bundle.get("entry", [])]
    for resource in found:
        validated(resource)
    return [r for r in found if resource_type is None or r["resourceType"] == resource_type]


def outcome(response: httpx.Response, status: int, code: str) -> str:
    """Assert an OperationOutcome with this status and Onshi error code; return its text."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR)
    issue = validated(response.json()).issue[0]
    assert issue.details.coding[0].code == code, response.text
    return str(issue.diagnostics)


def codings(concept: dict[str, Any]) -> dict[str, str]:
    return {c["system"]: c["code"] for c in concept["coding"]}


@pytest.fixture
async def staff_client(app: FastAPI, conn: asyncpg.Connection) -> AsyncIterator[Any]:
    """staff_client(facility_code, role) -> an httpx client logged in as new staff of that facility."""
    opened: list[httpx.AsyncClient] = []

    async def login(facility_code: str, role: str) -> httpx.AsyncClient:
        staff = await make_staff(conn, facility_code=facility_code, role=role)
        session = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://onshi.test")
        opened.append(session)
        response = await session.post("/v1/staff/login", json={"login": staff["login"], "password": staff["password"]})
        assert response.status_code == 200, response.text
        return session

    yield login
    for session in opened:
        await session.aclose()


async def test_metadata_is_an_r4_capability_statement(client: httpx.AsyncClient) -> None:
    response = await client.get("/fhir/R4/metadata")
    assert response.status_code == 200 and response.headers["content-type"].startswith(FHIR)
    statement = validated(response.json())
    assert statement.fhirVersion == "4.0.1"
    assert {r.type for r in statement.rest[0].resource} == {
        "CoverageEligibilityResponse", "Coverage", "Consent", "MedicationDispense", "Observation", "AuditEvent"}


async def test_a_verification_as_coverage_eligibility_response_and_coverage(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_client: Any
) -> None:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic",
                                    with_records=False)
    verification = (await verify_card(client, given["terminal"], given["card"])).json()
    vid = verification["verification_id"]
    response = await client.get(f"/fhir/R4/CoverageEligibilityResponse/{vid}",
                                headers=bearer(given["terminal"]["token"]))
    assert response.status_code == 200, response.text
    answer = response.json()
    validated(answer)
    assert answer["insurance"][0]["inforce"] is True and answer["disposition"] == "1 有効"
    contained = {r["resourceType"]: r for r in answer["contained"]}
    for resource in contained.values():
        validated(resource)
    insurer = given["insurer"]["insurer_number"]
    assert contained["Organization"]["identifier"] == [{"system": codes.INSURER_NUMBER, "value": insurer}]
    cover = contained["Coverage"]
    assert cover["identifier"][0] == {"system": codes.INSURANCE_MEMBER_ID, "value": f"{insurer}:12:345678:01"}
    assert {e["url"]: e["valueString"] for e in cover["extension"]} == {
        codes.EXT_SYMBOL: "12", codes.EXT_NUMBER: "345678", codes.EXT_SUBNUMBER: "01"}
    assert cover["costToBeneficiary"][0]["valueQuantity"]["value"] == 30
    assert contained["Patient"]["birthDate"] == "1980-04-01"
    ext = {e["url"]: e for e in answer["extension"]}
    assert ext[codes.EXT_VALIDITY_CODE]["valueCoding"]["code"] == "1"

    coverage = await client.get(f"/fhir/R4/Coverage/{vid}", headers=bearer(given["terminal"]["token"]))
    assert coverage.status_code == 200 and validated(coverage.json()).id == vid
    reception = await staff_client(given["facility_code"], "reception")
    assert (await reception.get(f"/fhir/R4/Coverage/{vid}")).status_code == 200  # eligibility: reception's job


async def test_a_verification_is_not_found_by_anyone_else(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_client: Any
) -> None:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic",
                                    with_records=False)
    vid = (await verify_card(client, given["terminal"], given["card"])).json()["verification_id"]
    other = await make_terminal(conn, type_="clinic")
    sibling = await make_terminal(conn, facility_code=given["facility_code"])
    for terminal in (other, sibling):
        outcome(await client.get(f"/fhir/R4/CoverageEligibilityResponse/{vid}", headers=bearer(terminal["token"])),
                404, "resource_not_found")
    elsewhere = await staff_client(other["facility_code"], "doctor")
    outcome(await elsewhere.get(f"/fhir/R4/Coverage/{vid}"), 404, "resource_not_found")
    outcome(await client.get(f"/fhir/R4/Coverage/{vid}"), 401, "unauthorized")
    outcome(await client.get(f"/fhir/R4/Coverage/{vid}", headers=bearer(given["insurer"]["token"])), 403, "forbidden")
    outcome(await client.get("/fhir/R4/Coverage/not-a-uuid", headers=bearer(given["terminal"]["token"])),
            404, "resource_not_found")


async def test_an_unregistered_card_has_an_answer_but_no_coverage(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    terminal = await make_terminal(conn)
    card = await make_card(conn, app.state.authority, tmp_path)
    vid = (await verify_card(client, terminal, card)).json()["verification_id"]
    answer = (await client.get(f"/fhir/R4/CoverageEligibilityResponse/{vid}", headers=bearer(terminal["token"]))).json()
    validated(answer)
    assert answer["patient"]["identifier"] == {"system": codes.CERTIFICATE_SERIAL, "value": card.serial}
    assert "insurance" not in answer and answer["disposition"] == "利用登録されていません"
    outcome(await client.get(f"/fhir/R4/Coverage/{vid}", headers=bearer(terminal["token"])), 404, "no_coverage")


async def test_medication_dispenses_with_yj_codes_facility_names_and_the_access_log(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_client: Any
) -> None:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic")
    doctor = await staff_client(given["facility_code"], "doctor")
    response = await doctor.get("/fhir/R4/MedicationDispense", params={"consent": given["consent_id"]})
    assert response.status_code == 200, response.text
    bundle = response.json()
    dispenses = entries(bundle, "MedicationDispense")
    assert bundle["total"] == len(dispenses) == 3  # the 4-year-old dispensing is outside the 3 years
    first = dispenses[0]
    assert codings(first["medicationCodeableConcept"]) == {codes.YJ_CODE: "2149039F1020"}
    assert first["performer"][0]["actor"]["identifier"] == {"system": codes.MEDICAL_INSTITUTION,
                                                            "value": "1312345678"}
    assert first["daysSupply"] == {"value": 28, "unit": "日", "system": codes.UCUM, "code": "d"}
    [person] = entries(bundle, "Patient")
    assert {d["subject"]["reference"] for d in dispenses} == {f"urn:uuid:{person['id']}"}
    assert [n["text"] for n in person["name"]] == ["山田太郎", "ヤマダ タロウ"]  # as the check showed them
    logged = await conn.fetchval("SELECT count(*) FROM access_log WHERE category = 'medication'")
    assert logged == 1


async def test_duplicate_medication_is_a_detected_issue(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_client: Any
) -> None:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic",
                                    with_records=False, categories=("medication",))
    number = given["insurer"]["insurer_number"]
    other = await make_named_facility(conn, type_="pharmacy", name="みどり薬局")
    await upload_records(client, conn, insurer=given["insurer"], checkups=[], medications=[
        medication_row(insurer_number=number, dispensed_on=days_ago(20), drug_code="2149039F1020", days="28"),
        medication_row(insurer_number=number, dispensed_on=days_ago(10), drug_code="2149039F2026",
                       drug_name="アムロジピンOD錠2.5mg", days="14", facility_code=other),
        medication_row(insurer_number=number, dispensed_on=days_ago(200), drug_code="2149039F1020", days="7",
                       facility_code=other),  # long over: no overlap
    ])
    doctor = await staff_client(given["facility_code"], "doctor")
    bundle = (await doctor.get("/fhir/R4/MedicationDispense", params={"consent": given["consent_id"]})).json()
    [issue] = entries(bundle, "DetectedIssue")
    assert codings(issue["code"]) == {codes.ACT_CODE: "DUPTHPY"}
    dispensed = {d["id"]: d for d in entries(bundle, "MedicationDispense")}
    implicated = [ref["reference"].removeprefix("MedicationDispense/") for ref in issue["implicated"]]
    assert {dispensed[i]["medicationCodeableConcept"]["text"] for i in implicated} == {
        "アムロジピン錠5mg", "アムロジピンOD錠2.5mg"}
    assert "2149039" in issue["detail"]
    performers = {d["performer"][0]["actor"]["display"] for d in dispensed.values()}
    assert "みどり薬局" in performers  # a registered facility is named, not just coded


async def test_checkup_observations_carry_jlac10_loinc_reference_values_and_flags(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_client: Any
) -> None:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic",
                                    with_records=False, categories=("checkup",))
    await upload_records(client, conn, insurer=given["insurer"], medications=[], checkups=[
        checkup_row(examined_on=days_ago(30), hba1c="6.3", ldl="142", hdl="33", systolic_bp="141",
                    diastolic_bp="88")])
    doctor = await staff_client(given["facility_code"], "doctor")
    bundle = (await doctor.get("/fhir/R4/Observation", params={"consent": given["consent_id"]})).json()
    found = {codings(o["code"]).get(codes.LOINC): o for o in entries(bundle, "Observation")}
    hba1c, ldl, hdl = found["4548-4"], found["2089-1"], found["2085-9"]
    assert codings(hba1c["code"])[codes.JLAC10] == "3D046000001999902"
    assert hba1c["valueQuantity"] == {"value": 6.3, "unit": "%", "system": codes.UCUM, "code": "%"}
    assert codings(hba1c["interpretation"][0]) == {codes.INTERPRETATION: "H"}  # 5.6 <= 6.3 < 6.5
    assert codings(ldl["interpretation"][0]) == {codes.INTERPRETATION: "HU"}  # >= 140: 受診勧奨
    assert codings(hdl["interpretation"][0]) == {codes.INTERPRETATION: "LU"}  # <= 34: low is the risk
    assert "受診勧奨" in ldl["interpretation"][0]["text"] and "140以上" in ldl["referenceRange"][0]["text"]
    pressure = found["85354-9"]
    components = {codings(c["code"])[codes.LOINC]: c for c in pressure["component"]}
    assert components["8480-6"]["valueQuantity"]["value"] == 141
    assert codings(components["8480-6"]["interpretation"][0]) == {codes.INTERPRETATION: "HU"}
    assert codings(components["8462-4"]["interpretation"][0]) == {codes.INTERPRETATION: "H"}
    assert codings(found["8302-2"]["code"])[codes.JLAC10] == "9N001000000000001"  # height: no flag
    assert "interpretation" not in found["8302-2"]


async def test_records_follow_the_viewer_rules(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_client: Any
) -> None:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic",
                                    categories=("medication",))
    consent = {"consent": given["consent_id"]}
    reception = await staff_client(given["facility_code"], "reception")
    outcome(await reception.get("/fhir/R4/MedicationDispense", params=consent), 403, "role_cannot_view")
    elsewhere = await staff_client(await make_named_facility(conn, type_="clinic"), "doctor")
    outcome(await elsewhere.get("/fhir/R4/MedicationDispense", params=consent), 404, "consent_not_found")
    doctor = await staff_client(given["facility_code"], "doctor")
    outcome(await doctor.get("/fhir/R4/Observation", params=consent), 403, "category_not_consented")
    outcome(await client.get("/fhir/R4/MedicationDispense", params=consent,
                             headers=bearer(given["terminal"]["token"])), 403, "forbidden")
    outcome(await doctor.get("/fhir/R4/MedicationDispense"), 400, "invalid_search")
    outcome(await doctor.get("/fhir/R4/MedicationDispense", params={**consent, "patient": "x"}), 400,
            "invalid_search")
    outcome(await doctor.get("/fhir/R4/MedicationDispense", params={"consent": "nope"}), 400, "invalid_search")
    clock.offset = timedelta(hours=24, minutes=1)
    outcome(await doctor.get("/fhir/R4/MedicationDispense", params=consent), 410, "consent_gone")
    outcome(await doctor.get(f"/fhir/R4/Consent/{given['consent_id']}"), 410, "consent_gone")
    assert await conn.fetchval("SELECT count(*) FROM access_log") == 0  # nothing refused was logged as a view


async def test_consents_read_and_searched_by_the_facility(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_client: Any
) -> None:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="pharmacy",
                                    with_records=False, categories=("medication",))
    pharmacist = await staff_client(given["facility_code"], "pharmacist")
    read = await pharmacist.get(f"/fhir/R4/Consent/{given['consent_id']}")
    assert read.status_code == 200, read.text
    consent = read.json()
    validated(consent)
    assert consent["status"] == "active" and consent["provision"]["type"] == "permit"
    assert [codings(k) for k in consent["provision"]["code"]] == [{codes.CONSENT_CATEGORY: "medication"}]
    assert consent["organization"][0]["identifier"]["value"] == given["facility_code"]
    bundle = (await pharmacist.get("/fhir/R4/Consent", params={"status": "active"})).json()
    assert [c["id"] for c in entries(bundle, "Consent")] == [given["consent_id"]] and bundle["total"] == 1
    outcome(await pharmacist.get("/fhir/R4/Consent", params={"status": "inactive"}), 400, "invalid_search")
    reception = await staff_client(given["facility_code"], "reception")
    outcome(await reception.get(f"/fhir/R4/Consent/{given['consent_id']}"), 403, "role_cannot_view")
    elsewhere = await staff_client(await make_named_facility(conn), "pharmacist")
    outcome(await elsewhere.get(f"/fhir/R4/Consent/{given['consent_id']}"), 404, "consent_not_found")


async def test_a_refusal_is_a_rejected_consent(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_client: Any
) -> None:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic",
                                    with_records=False, categories=())
    doctor = await staff_client(given["facility_code"], "doctor")
    consent = (await doctor.get(f"/fhir/R4/Consent/{given['consent_id']}")).json()
    validated(consent)
    assert (consent["status"], consent["provision"]["type"]) == ("rejected", "deny")
    assert "patient" not in consent  # a refusal shows no one's name


async def test_the_holder_reads_the_access_log_as_audit_events(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path, staff_client: Any
) -> None:
    given = await consented_patient(client, conn, app.state.authority, tmp_path, facility_type="clinic")
    doctor = await staff_client(given["facility_code"], "doctor")
    assert (await doctor.get("/fhir/R4/Observation", params={"consent": given["consent_id"]})).status_code == 200
    terminal, card = given["terminal"], given["card"]
    proof = await card_proof(client, terminal, card, purpose="access_log")
    response = await client.post("/fhir/R4/AuditEvent/_search", data=proof, headers=bearer(terminal["token"]))
    assert response.status_code == 200, response.text
    [event] = entries(response.json(), "AuditEvent")
    assert event["agent"][0]["who"]["identifier"]["value"] == given["facility_code"]
    assert codings(event["agent"][0]["type"]) == {codes.STAFF_ROLE: "doctor"}
    assert event["entity"][0]["type"]["code"] == "Observation"
    as_json = await client.post("/fhir/R4/AuditEvent/_search", headers=bearer(terminal["token"]),
                                json=await card_proof(client, terminal, card, purpose="access_log"))
    assert len(entries(as_json.json(), "AuditEvent")) == 1
    replayed = await client.post("/fhir/R4/AuditEvent/_search", data=proof, headers=bearer(terminal["token"]))
    outcome(replayed, 409, "challenge_not_usable")
    outcome(await client.post("/fhir/R4/AuditEvent/_search", content=b"x", headers={
        **bearer(terminal["token"]), "content-type": "text/plain"}), 415, "unsupported_media_type")
    outcome(await client.post("/fhir/R4/AuditEvent/_search", data={"challenge_id": "x"},
                              headers=bearer(terminal["token"])), 422, "invalid_input")


async def test_anything_else_under_fhir_is_an_operation_outcome(client: httpx.AsyncClient) -> None:
    outcome(await client.get("/fhir/R4/Patient/123"), 404, "resource_not_found")
    outcome(await client.delete("/fhir/R4/Consent/123"), 404, "resource_not_found")

