"""The staff viewer as server-rendered pages (no JavaScript): login, today's consented patients, a patient's records.

The rules are the JSON API's: each category goes through `service.view`, which checks facility, role, access
policy and consent, and logs the view. Forms carry a CSRF token: the login form one tied to a pre-session cookie
(a signed double submit), the logout form the session's own token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader

from service.consent import policy
from service.consent.errors import ConsentGone, ConsentNotFound
from service.core.clock import clock
from service.core.database import Connection, Reads
from service.core.deps import DB, ReadsDep, SettingsDep
from service.core.errors import RateLimited, ServiceBusy
from service.core.middleware import note_principal
from service.core.redis import RedisDep, get_redis
from service.core.resources import package_path
from service.core.settings import Settings
from service.records.duplicates import duplicates_by_record, ingredient_of
from service.records.reference_values import REFERENCE_VALUES
from service.viewer import presentation as show
from service.viewer import service, sessions
from service.viewer.charts import NARROW, WIDE, Chart, Frame, line_chart
from service.viewer.errors import BadCredentials, CardNotUsable, CategoryNotConsented, RoleCannotView
from service.viewer.routes import LoginGuardDep, client_address, set_session_cookie

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # patient data must not stay in a shared browser's cache
}
LOGIN_PATH = "/viewer/login"
HOME_PATH = "/viewer/"
LOGIN_CSRF_COOKIE = "onshi_login_csrf"
LOGIN_CSRF_SECONDS = 3600
BAD_LOGIN = "ログインIDまたはパスワードが違います"
TOO_MANY_LOGINS = "ログインの試行が多すぎます。しばらく待ってからやり直してください。"
RECEPTION_FORBIDDEN = "受付の方は薬剤情報・健診情報を閲覧できません"
_STATIC = package_path("service.viewer", "static")
_MAX_LOGIN, _MAX_PASSWORD = 100, 200


class PageRoute(APIRoute):
    """A route whose every response carries the pages' security headers (a handler may set its own first)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler, wrapped to add the headers."""
        handler = super().get_route_handler()

        async def secured(request: Request) -> Response:
            response = await handler(request)
            for name, value in PAGE_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return secured


router = APIRouter(prefix="/viewer", include_in_schema=False, route_class=PageRoute)
templates = Jinja2Templates(env=Environment(loader=PackageLoader("service.viewer", "templates"), autoescape=True))
templates.env.filters.update(
    jdate=show.japanese_date, jdatetime=show.japanese_datetime, num=show.number, category=show.category_label,
    role=show.role_label, facility_type=show.facility_type_label, kana=show.kana,
    age=lambda birthdate: show.age_on(birthdate, clock.today_jst()),
)


@dataclass(frozen=True, slots=True)
class Section:
    """One category on a patient's page: its records, or why they are not shown."""

    category: str
    records: list[dict[str, Any]] | None = None
    since: date | None = None
    reason: str | None = None


def _render(request: Request, template: str, *, status: int = 200, **context: Any) -> Response:
    context.setdefault("staff", None)
    return templates.TemplateResponse(request, template, context, status_code=status)


def _error(request: Request, status: int, *, title: str, message: str, staff: sessions.StaffSession | None,
           hint: str = "", back: bool = True) -> Response:
    link = (HOME_PATH, "同意済みの患者さん一覧へ") if staff else (LOGIN_PATH, "ログイン画面へ")
    return _render(request, "error.html", status=status, title=title, message=message, hint=hint, staff=staff,
                   back=link[0] if back else "", back_label=link[1])


def _reception_forbidden(request: Request, staff: sessions.StaffSession) -> Response:
    message = RECEPTION_FORBIDDEN if staff.role == "reception" else (
        f"{show.facility_type_label(staff.facility_type)}の{show.role_label(staff.role)}は"
        "薬剤情報・健診情報を閲覧できません（閲覧範囲の取り決めによる）")
    return _error(request, 403, title="閲覧できません", message=message, staff=staff, back=False,
                  hint="資格確認の結果は受付端末でご確認ください。薬剤情報・特定健診情報の閲覧は、"
                       "患者さんの同意を得た医師・歯科医師・薬剤師に限られます。")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _session(request: Request) -> sessions.StaffSession | None:
    session = await sessions.load(get_redis(request), request.cookies.get(sessions.SESSION_COOKIE))
    if session is not None:
        note_principal(request.scope, "staff")
    return session


def _same(supplied: str, expected: str) -> bool:
    return bool(supplied) and hmac.compare_digest(supplied.encode(), expected.encode())


# --- login and logout ------------------------------------------------------------------------------------------


def _login_token(settings: Settings, nonce: str) -> str:
    """The login form's CSRF token: the pre-session cookie's nonce signed with the session secret."""
    key = settings.session_secret.encode()
    return hmac.new(key, b"viewer-login:" + nonce.encode(), hashlib.sha256).hexdigest()


