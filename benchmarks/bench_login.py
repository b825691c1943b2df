"""Benchmark: does a staff login's answer time tell whether the login exists, and do wrong passwords slow others?

Starts PostgreSQL and Redis embedded in a temporary directory and the service with uvicorn on 127.0.0.1 (rate
limits raised so that nothing is refused: this measures time), then prints:

  1. the median and p90 answer time of a wrong password for an existing login and for a login that does not
     exist (interleaved, N each): they should be the same (one scrypt each, a dummy hash for the unknown one);
  2. the p50/p99 answer time of GET /readyz (a database and a Redis round trip on the event loop) alone, then
     while FLOODERS clients send wrong passwords as fast as they can: scrypt runs in its own bounded threads,
     so the event loop keeps answering (issue 8 saw verifications go from 7.8 to 505 ms p50 with scrypt on it).

    python benchmarks/bench_login.py [--samples 40] [--flooders 4] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_verification import free_port  # noqa: E402
from service.accounts import service as accounts  # noqa: E402
from service.app import create_app  # noqa: E402
from service.core.embedded import start_postgres, start_redis  # noqa: E402
from service.core.migrate import apply_migrations  # noqa: E402
from service.core.settings import Settings  # noqa: E402
from service.runtime import connection  # noqa: E402

UNLIMITED = "1000000/1s"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _timed(http: httpx.AsyncClient, method: str, path: str, **kw: object) -> float:
    started = time.perf_counter()
    await http.request(method, path, **kw)  # type: ignore[arg-type]
    return (time.perf_counter() - started) * 1000


async def _login_times(http: httpx.AsyncClient, samples: int) -> tuple[list[float], list[float]]:
    known, unknown = [], []
    for n in range(samples):
        known.append(await _timed(http, "POST", "/v1/staff/login", json={"login": "bench-doctor", "password": "x"}))
        unknown.append(await _timed(http, "POST", "/v1/staff/login", json={"login": f"nobody-{n}", "password": "x"}))
    return known, unknown


async def _probe(http: httpx.AsyncClient, seconds: float) -> list[float]:
    times, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        times.append(await _timed(http, "GET", "/readyz"))
        await asyncio.sleep(0.01)
    return times


async def _flood(url: str, stop: asyncio.Event) -> int:
    sent = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while not stop.is_set():
            await http.post("/v1/staff/login", json={"login": "bench-doctor", "password": "wrong"})
            sent += 1
    return sent


async def _measure(url: str, samples: int, flooders: int, seconds: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await _login_times(http, 3)  # warm-up: connections, the dummy hash
        known, unknown = await _login_times(http, samples)
        print(f"wrong password, existing login:  median {statistics.median(known):6.1f} ms  "
              f"p90 {_percentile(known, 0.9):6.1f} ms")
        print(f"wrong password, unknown login:   median {statistics.median(unknown):6.1f} ms  "
              f"p90 {_percentile(unknown, 0.9):6.1f} ms")
        alone = await _probe(http, seconds)
        stop = asyncio.Event()
        floods = [asyncio.create_task(_flood(url, stop)) for _ in range(flooders)]
        flooded = await _probe(http, seconds)
        stop.set()
        sent = sum(await asyncio.gather(*floods))
    print(f"GET /readyz alone:               p50 {_percentile(alone, 0.5):6.1f} ms  "
          f"p99 {_percentile(alone, 0.99):6.1f} ms")
    print(f"GET /readyz, {flooders} password flooders: p50 {_percentile(flooded, 0.5):6.1f} ms  "
          f"p99 {_percentile(flooded, 0.99):6.1f} ms  ({sent} wrong passwords in {seconds:.0f} s)")


async def _seed(settings: Settings) -> None:
    async with connection(settings) as conn:
        await accounts.create_facility(conn, code="1399999999", name="ベンチ医院", type_="clinic")
        await accounts.create_staff(conn, facility_code="1399999999", role="doctor", login="bench-doctor",
                                    password="bench-password")


def main() -> None:
    """Start everything, measure, print, stop."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onshi-bench-login-") as tmp:
        data = Path(tmp)
        database_url, redis_url = start_postgres(data), start_redis(data)
        apply_migrations(database_url)
        settings = Settings(env="test", database_url=database_url, redis_url=redis_url, data_dir=data,
                            log_level="WARNING", rate_limit_login=UNLIMITED, rate_limit_login_address=UNLIMITED)
        asyncio.run(_seed(settings))
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            asyncio.run(_measure(f"http://127.0.0.1:{port}", args.samples, args.flooders, args.seconds))
        finally:
            server.should_exit = True
            thread.join(timeout=15)


if __name__ == "__main__":
    main()
