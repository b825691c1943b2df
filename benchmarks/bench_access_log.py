"""What the request middleware costs per request: metrics, and the access-log line on top, in CPU instructions.

    python3 dev.py run -m benchmarks.bench_access_log [--small 2000 --large 12000] [--no-callgrind]

The shared CPUs make timings noisy, so the figure that counts is callgrind's instruction count: each mode runs an
in-process loop of requests through `RequestContextMiddleware` around a trivial ASGI app (no server, no socket),
twice under `valgrind --tool=callgrind` (with `small` and `large` requests), and the difference divided by the
difference in requests is the instructions per request, start-up cancelled out. The modes:

    bare       the trivial app alone (the floor)
    metrics    the middleware, access log off (request id, two metric children)
    access     the middleware with the access log on (JSON lines, buffered, written to a file by its thread)
    structlog  the middleware, plus one structlog event per request through the stdlib chain (what the access
               log avoids), for comparison

Then the same loops without valgrind, best of five, in microseconds (indicative only on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

MODES = ("bare", "metrics", "access", "structlog")


class _Route:
    path = "/v1/verifications"


ROUTE = _Route()


async def _endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["route"] = ROUTE  # what the router does
    scope["onshi.principal"] = "terminal"  # what authentication does
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


def _app(mode: str, log_path: str) -> Any:
    from service.core.logging import access, configure_logging, get_logger
    from service.core.middleware import RequestContextMiddleware

    if mode == "bare":
        return _endpoint
    stream = open(log_path, "a", encoding="utf-8")
    configure_logging(level="INFO", log_format="json", access_log=mode == "access", stream=stream)
    if mode != "structlog":
        return RequestContextMiddleware(_endpoint)
    log = get_logger("bench.requests")

    async def logged(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _endpoint(scope, receive, send)
        log.info("request", method="POST", route=ROUTE.path, status=200, duration_ms=1.0, principal="terminal")

    assert not access.enabled
    return RequestContextMiddleware(logged)


async def _loop(app: Any, requests: int) -> float:
    headers = [(b"authorization", b"Bearer ont_x"), (b"content-type", b"application/json")]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(_message: dict[str, Any]) -> None:
        return None

    started = time.perf_counter()
    for _ in range(requests):
        scope = {"type": "http", "method": "POST", "path": "/v1/verifications", "headers": headers}
        await app(scope, receive, send)
    return time.perf_counter() - started


def inner(mode: str, requests: int, log_path: str) -> float:
    """One process's loop; returns its seconds."""
    from service.core.logging import access

    app = _app(mode, log_path)
    seconds = asyncio.run(_loop(app, requests))
    access.flush()
    return seconds


def _instructions(mode: str, requests: int, log_path: str) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
               "benchmarks.bench_access_log", "--inner", mode, "--requests", str(requests), "--log", log_path]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    """Instructions per request per mode (callgrind), then microseconds per request (timed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=12000)
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--inner", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps({"seconds": inner(args.inner, args.requests, args.log)}))
        return
    with tempfile.TemporaryDirectory() as scratch:
        log_path = os.path.join(scratch, "access.log")
        results: dict[str, dict[str, float]] = {mode: {} for mode in MODES}
        if not args.no_callgrind:
            if shutil.which("valgrind") is None:
                sys.exit("valgrind is missing: apt-get install valgrind (or --no-callgrind)")
            for mode in MODES:
                small, large = (_instructions(mode, n, log_path) for n in (args.small, args.large))
                results[mode]["instructions"] = (large - small) / (args.large - args.small)
                print(f"callgrind {mode:9s} {results[mode]['instructions']:8.0f} instructions per request", flush=True)
        for mode in MODES:
            runs = [inner_subprocess(mode, args.large, log_path) for _ in range(5)]
            results[mode]["microseconds"] = min(runs) / args.large * 1e6
            print(f"timed     {mode:9s} {results[mode]['microseconds']:8.2f} µs per request (best of 5)", flush=True)
        lines = sum(1 for _ in open(log_path, encoding="utf-8"))
    _report(results, lines)


def inner_subprocess(mode: str, requests: int, log_path: str) -> float:
    """One timed loop in a fresh process (so that modes do not share a configured logging)."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_access_log", "--inner", mode, "--requests",
                           str(requests), "--log", log_path], capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def _report(results: dict[str, dict[str, float]], lines: int) -> None:
    print(f"\n{lines} log lines written in all runs")
    for label, mode in (("access line", "access"), ("structlog event (avoided)", "structlog")):
        extra = {key: results[mode][key] - results["metrics"][key] for key in results[mode]}
        shown = ", ".join(f"{value:.0f} instructions" if key == "instructions" else f"{value:.2f} µs"
                          for key, value in extra.items())
        print(f"{label}: {shown} per request over the middleware without it")
    middleware = {key: results["metrics"][key] - results["bare"][key] for key in results["metrics"]}
    print("middleware (request id, metrics): " + ", ".join(f"{k} {v:.2f}" for k, v in middleware.items()))


if __name__ == "__main__":
    main()
