from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from facematch import CardFace, FaceMatcher, FrameSourceError, encode_image, open_source, run_attempt
from facematch._sources import CaptureSource, StillSource


def test_an_image_file_is_a_still_and_a_video_file_plays_on_its_own_clock(tmp_path: Path) -> None:
    image = tmp_path / "me.png"
    image.write_bytes(encode_image(np.full((48, 64, 3), 80, np.uint8), ".png"))
    still = open_source(str(image))
    assert isinstance(still, StillSource) and not still.live and still.frame(3.0) is not None
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 12, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    played = open_source(str(video))
    assert isinstance(played, CaptureSource) and not played.live and played.fps == pytest.approx(12)
    assert [played.frame(i / 12) is not None for i in range(4)] == [True, True, True, False]
    played.close()


def test_a_missing_source_is_a_frame_source_error(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError):
        open_source(str(tmp_path / "missing.avi"))
    with pytest.raises(FrameSourceError):
        open_source("97")  # no such camera device here


@pytest.mark.face
def test_a_simulated_patient_follows_the_challenge_it_is_shown(matcher: FaceMatcher, card_face: CardFace) -> None:
    patient = open_source("simulate:astronaut")
    shown: list[str] = []
    session = matcher.start(card_face, matcher.draw(random.Random(5)))
    decision = run_attempt(session, patient, on_text=lambda prompt, ja, en: shown.append(ja))
    assert decision.matched and shown[0] == "正面を向いてください。" and len(shown) >= 8
