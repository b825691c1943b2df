"""The service's memory across eligibility batches: RSS before, at peak and after each of a few 100,000-row batches.

    python3 dev.py run -m benchmarks.batch_memory                  # 3 batches of 100,000 rows
    python3 dev.py run -m benchmarks.batch_memory --trace          # and tracemalloc snapshots in the server
    python3 dev.py run -m benchmarks.batch_memory --trim           # and malloc_trim(0) in the server after each
    python3 dev.py run -m benchmarks.batch_memory --env MALLOC_ARENA_MAX=2

On an embedded PostgreSQL and Redis in a temporary directory, one uvicorn process serves `service.app:create_app`
with the peak benchmark's options and environment (benchmarks/peak.py). The batches are the peak benchmark's
(loadtests.batch_rows.batch_csv), uploaded the same way. RSS is read from /proc/PID/status every 50 ms. Halfway
through and after each batch, on SIGUSR1, the server writes what its allocators hold: glibc's arenas (malloc_info),
pymalloc's 1 MiB arenas and the bytes in use in them (sys._debugmallocstats; not available under --trace) and,
with --trace, a tracemalloc snapshot. That tells memory that Python objects still hold from memory an allocator
keeps after they were freed. A leak grows with every batch; an allocator's high-water mark stays after the first.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from benchmarks import harness
from loadtests.batch_rows import batch_csv
from service.accounts import service as accounts
from service.core.embedded import start_postgres, start_redis
from service.core.migrate import apply_migrations

INSURER = "06130017"
MIB = 2**20
REPORT_ENV = "ONSHI_MEMORY_REPORT"  # where the server writes what SIGUSR1 asks for
TRACE_FRAMES = 12


# --- in the server process ---------------------------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL("libc.so.6")


def _malloc_info(path: Path) -> None:
    """glibc's XML statistics of every arena, into `path`."""
    libc = _libc()
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    handle = libc.fopen(str(path).encode(), b"w")
    libc.malloc_info(0, handle)
    libc.fclose(handle)


def _pymalloc_stats(path: Path) -> None:
    """sys._debugmallocstats() (written to the C stderr) into `path`."""
    saved = os.dup(2)
    try:
        with path.open("wb") as out:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _report(label: str, *, trim: bool) -> None:
    """Write malloc_info and pymalloc's statistics (after malloc_trim(0) when `trim`) and, when tracing, a
    tracemalloc snapshot."""
    base = Path(os.environ[REPORT_ENV])
    if trim:
        _libc().malloc_trim(0)
    _malloc_info(base.with_name(f"{base.name}-{label}.xml"))
    _pymalloc_stats(base.with_name(f"{base.name}-{label}.pymalloc"))
    if tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(str(base.with_name(f"{base.name}-{label}.trace")))
    base.with_name(f"{base.name}-{label}.done").write_text(
        json.dumps({"threads": threading.active_count(), "traced": tracemalloc.get_traced_memory()}))


def serve(port: int, *, trace: bool) -> None:
    """uvicorn as benchmarks/peak.py starts it; SIGUSR1 writes a report named by the file <report>-label."""
    import uvicorn

    if trace:
        tracemalloc.start(TRACE_FRAMES)
    label = Path(os.environ[REPORT_ENV])

    def on_signal(signum: int, _frame: object) -> None:
        request = label.read_text().strip()  # "<name>" or "<name> trim"
        name, _, trim = request.partition(" ")
        _report(name, trim=trim == "trim")

    signal.signal(signal.SIGUSR1, on_signal)
    uvicorn.run("service.app:create_app", factory=True, host="127.0.0.1", port=port, workers=1, access_log=False,
                log_level="warning")


# --- in the driver ------------------------------------------------------------------------------------------------


