"""The reception screen: pure renderings (an answer in, the text out) and the console (screen and keypad)."""

from __future__ import annotations

import builtins
import getpass as getpass_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from terminals.reception.client import (
    AccessEntry,
    Consent,
    Coverage,
    ReceptionError,
    Registration,
    ServiceError,
    ServiceUnavailable,
    VisitResult,
)
from terminals.reception.texts import (
    CATEGORY_NAMES,
    CERTIFICATE_NOT_USABLE,
    CERTIFICATE_STATES,
    CHALLENGE_ERRORS,
    CLEAR_SCREEN,
    ERROR_HINTS,
    HOLDER_KINDS,
    JST,
    NO_VIEWING,
    OUTCOMES,
    REGISTRATION_OUTCOMES,
    ROLE_NAMES,
    RULE,
    SEXES,
    VALIDITY_CODES,
    Lang,
    Mode,
    Msg,
    Text,
    tr,
)


def _line(label: Text, value: str, lang: Lang) -> str:
    return f"{tr(label, lang)}: {value}"


# Rendering (pure functions: an answer in, the screen's text out)


def outcome_key(result: VisitResult) -> str:
    """Which screen an answer gets: eligible, expired_grace, code_2..code_5, a certificate problem..."""
    if result.eligible:
        return "expired_grace" if result.certificate.status == "expired_grace" else "eligible"
    if result.result == "not_eligible":
        code = f"code_{result.validity_code}"
        return code if code in OUTCOMES else "not_eligible"
    return result.result if result.result in OUTCOMES else "unknown"


def render_result(result: VisitResult, lang: Lang = "ja") -> str:
    """The reception screen for one check: the headline, the coverage found, what to do next."""
    headline, steps = OUTCOMES[outcome_key(result)]
    lines = [RULE, tr(headline, lang, result=result.result), RULE]
    if result.validity_code in VALIDITY_CODES:
        label = tr(VALIDITY_CODES[result.validity_code], lang)
        lines.append(_line(Msg.VALIDITY, f"{result.validity_code} {label}", lang))
    if result.coverage is not None:
        lines += render_coverage(result.coverage, lang)
    if result.certificate.not_after:
        lines.append(_line(Msg.CERTIFICATE, _local_time(result.certificate.not_after, date_only=True), lang))
    if result.eligible and not result.viewing_allowed and outcome_key(result) == "eligible":
        lines.append(tr(NO_VIEWING, lang))
    lines += [tr(step, lang) for step in steps]
    lines.append(_line(Msg.CHECK_ID, result.verification_id, lang))
    return "\n".join(lines)


def render_coverage(coverage: Coverage, lang: Lang = "ja") -> list[str]:
    """The record's lines as a reception screen shows them."""
    number = f"{coverage.symbol}・{coverage.number}・{coverage.branch}"
    return [
        _line(Msg.NAME, coverage.name_kanji, lang),
        _line(Msg.KANA, coverage.name_kana, lang),
        _line(Msg.BIRTHDATE, coverage.birthdate, lang),
        _line(Msg.SEX, _choice(SEXES, coverage.sex, lang), lang),
        _line(Msg.INSURER, coverage.insurer_number, lang),
        _line(Msg.SYMBOL_NUMBER, number, lang),
        _line(Msg.HOLDER_KIND, _choice(HOLDER_KINDS, coverage.holder_kind, lang), lang),
        _line(Msg.COPAY, copay_text(coverage.copay_ratio, lang), lang),
        _line(Msg.PERIOD, period_text(coverage.qualified_on, coverage.disqualified_on, lang), lang),
        _line(Msg.LIMIT, coverage.limit_category or tr(Msg.NONE, lang), lang),
    ]


def _choice(table: Mapping[str, Text], value: str, lang: Lang) -> str:
    return tr(table[value], lang) if value in table else value


def copay_text(ratio: int | None, lang: Lang = "ja") -> str:
    """3割 (30%) from the contract's percentage (10, 20, 30); 1-3 are read as 割 already."""
    if ratio is None:
        return "-"
    percent = ratio * 10 if ratio <= 3 else ratio
    wari = f"{percent / 10:g}割"
    return f"{percent}%" if lang == "en" else f"{wari} ({percent}%)"


def period_text(qualified_on: str, disqualified_on: str | None, lang: Lang = "ja") -> str:
    """From the 資格取得日 to the last covered day (the 資格喪失日 is the first day NOT covered)."""
    if not disqualified_on:
        return f"{qualified_on} ～" if lang == "ja" else f"from {qualified_on}"
    try:
        last = (date.fromisoformat(disqualified_on) - timedelta(days=1)).isoformat()
    except ValueError:
        last = "?"
    if lang == "en":
        return f"{qualified_on} to {last} (disqualified on {disqualified_on})"
    return f"{qualified_on} ～ {last} (資格喪失日 {disqualified_on})"


def render_consent(consent: Consent, lang: Lang = "ja") -> str:
    """The consent's categories and its expiry (Japan time)."""
    if not consent.categories:
        return tr(Msg.CONSENT_REFUSED, lang)
    given = tr(
        Msg.CONSENT_GIVEN,
        lang,
        categories="・".join(CATEGORY_NAMES.get(c, (c, c))[0] for c in consent.categories),
        categories_en=", ".join(CATEGORY_NAMES.get(c, (c, c))[1] for c in consent.categories),
    )
    return f"{given}\n{tr(Msg.CONSENT_EXPIRES, lang, expires=_local_time(consent.expires_at))}"


