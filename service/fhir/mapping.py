"""Onshi's rows as FHIR resources: pure functions, each resource validated by its `fhir.resources` R4B model.

docs/fhir.md maps every element and says where JP Core conventions are followed and where not.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource

from service.fhir import codes as c
from service.records.duplicates import DuplicatePair
from service.records.reference_values import FLAG_LABELS, REFERENCE_VALUES, SOURCE, flag_of

Json = dict[str, Any]
CATEGORY_LABELS = {"medication": "薬剤情報", "checkup": "特定健診情報"}
ROLE_LABELS = {"reception": "受付", "doctor": "医師", "dentist": "歯科医師", "pharmacist": "薬剤師"}
RESOURCE_OF_CATEGORY = {"medication": "MedicationDispense", "checkup": "Observation"}


def _coding(system: str, code: str, display: str | None = None) -> Json:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def _concept(system: str, code: str, display: str | None = None) -> Json:
    return {"coding": [_coding(system, code, display)], **({"text": display} if display else {})}


def _ucum(value: Decimal | int | float, unit: str, code: str | None = None) -> Json:
    return {"value": value, "unit": unit, "system": c.UCUM, "code": code or unit}


def _uuid_identifier(value: object) -> Json:
    return {"system": c.URI_IDENTIFIER, "value": f"urn:uuid:{value}"}


def facility_reference(code: str, name: str | None) -> Json:
    """A facility by its 医療機関コード (JP Core's 10-digit identifier), with its name where known."""
    return {"identifier": {"system": c.MEDICAL_INSTITUTION, "value": code}, "display": name or code}


# --- Patient and Organization (contained or included) -----------------------------------------------------


def _names(name_kanji: str, name_kana: str) -> list[Json]:
    """JP Core names: the kanji (IDE) and the kana (SYL) representation, family and given when spaced."""
    names = []
    for text, representation in ((name_kanji, "IDE"), (name_kana, "SYL")):
        name: Json = {"extension": [{"url": c.NAME_REPRESENTATION, "valueCode": representation}],
                      "use": "official", "text": text}
        parts = text.replace("\u3000", " ").split()
        if len(parts) == 2:
            name["family"], name["given"] = parts[0], [parts[1]]
        names.append(name)
    return names


def patient(resource_id: str, person: Mapping[str, Any]) -> Json:
    """A Patient as the check or the consent showed it (kanji and kana names, birth date, sex)."""
    birthdate = person["birthdate"]
    return {
        "resourceType": "Patient", "id": resource_id, "name": _names(person["name_kanji"], person["name_kana"]),
        "gender": {1: "male", 2: "female"}.get(int(person["sex"]), "unknown") if person.get("sex") else "unknown",
        "birthDate": birthdate if isinstance(birthdate, str) else birthdate.isoformat(),
    }


def insurer(resource_id: str, number: str, name: str | None) -> Json:
    """The insurer (保険者) as an Organization identified by its 保険者番号."""
    return {
        "resourceType": "Organization", "id": resource_id,
        "identifier": [{"system": c.INSURER_NUMBER, "value": number}],
        "type": [_concept(c.ORGANIZATION_TYPE, "pay", "Payer")], "name": name or number,
    }


def patient_id(consent_id: object) -> str:
    """A Patient id that is stable for one consent and reveals nothing across facilities or consents."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"onshi:consent-patient:{consent_id}"))


def subject_of(consent_id: object) -> str:
    """How the resources of one consent refer to its patient: the included Patient's urn:uuid."""
    return f"urn:uuid:{patient_id(consent_id)}"


# --- Coverage and CoverageEligibilityResponse -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerificationView:
    """A verification with the record version it found (coverage fields are None when none was found)."""

    verification_id: str
    serial: str
    result: str
    validity_code: int | None
    viewing_allowed: bool
    as_of: date
    created_at: datetime
    coverage: Mapping[str, Any] | None
    insurer_name: str | None


def _coverage_body(v: VerificationView) -> Json:
    record = v.coverage
    assert record is not None
    period: Json = {"start": record["qualified_on"].isoformat()}
    if record["disqualified_on"] is not None:  # 資格喪失日 is the first day not covered; Period.end is the last
        period["end"] = (record["disqualified_on"] - timedelta(days=1)).isoformat()
    extensions = [
        {"url": c.EXT_SYMBOL, "valueString": record["symbol"]},
        {"url": c.EXT_NUMBER, "valueString": record["number"]},
        {"url": c.EXT_SUBNUMBER, "valueString": record["branch"]},
    ]
    if record["limit_category"]:
        extensions.append({"url": c.EXT_LIMIT_CATEGORY, "valueString": record["limit_category"]})
    member = ":".join((record["insurer_number"], record["symbol"], record["number"], record["branch"]))
    holder_kind = int(record["holder_kind"])
    return {
        "resourceType": "Coverage", "extension": extensions,
        "identifier": [{"system": c.INSURANCE_MEMBER_ID, "value": member}], "status": "active",
        "type": _concept(c.ACT_CODE, "PUBLICPOL", "public healthcare"),
        "subscriberId": f"{record['symbol']}:{record['number']}", "beneficiary": {"reference": "#patient"},
        "dependent": record["branch"],
        "relationship": _concept(c.INSURED_PERSON_CATEGORY, str(holder_kind),
                                 {1: "被保険者", 2: "被扶養者"}[holder_kind]),
        "period": period, "payor": [{"reference": "#insurer"}],
        "costToBeneficiary": [{"type": _concept(c.COPAY_TYPE, "copaypct", "Copay Percentage"),
                               "valueQuantity": _ucum(int(record["copay_ratio"]), "%")}],
    }


def _contained(v: VerificationView) -> list[Json]:
    record = v.coverage
    assert record is not None
    return [patient("patient", record), insurer("insurer", record["insurer_number"], v.insurer_name)]


def coverage(v: VerificationView) -> Coverage:
    """The record a verification found, as a JP Core style Coverage (id: the verification's id)."""
    return Coverage.model_validate({**_coverage_body(v), "id": v.verification_id, "contained": _contained(v)})


def _disposition(v: VerificationView) -> str:
    if v.validity_code is not None:
        return f"{v.validity_code} {c.VALIDITY_LABELS[v.validity_code]}"
    return {"not_registered": "利用登録されていません", "certificate_revoked": "証明書が失効しています",
            "certificate_suspended": "証明書が一時停止中です",
            "certificate_expired": "証明書の有効期限が切れています"}.get(v.result, v.result)


def _eligibility_extensions(v: VerificationView) -> list[Json]:
    extensions: list[Json] = [
        {"url": c.EXT_RESULT, "valueCoding": _coding(c.VERIFICATION_RESULT, v.result)},
        {"url": c.EXT_VIEWING_ALLOWED, "valueBoolean": v.viewing_allowed},
    ]
    if v.validity_code is not None:
        extensions.insert(0, {"url": c.EXT_VALIDITY_CODE, "valueCoding": _coding(
            c.VALIDITY_CODE, str(v.validity_code), c.VALIDITY_LABELS[v.validity_code])})
    return extensions


def eligibility_response(v: VerificationView) -> CoverageEligibilityResponse:
    """A verification (資格確認) as a CoverageEligibilityResponse with its Coverage, Patient and insurer contained."""
    body: Json = {
        "resourceType": "CoverageEligibilityResponse", "id": v.verification_id,
        "extension": _eligibility_extensions(v), "identifier": [_uuid_identifier(v.verification_id)],
        "status": "active", "purpose": ["validation"], "servicedDate": v.as_of.isoformat(),
        "created": v.created_at.isoformat(),
        "request": {"identifier": _uuid_identifier(v.verification_id), "display": "POST /v1/verifications"},
        "outcome": "complete", "disposition": _disposition(v),
    }
    if v.coverage is None:
        body["patient"] = {"identifier": {"system": c.CERTIFICATE_SERIAL, "value": v.serial},
                           "display": "カード保有者（資格情報なし）"}
        body["insurer"] = {"display": "該当する保険者なし"}
        return CoverageEligibilityResponse.model_validate(body)
    covered = {**_coverage_body(v), "id": "coverage"}
    body.update({
        "contained": [*_contained(v), covered], "patient": {"reference": "#patient"},
        "insurer": {"reference": "#insurer"},
        "insurance": [{"coverage": {"reference": "#coverage"}, "inforce": v.result == "eligible"}],
    })
    return CoverageEligibilityResponse.model_validate(body)


# --- MedicationDispense and DetectedIssue --------------------------------------------------------------------


def medication_dispense(record: Mapping[str, Any], *, subject: str) -> MedicationDispense:
    """One dispensing (薬剤情報) with its YJ code, the dispensing facility and the days supplied."""
    body: Json = {
        "resourceType": "MedicationDispense", "id": f"md-{record['id']}", "status": "completed",
        "medicationCodeableConcept": {"coding": [_coding(c.YJ_CODE, record["drug_code"], record["drug_name"])],
                                      "text": record["drug_name"]},
        "subject": {"reference": subject},
        "performer": [{"actor": facility_reference(record["facility_code"], record.get("facility_name"))}],
        "quantity": {"value": record["quantity"], "unit": record["unit"]},
        "whenHandedOver": record["dispensed_on"].isoformat(),
    }
    if record.get("days"):
        body["daysSupply"] = _ucum(int(record["days"]), "日", "d")
    return MedicationDispense.model_validate(body)


def duplicate_issue(pair: DuplicatePair, records: Sequence[Mapping[str, Any]], *, subject: str) -> DetectedIssue:
    """Two dispensings of one ingredient from two facilities over overlapping days (重複投薬)."""
    first, second = records[pair.first], records[pair.second]
    detail = (f"同一成分（YJコード先頭7桁 {pair.ingredient}）が2つの医療機関・薬局から調剤され、"
              f"{pair.overlap_from.isoformat()}〜{pair.overlap_to.isoformat()} の服用期間が重なっています。")
    return DetectedIssue.model_validate({
        "resourceType": "DetectedIssue", "id": f"dup-{first['id']}-{second['id']}", "status": "final",
        "code": _concept(c.ACT_CODE, "DUPTHPY", "Duplicate Therapy Alert"), "severity": "moderate",
        "patient": {"reference": subject},
        "implicated": [{"reference": f"MedicationDispense/md-{first['id']}"},
                       {"reference": f"MedicationDispense/md-{second['id']}"}],
        "detail": detail,
    })


# --- Observation ----------------------------------------------------------------------------------------------

_INTERPRETATION = {
    ("normal", False): ("N", "Normal"), ("guidance", False): ("H", "High"),
    ("referral", False): ("HU", "Significantly high"), ("normal", True): ("N", "Normal"),
    ("guidance", True): ("L", "Low"), ("referral", True): ("LU", "Significantly low"),
}


def _measure_code(field: str) -> Json:
    measure = c.MEASURES_BY_FIELD[field]
    return {"coding": [_coding(c.JLAC10, measure.jlac10, measure.display),
                       _coding(c.LOINC, measure.loinc, measure.loinc_display)], "text": measure.display}


def _assessment(field: str, value: Decimal, sex: int | None) -> Json:
    """referenceRange (the 特定健診 cut-offs, as text) and interpretation (N, H/L, HU/LU) of one value."""
    reference, flag = REFERENCE_VALUES.get(field), flag_of(field, value, sex=sex)
    if reference is None or flag is None:
        return {}
    code, display = _INTERPRETATION[(flag, reference.low)]
    return {
        "referenceRange": [{"text": f"{SOURCE}: {reference.describe(sex)}"}],
        "interpretation": [{"coding": [_coding(c.INTERPRETATION, code, display)], "text": FLAG_LABELS[flag]}],
    }


def _value(field: str, value: Decimal, sex: int | None) -> Json:
    return {"valueQuantity": _ucum(value, c.MEASURES_BY_FIELD[field].unit), **_assessment(field, value, sex)}


def _observation(resource_id: str, category: str, code: Json, subject: str, day: date, rest: Json) -> Observation:
    return Observation.model_validate({
        "resourceType": "Observation", "id": resource_id, "status": "final",
        "category": [_concept(c.OBSERVATION_CATEGORY, category)], "code": code, "subject": {"reference": subject},
        "effectiveDateTime": day.isoformat(), **rest,
    })


def _blood_pressure(record: Mapping[str, Any], *, subject: str, sex: int | None) -> Observation | None:
    components = [{"code": _measure_code(field), **_value(field, record[field], sex)}
                  for field in ("systolic_bp", "diastolic_bp") if record.get(field) is not None]
    if not components:
        return None
    panel = {"coding": [_coding(c.LOINC, *c.BLOOD_PRESSURE_PANEL)], "text": "血圧"}
    return _observation(f"ck-{record['id']}-bp", "vital-signs", panel, subject, record["examined_on"],
                        {"component": components})


def observations(record: Mapping[str, Any], *, subject: str, sex: int | None) -> list[Observation]:
    """One checkup (特定健診) as Observations: one per measured value, blood pressure as one panel."""
    found = []
    for measure in c.MEASURE_CODES:
        value = record.get(measure.field)
        if value is None or measure.field in ("systolic_bp", "diastolic_bp"):
            continue
        found.append(_observation(f"ck-{record['id']}-{measure.field.replace('_', '-')}", measure.category,
                                  _measure_code(measure.field), subject, record["examined_on"],
                                  _value(measure.field, value, sex)))
    pressure = _blood_pressure(record, subject=subject, sex=sex)
    return found + ([pressure] if pressure else [])


# --- Consent and AuditEvent -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentView:
    """A consent with the facility it was given to."""

    consent_id: str
    categories: Sequence[str]
    given_at: datetime
    expires_at: datetime
    facility_code: str
    facility_name: str | None


def consent(view: ConsentView, *, subject: str | None) -> Consent:
    """A consent to view medication / checkups for 24 hours at one facility (an empty list is a refusal)."""
    refused = not view.categories
    categories = view.categories or ("medication", "checkup")
    provision: Json = {
        "type": "deny" if refused else "permit",
        "period": {"start": view.given_at.isoformat(), "end": view.expires_at.isoformat()},
        "actor": [{"role": _concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP",
                                    "information recipient"),
                   "reference": facility_reference(view.facility_code, view.facility_name)}],
        "class": [_coding("http://hl7.org/fhir/resource-types", RESOURCE_OF_CATEGORY[k]) for k in categories],
        "code": [_concept(c.CONSENT_CATEGORY, k, CATEGORY_LABELS[k]) for k in categories],
    }
    body: Json = {
        "resourceType": "Consent", "id": view.consent_id, "status": "rejected" if refused else "active",
        "scope": _concept(c.CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
        "category": [_concept(c.LOINC, "59284-0", "Patient Consent")], "dateTime": view.given_at.isoformat(),
        "organization": [facility_reference(view.facility_code, view.facility_name)],
        "policyRule": _concept(c.ACT_CODE, "OPTOUT" if refused else "OPTIN"), "provision": provision,
    }
    if subject is not None:
        body["patient"] = {"reference": subject}
    return Consent.model_validate(body)


def audit_event(entry: Mapping[str, Any]) -> AuditEvent:
    """One view of the holder's data (who: facility and role; what: the category; when)."""
    category = entry["category"]
    return AuditEvent.model_validate({
        "resourceType": "AuditEvent",
        "type": _coding(c.AUDIT_EVENT_TYPE, "rest", "RESTful Operation"),
        "subtype": [_coding(c.RESTFUL_INTERACTION, "search-type", "search type")],
        "action": "R", "recorded": entry["at"], "outcome": "0",
        "purposeOfEvent": [_concept("http://terminology.hl7.org/CodeSystem/v3-ActReason", "TREAT", "treatment")],
        "agent": [{"type": _concept(c.STAFF_ROLE, entry["role"], ROLE_LABELS.get(entry["role"])),
                   "who": facility_reference(entry["facility_code"], entry["facility_name"]), "requestor": True}],
        "source": {"observer": {"display": "Onshi"},
                   "type": [_coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4",
                                    "Application Server")]},
        "entity": [{"what": {"display": CATEGORY_LABELS.get(category, category)},
                    "type": _coding("http://hl7.org/fhir/resource-types", RESOURCE_OF_CATEGORY[category])}],
    })


