"""`python -m facematch`: match a card photo against frames, check one image, or make a chip-sized photo."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ._decode import decode_image, encode_image, read_frames
from ._exceptions import FaceLockedError, FaceMatchError
from ._lock import FaceCounter, verify_card_holder
from ._matcher import FaceMatcher
from ._types import MatchDecision, QualityReport, Refusal

EXIT_CODES = {"match": 0, "no_match": 1, "undecided": 2}
EXIT_LOCKED = 3
EXIT_ERROR = 4


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 match, 1 no match, 2 undecided, 3 locked, 4 error)."""
    args = _parser().parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except FaceMatchError as exc:
        print(json.dumps({"error": type(exc).__name__, "detail": str(exc)}), file=sys.stderr)
        return EXIT_LOCKED if isinstance(exc, FaceLockedError) else EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facematch", description=__doc__)
    commands = parser.add_subparsers(required=True)
    match = commands.add_parser("match", help="card photo against camera frames; prints the decision as JSON")
    match.add_argument("--card", type=Path, required=True, help="card photo (JPEG 2000, JPEG or PNG)")
    source = match.add_mutually_exclusive_group(required=True)
    source.add_argument("--frames", type=Path, nargs="+", help="frame image files, in order")
    source.add_argument("--video", type=Path, help="a video file")
    source.add_argument("--camera", type=int, help="a camera device index (OpenCV)")
    match.add_argument("--threshold", type=float, help="largest distance accepted (default 0.45)")
    match.add_argument("--downscale-to", type=int, default=480, help="longest side for detection; 0 = none")
    match.add_argument("--max-frames", type=int, default=15)
    match.add_argument("--stride", type=int, default=2, help="keep every n-th video/camera frame")
    match.add_argument("--failures", type=int, default=0, help="the card's consecutive failures so far")
    match.set_defaults(run=_match)
    check = commands.add_parser("check", help="quality gates on one image; prints the report as JSON")
    check.add_argument("image", type=Path)
    check.add_argument("--card", action="store_true", help="apply the card-photo gates")
    check.set_defaults(run=_check)
    card = commands.add_parser("card-photo", help="write an image as a 176x192 JPEG 2000 chip photo")
    card.add_argument("image", type=Path)
    card.add_argument("out", type=Path)
    card.set_defaults(run=_card_photo)
    return parser


def _match(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {"downscale_to": args.downscale_to or None, "max_frames": args.max_frames}
    if args.threshold is not None:
        overrides["threshold"] = args.threshold
    matcher = FaceMatcher(**overrides)
    source = args.frames if args.frames else (args.video if args.video else args.camera)
    frames = read_frames(source, max_frames=args.max_frames, stride=1 if args.frames else args.stride)
    card = FaceCounter(args.card.read_bytes(), failures=args.failures)
    decision = verify_card_holder(matcher, card, frames)
    _print({**_decision(decision), "card_failures": card.face_failures, "card_face_locked": card.face_locked})
    return EXIT_CODES[decision.outcome]


def _check(args: argparse.Namespace) -> int:
    report = FaceMatcher().check_image(decode_image(args.image.read_bytes()), card=args.card)
    _print(_report(report))
    return 0 if report.ok else EXIT_CODES["undecided"]


def _card_photo(args: argparse.Namespace) -> int:
    image = decode_image(args.image.read_bytes())
    small = np.asarray(cv2.resize(image, (176, 192), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    args.out.write_bytes(encode_image(small, ".jp2"))
    return 0


def _decision(decision: MatchDecision) -> dict[str, Any]:
    return {
        "outcome": decision.outcome,
        "distance": decision.distance,
        "threshold": decision.threshold,
        "refusals": [_refusal(r) for r in decision.refusals],
        "card_quality": _report(decision.card_quality),
        "camera_quality": _report(decision.camera_quality),
        "liveness": [dataclasses.asdict(c) for c in decision.liveness.checks] if decision.liveness else None,
        "counts_as_failure": decision.counts_as_failure,
        "fall_back": decision.should_fall_back,
        "timings_ms": decision.timings_ms,
        "service_payload": decision.to_service_payload(),
    }


def _report(report: QualityReport) -> dict[str, Any]:
    measures = dataclasses.asdict(report.measures) if report.measures else None
    return {"ok": report.ok, "refusals": [_refusal(r) for r in report.refusals], "measures": measures}


def _refusal(refusal: Refusal) -> dict[str, str]:
    return {
        "reason": refusal.reason.value,
        "detail": refusal.detail,
        "message": refusal.message,
        "message_ja": refusal.message_ja,
    }


def _print(document: dict[str, Any]) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2))
