"""Peak hour: Onshi's cost per verification against a bare FastAPI floor, measured in the same run.

    python3 dev.py run -m benchmarks.peak             (work in progress: floor and saturation)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks import harness
from loadtests import fixture_file, fixtures
from service.core.embedded import start_postgres, start_redis
from service.core.logging import configure_logging
from service.core.migrate import apply_migrations
from service.core.settings import Settings

VERIFY, CHALLENGE = "POST /v1/verifications", "POST /v1/challenges"
FLOOR_NAMES = ("POST /floor (challenge)", "POST /floor (verify)")


def floor(args: argparse.Namespace, work: Path) -> dict[str, float]:
    """The bare app's CPU per pair of POSTs (ms), with the same workers and generator."""
    port = harness.free_port()
    server = harness.start_uvicorn("benchmarks.floor_app:app", port=port, workers=args.workers, env=os.environ)
    try:
        env = {**os.environ}
        run = harness.measured_run(locustfile=harness.ROOT / "benchmarks" / "floor_locustfile.py", users=args.users,
                                   duration=args.duration, out=work / "floor", groups=harness.Groups(
                                       roots={"service": (server.pid,)}, markers={}),
                                   env={**env, "LOCUST_HOST": f"http://127.0.0.1:{port}"})
    finally:
        harness.stop(server)
    pairs = run.rate(FLOOR_NAMES[1])
    return {"floor_pairs_per_s": pairs, "floor_cpu_ms": run.cores["service"] / pairs * 1000,
            "floor_system_cpu_ms": run.cores["service (system)"] / pairs * 1000,
            "floor_generator_cpu_ms": run.cores["load generator"] / pairs * 1000, "floor_errors": run.errors()}


def onshi(args: argparse.Namespace, work: Path, *, fixture: Path, env: dict[str, str],
          markers: dict[str, str], label: str) -> dict[str, float]:
    """Onshi at saturation: verifications/s, latencies and CPU per verification by group."""
    port = harness.free_port()
    server = harness.start_uvicorn("service.app:create_app", factory=True, port=port, workers=args.workers, env=env,
                                   ready_path="/readyz")
    url = f"http://127.0.0.1:{port}"
    run_env = {**env, "ONSHI_URL": url, "ONSHI_LOADTEST_FIXTURE": str(fixture), "ONSHI_LOADTEST_WAIT_MIN": "0",
               "ONSHI_LOADTEST_WAIT_MAX": "0"}
    locustfile = harness.ROOT / "loadtests" / "locustfile.py"
    try:
        if args.warm_up:
            warm = harness.start_locust(locustfile=locustfile, users=args.users, duration=args.warm_up,
                                        out=work / f"{label}-warm", env=run_env, classes=("ReceptionTerminal",))
            warm.wait(timeout=args.warm_up + 60)
        run = harness.measured_run(locustfile=locustfile, users=args.users, duration=args.duration,
                                   out=work / label, env=run_env, classes=("ReceptionTerminal",),
                                   groups=harness.Groups(roots={"service": (server.pid,)}, markers=markers))
    finally:
        harness.stop(server)
    rate = run.rate(VERIFY)
    per = {name: run.cores[group] / rate * 1000 if rate else float("nan") for name, group in (
        ("service_cpu_ms", "service"), ("postgres_cpu_ms", "postgres"), ("redis_cpu_ms", "redis"),
        ("generator_cpu_ms", "load generator"))}
    if run.failures:
        print(f"  failures: {run.failures}")
    return {"verifications_per_s": rate, "p50_ms": max(run.percentile(VERIFY, "50%"), run.percentile(CHALLENGE, "50%")),
            "p99_ms": max(run.percentile(VERIFY, "99%"), run.percentile(CHALLENGE, "99%")), "errors": run.errors(),
            **per, "service_system_cpu_ms": run.cores["service (system)"] / rate * 1000 if rate else float("nan"),
            "other_cores": run.cores["other"]}


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warm-up", type=int, default=5)
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--terminals", type=int, default=500)
    args = parser.parse_args()
    configure_logging(level="WARNING")
    with tempfile.TemporaryDirectory(prefix="onshi-peak-") as tmp:
        work = Path(tmp)
        database_url, redis_url = start_postgres(work), start_redis(work)
        apply_migrations(database_url)
        settings = Settings(database_url=database_url, redis_url=redis_url, data_dir=work)
        started = time.perf_counter()
        document = asyncio.run(fixtures.build(settings, cards=args.cards, terminals=args.terminals, keys=25))
        fixture = work / "fixture.json"
        fixture_file.write(fixture, document)
        print(f"fixture in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "ONSHI_DATA_DIR": str(work),
               "ONSHI_LOG_LEVEL": "WARNING"}
        markers = {"postgres": f"-D {(work / 'postgres').resolve()}", "redis": redis_url.removeprefix("unix://")}
        result = floor(args, work)
        print("floor", json.dumps(result))
        figures = onshi(args, work, fixture=fixture, env=env, markers=markers, label="small")
        figures["floor_cpu_ms"] = result["floor_cpu_ms"]
        figures["ratio"] = figures["service_cpu_ms"] / result["floor_cpu_ms"]
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}))


if __name__ == "__main__":
    main()
