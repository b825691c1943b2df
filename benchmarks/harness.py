"""What the benchmarks share: processes and their CPU, a uvicorn server, a bounded locust run.

CPU is read from /proc (ticks of a process tree), so it counts what each group really used, whatever the load
generator believes it achieved. Everything started here runs in its own process group and is stopped with it.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from cluster.run import stop_group
from service.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes() -> dict[int, tuple[int, str, int, int, int]]:
    """pid -> (parent pid, command line, CPU ticks used so far, resident bytes, system ticks) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(entry.name)] = (int(fields[1]), cmdline, int(fields[11]) + int(fields[12]), int(fields[21]) * PAGE,
                                  int(fields[12]))
    return found


def tree(roots: Iterable[int], table: Mapping[int, tuple[int, str, int, int, int]]) -> set[int]:
    """The roots and all their descendants."""
    members = {r for r in roots if r in table}
    grew = True
    while grew:
        more = {pid for pid, (ppid, *_rest) in table.items() if ppid in members} - members
        members |= more
        grew = bool(more)
    return members


def machine_ticks() -> tuple[int, int]:
    """(busy, steal) CPU ticks of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return user + nice + system + irq + softirq, steal


@dataclass(frozen=True, slots=True)
class Groups:
    """How to find each group's processes at sampling time: root pids, or a marker in the command line."""

    roots: Mapping[str, tuple[int, ...]]
    markers: Mapping[str, str]

    def members(self) -> tuple[dict[str, set[int]], dict[int, tuple[int, str, int, int, int]]]:
        """The pids of each group now, and the process table they were read from."""
        table = processes()
        groups = {name: tree(pids, table) for name, pids in self.roots.items()}
        for name, marker in self.markers.items():
            groups[name] = tree([pid for pid, (_, cmd, *_r) in table.items() if marker in cmd], table)
        return groups, table

    def sample(self) -> dict[str, int]:
        """CPU ticks used so far by each group, and by the whole machine ('machine', 'steal')."""
        groups, table = self.members()
        ticks = {name: sum(table[pid][2] for pid in pids) for name, pids in groups.items()}
        ticks.update({f"{name} (system)": sum(table[pid][4] for pid in pids) for name, pids in groups.items()})
        ticks["machine"], ticks["steal"] = machine_ticks()
        return ticks

    def rss(self, name: str) -> int:
        """Resident bytes of one group now."""
        groups, table = self.members()
        return sum(table[pid][3] for pid in groups[name])


def cores(before: Mapping[str, int], after: Mapping[str, int], seconds: float) -> dict[str, float]:
    """Cores used per group between two samples; 'other' is what the machine used beyond the groups."""
    used = {name: (after[name] - before[name]) / TICKS / seconds for name in before}
    named = sum(v for k, v in used.items() if k not in ("machine", "steal") and not k.endswith("(system)"))
    used["other"] = max(0.0, used["machine"] - named)
    return used


def wait_until_quiet(patience: float, *, limit: float = 0.2) -> bool:
    """Wait (at most `patience` s) until the machine is nearly idle: other jobs would distort the figures."""
    deadline = time.monotonic() + patience
    cpus = os.cpu_count() or 1
    while True:
        busy = machine_ticks()[0]
        time.sleep(2)
        if (machine_ticks()[0] - busy) / TICKS / 2 / cpus < limit:
            return True
        if time.monotonic() > deadline:
            return False


