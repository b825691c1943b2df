"""Benchmark: full reception checks (challenge, card signature, verification) per second, over HTTP, with locust.

Starts PostgreSQL and Redis embedded in a temporary directory (or uses DATABASE_URL / REDIS_URL), seeds the
load-test fixture through the service code, then for each worker count starts the service with uvicorn on
127.0.0.1 and runs the locust scenarios (loadtests/) headless for a bounded time (after an unmeasured warm-up,
so that connection pools and certificate caches are filled as in a service that has been up), in two modes:

  paced   the target rate (default 500 verifications/s) spread over many terminals at constant throughput:
          are the latencies within budget at that rate?
  max     every terminal checks its next patient as soon as the last answer arrives: the saturation rate.

It prints verifications/s, p50/p95/p99 of both POSTs, errors, the CPU used by the service, PostgreSQL, Redis and
the load generator (cores of the machine, from /proc), and the ratio to the 500/s target (DOMAIN.md,
"Performance budget"). Everything it starts is stopped before it exits.

    python benchmarks/bench_verification.py                      # 1 and 2 workers, paced and max, 30 s each
    python benchmarks/bench_verification.py --workers 2 --modes max --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loadtests import fixture_file, fixtures  # noqa: E402
from service.core.embedded import start_postgres, start_redis  # noqa: E402
from service.core.logging import configure_logging  # noqa: E402
from service.core.migrate import apply_migrations  # noqa: E402
from service.core.settings import Settings  # noqa: E402

TARGET = 500.0  # full verifications per second on one 2-core machine (DOMAIN.md)
VERIFY, CHALLENGE = "POST /v1/verifications", "POST /v1/challenges"
TICKS = os.sysconf("SC_CLK_TCK")
WARM_UP_SECONDS = 3.0


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _processes() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command line, CPU ticks used so far) of every process we can read."""
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
        found[int(entry.name)] = (int(fields[1]), cmdline, int(fields[11]) + int(fields[12]))
    return found


def _tree(roots: Iterable[int], processes: dict[int, tuple[int, str, int]]) -> set[int]:
    members = {r for r in roots if r in processes}
    grew = True
    while grew:
        more = {pid for pid, (ppid, _, _) in processes.items() if ppid in members} - members
        members |= more
        grew = bool(more)
    return members


