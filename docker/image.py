"""Build the production image on a Debian base made here, then check it against this machine's servers.

    python3 dev.py image [--rebuild-base] [--keep]

1. The base: `debootstrap --variant=minbase bookworm` (with python3 and ca-certificates), trimmed (apt caches,
   docs, man pages, locales), `docker import`ed as `onshi-base:bookworm`; reused until `--rebuild-base`. The
   build gets it by image id (sha256), so the image is built on exactly that base.
2. `docker build --build-arg BASE_IMAGE=sha256:… -t onshi:<version> .` (the Dockerfile: runtime group only).
3. The check, with the image's own commands: a database of its own on 127.0.0.1:5432 (created, then dropped), a
   Redis DB number of its own on 127.0.0.1:6379 (one that holds no key; only its keys are deleted afterwards,
   nothing is flushed), an authority made by `onshi-admin init-authority`, the server container (host network,
   a free port), `/readyz`, then one full reception flow: `onshi-admin` creates an insurer, a clinic, a terminal
   and issues a virtual card; the insurer uploads the holder's record; the card registers (利用登録); the
   terminal fetches a challenge, the card signs it, the check answers eligible with validity code 1.
4. Prints the image size and its site-packages size beside this checkout's .venv (every extra and group).

Needs root (debootstrap, dockerd) and Debian's docker.io and debootstrap (installed with apt-get when missing).
The image and the base stay; `--keep` also leaves the check's container, volume, database and Redis keys.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis import Redis

ROOT = Path(__file__).resolve().parents[1]
BASE_TAG = "onshi-base:bookworm"
MIRROR = "http://deb.debian.org/debian"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale",
        "usr/share/info")
PIN = "1234"
IDENTITY = {"name_kanji": "検査 太郎", "name_kana": "ケンサ タロウ", "birthdate": "1980-04-01", "sex": "1",
            "address": "東京都千代田区霞が関1丁目2番3号"}


def say(message: str) -> None:
    """One line of progress."""
    print(f"[image] {message}", flush=True)


def run(*command: str, capture: bool = False, check: bool = True, **kwargs: Any) -> str:
    """Run a command (its output shown unless captured)."""
    done = subprocess.run(command, check=check, text=True, capture_output=capture, **kwargs)
    return done.stdout.strip() if capture else ""


# --- tools and the docker daemon -----------------------------------------------------------------------------

def ensure_tools() -> None:
    """docker.io and debootstrap from Debian's packages (needs root)."""
    tools = (("docker.io", "dockerd"), ("debootstrap", "debootstrap"))
    missing = [package for package, tool in tools if not shutil.which(tool)]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"[image] needs root to install {', '.join(missing)} (apt-get)")
    say(f"installing {', '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run("apt-get", "update", "-q", env=env)
    run("apt-get", "install", "-y", "-q", *missing, env=env)


@contextmanager
def docker_daemon(log_dir: Path) -> Iterator[None]:
    """The running dockerd, or one started here (and stopped afterwards)."""
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0:
        yield
        return
    say("starting dockerd")
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "dockerd.log").open("w") as log:
        daemon = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(60):
            if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.5)
        else:
            sys.exit(f"[image] dockerd did not start: see {log_dir / 'dockerd.log'}")
        yield
    finally:
        say("stopping the dockerd started here")
        daemon.terminate()
        daemon.wait(timeout=30)


# --- the base and the image ----------------------------------------------------------------------------------