# --- Bundle and OperationOutcome ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """A Bundle entry: `match` for what was searched, `include` for a Patient the matches refer to."""

    resource: Resource
    mode: str = "match"
    full_url: str | None = None


def included_patient(consent_id: object, person: Mapping[str, Any]) -> Entry:
    """The patient of a consent, included in a search result once for the resources that refer to it."""
    return Entry(Patient.model_validate(patient(patient_id(consent_id), person)), mode="include",
                 full_url=subject_of(consent_id))


def searchset(entries: Sequence[Entry], *, base: str, self_url: str) -> Bundle:
    """A searchset Bundle; `total` counts the matches only."""
    def full_url(entry: Entry) -> str | None:
        if entry.full_url:
            return entry.full_url
        resource_id = getattr(entry.resource, "id", None)
        return f"{base}/{entry.resource.get_resource_type()}/{resource_id}" if resource_id else None

    return Bundle.model_validate({
        "resourceType": "Bundle", "type": "searchset", "total": sum(e.mode == "match" for e in entries),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [{**({"fullUrl": url} if (url := full_url(e)) else {}),
                   "resource": e.resource.model_dump(mode="json", exclude_none=True), "search": {"mode": e.mode}}
                  for e in entries],
    })


_ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                409: "conflict", 410: "expired", 413: "too-costly", 415: "not-supported", 422: "invalid",
                429: "throttled"}


