"""HTTP routes of the FHIR R4 views under /fhir/R4: thin handlers, errors as OperationOutcome.

Reads take the staff session cookie or a terminal's bearer token (see service.fhir.service for who may read
what). Search parameters are strict: an unknown or malformed one is a 400, never silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError

from service import __version__ as VERSION
from service.accounts.auth import TerminalAuth, authenticate, authenticates
from service.authority.deps import AuthorityDep
from service.core.deps import DB, ReadsDep, SettingsDep
from service.core.errors import Forbidden, InvalidInput, OnshiError, UnsupportedMediaType
from service.core.redis import get_redis
from service.fhir import mapping
from service.fhir import service as fhir
from service.fhir.errors import InvalidSearch, ResourceNotFound
from service.verification.challenges import ChallengesDep
from service.verification.schemas import CardProof
from service.viewer import sessions

MEDIA_TYPE = "application/fhir+json"
_JSON_FORMATS = {"json", "application/json", "application/fhir+json"}


def fhir_response(resource: Any, status: int = 200) -> Response:
    """A resource as application/fhir+json."""
    return Response(resource.model_dump_json(exclude_none=True), status_code=status, media_type=MEDIA_TYPE)


def _describe(errors: Sequence[Any]) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
                     for e in list(errors)[:10])


class FhirRoute(APIRoute):
    """Every error of a FHIR route, domain or validation, becomes an OperationOutcome with its status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler, wrapped to render errors the FHIR way (the transaction has rolled back by then)."""
        handler = super().get_route_handler()

        async def fhir_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except OnshiError as exc:
                outcome = mapping.operation_outcome(exc.status, exc.code, exc.detail)
                response = fhir_response(outcome, exc.status)
                response.headers.update(exc.headers)
                return response
            except RequestValidationError as exc:
                return fhir_response(mapping.operation_outcome(422, "invalid_input", _describe(exc.errors())), 422)

        return fhir_errors


router = APIRouter(prefix="/fhir/R4", tags=["fhir"], route_class=FhirRoute)
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": f"OperationOutcome ({text})", "content": {MEDIA_TYPE: {}}}
    for status, text in ((400, "bad search"), (401, "no credential"), (403, "not allowed"), (404, "not found"),
                         (410, "consent ended"))
}


@authenticates
async def fhir_caller(request: Request) -> fhir.Caller:
    """The staff session (cookie) or, without one, a terminal's bearer token."""
    staff = await sessions.load(get_redis(request), request.cookies.get(sessions.SESSION_COOKIE))
    if staff is not None:
        return staff
    terminal = (await authenticate(request)).as_terminal()
    if terminal is None:
        raise Forbidden("FHIR views need a terminal token or a staff session")
    return terminal


Caller = Annotated[fhir.Caller, Depends(fhir_caller)]


