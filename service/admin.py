"""`python -m service.admin`: facilities, terminals, staff, insurers, operators, claims processors, cards.

Works on the same database as the server (same settings: DATABASE_URL or the embedded PostgreSQL under
ONSHI_DATA_DIR) and prints one JSON object. Errors print {"error", "detail"} and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service import cards
from service.accounts import service as accounts
from service.audit import anchors
from service.audit import service as audit
from service.authority import repository as authority_repository
from service.authority import service as authority_service
from service.authority.schemas import IdentityAttributes
from service.core.database import Connection
from service.core.errors import OnshiError
from service.core.migrate import apply_migrations
from service.core.settings import Settings
from service.maintenance import service as maintenance
from service.runtime import connection, database_url, load_authority, prepare, settings_or_exit

ACTOR = "admin-cli"
Handler = Callable[[Connection, argparse.Namespace, Settings], Awaitable[dict[str, Any]]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service.admin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending database migrations")
    sub.add_parser("init-authority", help="create the authority's key and certificate (never replaces them)")
    p = sub.add_parser("create-facility", help="a clinic, hospital, dental clinic or pharmacy")
    p.add_argument("--code", required=True, help="10-digit 医療機関コード")
    p.add_argument("--name", required=True)
    p.add_argument("--type", required=True, choices=accounts.FACILITY_TYPES)
    p = sub.add_parser("create-terminal", help="a reception terminal of a facility (prints its token)")
    p.add_argument("--facility", required=True)
    p = sub.add_parser("create-staff", help="a staff member with a role")
    p.add_argument("--facility", required=True)
    p.add_argument("--role", required=True, choices=accounts.STAFF_ROLES)
    p.add_argument("--login", required=True)
    p.add_argument("--password", required=True)
    p = sub.add_parser("create-insurer", help="an insurer (prints its token)")
    p.add_argument("--number", required=True, help="保険者番号: 8 digits (or 6 for 国保) with check digit")
    p.add_argument("--name", required=True)
    sub.add_parser("create-operator", help="an authority operator token")
    sub.add_parser("create-claims-processor", help="a claims processor token (medication batches)")
    _card_parsers(sub)
    return parser


def _card_parsers(sub: Any) -> None:
    p = sub.add_parser("issue-card", help="issue a certificate, record the holder, write a virtual card file")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--name-kanji", required=True)
    p.add_argument("--name-kana", required=True)
    p.add_argument("--birthdate", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    p.add_argument("--sex", required=True, type=int, choices=(1, 2), help="1 male, 2 female")
    p.add_argument("--address", required=True)
    p.add_argument("--photo", type=Path, help="face photo (any format OpenCV reads; stored as JPEG 2000)")
    p.add_argument("--pin", help="4-digit PIN (random and printed when omitted)")
    p.add_argument("--pin-retry-limit", type=int, default=3, help="PIN failures before the card locks")
    p = sub.add_parser("renew-card", help="new key and certificate in the same card file")
    p.add_argument("--card", required=True, type=Path)
    verify = sub.add_parser("verify-audit", help="recompute every audit hash chain and check it against the signed "
                            "anchors; report the first broken entry of each shard")
    verify.add_argument("--anchors", type=Path, default=None,
                        help="directory of anchors.jsonl and its public key (default: ONSHI_AUDIT_ANCHOR_DIR)")
    p = sub.add_parser("partitions", help="monthly partitions: make them ahead, show them, apply retention")
    p.add_argument("--retention-months", type=int, help="drop months older than this (default ONSHI_RETENTION_MONTHS)")
    p.add_argument("--apply", action="store_true", help="drop them (without it, only list what would be dropped)")
    for action in ("suspend", "release", "revoke"):
        p = sub.add_parser(f"{action}-card", help=f"{action} a certificate")
        p.add_argument("--serial", required=True)
        p.add_argument("--reason", help="X.509 reason code name")


async def _facility(conn: Connection, a: argparse.Namespace, _s: Settings) -> dict[str, Any]:
    return await accounts.create_facility(conn, code=a.code, name=a.name, type_=a.type)


async def _terminal(conn: Connection, a: argparse.Namespace, _s: Settings) -> dict[str, Any]:
    return await accounts.create_terminal(conn, facility_code=a.facility)


async def _staff(conn: Connection, a: argparse.Namespace, _s: Settings) -> dict[str, Any]:
    return await accounts.create_staff(
        conn, facility_code=a.facility, role=a.role, login=a.login, password=a.password
    )


async def _insurer(conn: Connection, a: argparse.Namespace, _s: Settings) -> dict[str, Any]:
    return await accounts.create_insurer(conn, number=a.number, name=a.name)


async def _operator(conn: Connection, _a: argparse.Namespace, _s: Settings) -> dict[str, Any]:
    return await accounts.create_operator(conn)


async def _claims(conn: Connection, _a: argparse.Namespace, _s: Settings) -> dict[str, Any]:
    return await accounts.create_claims_processor(conn)


async def _issue(conn: Connection, a: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    identity = IdentityAttributes(
        name_kanji=a.name_kanji, name_kana=a.name_kana, birthdate=a.birthdate, sex=a.sex, address=a.address
    )
    return await cards.issue_card(
        conn, authority=load_authority(settings), out=a.out, identity=identity, photo=cards.card_photo(a.photo),
        pin=a.pin, pin_retry_limit=a.pin_retry_limit, actor=ACTOR,
    )


async def _renew(conn: Connection, a: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    return await cards.renew_card(conn, authority=load_authority(settings), path=a.card, actor=ACTOR)


def _status_change(action: str) -> Handler:
    async def handler(conn: Connection, a: argparse.Namespace, _s: Settings) -> dict[str, Any]:
        row = await authority_service.change_status(conn, serial=a.serial, action=action, reason=a.reason,
                                                    actor=ACTOR)
        return {"serial": row.serial, "status": row.status, "status_reason": row.status_reason}

    return handler


async def _verify_audit(conn: Connection, a: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    directory = a.anchors or settings.audit_anchor_path
    signed, problems = anchors.read_anchors(directory)
    report = await audit.verify(conn, anchors.latest_per_shard(signed))
    breaks = [{"shard": b.shard, "seq": b.seq, "problem": b.problem} for b in report.breaks]
    return {"intact": report.intact and not problems, "entries": report.entries, "breaks": breaks,
            "anchors": {"directory": str(directory), "signed": len(signed), "problems": problems}}


async def _partitions(conn: Connection, a: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    keep = settings.retention_months if a.retention_months is None else a.retention_months
    created = await maintenance.ensure_ahead(conn)
    dropped, checkpoints = await maintenance.apply_retention(conn, keep_months=keep, dry_run=not a.apply)
    return {"created": created, "retention_months": keep, "dropped" if a.apply else "would_drop": dropped,
            "audit_checkpoints": checkpoints, "tables": await maintenance.status(conn)}


HANDLERS: dict[str, Handler] = {
    "create-facility": _facility, "create-terminal": _terminal, "create-staff": _staff,
    "create-insurer": _insurer, "create-operator": _operator, "create-claims-processor": _claims,
    "issue-card": _issue, "renew-card": _renew, "suspend-card": _status_change("suspend"),
    "release-card": _status_change("release"), "revoke-card": _status_change("revoke"),
    "verify-audit": _verify_audit, "partitions": _partitions,
}


# Commands that act on certificates, by the action counted for /metrics (migration 0008).
CERTIFICATE_ACTIONS = {"issue-card": "issue", "renew-card": "renew", "suspend-card": "suspend",
                       "release-card": "release", "revoke-card": "revoke"}


async def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Run one admin command in one transaction; a certificate action is counted in the same transaction."""
    async with connection(settings) as conn:
        result = await HANDLERS[args.command](conn, args, settings)
        if (action := CERTIFICATE_ACTIONS.get(args.command)) is not None:
            await authority_repository.count_admin_action(conn, action)
        return result