def rss(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, bytes."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def anonymous(pid: int) -> int:
    """Resident bytes of the process's anonymous mappings (heaps, arenas, stacks), without files."""
    total, named = 0, True
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$", line)
        if head:
            named = head[1].startswith("/")
        elif line.startswith("Rss:") and not named:
            total += int(line.split()[1]) * 1024
    return total


@dataclass(frozen=True, slots=True)
class Allocators:
    """What the allocators hold, from a server report: glibc's arenas and mmapped blocks, pymalloc's arenas."""

    glibc_arenas: list[tuple[int, int, int]]  # (arena number, bytes from the system, bytes free in it)
    glibc_mmapped: int
    pymalloc_arenas: int
    pymalloc_used: int

    @classmethod
    def read(cls, xml: Path) -> Allocators:
        text = xml.read_text()
        found = []
        for number, heap in re.findall(r'<heap nr="(\d+)">(.*?)</heap>', text, re.S):
            system = re.search(r'<system type="current" size="(\d+)"/>', heap)
            free = re.findall(r'<total type="(?:fast|rest)" count="\d+" size="(\d+)"/>', heap)
            found.append((int(number), int(system[1]) if system else 0, sum(int(v) for v in free)))
        tail = text[text.rindex("</heap>"):]
        mmapped = re.search(r'<total type="mmap" count="\d+" size="(\d+)"/>', tail)
        stats = xml.with_suffix(".pymalloc").read_text()
        arenas = re.search(r"# arenas allocated current\s*=\s*([\d,]+)", stats)
        used = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", stats)
        return cls(found, int(mmapped[1]) if mmapped else 0,
                   int(arenas[1].replace(",", "")) if arenas else 0, int(used[1].replace(",", "")) if used else 0)

    def show(self, before: Allocators | None) -> None:
        def grew(now: int, then: int | None) -> str:
            return "" if then is None else f" ({(now - then) / MIB:+.1f})"

        system = sum(a[1] for a in self.glibc_arenas)
        free = sum(a[2] for a in self.glibc_arenas)
        then = before or None
        print(f"      glibc: {len(self.glibc_arenas)} arenas hold {mib(system)} MiB"
              f"{grew(system, then and sum(a[1] for a in then.glibc_arenas))}, of it free {mib(free)}"
              f"{grew(free, then and sum(a[2] for a in then.glibc_arenas))}; mmapped blocks "
              f"{mib(self.glibc_mmapped)}{grew(self.glibc_mmapped, then and then.glibc_mmapped)}; by arena "
              "(MiB held/free): " + ", ".join(f"#{n} {s / MIB:.1f}/{f / MIB:.1f}" for n, s, f in self.glibc_arenas))
        print(f"      pymalloc: {self.pymalloc_arenas} arenas of 1 MiB"
              f"{grew(self.pymalloc_arenas * MIB, then and then.pymalloc_arenas * MIB)}, "
              f"{mib(self.pymalloc_used)} MiB in use{grew(self.pymalloc_used, then and then.pymalloc_used)}")


class Server:
    """The service in a subprocess, and the reports it writes on request."""

    def __init__(self, env: dict[str, str], work: Path, *, trace: bool) -> None:
        self.port = harness.free_port()
        self.report = work / "memory-report"
        self.report.write_text("")
        self.work = work
        command = [sys.executable, "-m", "benchmarks.batch_memory", "serve", "--port", str(self.port),
                   *(["--trace"] if trace else [])]
        log = (work / "service.log").open("ab")
        self.process = subprocess.Popen(
            command, cwd=harness.ROOT, env={**env, REPORT_ENV: str(self.report)}, start_new_session=True,
            stdout=log, stderr=log)
        log.close()
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited: see {work / 'service.log'}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the service did not become ready")

    def ask(self, label: str, *, trim: bool = False) -> Path:
        """Have the server write its report `label`; the malloc_info file's path."""
        done = self.report.with_name(f"{self.report.name}-{label}.done")
        self.report.write_text(f"{label} trim" if trim else label)
        os.kill(self.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 120
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.report.with_name(f"{self.report.name}-{label}.xml")

    def trace(self, label: str) -> tracemalloc.Snapshot | None:
        path = self.report.with_name(f"{self.report.name}-{label}.trace")
        return tracemalloc.Snapshot.load(str(path)) if path.exists() else None

    def stop(self) -> None:
        harness.stop(self.process)


async def make_insurer(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        return (await accounts.create_insurer(conn, number=INSURER, name="メモリ健保"))["token"]
    finally:
        await conn.close()


def upload(server: Server, token: str, body: bytes, *, halfway: threading.Event) -> dict[str, Any]:
    """Upload a batch as benchmarks/peak.py does and poll until it is done; `halfway` set at half its rows."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv",
               "Idempotency-Key": f"memory-{time.time_ns()}"}
    with httpx.Client(base_url=server.url, timeout=300) as client:
        answer = client.post(f"/v1/insurers/{INSURER}/eligibility-batches", content=body, headers=headers)
        answer.raise_for_status()
        status_url = answer.json()["status_url"]
        while True:
            status: dict[str, Any] = client.get(status_url, params={"errors_limit": 0},
                                                headers={"Authorization": headers["Authorization"]}).json()
            if status["status"] in ("done", "failed"):
                return status
            if (status.get("rows_processed") or 0) * 2 >= (status.get("rows_total") or 1):
                halfway.set()
            time.sleep(0.2)


def mib(value: float) -> str:
    return f"{value / MIB:7.1f}"


def show_trace(now: tracemalloc.Snapshot, base: tracemalloc.Snapshot | None, *, top: int) -> None:
    """What Python allocations hold, and the allocation sites that grew most since `base`."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    now = now.filter_traces(ignore)
    print(f"      tracemalloc: {mib(sum(s.size for s in now.statistics('filename')))} MiB held by Python objects")
    if base is None:
        return
    diffs = [d for d in now.compare_to(base.filter_traces(ignore), "traceback") if d.size_diff > 64 * 1024]
    for diff in diffs[:top]:
        frames = [f"{Path(f.filename).name}:{f.lineno}" for f in reversed(diff.traceback)
                  if "/service/" in f.filename or "asyncpg" in f.filename or "starlette" in f.filename][:4]
        where = " < ".join(frames) or f"{diff.traceback[-1].filename}:{diff.traceback[-1].lineno}"
        print(f"        {diff.size_diff / MIB:+6.2f} MiB in {diff.count_diff:+7d} blocks  {where}")


class Batches:
    """The batches uploaded one after the other, and what the server's memory did."""

    def __init__(self, server: Server, token: str, args: argparse.Namespace) -> None:
        self.server, self.token, self.args = server, token, args
        self.pid = server.process.pid
        self.idle = rss(self.pid)[0]
        self.previous = self.idle
        self.allocators: Allocators | None = None
        self.anon = anonymous(self.pid)
        self.base_trace: tracemalloc.Snapshot | None = None

    def account(self, label: str, *, trim: bool = False) -> None:
        """The server's anonymous memory and what its allocators hold, against the previous account."""
        xml = self.server.ask(label, trim=trim)
        now, anon = Allocators.read(xml), anonymous(self.pid)
        print(f"      RSS {mib(rss(self.pid)[0])} MiB, anonymous {mib(anon)} MiB ({(anon - self.anon) / MIB:+.1f})")
        now.show(self.allocators)
        self.allocators, self.anon = now, anon
        if (snapshot := self.server.trace(label)) is not None:
            show_trace(snapshot, self.base_trace, top=self.args.top)
            self.base_trace = self.base_trace or snapshot

    def one(self, number: int, body: bytes) -> None:
        pid, peak, stop, halfway = self.pid, [0], threading.Event(), threading.Event()

        def sample() -> None:
            while not stop.wait(0.05):
                peak[0] = max(peak[0], rss(pid)[0])

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        middle: dict[str, Any] = {}

        def at_half() -> None:  # what the allocators hold while the batch runs
            if halfway.wait(600) and not stop.is_set():
                middle["rss"] = rss(pid)[0]
                middle["report"] = Allocators.read(self.server.ask(f"batch{number}-half"))
                middle["trace"] = self.server.trace(f"batch{number}-half")

        asker = threading.Thread(target=at_half, daemon=True)
        asker.start()
        started = time.monotonic()
        status = upload(self.server, self.token, body, halfway=halfway)
        seconds = time.monotonic() - started
        halfway.set()
        asker.join()
        time.sleep(self.args.settle)
        stop.set()
        sampler.join()
        after = rss(pid)[0]
        print(f"  batch {number}: {status['status']}, {status['rows_accepted']} rows accepted in {seconds:.0f} s; "
              f"RSS peak {mib(peak[0])} MiB, after {mib(after)} MiB ({(after - self.previous) / MIB:+.1f} over the "
              f"last, {(after - self.idle) / MIB:+.1f} over idle)")
        if "report" in middle:
            print(f"    halfway: RSS {mib(middle['rss'])} MiB")
            middle["report"].show(self.allocators)
            if middle["trace"] is not None:
                show_trace(middle["trace"], self.base_trace, top=self.args.top)
        print(f"    {self.args.settle:.0f} s after:")
        self.account(f"batch{number}")
        if self.args.trim:
            print("    after malloc_trim(0):")
            self.account(f"batch{number}-trimmed", trim=True)
        self.previous = rss(pid)[0]


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="onshi-memory-") as tmp:
        work = Path(tmp)
        database_url = start_postgres(work)
        redis_url = start_redis(work)
        apply_migrations(database_url)
        token = asyncio.run(make_insurer(database_url))
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "ONSHI_DATA_DIR": str(work),
               "ONSHI_LOG_LEVEL": "WARNING", "ONSHI_ACCESS_LOG": "true", **dict(e.split("=", 1) for e in args.env)}
        bodies = [batch_csv(args.rows, random.Random(11 + i)) for i in range(args.batches)]
        server = Server(env, work, trace=args.trace)
        try:
            for _ in range(50):  # the routes' first calls (imports, caches) before the baseline
                httpx.get(f"{server.url}/readyz")
            time.sleep(2)
            batches = Batches(server, token, args)
            print(f"service pid {server.process.pid}: {len(bodies[0]) / MIB:.1f} MiB of CSV per batch, "
                  f"{args.rows} rows; env {' '.join(args.env) or '(default)'}; trace={args.trace} trim={args.trim}")
            print("  idle before the first batch:")
            batches.account("idle")
            for number, body in enumerate(bodies, 1):
                batches.one(number, body)
            end = rss(server.process.pid)[0]
            print(f"  end: RSS {mib(end)} MiB, {(end - batches.idle) / MIB:+.1f} MiB "
                  f"({(end - batches.idle) / batches.idle * 100:+.1f} %) over idle")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    served = sub.add_parser("serve", help="(internal) the service process")
    served.add_argument("--port", type=int, required=True)
    served.add_argument("--trace", action="store_true")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after a batch before RSS is read")
    parser.add_argument("--trace", action="store_true", help="tracemalloc in the server (slower)")
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) in the server after each batch")
    parser.add_argument("--top", type=int, default=12, help="allocation sites shown with --trace")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="more environment for the server (MALLOC_ARENA_MAX=2, ...)")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port, trace=args.trace)
    else:
        run(args)


if __name__ == "__main__":
    main()
