"""Benchmark: an eligibility batch of N synthetic Japanese rows through the real service, over HTTP.

Starts `python -m service` in a subprocess (on an embedded PostgreSQL and Redis in a temporary directory, or on
DATABASE_URL / REDIS_URL when set), registers some card holders whose records are in the batch (so that
five-field linking runs), uploads the CSV streamed from disk, waits for processing, and prints rows/s and the
server's peak memory. Two sizes are run so that the memory figure can be compared: bounded memory means the
peak does not grow with the batch.

    python dev.py run benchmarks/bench_eligibility_batch.py --rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.serialization import Encoding
from faker import Faker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.accounts import service as accounts  # noqa: E402
from service.authority import service as authority_service  # noqa: E402
from service.authority.ca import CertificateAuthority, generate_card_key  # noqa: E402
from service.authority.schemas import IdentityAttributes  # noqa: E402
from service.core.database import create_pool  # noqa: E402
from service.core.embedded import start_postgres, start_redis  # noqa: E402
from service.core.migrate import apply_migrations  # noqa: E402
from service.linking import service as linking  # noqa: E402

HEADER = [
    "record_id",
    "action",
    "symbol",
    "number",
    "branch",
    "holder_kind",
    "name_kanji",
    "name_kana",
    "birthdate",
    "sex",
    "address",
    "postal_code",
    "qualified_on",
    "disqualified_on",
    "copay_ratio",
    "limit_category",
]


def people(count: int, seed: int) -> list[dict[str, str]]:
    """Synthetic insured people: matching kanji/kana name pairs, birthdates, addresses (Faker ja_JP)."""
    fake = Faker("ja_JP")
    Faker.seed(seed)
    rng = random.Random(seed)
    last = [fake.last_name_pair() for _ in range(400)]
    male = [fake.first_name_male_pair() for _ in range(300)]
    female = [fake.first_name_female_pair() for _ in range(300)]
    addresses = [(fake.address(), fake.zipcode().replace("-", "")) for _ in range(5000)]
    out = []
    for i in range(count):
        sex = rng.choice((1, 2))
        family, given = rng.choice(last), rng.choice(male if sex == 1 else female)
        address, postal = rng.choice(addresses)
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 80))
        out.append(
            {
                "record_id": f"BENCH-{i:07d}",
                "action": "upsert",
                "symbol": str(rng.randrange(1, 99)),
                "number": str(rng.randrange(1, 9_999_999)),
                "branch": f"{rng.randrange(0, 5):02d}",
                "holder_kind": str(rng.choice((1, 2))),
                "name_kanji": f"{family[0]} {given[0]}",
                "name_kana": f"{family[1]} {given[1]}",
                "birthdate": born.isoformat(),
                "sex": str(sex),
                "address": address,
                "postal_code": postal,
                "qualified_on": "2024-04-01",
                "disqualified_on": "",
                "copay_ratio": rng.choice(("10", "20", "30")),
                "limit_category": "",
            }
        )
    return out


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process, MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def seed(database_url: str, data_dir: Path, registered: list[dict[str, str]]) -> str:
    """An insurer, and card holders (registered for insurance use) for some of the people in the batch."""
    authority = CertificateAuthority.load_or_create(data_dir / "authority", allow_create=True)
    key = generate_card_key()  # one key for every bench certificate: key generation is not what we measure
    pool = await create_pool(database_url, min_size=1, max_size=2)
    async with pool.acquire() as conn, conn.transaction():
        insurer = await accounts.create_insurer(conn, number="06130017", name="ベンチ健保")
        for person in registered:
            identity = IdentityAttributes(
                name_kanji=person["name_kanji"],
                name_kana=person["name_kana"],
                birthdate=date.fromisoformat(person["birthdate"]),
                sex=int(person["sex"]),
                address=person["address"],
            )
            cert, _ = authority_service.issue_certificate(authority, birthdate=identity.birthdate, key=key)
            done = await authority_service.register_holder(
                conn,
                authority=authority,
                certificate_der=cert.public_bytes(Encoding.DER),
                identity=identity,
                actor="bench",
            )
            await linking.register(conn, holder_id=done.holder_id, serial=done.serial, actor="bench")
    await pool.close()
    return insurer["token"]


def upload(base: str, token: str, path: Path) -> tuple[str, float]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def body():  # type: ignore[no-untyped-def]
        with path.open("rb") as handle:
            while chunk := handle.read(256 * 1024):
                yield chunk

    started = time.perf_counter()
    response = httpx.post(
        f"{base}/v1/insurers/06130017/eligibility-batches",
        content=body(),
        timeout=600,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv", "Idempotency-Key": digest},
    )
    response.raise_for_status()
    return response.json()["status_url"], time.perf_counter() - started


def wait(base: str, token: str, status_url: str) -> dict[str, object]:
    while True:
        body: dict[str, object] = httpx.get(
            f"{base}{status_url}", params={"errors_limit": 0}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        if body["status"] in {"done", "failed"}:
            return body
        time.sleep(0.2)


def run_size(base: str, token: str, pid: int, path: Path, rows: int) -> None:
    rss_before, peak_before = peak_rss_mib(pid)
    status_url, upload_s = upload(base, token, path)
    started = time.perf_counter()
    status = wait(base, token, status_url)
    process_s = time.perf_counter() - started
    _, peak_after = peak_rss_mib(pid)
    size_mib = path.stat().st_size / 2**20
    print(
        f"rows={rows:>7}  body={size_mib:6.1f} MiB  upload={upload_s:6.2f}s  processing={process_s:6.2f}s  "
        f"rows/s(end to end)={rows / (upload_s + process_s):8.0f}  status={status['status']} "
        f"accepted={status['rows_accepted']} rejected={status['rows_rejected']} linked={status['linked']} "
        f"review={status['needs_review']} ambiguous={status['ambiguous']}"
    )
    print(
        f"           server RSS before={rss_before:6.1f} MiB  peak so far={peak_after:6.1f} MiB  "
        f"peak growth={max(0.0, peak_after - peak_before):6.1f} MiB  peak growth / body = "
        f"{max(0.0, peak_after - peak_before) / size_mib:5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="a first, smaller batch for comparison")
    parser.add_argument("--registered", type=int, default=1_000, help="holders registered before the upload")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="onshi-bench-") as tmp:
        data_dir = Path(tmp)
        database_url = os.environ.get("DATABASE_URL") or start_postgres(data_dir)
        redis_url = os.environ.get("REDIS_URL") or start_redis(data_dir)
        apply_migrations(database_url)
        t0 = time.perf_counter()
        everyone = people(args.small + args.rows, seed=2026)
        small, large = everyone[: args.small], everyone[args.small :]
        write_csv(data_dir / "small.csv", small)
        write_csv(data_dir / "large.csv", large)
        print(f"generated {len(everyone)} synthetic rows in {time.perf_counter() - t0:.1f}s")
        registered = random.Random(7).sample(large, min(args.registered, len(large)))
        token = asyncio.run(seed(database_url, data_dir, registered))
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ONSHI_DATA_DIR": str(data_dir),
            "ONSHI_PORT": str(port),
            "ONSHI_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen([sys.executable, "-m", "service"], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            print(f"service pid {server.pid}; {len(registered)} registered holders; 2 cores")
            run_size(base, token, server.pid, data_dir / "small.csv", len(small))
            run_size(base, token, server.pid, data_dir / "large.csv", len(large))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
