"""The command line of the reception terminal (`python -m terminals.reception`)."""

from __future__ import annotations

import argparse
import builtins
import getpass as getpass_module
import os
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from terminals.config import default_url
from terminals.reception.client import DEFAULT_RETRY, ReceptionClient, Retry, make_client
from terminals.reception.face import FaceCamera, FaceMatcherLike
from terminals.reception.flow import Desk, Options
from terminals.reception.screen import Console
from terminals.reception.texts import CATEGORIES, EXIT_FAILED, EXIT_INTERRUPTED, METHODS, Msg

if TYPE_CHECKING:
    from facematch import FrameSource

DESCRIPTION = "Clinic reception terminal (顔認証付きカードリーダー): card, presence check, eligibility, consent."


# Command line


def _consent_choice(value: str) -> tuple[str, ...] | None:
    if value == "ask":
        return None
    if value == "none":
        return ()
    chosen = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = sorted(set(chosen) - set(CATEGORIES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"expected medication,checkup | none | ask (got {value!r})")
    return chosen


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD (got {value!r})") from None


def build_parser() -> argparse.ArgumentParser:
    """Arguments; --url and --token default to ONSHI_URL and ONSHI_TERMINAL_TOKEN."""
    parser = argparse.ArgumentParser(prog="python -m terminals.reception", description=DESCRIPTION)
    parser.add_argument(
        "--url",
        default=default_url(),
        help="service base URL (default: ONSHI_URL, else http://ONSHI_HOST:ONSHI_PORT, i.e. 127.0.0.1:8000)",
    )
    parser.add_argument("--token", default=os.environ.get("ONSHI_TERMINAL_TOKEN"), help="terminal bearer token")
    parser.add_argument("--card", type=Path, help="the virtual card file (asked for when omitted)")
    parser.add_argument("--presence", choices=METHODS, help="face | pin | visual (asked for when omitted)")
    parser.add_argument("--pin", help="the card PIN (asked for without echo when omitted; not with --loop)")
    parser.add_argument(
        "--camera", help="for face: a camera index (default 0), a video or image file, or simulate:PHOTO (demo)"
    )
    parser.add_argument(
        "--consent", type=_consent_choice, default=None, metavar="medication,checkup|none|ask",
        help="what the patient agrees to share (default: ask)",
    )  # fmt: skip
    parser.add_argument("--as-of", type=_date, help="check eligibility as of YYYY-MM-DD (default: today)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--register", dest="mode", action="store_const", const="register", help="利用登録")
    mode.add_argument("--unlink", dest="mode", action="store_const", const="unlink", help="利用登録解除")
    mode.add_argument(
        "--access-log", dest="mode", action="store_const", const="access_log", help="who viewed the holder's data"
    )
    parser.add_argument("--loop", action="store_true", help="serve patient after patient")
    parser.add_argument("--lang", choices=("ja", "en"), default="ja")
    parser.add_argument("--retries", type=int, default=DEFAULT_RETRY.attempts, help="attempts per request")
    parser.set_defaults(mode="check")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    input: Callable[[str], str] = builtins.input,
    getpass: Callable[[str], str] = getpass_module.getpass,
    output: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    matcher: FaceMatcherLike | None = None,
    open_source: Callable[[str | None], FrameSource] | None = None,
) -> int:
    """Run the terminal; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.loop and (args.pin or args.consent is not None):
        parser.error("--loop serves many patients: each enters their own PIN and gives their own consent")
    console = Console(args.lang, ask=input, ask_secret=getpass, show=output)
    if not args.token:
        console.say(Msg.NO_TOKEN)
        return EXIT_FAILED
    options = Options(mode=args.mode, presence=args.presence, pin=args.pin, consent=args.consent, as_of=args.as_of)
    camera = FaceCamera(args.camera, matcher=matcher, open_source=open_source)
    retry = Retry(attempts=max(args.retries, 1), sleep=sleep)
    try:
        with make_client(args.url, args.token, transport=transport) as http:
            desk = Desk(ReceptionClient(http, retry=retry, on_retry=console.retrying), console, camera, options)
            if args.loop:
                return desk.serve(args.card)
            card_path = args.card or console.prompt(Msg.INSERT_CARD)
            return desk.visit(card_path) if card_path else EXIT_FAILED
    except KeyboardInterrupt:
        console.say(Msg.INTERRUPTED)
        return EXIT_INTERRUPTED
