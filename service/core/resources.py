"""Package data (migrations, templates, static files, vendored docs assets), found with importlib.resources.

Everything the server reads besides its code ships inside the `service` package (pyproject.toml,
[tool.setuptools.package-data]), so an installed wheel, an editable install and a checkout find the same files
the same way; nothing is looked up relative to the repository.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_path(package: str, *parts: str) -> Path:
    """A file or directory of `package`'s data as a filesystem path (yoyo and FileResponse need real paths).

    Onshi is installed as files (a wheel unpacked into site-packages, or editable), never imported from a zip.
    """
    resource = files(package).joinpath(*parts)
    if not isinstance(resource, Path):
        raise RuntimeError(f"{package}/{'/'.join(parts)} is not on the filesystem: install Onshi unzipped")
    return resource


def migrations_dir() -> Path:
    """The SQL migrations (`service/migrations/NNNN.name.sql`)."""
    return package_path("service", "migrations")
