"""The test suite's speed against an earlier commit's, on this machine, in one run.

    python3 dev.py run -m benchmarks.suite_speed [--before cb0bbfe] [--no-whole]

1. before: the earlier commit, cloned into a temporary directory, runs its own `python3 dev.py test` (its own
   virtual environment and options: at cb0bbfe, the last commit before the architecture work, one process);
2. after, the same tests: this checkout runs exactly the earlier commit's tests (their IDs, found here under their
   current file names) as `python3 dev.py test` runs pytest (dev.PARALLEL, dev.CACHING_BYTECODE);
3. after, the whole suite: every test of this checkout, those added since included (skipped with --no-whole).

The figure of each is pytest's own "N passed in S s" (set-up and lint not included; pytest's output is kept in
`.onshi-data/bench/suite-speed-<time>/`). Tests of the earlier commit that this checkout no longer has are listed
(renamed or removed). The last line is JSON with the three times, the
test counts and `speedup` (before / after on the same tests). About 12 minutes; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import harness  # noqa: E402
from dev import CACHING_BYTECODE, PARALLEL  # noqa: E402  (dev.py is a script at the root, not a package)

BEFORE = "cb0bbfe"  # the last commit before the architecture and test-speed work
_SUMMARY = re.compile(r"^=+ ((?:.*\D)?(\d+) passed.*) in ([\d.]+)s", re.MULTILINE)


def say(message: str) -> None:
    """Progress on stderr, with the time."""
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _pytest_figures(log: Path) -> tuple[int, float]:
    """Tests passed and seconds, from pytest's last summary line in `log`; an error if any failed or none ran."""
    found = _SUMMARY.findall(log.read_text(errors="replace"))
    if not found:
        raise SystemExit(f"no pytest summary in {log}: see its end")
    counts, passed, seconds = found[-1]
    if re.search(r"\b(failed|errors?)\b", counts):
        raise SystemExit(f"{counts} (see {log}): a speed of a failing suite means nothing")
    return int(passed), float(seconds)


def _run(command: list[str], *, cwd: Path, log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("w") as out:
        subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)


def _collect(python: Path, cwd: Path) -> list[str]:
    """The test IDs pytest collects in `cwd`."""
    done = subprocess.run([str(python), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"], cwd=cwd,
                          capture_output=True, text=True, check=False)
    ids = [line.strip() for line in done.stdout.splitlines() if "::" in line]
    if not ids:
        raise SystemExit(f"pytest collected nothing in {cwd}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return ids


def stop_leftovers(directory: Path, *, grace: float = 5.0) -> int:
    """Stop the processes an earlier commit's run left running from `directory` (before the architecture work,
    each test process left its embedded Redis behind): SIGTERM, then SIGKILL after `grace` s. How many there were."""
    def running() -> list[int]:
        return [pid for pid, (_, cmdline, *_rest) in harness.processes().items()
                if str(directory) in cmdline and pid != os.getpid()]

    left = running()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in running():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while running() and time.monotonic() < deadline:
            time.sleep(0.1)
    return len(left)


def renamed_files(before: str) -> dict[str, str]:
    """Test files moved since `before`: old path -> new path (git's rename detection)."""
    diff = subprocess.run(["git", "diff", "-M", "--name-status", before, "HEAD", "--", "tests"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    return {old: new for status, old, *rest in (line.split("\t") for line in diff.splitlines())
            if status.startswith("R") for new in rest[:1]}


def same_tests(old_ids: list[str], current: set[str], renames: dict[str, str]) -> tuple[list[str], list[str]]:
    """The earlier tests under their current IDs, and those not found here."""
    found, missing = [], []
    for test_id in old_ids:
        path, sep, rest = test_id.partition("::")
        moved = renames.get(path, path) + sep + rest
        (found if moved in current else missing).append(moved if moved in current else test_id)
    return found, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="the earlier commit (default %(default)s)")
    parser.add_argument("--no-whole", action="store_true", help="skip the run of this checkout's whole suite")
    args = parser.parse_args()
    python3 = Path(sys.base_prefix) / "bin" / "python3"  # the interpreter this venv was made from, as a user's
    here = ROOT / ".venv" / "bin" / "python"
    logs = ROOT / ".onshi-data" / "bench" / f"suite-speed-{time.strftime('%Y%m%d-%H%M%S')}"
    logs.mkdir(parents=True)
    say(f"pytest's output: {logs}")
    with tempfile.TemporaryDirectory(prefix="onshi-before-") as tmp:
        clone = Path(tmp) / "onshi"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "checkout", "--quiet", args.before], cwd=clone, check=True)
        say(f"before: {args.before} runs its own `python3 dev.py test` (set-up included, a few minutes)")
        _run([str(python3), "dev.py", "test"], cwd=clone, log=logs / "before.log")
        old_ids = _collect(clone / ".venv" / "bin" / "python", clone)
        if left := stop_leftovers(clone):
            say(f"before: stopped {left} processes its run left running")
        before_passed, before_s = _pytest_figures(logs / "before.log")
        say(f"before: {before_passed} passed in {before_s:.1f} s")
        found, missing = same_tests(old_ids, set(_collect(here, ROOT)), renamed_files(args.before))
        for test_id in missing:
            say(f"not in this checkout: {test_id}")
        ids_file = logs / "same-tests.txt"
        ids_file.write_text("".join(f"{test_id}\n" for test_id in found))
        say(f"after: the same {len(found)} tests here ({len(missing)} of the earlier ones not found)")
        _run([str(here), "-m", "pytest", *PARALLEL, f"@{ids_file}"], cwd=ROOT, log=logs / "same.log",
             env=CACHING_BYTECODE)
        same_passed, same_s = _pytest_figures(logs / "same.log")
        say(f"after, same tests: {same_passed} passed in {same_s:.1f} s")
        result: dict[str, object] = {
            "before_commit": args.before, "before_tests": before_passed, "before_s": before_s,
            "same_tests": same_passed, "same_tests_s": same_s, "not_found": len(missing),
            "speedup": round(before_s / same_s, 2),
        }
        if not args.no_whole:
            _run([str(here), "-m", "pytest", *PARALLEL], cwd=ROOT, log=logs / "whole.log", env=CACHING_BYTECODE)
            whole_passed, whole_s = _pytest_figures(logs / "whole.log")
            say(f"after, whole suite: {whole_passed} passed in {whole_s:.1f} s")
            result |= {"whole_tests": whole_passed, "whole_s": whole_s}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