def _id(text: str, what: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise ResourceNotFound(f"no {what} {text[:64]}") from None


def _search(request: Request, allowed: dict[str, bool]) -> dict[str, str]:
    """The search parameters, each allowed one at most once; required ones present; `_format` JSON only."""
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name == "_format":
            if value not in _JSON_FORMATS:
                raise InvalidSearch(f"_format {value[:40]!r}: only JSON is served")
            continue
        if name not in allowed:
            raise InvalidSearch(f"unsupported search parameter {name[:40]!r} (supported: {', '.join(allowed)})")
        if name in params:
            raise InvalidSearch(f"search parameter {name!r} given twice")
        params[name] = value
    missing = [name for name, required in allowed.items() if required and name not in params]
    if missing:
        raise InvalidSearch(f"missing search parameter {missing[0]!r}")
    return params


def _consent_param(request: Request) -> UUID:
    value = _search(request, {"consent": True})["consent"]
    try:
        return UUID(value)
    except ValueError:
        raise InvalidSearch(f"consent must be a consent id (a UUID), not {value[:64]!r}") from None


def _staff(caller: fhir.Caller) -> sessions.StaffSession:
    if not isinstance(caller, sessions.StaffSession):
        raise Forbidden("medication, checkups and consents are for staff sessions, not terminals")
    return caller


def _bundle(request: Request, entries: Sequence[mapping.Entry]) -> Response:
    base = str(request.base_url).rstrip("/") + router.prefix
    return fhir_response(mapping.searchset(entries, base=base, self_url=str(request.url)))


@router.get("/metadata", summary="CapabilityStatement")
async def metadata(request: Request) -> Response:
    """What this FHIR server answers (no credential needed)."""
    base = str(request.base_url).rstrip("/") + router.prefix
    return fhir_response(mapping.capability_statement(software_version=VERSION, base=base))


@router.get("/CoverageEligibilityResponse/{verification_id}", responses=_ERRORS)
async def eligibility_response(verification_id: str, caller: Caller, conn: DB) -> Response:
    """A verification (資格確認) with its Coverage, Patient and insurer contained."""
    view = await fhir.verification_view(conn, caller=caller, verification_id=_id(verification_id, "verification"))
    return fhir_response(mapping.eligibility_response(view))


@router.get("/Coverage/{verification_id}", responses=_ERRORS)
async def coverage(verification_id: str, caller: Caller, conn: DB) -> Response:
    """The eligibility record a verification found (id: the verification's id)."""
    view = await fhir.coverage_of(conn, caller=caller, verification_id=_id(verification_id, "verification"))
    return fhir_response(mapping.coverage(view))


@router.get("/Consent/{consent_id}", responses=_ERRORS)
async def consent(consent_id: str, caller: Caller, conn: DB) -> Response:
    """A consent given at this facility (410 once it expired or was withdrawn)."""
    entries = await fhir.one_consent(conn, staff=_staff(caller), consent_id=_id(consent_id, "consent"))
    return fhir_response(entries[0].resource)


@router.get("/Consent", responses=_ERRORS)
async def consents(request: Request, caller: Caller, conn: DB) -> Response:
    """The consents live now at this facility (status=active, the default), with their patients."""
    params = _search(request, {"status": False})
    if params.get("status", "active") != "active":
        raise InvalidSearch("only status=active is searchable: ended consents are not shown")
    return _bundle(request, await fhir.live_consents(conn, staff=_staff(caller)))


@router.get("/MedicationDispense", responses=_ERRORS)
async def medication_dispenses(
    request: Request, caller: Caller, conn: DB, reads: ReadsDep, settings: SettingsDep
) -> Response:
    """Medication of the past 3 years under a consent (`?consent=`), duplicate medication as DetectedIssue."""
    entries = await fhir.medication_dispenses(conn, reads=reads, staff=_staff(caller),
                                              consent_id=_consent_param(request), settings=settings)
    return _bundle(request, entries)


@router.get("/Observation", responses=_ERRORS)
async def checkup_observations(
    request: Request, caller: Caller, conn: DB, reads: ReadsDep, settings: SettingsDep
) -> Response:
    """Checkup results of the past 5 years under a consent (`?consent=`), with 特定健診 reference values."""
    entries = await fhir.checkup_observations(conn, reads=reads, staff=_staff(caller),
                                               consent_id=_consent_param(request), settings=settings)
    return _bundle(request, entries)


async def _card_proof(request: Request) -> CardProof:
    """The card proof of a POST _search: form-encoded (as FHIR searches are) or JSON."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        raw: Any = dict((await request.form()).items())
    elif media in ("application/json", "application/fhir+json"):
        try:
            raw = json.loads(await request.body())
        except ValueError:
            raise InvalidInput("the body is not JSON") from None
    else:
        raise UnsupportedMediaType("send the card proof as application/x-www-form-urlencoded or JSON")
    try:
        return CardProof.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(_describe(exc.errors())) from None


@router.post("/AuditEvent/_search", responses=_ERRORS)
async def access_log(
    request: Request, terminal: TerminalAuth, conn: DB, reads: ReadsDep, challenges: ChallengesDep,
    authority: AuthorityDep,
) -> Response:
    """The holder's access log: the card signs a challenge of purpose access_log (as POST /v1/me/access-log)."""
    proof = await _card_proof(request)
    entries = await fhir.access_events(conn, challenges, reads=reads, authority=authority, terminal=terminal,
                                       proof=proof)
    return _bundle(request, entries)


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown(path: str) -> Response:
    """Anything else under /fhir/R4: read-only views only."""
    raise ResourceNotFound(f"/fhir/R4/{path[:100]} is not served: see /fhir/R4/metadata")