def operation_outcome(status: int, code: str, detail: str) -> OperationOutcome:
    """An error as FHIR clients expect it; the contract's snake_case code is the issue's details coding."""
    return OperationOutcome.model_validate({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": _ISSUE_CODES.get(status, "processing"),
                   "details": {"coding": [_coding(f"{c.ONSHI_BASE}/CodeSystem/error", code)], "text": detail},
                   "diagnostics": detail}],
    })


def capability_statement(*, software_version: str, base: str) -> CapabilityStatement:
    """What this server answers: read-only interactions, JSON, FHIR 4.0.1."""
    def resource(type_: str, *, read: bool = False, search: tuple[str, ...] = ()) -> Json:
        body: Json = {"type": type_, "interaction": ([{"code": "read"}] if read else [])
                      + ([{"code": "search-type"}] if search or type_ == "Consent" else [])}
        if search:
            body["searchParam"] = [{"name": name, "type": "token", "documentation": doc}
                                   for name, doc in (p.split("|", 1) for p in search)]
        return body

    return CapabilityStatement.model_validate({
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-27", "kind": "instance",
        "software": {"name": "Onshi", "version": software_version},
        "implementation": {"description": "Onshi FHIR R4 read-only views (docs/fhir.md)", "url": base},
        "fhirVersion": c.FHIR_VERSION, "format": ["json"],
        "rest": [{"mode": "server",
                  "documentation": "Terminal bearer tokens or the staff session cookie; see docs/fhir.md",
                  "resource": [
                      resource("CoverageEligibilityResponse", read=True), resource("Coverage", read=True),
                      resource("Consent", read=True, search=("status|active (the default): live consents here",)),
                      resource("MedicationDispense", search=("consent|the consent id (required)",)),
                      resource("Observation", search=("consent|the consent id (required)",)),
                      resource("AuditEvent", search=("(POST _search)|the holder's card proof",)),
                  ]}],
    })