def start_uvicorn(app: str, *, port: int, workers: int, env: Mapping[str, str], factory: bool = False,
                  ready_path: str = "/openapi.json", patience: float = 90, log: Path | None = None,
                  ) -> subprocess.Popen[bytes]:
    """uvicorn serving `app` on 127.0.0.1:port in its own process group, once it answers `ready_path` (its
    output appended to `log`, when given)."""
    keep_alive = int(Settings.model_fields["keep_alive_seconds"].default)  # as `python -m service` serves
    command = [sys.executable, "-m", "uvicorn", *(["--factory"] if factory else []), app, "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
               "--timeout-keep-alive", str(keep_alive)]
    output = log.open("ab") if log else None
    try:
        server = subprocess.Popen(command, cwd=ROOT, env=dict(env), start_new_session=True, stdout=output,
                                  stderr=subprocess.STDOUT if output else None)
    finally:
        if output:
            output.close()
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{app} exited with status {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop(server)
    raise RuntimeError(f"{app} did not become ready within {patience:.0f} s")


def stop(process: subprocess.Popen[bytes], *, grace: float = 20) -> None:
    """Stop a process group we started: SIGTERM, then SIGKILL after `grace` seconds."""
    stop_group(process, grace=grace)


def start_locust(*, locustfile: Path, users: int, duration: int, out: Path, env: Mapping[str, str],
                 processes_: int = 1, classes: tuple[str, ...] = (), full_history: bool = False,
                 ) -> subprocess.Popen[bytes]:
    """A headless, bounded locust run writing its CSV statistics next to `out` (only `classes`, if given; with
    `full_history`, a row per request name every second, percentiles over the last 10 s)."""
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", str(users),
               "-r", str(users), "-t", f"{duration}s", "--stop-timeout", "5", "--reset-stats", "--csv", str(out),
               "--only-summary", "--loglevel", "WARNING", *classes]
    if processes_ > 1:
        command += ["--processes", str(processes_)]
    if full_history:
        command.append("--csv-full-history")
    log = out.with_suffix(".log").open("wb")
    try:
        return subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        log.close()


def locust_rows(out: Path) -> dict[str, dict[str, str]]:
    """locust's statistics rows by request name."""
    with Path(f"{out}_stats.csv").open(newline="") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def locust_failures(out: Path, *, top: int = 3) -> str:
    """The most frequent failures of a locust run, one line."""
    path = Path(f"{out}_failures.csv")
    if not path.exists():
        return ""
    with path.open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: -int(r["Occurrences"]))
    return "; ".join(f"{r['Occurrences']}x {r['Name']}: {r['Error'][:160]}" for r in rows[:top])


@dataclass(frozen=True, slots=True)
class Run:
    """What one bounded locust run measured."""

    rows: dict[str, dict[str, str]]
    cores: dict[str, float]
    seconds: float
    failures: str

    def rate(self, name: str) -> float:
        """Requests per second of one request name."""
        row = self.rows.get(name)
        return float(row["Requests/s"]) if row else 0.0

    def errors(self) -> int:
        """Failed requests of every name."""
        return sum(int(r["Failure Count"]) for name, r in self.rows.items() if name != "Aggregated")

    def percentile(self, name: str, column: str) -> float:
        """A latency percentile of one request name, ms ('50%', '99%'...)."""
        row = self.rows.get(name)
        return float(row[column]) if row and row[column] not in ("", "N/A") else float("nan")


def _wait_for_requests(out: Path, generator: subprocess.Popen[bytes], *, patience: float) -> None:
    """Until locust's statistics file counts a request (it writes one every second), or `patience` s."""
    deadline = time.monotonic() + patience
    stats = Path(f"{out}_stats.csv")
    while time.monotonic() < deadline and generator.poll() is None:
        try:
            with stats.open(newline="") as handle:
                if any(int(row.get("Request Count") or 0) for row in csv.DictReader(handle)):
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)


def measured_run(*, locustfile: Path, users: int, duration: int, out: Path, env: Mapping[str, str],
                 groups: Groups, settle: float = 3.0, classes: tuple[str, ...] = ()) -> Run:
    """A locust run whose CPU is sampled from `settle` s after its first requests to 1 s before the end.

    Waiting for the first requests keeps locust's own start-up (its imports and the fixture: over a second of
    CPU) out of the generator's figure on a busy machine, where it can take longer than `settle`."""
    generator = start_locust(locustfile=locustfile, users=users, duration=duration, out=out, env=env,
                             classes=classes)
    try:
        sampled = Groups(roots={**groups.roots, "load generator": (generator.pid,)}, markers=groups.markers)
        started = time.monotonic()
        _wait_for_requests(out, generator, patience=30.0)
        time.sleep(settle)
        before, t0 = sampled.sample(), time.monotonic()
        time.sleep(max(1.0, duration - (t0 - started) - 1.0))
        after, t1 = sampled.sample(), time.monotonic()
        generator.wait(timeout=duration + 60)
    finally:
        stop(generator)
    return Run(rows=locust_rows(out), cores=cores(before, after, t1 - t0), seconds=t1 - t0,
               failures=locust_failures(out))
