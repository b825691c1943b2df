"""benchmarks/suite_speed.py: the earlier tests found under their current names, and pytest's own figures."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import suite_speed


def test_earlier_tests_are_found_under_moved_files_and_the_rest_listed() -> None:
    old = ["tests/a.py::test_x", "tests/terminals/test_card.py::test_sign[1]", "tests/a.py::test_gone"]
    current = {"tests/a.py::test_x", "tests/virtualcard/test_card.py::test_sign[1]", "tests/a.py::test_new"}
    found, missing = suite_speed.same_tests(old, current, {"tests/terminals/test_card.py":
                                                           "tests/virtualcard/test_card.py"})
    assert found == ["tests/a.py::test_x", "tests/virtualcard/test_card.py::test_sign[1]"]
    assert missing == ["tests/a.py::test_gone"]


def test_the_renames_since_the_default_commit_are_git_s() -> None:
    assert suite_speed.renamed_files(suite_speed.BEFORE)["tests/terminals/test_card.py"] == (
        "tests/virtualcard/test_card.py")


def test_pytest_s_last_summary_is_the_figure(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("== 3 passed in 1.00s ==\n....\n"
                   "======================= 1097 passed, 2 warnings in 356.70s (0:05:56) =======================\n")
    assert suite_speed._pytest_figures(log) == (1097, 356.7)


@pytest.mark.parametrize("text", ["== 2 failed, 1095 passed in 300.00s ==\n", "== 1095 passed, 1 error in 300.00s ==\n",
                                  "ERROR: no tests ran\n"])
def test_a_failed_or_empty_run_gives_no_figure(tmp_path: Path, text: str) -> None:
    log = tmp_path / "run.log"
    log.write_text(text)
    with pytest.raises(SystemExit):
        suite_speed._pytest_figures(log)


def test_what_the_earlier_run_left_is_stopped_even_when_it_ignores_sigterm(tmp_path: Path) -> None:
    marker = str(tmp_path / "clone")
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker])
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, sys, time; "
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
                                 "time.sleep(60)", marker], stdout=subprocess.PIPE, text=True)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path / "elsewhere")])
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"  # SIGTERM ignored from now
        assert suite_speed.stop_leftovers(tmp_path / "clone", grace=1.0) == 2
        assert polite.wait(timeout=5) == -signal.SIGTERM
        assert stubborn.wait(timeout=5) == -signal.SIGKILL
        assert other.poll() is None  # not the earlier run's
    finally:
        for process in (polite, stubborn, other):
            process.kill()
            process.wait()