def _login_nonce(request: Request) -> str | None:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return nonce if 20 <= len(nonce) <= 100 and nonce.isascii() else None


def _login_form(request: Request, settings: Settings, *, status: int = 200, error: str = "",
                login: str = "") -> Response:
    nonce = _login_nonce(request) or secrets.token_urlsafe(32)
    response = _render(request, "login.html", status=status, error=error, login=login[:_MAX_LOGIN],
                       csrf_token=_login_token(settings, nonce))
    response.set_cookie(LOGIN_CSRF_COOKIE, nonce, max_age=LOGIN_CSRF_SECONDS, path=LOGIN_PATH, httponly=True,
                        samesite="strict", secure=settings.env == "production")
    return response


@router.get("/login")
async def login_page(request: Request, settings: SettingsDep) -> Response:
    """The login form (already logged in: the patient list)."""
    if await _session(request) is not None:
        return _see_other(HOME_PATH)
    return _login_form(request, settings)


@router.post("/login")
async def login_submit(
    request: Request, conn: DB, redis: RedisDep, settings: SettingsDep, guard: LoginGuardDep,
    login: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check the form's CSRF token and the password; open a session and go to the patient list."""
    nonce = _login_nonce(request)
    if nonce is None or not _same(csrf_token, _login_token(settings, nonce)):
        return _login_form(request, settings, status=403, login=login,
                           error="フォームの有効期限が切れました。もう一度ログインしてください。")
    try:
        if len(login) > _MAX_LOGIN or len(password) > _MAX_PASSWORD:
            raise BadCredentials("login or password too long")
        token, _ = await service.login(conn, redis, login=login, password=password,
                                       client_address=client_address(request), guard=guard)
    except BadCredentials:
        return _login_form(request, settings, status=401, error=BAD_LOGIN, login=login)
    except (RateLimited, ServiceBusy) as exc:
        refused = _login_form(request, settings, status=exc.status, error=TOO_MANY_LOGINS, login=login)
        refused.headers.update(exc.headers)
        return refused
    await sessions.end(redis, request.cookies.get(sessions.SESSION_COOKIE))
    response = _see_other(HOME_PATH)
    set_session_cookie(response, token, settings)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/logout")
async def logout(request: Request, redis: RedisDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    """End the session (the form must carry the session's CSRF token)."""
    staff = await _session(request)
    if staff is None:
        return _see_other(LOGIN_PATH)
    if not _same(csrf_token, staff.csrf_token):
        return _error(request, 403, title="操作を受け付けられません", staff=staff,
                      message="フォームの有効期限が切れたか、正しくない送信です。画面を開き直して操作してください。")
    await sessions.end(redis, request.cookies.get(sessions.SESSION_COOKIE))
    response = _see_other(LOGIN_PATH)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


# --- the patient list and a patient's records -----------------------------------------------------------------


@router.get("/")
async def patients(request: Request, conn: DB) -> Response:
    """Today's consented patients at the staff member's facility."""
    staff = await _session(request)
    if staff is None:
        return _see_other(LOGIN_PATH)
    try:
        found = await service.consented_patients(conn, staff=staff)
    except RoleCannotView:
        return _reception_forbidden(request, staff)
    return _render(request, "patients.html", staff=staff, patients=found)


def _not_viewable(staff: sessions.StaffSession, category: str) -> str:
    return (f"{show.facility_type_label(staff.facility_type)}の{show.role_label(staff.role)}は"
            f"{show.category_label(category)}を閲覧できません（閲覧範囲の取り決めによる）。")


async def _section(
    conn: Connection, reads: Reads, staff: sessions.StaffSession, consent_id: UUID, category: str,
    settings: Settings,
) -> Section:
    """One category through the service's checks (and its access log); consent errors propagate."""
    try:
        found = await service.view(conn, reads=reads, staff=staff, consent_id=consent_id, category=category,
                                   pharmacy_checkups=settings.checkup_at_pharmacies)
    except CategoryNotConsented:
        return Section(category, reason=f"患者さんは{show.category_label(category)}の閲覧に同意していません。")
    except RoleCannotView:
        return Section(category, reason=_not_viewable(staff, category))
    return Section(category, records=found.records, since=found.since)


def _thresholds(*fields: str) -> list[tuple[Decimal, str, str]]:
    """The 保健指導判定値 and 受診勧奨判定値 lines of these measures."""
    lines = []
    for field in fields:
        reference = REFERENCE_VALUES[field]
        lines.append((reference.guidance, "保健指導", "guidance"))
        if reference.referral is not None:
            lines.append((reference.referral, "受診勧奨", "referral"))
    return lines


def _charts_in(records: list[dict[str, Any]], frame: Frame) -> list[Chart]:
    charts = (
        line_chart(records, key="hba1c", title="HbA1c の推移", unit="%", measures=[("hba1c", "HbA1c")],
                   thresholds=_thresholds("hba1c"), frame=frame),
        line_chart(records, key="bp", title="血圧の推移", unit="mmHg",
                   measures=[("systolic_bp", "収縮期血圧"), ("diastolic_bp", "拡張期血圧")],
                   thresholds=_thresholds("systolic_bp", "diastolic_bp"), frame=frame),
    )
    return [chart for chart in charts if chart is not None]


def _charts(sections: Sequence[Section]) -> list[tuple[Chart, Chart]]:
    """HbA1c and blood pressure over time, each drawn wide (desktop) and narrow (phone), with threshold lines."""
    records = next((s.records for s in sections if s.category == "checkup" and s.records), None)
    if not records:
        return []
    return list(zip(_charts_in(records, WIDE), _charts_in(records, NARROW), strict=True))


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A warning on one dispensing: the same ingredient from another facility over overlapping days."""

    ingredient: str
    other_facility: str
    other_drug: str
    other_on: date
    overlap_from: date
    overlap_to: date


def _duplicates(sections: Sequence[Section]) -> dict[int, list[Duplicate]]:
    """Duplicate medication warnings by record index of the medication section."""
    records = next((s.records for s in sections if s.category == "medication" and s.records), [])
    warnings: dict[int, list[Duplicate]] = {}
    for index, pairs in duplicates_by_record(records).items():
        for pair in pairs:
            other = records[pair.second if pair.first == index else pair.first]
            warnings.setdefault(index, []).append(Duplicate(
                ingredient_of(other["drug_code"]), show.facility(other["facility_code"], other.get("facility_name")),
                other["drug_name"], other["dispensed_on"], pair.overlap_from, pair.overlap_to))
    return warnings


def _measured(sections: Sequence[Section]) -> list[tuple[str, str, str]]:
    """The checkup measures with at least one value (unmeasured rows are left out of the table)."""
    records = next((s.records for s in sections if s.category == "checkup" and s.records), [])
    return [m for m in show.MEASURES if any(r.get(m[0]) is not None for r in records)]


async def _patient(conn: Connection, staff: sessions.StaffSession, consent_id: UUID) -> dict[str, Any] | None:
    """The patient of a live consent at this facility, as the patient list shows them."""
    found = await service.consented_patients(conn, staff=staff, consent_id=consent_id)
    return found[0] if found else None


def _consent_ended(request: Request, staff: sessions.StaffSession) -> Response:
    return _error(request, 410, title="同意は終了しました", staff=staff,
                  message="この患者さんの閲覧への同意は終了しています（同意から24時間が過ぎたか、患者さんが撤回しました）。",
                  hint="閲覧が必要な場合は、受付でマイナ保険証により改めて同意をいただいてください。")


def _consent_not_found(request: Request, staff: sessions.StaffSession) -> Response:
    return _error(request, 404, title="患者さんが見つかりません", staff=staff,
                  message="この同意は見つかりません。同意は受付をした医療機関・薬局でのみ閲覧に使えます。")


def _as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


@router.get("/consents/{consent_id}")
async def patient(consent_id: str, request: Request, conn: DB, reads: ReadsDep, settings: SettingsDep) -> Response:
    """A consented patient's medication and checkup history, each category checked and logged."""
    staff = await _session(request)
    if staff is None:
        return _see_other(LOGIN_PATH)
    consent = _as_uuid(consent_id)
    if consent is None:
        return _consent_not_found(request, staff)
    try:
        sections = [await _section(conn, reads, staff, consent, category, settings)
                    for category in policy.CATEGORIES]
    except ConsentNotFound:
        return _consent_not_found(request, staff)
    except ConsentGone:
        return _consent_ended(request, staff)
    except CardNotUsable:
        return _error(request, 403, title="閲覧できません", staff=staff,
                      message="この患者さんのマイナンバーカードの電子証明書は一時停止中または失効しています。",
                      hint="閲覧はできません。資格確認は受付で改めて行ってください。")
    if not policy.may_view_anything(facility_type=staff.facility_type, role=staff.role, pharmacy_checkups=True):
        return _reception_forbidden(request, staff)
    person = await _patient(conn, staff, consent)
    if person is None:
        return _consent_ended(request, staff)
    status = 200 if any(s.records is not None for s in sections) else 403
    return _render(request, "patient.html", status=status, staff=staff, patient=person, sections=sections,
                   charts=_charts(sections), measures=_measured(sections), retention=policy.RETENTION_YEARS,
                   duplicates=_duplicates(sections), assess=show.assess, reference_text=show.reference_text,
                   facility=show.facility)


@router.get("/static/viewer.css")
async def stylesheet() -> FileResponse:
    """The pages' stylesheet (no patient data: a browser may keep it for an hour)."""
    return FileResponse(_STATIC / "viewer.css", media_type="text/css", headers={"Cache-Control": "max-age=3600"})