def _fail(code: str, detail: str) -> int:
    print(json.dumps({"error": code, "detail": detail}, ensure_ascii=False))
    return 2


def _init_authority(settings: Settings) -> int:
    """Create ca_key.pem and ca_cert.pem in the authority directory; an existing authority is kept as it is."""
    from cryptography.hazmat.primitives import hashes

    from service.authority.ca import CERT_FILE, CertificateAuthority

    directory = settings.authority_path
    existed = (directory / CERT_FILE).exists()
    try:
        authority = CertificateAuthority.load_or_create(directory, allow_create=True, name=settings.authority_name)
    except (OSError, ValueError) as exc:
        return _fail("authority_error", str(exc))
    print(json.dumps({"authority_dir": str(directory), "created": not existed, "name": authority.name,
                      "certificate_sha256": authority.certificate.fingerprint(hashes.SHA256()).hex()},
                     ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, prepare the database, run, print JSON."""
    args = _parser().parse_args(argv)
    if args.command == "init-authority":
        return _init_authority(settings_or_exit())
    if args.command == "migrate":
        applied = apply_migrations(database_url(settings_or_exit()))
        print(json.dumps({"applied": applied}))
        return 0
    settings = prepare(settings_or_exit(), with_redis=False)
    try:
        result = asyncio.run(run(args, settings))
    except OnshiError as exc:
        return _fail(exc.code, exc.detail)
    except OSError as exc:  # a card or photo file that cannot be read or written
        return _fail("file_error", f"{exc.strerror or exc}: {exc.filename or ''}".strip(": "))
    except ValidationError as exc:
        return _fail("invalid_input", "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    print(json.dumps(result, ensure_ascii=False))
    return 1 if result.get("intact") is False else 0


if __name__ == "__main__":
    sys.exit(main())
