from __future__ import annotations

import json
from pathlib import Path

import pytest

from facematch import Image, encode_image
from facematch._cli import main


def _write_frames(tmp_path: Path, frames: list[Image]) -> list[str]:
    paths = []
    for i, frame in enumerate(frames):
        path = tmp_path / f"frame{i:02}.png"
        path.write_bytes(encode_image(frame, ".png"))
        paths.append(str(path))
    return paths


@pytest.mark.face
def test_match_prints_the_decision_and_exits_0(
    tmp_path: Path, card_photo: bytes, live_frames: list[Image], capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "card.jp2"
    card.write_bytes(card_photo)
    code = main(["match", "--card", str(card), "--frames", *_write_frames(tmp_path, live_frames)])
    output = json.loads(capsys.readouterr().out)
    assert code == 0 and output["outcome"] == "match" and output["liveness"]
    assert set(output["service_payload"]) == {"method", "decision", "face_distance", "liveness_passed"}


@pytest.mark.face
def test_match_on_a_locked_card_exits_3(
    tmp_path: Path, card_photo: bytes, live_frames: list[Image], capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "card.jp2"
    card.write_bytes(card_photo)
    frames = _write_frames(tmp_path, live_frames[:2])
    assert main(["match", "--card", str(card), "--failures", "10", "--frames", *frames]) == 3
    assert "FaceLockedError" in capsys.readouterr().err


@pytest.mark.face
def test_check_reports_the_refusal_in_japanese(
    tmp_path: Path, frame: Image, capsys: pytest.CaptureFixture[str]
) -> None:
    dark = tmp_path / "dark.png"
    dark.write_bytes(encode_image((frame * 0.22).astype("uint8"), ".png"))
    assert main(["check", str(dark)]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["refusals"][0]["reason"] == "too_dark" and report["refusals"][0]["message_ja"]


def test_unreadable_card_photo_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jp2"
    bad.write_bytes(b"nope")
    assert main(["card-photo", str(bad), str(tmp_path / "out.jp2")]) == 4
    assert "DecodeError" in capsys.readouterr().err
