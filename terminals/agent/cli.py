"""The command line of the card agent: `python -m terminals.agent kiosk|portal ...` (loopback only)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from terminals.agent.app import kiosk_app, portal_app
from terminals.agent.face import FaceDesk
from terminals.agent.kiosk import ASKED, Kiosk
from terminals.agent.portal import Portal
from terminals.agent.reader import DemoReader
from terminals.config import default_url
from terminals.reception import ReceptionClient, Retry, make_client

HOST = "127.0.0.1"  # never another address: the agent holds a card (docs/kiosk.md, "Security model")
KIOSK_RETRY = Retry(attempts=2, base_delay=0.5, max_delay=2.0)  # a patient is waiting: the paper fallback is faster


def build_parser() -> argparse.ArgumentParser:
    """kiosk and portal, each with its port; --url defaults to ONSHI_URL as the other clients."""
    parser = argparse.ArgumentParser(prog="python -m terminals.agent", description=__doc__)
    modes = parser.add_subparsers(dest="mode", required=True)
    kiosk = modes.add_parser("kiosk", help="the reception kiosk (顔認証付きカードリーダーの画面)")
    kiosk.add_argument("--url", default=default_url(), help="the service (default: ONSHI_URL or the local demo)")
    kiosk.add_argument("--token", default=os.environ.get("ONSHI_TERMINAL_TOKEN"), help="terminal token")
    kiosk.add_argument("--cards", type=Path, default=Path(".onshi-data/demo/cards"),
                       help="directory of virtual card files the demo reader offers")
    kiosk.add_argument("--facility-type", choices=sorted(ASKED), default="clinic",
                       help="what consent is asked for (a pharmacy: medication only)")
    kiosk.add_argument("--checkup-at-pharmacies", action="store_true",
                       help="as the service's ONSHI_CHECKUP_AT_PHARMACIES: pharmacies ask about checkups too")
    kiosk.add_argument("--no-face", dest="face", action="store_false", help="do not offer the face check")
    kiosk.add_argument("--face-demo-seed", type=int, default=None,
                       help="DEMO/TEST ONLY: every face challenge drawn from this seed, so a video made for it "
                            "answers it (docs/kiosk.md); never in real use")
    kiosk.add_argument("--reset-seconds", type=int, default=8, help="back to the idle screen after this long")
    kiosk.add_argument("--port", type=int, default=8765)
    portal = modes.add_parser("portal", help="the holder portal (マイナポータルの役割)")
    portal.add_argument("--url", default=default_url(), help="the service (default: ONSHI_URL or the local demo)")
    portal.add_argument("--card", type=Path, required=True, help="the holder's virtual card file")
    portal.add_argument("--port", type=int, default=8766)
    return parser


def build(args: argparse.Namespace, *, transport: httpx.BaseTransport | None = None) -> FastAPI:
    """The application the arguments describe."""
    if args.mode == "kiosk":
        if not args.token:
            raise SystemExit("no terminal token: pass --token or set ONSHI_TERMINAL_TOKEN")
        client = ReceptionClient(make_client(args.url, args.token, transport=transport), retry=KIOSK_RETRY)
        kiosk = Kiosk(client=client, reader=DemoReader(args.cards), facility_type=args.facility_type,
                      checkup_at_pharmacies=args.checkup_at_pharmacies, face=args.face)
        if args.face_demo_seed is not None:
            print(f"WARNING: --face-demo-seed {args.face_demo_seed}: every face challenge is the same (demo/test "
                  "only: a prepared video passes it)", flush=True)
        return kiosk_app(kiosk, port=args.port, reset_seconds=args.reset_seconds,
                         face=FaceDesk(demo_seed=args.face_demo_seed))
    http = httpx.Client(base_url=args.url, timeout=httpx.Timeout(10.0, connect=3.0), transport=transport,
                        headers={"User-Agent": "onshi-card-agent/1"})
    return portal_app(Portal(http=http, card_path=args.card), port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the kiosk or the portal on 127.0.0.1 until interrupted."""
    args = build_parser().parse_args(argv)
    app = build(args)
    print(f"Onshi card agent ({args.mode}): http://{HOST}:{args.port}/{args.mode}/", flush=True)
    uvicorn.run(app, host=HOST, port=args.port, log_level="warning")
    return 0
