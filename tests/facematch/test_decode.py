from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facematch import DecodeError, FrameSourceError, Image, decode_image, encode_image, read_frames


def _pattern() -> Image:
    ys, xs = np.mgrid[0:96, 0:128]
    return np.stack([xs * 2, ys * 2, (xs + ys) % 256], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("fmt", [".jp2", ".jpg", ".png"])
def test_decodes_card_photo_formats_to_rgb(fmt: str) -> None:
    image = _pattern()
    decoded = decode_image(encode_image(image, fmt))
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert float(np.abs(decoded.astype(int) - image.astype(int)).mean()) < 4  # lossy, but the same picture


def test_jpeg_2000_bytes_are_a_real_jp2_codestream() -> None:
    data = encode_image(_pattern(), ".jp2")
    assert data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n"
    assert decode_image(data)[10, 20, 0] == pytest.approx(40, abs=4)  # red channel stays red (RGB order)


def test_decodes_astronaut_card_photo(card_photo: bytes) -> None:
    assert decode_image(card_photo).shape == (192, 176, 3)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 40])
def test_refuses_undecodable_bytes(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_image(data)


def test_reads_frames_from_files(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        path = tmp_path / f"frame{i}.png"
        path.write_bytes(encode_image(_pattern(), ".png"))
        paths.append(path)
    frames = read_frames(paths, max_frames=2)
    assert len(frames) == 2 and frames[0].shape == (96, 128, 3)


def test_reads_frames_from_a_video_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (128, 96))
    for _ in range(6):
        writer.write(cv2.cvtColor(_pattern(), cv2.COLOR_RGB2BGR))
    writer.release()
    frames = read_frames(path, max_frames=4, stride=1)
    assert len(frames) == 4 and frames[0].shape == (96, 128, 3)


def test_missing_video_or_camera_is_a_frame_source_error(tmp_path: Path) -> None:
    with pytest.raises(FrameSourceError):
        read_frames(tmp_path / "missing.avi")
    with pytest.raises(FrameSourceError):
        read_frames(97)  # no such camera device here
