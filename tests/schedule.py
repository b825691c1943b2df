"""The order of test files: the longest first, so that the test processes finish together.

pytest-xdist (`--dist loadfile`) hands a whole file to whichever process asks for more work next, in the order it
is given. Left to its default it gives the files with the most tests first, and the few long files (real outages,
a cluster, Chromium, schemathesis: a test or three of 10-45 s each) came last: one process still ran one of them
for a minute while the other sat idle. Given the longest files first (the classic longest-processing-time-first
rule), the short files at the end fill the gaps.

The lengths are wall-clock seconds per file from an earlier run, in `tests/durations.json` (committed, written by
`python3 dev.py test --record-durations`). They only order the files: a file missing from it (a new one) comes
after those listed, in collection order; nothing is skipped or judged by them. The order inside a file never
changes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

DURATIONS = Path(__file__).with_name("durations.json")


def file_of(nodeid: str) -> str:
    """The test file of a test id (`tests/x/test_y.py::test_z[1]` -> `tests/x/test_y.py`)."""
    return nodeid.split("::", 1)[0]


def load(path: Path = DURATIONS) -> dict[str, float]:
    """Seconds per test file, as recorded (none when the file is missing or unreadable: the order stays as
    collected)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


class _Test(Protocol):
    @property
    def nodeid(self) -> str: ...


T = TypeVar("T", bound=_Test)


def longest_first(items: list[T], seconds: dict[str, float]) -> None:
    """Sort the items in place, the files recorded as longest first; a stable sort, so each file's tests keep their
    order and unrecorded files keep theirs, after the recorded ones."""
    items.sort(key=lambda item: -seconds.get(file_of(item.nodeid), 0.0))


class Recorder:
    """Sums every phase's duration (setup, call, teardown) per file and writes them when the session ends."""

    def __init__(self, path: Path = DURATIONS) -> None:
        self.path = path
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[file_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.write(failed=bool(session.testsfailed))

    def write(self, *, failed: bool) -> None:
        """Write the record, unless the run failed or ran nothing (no measure of the suite: the old one stays)."""
        if failed or not self.seconds:
            return
        ordered = dict(sorted(((f, round(s, 1)) for f, s in self.seconds.items()), key=lambda fs: (-fs[1], fs[0])))
        self.path.write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")