def render_registration(registration: Registration, lang: Lang = "ja") -> str:
    """What a registration attempt did, and the record linked when there is one."""
    text = REGISTRATION_OUTCOMES.get(registration.status, (registration.status, registration.status))
    lines = [RULE, tr(text, lang), RULE]
    if registration.coverage is not None:
        lines += render_coverage(registration.coverage, lang)
    return "\n".join(lines)


def render_access_log(entries: Sequence[AccessEntry], lang: Lang = "ja") -> str:
    """Who viewed the holder's data: when, where, which role, what."""
    lines = [RULE, tr(Msg.ACCESS_LOG, lang), RULE]
    if not entries:
        lines.append(tr(Msg.ACCESS_LOG_EMPTY, lang))
    for entry in entries:
        role = _choice(ROLE_NAMES, entry.role, lang)
        category = _choice(CATEGORY_NAMES, entry.category, lang)
        facility = f"{entry.facility_name} ({entry.facility_code})"
        lines.append(f"{_local_time(entry.at)}  {facility}  {role}  {category}")
    return "\n".join(lines)


def error_hints(error: ServiceError) -> list[Text]:
    """What to tell the staff, by the error's own code first (its real cause), else by its HTTP status.

    A 409 is "the check expired, place the card again" only for a challenge error: a suspended card refused the
    access log is told that its certificate is suspended, and what to do about it.
    """
    if error.error == "certificate_not_usable":
        state = next((s for s in CERTIFICATE_STATES if s in error.detail), None)
        if state is None:
            return [CERTIFICATE_NOT_USABLE]
        headline, advice = OUTCOMES[f"certificate_{state}"]
        return [headline, *(line for line in advice if line != Msg.PAPER)]
    if error.status_code == 409 and error.error not in CHALLENGE_ERRORS:
        return []  # the service's detail, shown above, says what conflicted
    hint = ERROR_HINTS.get(error.status_code)
    return [hint] if hint else []


def render_error(error: ReceptionError, lang: Lang = "ja", *, action: Mode | Literal["consent"] = "check") -> str:
    """Why the service gave no answer and what to do; a failed check always ends with the paper fallback."""
    headline = {"check": Msg.CHECK_NOT_DONE, "consent": Msg.CONSENT_FAILED}.get(action, Msg.ACTION_FAILED)
    lines = [RULE, tr(headline, lang), RULE]
    if isinstance(error, ServiceUnavailable):
        lines += [tr(Msg.UNAVAILABLE, lang, attempts=error.attempts), f"[{error.reason}]"]
    elif isinstance(error, ServiceError):
        lines.append(f"{tr(Msg.SERVICE_ERROR, lang)}: HTTP {error.status_code} {error.error}: {error.detail}")
        lines += [tr(hint, lang) for hint in error_hints(error)]
        if error.request_id:
            lines.append(_line(Msg.REQUEST_ID, error.request_id, lang))
    else:
        lines += [tr(Msg.UNEXPECTED, lang), f"[{error}]"]
    if action == "check":
        lines.append(tr(Msg.PAPER, lang))
    return "\n".join(lines)


def _local_time(value: str, *, date_only: bool = False) -> str:
    """An RFC 3339 timestamp in Japan time, as the desk reads it; unreadable values as they came."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(JST)
    return moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")


# The desk: screen, keypad, camera


@dataclass(frozen=True)
class Console:
    """The desk's screen and keypad; input and getpass are injected for tests."""

    lang: Lang = "ja"
    ask: Callable[[str], str] = builtins.input
    ask_secret: Callable[[str], str] = getpass_module.getpass
    show: Callable[[str], None] = print

    def say(self, text: Text, **values: object) -> None:
        """Show one sentence."""
        self.show(tr(text, self.lang, **values))

    def prompt(self, text: Text, *, suffix: str = "", **values: object) -> str | None:
        """Ask for a line; None when the input ends."""
        try:
            return self.ask(f"{tr(text, self.lang, **values)}{suffix} > ").strip()
        except EOFError:
            return None

    def secret(self, text: Text) -> str | None:
        """Ask without echo (the PIN); None when the input ends."""
        try:
            return self.ask_secret(f"{tr(text, self.lang)}: ").strip()
        except EOFError:
            return None

    def confirm(self, text: Text, *, default: bool = False) -> bool:
        """A yes/no question; Enter takes the default."""
        answer = self.prompt(text, suffix=" [Y/n]" if default else " [y/N]")
        if not answer:
            return default and answer is not None
        return answer.lower() in ("y", "yes", "はい")

    def choose(self, text: Text, options: Sequence[tuple[str, Text]]) -> str | None:
        """A numbered choice; None when the input ends or after three unusable answers."""
        self.say(text)
        for number, (_, label) in enumerate(options, 1):
            self.show(f"  {number}: {tr(label, self.lang)}")
        for _ in range(3):
            answer = self.prompt(("番号", "Number"))
            if answer is None:
                return None
            keys = {str(number): key for number, (key, _) in enumerate(options, 1)} | {k: k for k, _ in options}
            if answer in keys:
                return keys[answer]
            self.say(Msg.INVALID_CHOICE)
        return None

    def retrying(self, n: int, total: int, reason: str) -> None:
        """The client's retry notice: 通信エラー: 再試行中 (n/N)."""
        self.show(f"{tr(Msg.RETRYING, self.lang, n=n, total=total)} [{reason}]")

    def clear(self) -> None:
        """Wipe the screen before the next patient."""
        self.show(CLEAR_SCREEN)
