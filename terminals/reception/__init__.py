"""Clinic reception terminal (顔認証付きカードリーダー): card, presence check, eligibility, consent.

    python -m terminals.reception --card card.json --presence pin            # one patient
    python -m terminals.reception --loop                                     # one patient after another
    python -m terminals.reception --card card.json --register                # 利用登録
    python -m terminals.reception --card card.json --access-log --lang en    # who viewed my data

It speaks only HTTP to the service (docs/API.md, "Terminal") and imports nothing from `service/`. Every card
action gets a fresh single-use challenge and a fresh card signature, retries included. Nothing of one patient
outlives the visit: the `Desk` (client, screen, camera, settings) holds no patient data; each patient gets a new
`Visit`, dropped when the visit ends, and `--loop` clears the screen before the next patient.

Exit codes: 0 eligible (or registration / unlink / access log done), 1 a negative answer, 2 the check could not be
done (card unreadable or locked, presence not proven, service error or unreachable: use the paper fallback),
130 interrupted.

The package, each module small: `texts` (every sentence, in Japanese and English), `client` (the HTTP client and
the service's answers as typed values), `screen` (pure renderings and the console), `face` (the camera and
facematch), `flow` (the desk and one patient's visit), `cli` (the command line). The kiosk
(`terminals.agent`) reuses `client`, `texts` and `screen`'s outcome rules rather than copying them.
"""

from __future__ import annotations

from terminals.reception.cli import build_parser, main
from terminals.reception.client import (
    DEFAULT_RETRY,
    AccessEntry,
    CertificateInfo,
    Consent,
    Coverage,
    Presence,
    ReceptionClient,
    ReceptionError,
    Registration,
    Retry,
    ServiceError,
    ServiceUnavailable,
    Signer,
    UnexpectedAnswer,
    VisitResult,
    make_client,
)
from terminals.reception.face import FaceCamera, FaceMatcherLike, FaceUnavailable
from terminals.reception.flow import Desk, Options, Visit
from terminals.reception.screen import (
    Console,
    copay_text,
    error_hints,
    outcome_key,
    period_text,
    render_access_log,
    render_consent,
    render_coverage,
    render_error,
    render_registration,
    render_result,
)
from terminals.reception.texts import (
    CATEGORIES,
    CLEAR_SCREEN,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NEGATIVE,
    EXIT_OK,
    METHODS,
    Lang,
    Method,
    Mode,
    Msg,
    Text,
    tr,
)

__all__ = [
    "CATEGORIES",
    "CLEAR_SCREEN",
    "DEFAULT_RETRY",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NEGATIVE",
    "EXIT_OK",
    "METHODS",
    "AccessEntry",
    "CertificateInfo",
    "Consent",
    "Console",
    "Coverage",
    "Desk",
    "FaceCamera",
    "FaceMatcherLike",
    "FaceUnavailable",
    "Lang",
    "Method",
    "Mode",
    "Msg",
    "Options",
    "Presence",
    "ReceptionClient",
    "ReceptionError",
    "Registration",
    "Retry",
    "ServiceError",
    "ServiceUnavailable",
    "Signer",
    "Text",
    "UnexpectedAnswer",
    "Visit",
    "VisitResult",
    "build_parser",
    "copay_text",
    "error_hints",
    "main",
    "make_client",
    "outcome_key",
    "period_text",
    "render_access_log",
    "render_consent",
    "render_coverage",
    "render_error",
    "render_registration",
    "render_result",
    "tr",
]