def base_image(*, rebuild: bool) -> str:
    """The id of the Debian base (built with debootstrap and docker import when missing or asked for)."""
    existing = run("docker", "images", "-q", "--no-trunc", BASE_TAG, capture=True)
    if existing and not rebuild:
        say(f"base {BASE_TAG} {existing} (reused; --rebuild-base makes it afresh)")
        return existing
    with tempfile.TemporaryDirectory(prefix="onshi-base-", dir="/var/tmp") as scratch:
        rootfs = Path(scratch) / "rootfs"
        say("debootstrap --variant=minbase bookworm (python3, ca-certificates): about a minute")
        run("debootstrap", "--variant=minbase", "--include=python3,ca-certificates", "bookworm", str(rootfs),
            MIRROR, stdout=subprocess.DEVNULL)
        for part in TRIM:
            target = rootfs / part
            for child in target.glob("*"):
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        say(f"docker import as {BASE_TAG}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        image_id = run("docker", "import", "-", BASE_TAG, stdin=tar.stdout, capture=True)
        if tar.wait() != 0:
            sys.exit("[image] tar of the base failed")
    say(f"base {BASE_TAG} {image_id}")
    return image_id


def build_image(base: str, tag: str) -> None:
    """docker build with the base by id; the build machine's CA bundle for the build stage only."""
    ca = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
    copied = ROOT / "docker" / "build-ca" / "ca-certificates.crt"
    if ca.is_file():
        shutil.copyfile(ca, copied)
    try:
        say(f"docker build -t {tag} (base {base[:19]}…)")
        run("docker", "build", "--build-arg", f"BASE_IMAGE={base}", "-t", tag, "-t", "onshi:latest", str(ROOT))
    finally:
        copied.unlink(missing_ok=True)


def sizes(tag: str) -> dict[str, int]:
    """Image size and the image's site-packages, beside this checkout's .venv (MB)."""
    image = int(run("docker", "image", "inspect", "-f", "{{.Size}}", tag, capture=True)) // 1_000_000
    site = run("docker", "run", "--rm", "--entrypoint", "du", tag, "-sm", "/opt/onshi/lib/python3.11/site-packages",
               capture=True).split()[0]
    venv = ROOT / ".venv" / "lib" / "python3.11" / "site-packages"
    local = run("du", "-sm", str(venv), capture=True).split()[0] if venv.is_dir() else "0"
    return {"image_mb": image, "image_site_packages_mb": int(site), "dev_venv_site_packages_mb": int(local)}


# --- the check -----------------------------------------------------------------------------------------------

def free_port() -> int:
    """A free TCP port on the loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_redis_db() -> int:
    """A Redis DB number on the shared server that holds no key (the check's own; never flushed)."""
    for number in range(15, 0, -1):
        with Redis(host=REDIS_HOST, port=REDIS_PORT, db=number) as client:
            if client.dbsize() == 0:
                return number
    sys.exit("[image] no empty Redis DB number on 127.0.0.1:6379")


def delete_redis_keys(number: int) -> int:
    """Delete the keys of the check's DB number, one SCAN page at a time (no FLUSHDB on a shared server)."""
    deleted = 0
    with Redis(host=REDIS_HOST, port=REDIS_PORT, db=number) as client:
        for batch in _chunks(client.scan_iter(count=500), 500):
            deleted += int(client.delete(*batch))
    return deleted


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _admin_sql(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


class Check:
    """One run of the image against a database, a Redis DB number and a volume of its own."""

    def __init__(self, tag: str) -> None:
        suffix = secrets.token_hex(4)
        self.tag = tag
        self.name = f"onshi-image-check-{suffix}"
        self.database = f"onshi_image_check_{suffix}"
        self.redis_db = free_redis_db()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{self.database}",
            "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}",
            "ONSHI_SESSION_SECRET": secrets.token_urlsafe(32),
            "ONSHI_HOST": "127.0.0.1",  # host network: listen on the loopback only
            "ONSHI_PORT": str(self.port),
        }

    def _env_args(self) -> list[str]:
        return [arg for key, value in self.env.items() for arg in ("-e", f"{key}={value}")]

    def admin(self, *args: str) -> dict[str, Any]:
        """`onshi-admin ARGS` inside the running container; its JSON answer."""
        out = run("docker", "exec", self.name, "onshi-admin", *args, capture=True)
        return dict(json.loads(out.splitlines()[-1]))

    def start(self) -> None:
        """Database, volume, authority (the image's init-authority), then the server container."""
        asyncio.run(_admin_sql(f'CREATE DATABASE "{self.database}"'))
        say(f"database {self.database}, Redis DB {self.redis_db}, port {self.port}")
        run("docker", "volume", "create", self.name, capture=True)
        volume = ["-v", f"{self.name}:/data"]
        authority = run("docker", "run", "--rm", *volume, *self._env_args(), self.tag, "onshi-admin",
                        "init-authority", capture=True)
        say(f"onshi-admin init-authority: {authority.splitlines()[-1]}")
        run("docker", "run", "-d", "--name", self.name, "--network", "host", *volume, *self._env_args(), self.tag,
            capture=True)

    def wait_healthy(self, timeout: float = 120.0) -> None:
        """Docker's healthcheck says healthy, and /readyz answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = run("docker", "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", self.name,
                        capture=True)
            if state.startswith("exited"):
                raise RuntimeError(f"the container exited: {state}")
            if state.endswith("healthy") and not state.endswith("unhealthy"):
                break
            time.sleep(1)
        else:
            raise RuntimeError(f"not healthy within {timeout:.0f} s")
        ready = httpx.get(f"{self.base_url}/readyz", timeout=5)
        if ready.status_code != 200:
            raise RuntimeError(f"/readyz answered {ready.status_code}: {ready.text}")
        say(f"healthy; /readyz {ready.json()}")

    def verification(self, workdir: Path) -> dict[str, Any]:
        """Insurer, clinic, terminal and card by `onshi-admin`; upload, registration, then one full check."""
        from service.core.identifiers import insurer_check_digit
        from virtualcard import VirtualCard

        body = "06139"
        insurer = self.admin("create-insurer", "--number", body + str(insurer_check_digit(body)),
                             "--name", "検査健康保険組合")
        self.admin("create-facility", "--code", "1310009999", "--name", "検査クリニック", "--type", "clinic")
        terminal = self.admin("create-terminal", "--facility", "1310009999")
        issued = self.admin("issue-card", "--out", "/data/check.card.json", "--name-kanji", IDENTITY["name_kanji"],
                            "--name-kana", IDENTITY["name_kana"], "--birthdate", IDENTITY["birthdate"],
                            "--sex", IDENTITY["sex"], "--address", IDENTITY["address"], "--pin", PIN)
        run("docker", "cp", f"{self.name}:/data/check.card.json", str(workdir / "check.card.json"))
        card = VirtualCard.load(workdir / "check.card.json")
        say(f"onshi-admin: insurer {insurer['insurer_number']}, terminal, card {issued.get('serial', card.serial)}")
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            self._upload(client, insurer)
            token = {"Authorization": f"Bearer {terminal['token']}"}
            registered = client.post("/v1/registrations", json=self._proof(client, token, card, "register"),
                                     headers=token)
            if registered.status_code != 200 or registered.json()["status"] != "linked":
                raise RuntimeError(f"registration: {registered.status_code} {registered.text}")
            body_ = {**self._proof(client, token, card, "verify"), "presence": {"method": "pin"}}
            checked = client.post("/v1/verifications", json=body_, headers=token)
        answer = dict(checked.json())
        if checked.status_code != 200 or answer.get("result") != "eligible" or answer.get("validity_code") != 1:
            raise RuntimeError(f"verification: {checked.status_code} {checked.text}")
        return answer

    @staticmethod
    def _proof(client: httpx.Client, token: dict[str, str], card: Any, purpose: str) -> dict[str, str]:
        challenge = client.post("/v1/challenges", json={"purpose": purpose}, headers=token)
        if challenge.status_code != 201:
            raise RuntimeError(f"challenge: {challenge.status_code} {challenge.text}")
        signature = card.sign(base64.b64decode(challenge.json()["nonce"]), pin=PIN)
        return {"challenge_id": challenge.json()["challenge_id"],
                "certificate": base64.b64encode(card.certificate_der).decode(),
                "signature": base64.b64encode(signature).decode()}

    @staticmethod
    def _upload(client: httpx.Client, insurer: dict[str, Any]) -> None:
        header = ("record_id,action,symbol,number,branch,holder_kind,name_kanji,name_kana,birthdate,sex,address,"
                  "postal_code,qualified_on,disqualified_on,copay_ratio,limit_category")
        row = (f"C-0001,upsert,12,345678,01,1,{IDENTITY['name_kanji']},{IDENTITY['name_kana']},"
               f"{IDENTITY['birthdate']},{IDENTITY['sex']},{IDENTITY['address']},1000013,2020-04-01,,30,")
        auth = {"Authorization": f"Bearer {insurer['token']}"}
        url = f"/v1/insurers/{insurer['insurer_number']}/eligibility-batches"
        posted = client.post(url, content=f"{header}\n{row}\n",
                             headers={**auth, "Content-Type": "text/csv", "Idempotency-Key": "image-check-1"})
        if posted.status_code != 202:
            raise RuntimeError(f"upload: {posted.status_code} {posted.text}")
        for _ in range(120):
            status = client.get(posted.json()["status_url"], headers=auth).json()
            if status["status"] in {"done", "failed"}:
                break
            time.sleep(0.5)
        if status["status"] != "done" or status["rows_accepted"] != 1:
            raise RuntimeError(f"batch: {status}")

    def metrics(self) -> list[str]:
        """What /metrics lacks of what the check expects (process and runtime metrics, the admin's card issue)."""
        text = httpx.get(f"{self.base_url}/metrics", timeout=5).text
        wanted = ("onshi_http_requests_total", "process_resident_memory_bytes", "python_gc_collections_total",
                  'onshi_verifications_total{result="eligible"} 1.0',
                  'onshi_admin_certificate_actions_total{action="issue"} 1.0')
        return [name for name in wanted if name not in text]

    def access_line(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The verification's access-log line (JSON in production), checked for what it must not hold."""
        time.sleep(0.5)  # the access log is written every 0.2 s
        lines = self.logs(lines=200).splitlines()
        entries = [json.loads(line) for line in lines if line.startswith("{")]
        if len(entries) != len(lines):
            raise RuntimeError("the production log has lines that are not JSON")
        found = [e for e in entries if e.get("logger") == "onshi.access" and e.get("route") == "/v1/verifications"]
        if not found or found[-1]["principal"] != "terminal" or found[-1]["status"] != 200:
            raise RuntimeError(f"no access line for the verification: {found}")
        leaked = [value for value in (IDENTITY["name_kanji"], answer["certificate"]["serial"]) if value in
                  "\n".join(lines)]
        if leaked:
            raise RuntimeError(f"the log holds personal data: {leaked}")
        return dict(found[-1])

    def logs(self, lines: int = 40) -> str:
        """The container's last log lines."""
        done = subprocess.run(["docker", "logs", "--tail", str(lines), self.name], capture_output=True, text=True,
                              check=False)
        return done.stdout + done.stderr

    def clean(self) -> None:
        """Container, volume, database, and the keys of the Redis DB number (each step tried)."""
        for command in (("docker", "rm", "-f", self.name), ("docker", "volume", "rm", "-f", self.name)):
            subprocess.run(command, capture_output=True, check=False)
        with suppress(Exception):
            asyncio.run(_admin_sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        with suppress(Exception):  # the service's role (migration 0009), unless another database still grants it
            asyncio.run(_admin_sql("DROP ROLE IF EXISTS onshi_app"))
        with suppress(Exception):
            say(f"dropped {self.database}; deleted {delete_redis_keys(self.redis_db)} keys of Redis DB {self.redis_db}")


def main(argv: list[str] | None = None) -> int:
    """Build, check, report."""
    parser = argparse.ArgumentParser(prog="python3 dev.py image", description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild-base", action="store_true", help="debootstrap the Debian base again")
    parser.add_argument("--keep", action="store_true", help="leave the check's container, volume, database, keys")
    args = parser.parse_args(argv)
    ensure_tools()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    tag = f"onshi:{version}"
    with docker_daemon(ROOT / ".onshi-data" / "image"):
        started = time.monotonic()
        build_image(base_image(rebuild=args.rebuild_base), tag)
        say(f"built {tag} in {time.monotonic() - started:.0f} s")
        check = Check(tag)
        try:
            check.start()
            check.wait_healthy()
            with tempfile.TemporaryDirectory(prefix="onshi-image-") as workdir:
                answer = check.verification(Path(workdir))
            say(f"verification: {answer['result']}, validity code {answer['validity_code']}, "
                f"certificate {answer['certificate']['status']}")
            if missing := check.metrics():
                raise RuntimeError(f"/metrics lacks {', '.join(missing)}")
            say(f"access line: {json.dumps(check.access_line(answer), ensure_ascii=False)}")
        except Exception as exc:  # any failure of the check is reported with the container's log
            print(f"[image] CHECK FAILED: {exc}\n--- container log ---\n{check.logs()}", file=sys.stderr)
            return 1
        finally:
            if not args.keep:
                check.clean()
        say("check passed: healthy, /readyz, a full verification (validity code 1), /metrics, the access log")
        say("sizes (MB): " + json.dumps(sizes(tag)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