def _machine_ticks() -> tuple[int, int]:
    """(busy, steal) CPU ticks of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return user + nice + system + irq + softirq, steal


@dataclass(frozen=True, slots=True)
class CpuGroups:
    """How to find the processes of each group at sampling time (markers: text in the server's command line)."""

    service: int
    generator: int
    postgres_marker: str | None
    redis_marker: str | None

    def sample(self) -> dict[str, int]:
        """CPU ticks used so far by each group, and by the whole machine."""
        processes = _processes()
        groups = {"service": _tree([self.service], processes), "load generator": _tree([self.generator], processes)}
        for name, marker in (("postgres", self.postgres_marker), ("redis", self.redis_marker)):
            roots = [pid for pid, (_, cmd, _) in processes.items() if marker and marker in cmd]
            groups[name] = _tree(roots, processes)
        ticks = {name: sum(processes[pid][2] for pid in pids) for name, pids in groups.items()}
        ticks["machine"], ticks["steal"] = _machine_ticks()
        return ticks


def wait_until_quiet(patience: float, *, limit: float = 0.2) -> bool:
    """Wait (at most `patience` s) until the machine is nearly idle: other jobs would distort the figures."""
    deadline = time.monotonic() + patience
    while True:
        busy = _machine_ticks()[0]
        time.sleep(2)
        if (_machine_ticks()[0] - busy) / TICKS / 2 < limit:
            return True
        if time.monotonic() > deadline:
            return False


def cores(before: dict[str, int], after: dict[str, int], seconds: float) -> dict[str, float]:
    """Cores used per group between two samples; 'other' is what the machine used beyond the groups."""
    used = {name: (after[name] - before[name]) / TICKS / seconds for name in before}
    used["other"] = max(0.0, used["machine"] - sum(used[n] for n in ("service", "load generator", "postgres", "redis")))
    return used


def signing_cost_us(fixture: fixture_file.Fixture, count: int = 300) -> float:
    """The load generator's CPU per card signature (RSA-2048 PKCS#1 v1.5), microseconds."""
    card = fixture.cards[0]
    started = time.process_time()
    for i in range(count):
        card.sign(i.to_bytes(32, "big"))
    return (time.process_time() - started) / count * 1e6


def start_service(*, workers: int, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """uvicorn with the app factory (`python -m service` has no worker option), in its own process group."""
    command = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the service exited with status {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop(server)
    raise RuntimeError("the service did not become ready within 90 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process group we started: SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@dataclass(frozen=True, slots=True)
class Mode:
    """A load shape: how many terminals, and at what pace."""

    name: str
    users: int
    env: dict[str, str]

    def describe(self) -> str:
        """One line for the report."""
        pace = self.env.get("ONSHI_LOADTEST_PACE")
        return f"{self.name}: {self.users} terminals" + (f" at {float(pace):.2f}/s each" if pace else ", no wait")


def modes(args: argparse.Namespace) -> list[Mode]:
    """The modes asked for on the command line."""
    known = {
        "paced": Mode("paced", args.users, {"ONSHI_LOADTEST_PACE": f"{args.rate / args.users:.4f}"}),
        "max": Mode("max", args.max_users, {"ONSHI_LOADTEST_WAIT_MIN": "0", "ONSHI_LOADTEST_WAIT_MAX": "0"}),
    }
    return [known[name] for name in args.modes.split(",")]


def _start_locust(*, mode: Mode, url: str, fixture: Path, out: Path, duration: int,
                  env: dict[str, str]) -> subprocess.Popen[bytes]:
    users = mode.users + 1  # + the insurer (fixed_count 1)
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
               "-u", str(users), "-r", str(users), "-t", f"{duration}s", "--stop-timeout", "5", "--reset-stats",
               "--csv", str(out), "--only-summary", "--loglevel", "WARNING"]
    run_env = {**env, **mode.env, "ONSHI_URL": url, "ONSHI_LOADTEST_FIXTURE": str(fixture),
               "ONSHI_LOADTEST_INSURERS": "1", "ONSHI_LOADTEST_BATCH_WAIT_MIN": "5",
               "ONSHI_LOADTEST_BATCH_WAIT_MAX": "10"}
    with out.with_suffix(".log").open("wb") as log:
        return subprocess.Popen(command, cwd=ROOT, env=run_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def warm_up(*, mode: Mode, url: str, fixture: Path, out: Path, seconds: int, env: dict[str, str]) -> None:
    """An unmeasured run first: the pools grow to size and the caches fill, as in a service that has been up."""
    generator = _start_locust(mode=mode, url=url, fixture=fixture, out=out, duration=seconds, env=env)
    try:
        generator.wait(timeout=seconds + 60)
    finally:
        stop(generator)


def run_locust(*, mode: Mode, url: str, fixture: Path, out: Path, duration: int, markers: tuple[str | None, str | None],
               service_pid: int, env: dict[str, str]) -> tuple[dict[str, dict[str, str]], dict[str, float], str]:
    """One bounded locust run; returns its stats rows by name, the CPU per group, and its failure summary."""
    generator = _start_locust(mode=mode, url=url, fixture=fixture, out=out, duration=duration, env=env)
    try:
        sampler = CpuGroups(service=service_pid, generator=generator.pid, postgres_marker=markers[0],
                            redis_marker=markers[1])
        time.sleep(WARM_UP_SECONDS)
        before, t0 = sampler.sample(), time.monotonic()
        time.sleep(max(1.0, duration - WARM_UP_SECONDS - 1.0))
        after, t1 = sampler.sample(), time.monotonic()
        generator.wait(timeout=duration + 60)
    finally:
        stop(generator)
    with Path(f"{out}_stats.csv").open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return rows, cores(before, after, t1 - t0), _failures(Path(f"{out}_failures.csv"))


def _failures(path: Path) -> str:
    if not path.exists():
        return ""
    with path.open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: -int(r["Occurrences"]))
    return "; ".join(f"{r['Occurrences']}x {r['Name']}: {r['Error'][:120]}" for r in rows[:3])


def _ms(row: dict[str, str] | None, column: str) -> str:
    return "-" if row is None else f"{float(row[column]):.0f}"


def report(*, workers: int, mode: Mode, rows: dict[str, dict[str, str]], used: dict[str, float], failures: str,
           sign_us: float) -> None:
    """Print one run's figures."""
    verify, challenge = rows.get(VERIFY), rows.get(CHALLENGE)
    rate = float(verify["Requests/s"]) if verify else 0.0
    errors = sum(int(r["Failure Count"]) for name, r in rows.items() if name != "Aggregated")
    print(f"\nworkers={workers}  {mode.describe()}")
    print(f"  verifications/s={rate:7.1f}   ratio to {TARGET:.0f}/s = {rate / TARGET:4.2f}   "
          f"errors={errors} of {rows['Aggregated']['Request Count'] if 'Aggregated' in rows else 0} requests")
    for name, row in ((VERIFY, verify), (CHALLENGE, challenge)):
        print(f"  {name:24s} p50={_ms(row, '50%'):>4} ms  p95={_ms(row, '95%'):>4} ms  p99={_ms(row, '99%'):>4} ms")
    groups = ("service", "postgres", "redis", "load generator")
    print(f"  CPU, cores of {os.cpu_count()}: " + "  ".join(f"{name}={used[name]:.2f}" for name in
                                                         (*groups, "other", "steal")))
    if rate > 0:
        print("  CPU per verification, ms: " + "  ".join(f"{name}={used[name] / rate * 1000:.2f}" for name in groups)
              + f"   (of the load generator's, card signatures: {sign_us / 1000:.2f})")
    if failures:
        print(f"  failures: {failures}")


def main() -> None:
    """Seed, then run each worker count and mode, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to try, e.g. 1,2")
    parser.add_argument("--modes", default="paced,max", help="paced, max, or both")
    parser.add_argument("--duration", type=int, default=30, help="seconds per run (at most 60)")
    parser.add_argument("--rate", type=float, default=TARGET, help="verifications/s the paced mode asks for")
    parser.add_argument("--users", type=int, default=200, help="terminals in the paced mode")
    parser.add_argument("--max-users", type=int, default=64, help="terminals in the max mode")
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--warm-up", type=int, default=8, help="seconds of unmeasured load before each run (0: no)")
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="wait up to this many seconds for other jobs to leave the CPUs before each run (0: no)")
    args = parser.parse_args()
    if not 5 <= args.duration <= 60 or not 0 <= args.warm_up <= 30:
        parser.error("--duration must be between 5 and 60 seconds, --warm-up between 0 and 30")
    configure_logging(level="WARNING")
    with tempfile.TemporaryDirectory(prefix="onshi-bench-verify-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, data_dir: Path) -> None:
    """Everything, inside the temporary directory."""
    database_url = os.environ.get("DATABASE_URL") or start_postgres(data_dir)
    redis_url = os.environ.get("REDIS_URL") or start_redis(data_dir)
    apply_migrations(database_url)
    settings = Settings(database_url=database_url, redis_url=redis_url, data_dir=data_dir)
    started = time.perf_counter()
    document = asyncio.run(fixtures.build(settings, cards=args.cards, terminals=args.terminals, keys=25))
    fixture_path = data_dir / "fixture.json"
    fixture_file.write(fixture_path, document)
    fixture = fixture_file.load(fixture_path)
    sign_us = signing_cost_us(fixture)
    print(f"fixture: {len(fixture.cards)} cards, {len(fixture.terminals)} terminals in "
          f"{time.perf_counter() - started:.1f}s; client signature {sign_us:.0f} us; {os.cpu_count()} cores")
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "ONSHI_DATA_DIR": str(data_dir),
           "ONSHI_LOG_LEVEL": "WARNING", "ONSHI_RATE_LIMIT_UPLOADS": "100000/1h"}  # the insurer uploads every ~10 s
    markers = (None if os.environ.get("DATABASE_URL") else f"-D {(data_dir / 'postgres').resolve()}",
               None if os.environ.get("REDIS_URL") else redis_url.removeprefix("unix://"))
    for workers in (int(w) for w in args.workers.split(",")):
        port = free_port()
        server = start_service(workers=workers, port=port, env=env)
        try:
            for mode in modes(args):
                if args.quiet_wait and not wait_until_quiet(args.quiet_wait):
                    print(f"(the machine is busy with other work after {args.quiet_wait:.0f} s: see 'other')")
                if args.warm_up:
                    warm_up(mode=mode, url=f"http://127.0.0.1:{port}", fixture=fixture_path,
                            out=data_dir / f"w{workers}-{mode.name}-warm-up", seconds=args.warm_up, env=env)
                rows, used, failures = run_locust(
                    mode=mode, url=f"http://127.0.0.1:{port}", fixture=fixture_path,
                    out=data_dir / f"w{workers}-{mode.name}", duration=args.duration, markers=markers,
                    service_pid=server.pid, env=env,
                )
                report(workers=workers, mode=mode, rows=rows, used=used, failures=failures, sign_us=sign_us)
        finally:
            stop(server)


if __name__ == "__main__":
    main()
