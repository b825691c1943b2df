"""Durable file writes shared by the card file and the authority's key store: atomic, fsynced, locked.

A write goes to a temporary file in the same directory with its final mode, is fsynced, then renamed over the
path (or linked as a new file, never overwriting one), and the directory is fsynced so that the rename itself
survives a power cut.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600, replace: bool = True) -> None:
    """Write `data` to `path` atomically; with `replace=False` fail (FileExistsError) if the path exists."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)
        fsync_directory(path.parent)
    finally:
        Path(temp).unlink(missing_ok=True)


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock between processes on a directory (its files themselves are replaced on every write)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
