from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from facematch import Challenge, FaceMatcher, Image, TimedFrame, encode_image
from facematch import testing as synth
from facematch._cli import main


def _write_frames(tmp_path: Path, frames: list[Image]) -> list[str]:
    paths = []
    for i, frame in enumerate(frames):
        path = tmp_path / f"frame{i:03}.png"
        path.write_bytes(encode_image(frame, ".png"))
        paths.append(str(path))
    return paths


def test_challenge_prints_the_prompts_of_a_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["challenge", "--seed", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = FaceMatcher().draw(random.Random(3))
    assert [p["action"] for p in printed["prompts"]] == [p.action.value for p in expected.prompts]
    assert printed["prompts"][0]["message_ja"] == "正面を向いてください。"


@pytest.mark.face
def test_match_judges_a_recorded_attempt_and_exits_0(
    tmp_path: Path, card_photo: bytes, scene: synth.Scene, matcher: FaceMatcher, capsys: pytest.CaptureFixture[str]
) -> None:
    challenge: Challenge = matcher.draw(random.Random(21))
    recorded: list[TimedFrame] = synth.recording(scene, challenge, np.random.default_rng(2))
    card = tmp_path / "card.jp2"
    card.write_bytes(card_photo)
    frames = _write_frames(tmp_path, [frame for _, frame in recorded])
    code = main(["match", "--card", str(card), "--challenge-seed", "21", "--fps", "10", "--frames", *frames])
    output = json.loads(capsys.readouterr().out)
    assert code == 0 and output["outcome"] == "match" and output["liveness"], output["refusals"]
    assert set(output["service_payload"]) == {"method", "decision", "face_distance", "liveness_passed"}
    assert main(["match", "--card", str(card), "--challenge-seed", "22", "--fps", "10", "--frames", *frames]) != 0


@pytest.mark.face
def test_match_on_a_locked_card_exits_3(
    tmp_path: Path, card_photo: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "card.jp2"
    card.write_bytes(card_photo)
    frame = tmp_path / "frame.png"
    frame.write_bytes(encode_image(np.zeros((48, 64, 3), "uint8"), ".png"))
    arguments = ["match", "--card", str(card), "--challenge-seed", "1", "--failures", "10", "--frames", str(frame)]
    assert main(arguments) == 3
    assert "FaceLockedError" in capsys.readouterr().err


@pytest.mark.face
def test_check_reports_the_refusal_in_japanese(
    tmp_path: Path, scene: synth.Scene, capsys: pytest.CaptureFixture[str]
) -> None:
    dark = tmp_path / "dark.png"
    dark.write_bytes(encode_image((synth.render(scene, synth.Pose()) * 0.22).astype("uint8"), ".png"))
    assert main(["check", str(dark)]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["refusals"][0]["reason"] == "too_dark" and report["refusals"][0]["message_ja"]


def test_unreadable_card_photo_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jp2"
    bad.write_bytes(b"nope")
    assert main(["card-photo", str(bad), str(tmp_path / "out.jp2")]) == 4
    assert "DecodeError" in capsys.readouterr().err
