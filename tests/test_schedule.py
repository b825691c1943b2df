"""The order of test files in parallel runs (tests/schedule.py): longest first, each file's tests in order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests import schedule


@dataclass
class _Item:
    nodeid: str


@dataclass
class _Report:
    nodeid: str
    duration: float


def test_recorded_long_files_go_first_and_each_file_keeps_its_order() -> None:
    items = [_Item("tests/a.py::one"), _Item("tests/b.py::one"), _Item("tests/a.py::two"), _Item("tests/c.py::x[1]"),
             _Item("tests/b.py::two"), _Item("tests/new.py::t"), _Item("tests/c.py::x[2]")]
    schedule.longest_first(items, {"tests/a.py": 1.5, "tests/b.py": 40.0, "tests/c.py": 9.0})
    assert [i.nodeid for i in items] == [
        "tests/b.py::one", "tests/b.py::two", "tests/c.py::x[1]", "tests/c.py::x[2]",
        "tests/a.py::one", "tests/a.py::two", "tests/new.py::t",  # not recorded: last, in collection order
    ]


def test_no_record_keeps_the_collection_order(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("not json")
    assert schedule.load(tmp_path / "missing.json") == {}
    assert schedule.load(tmp_path / "bad.json") == {}
    items = [_Item("tests/b.py::t"), _Item("tests/a.py::t")]
    schedule.longest_first(items, schedule.load(tmp_path / "bad.json"))
    assert [i.nodeid for i in items] == ["tests/b.py::t", "tests/a.py::t"]


def test_the_recorder_sums_every_phase_per_file_and_keeps_the_old_record_after_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    recorder = schedule.Recorder(path)
    for nodeid, seconds in [("tests/a.py::t1", 0.25), ("tests/a.py::t1", 2.0), ("tests/a.py::t2", 0.5),
                            ("tests/b.py::t[x]", 7.04)]:
        recorder.pytest_runtest_logreport(_Report(nodeid, seconds))  # type: ignore[arg-type]
    recorder.write(failed=True)
    assert not path.exists()
    recorder.write(failed=False)
    assert json.loads(path.read_text()) == {"tests/b.py": 7.0, "tests/a.py": 2.8}
    assert list(schedule.load(path)) == ["tests/b.py", "tests/a.py"]


def test_the_committed_record_reads_and_names_test_files() -> None:
    recorded = schedule.load()  # a stale name (a file renamed since) is harmless: it matches no test
    assert len(recorded) > 50 and all(seconds >= 0 for seconds in recorded.values())
    assert all(name.startswith("tests/") and name.endswith(".py") for name in recorded)
