"""CPU instructions per verification through a real uvicorn server, against the floor's per pair of POSTs.

Timings on a shared 2-core machine move with everything else running; instruction counts do not. This runs the
server under `valgrind --tool=callgrind` with collection off, warms it up, then counts only a measured stretch
of requests (`callgrind_control --zero` before, `--dump` after), sent one after another by a plain client in
this process (its own work is not counted):

- Onshi: challenge, a real RSA signature by the card, verification (the answer checked against the fixture);
- the floor: the bare FastAPI app of `benchmarks/floor_app.py`, two POSTs per "verification".

Used by `benchmarks.peak` as the phase `instructions` (`--phases instructions` alone takes about 5 minutes,
mostly the server starting under valgrind). The two figures and their ratio are printed and land in the JSON;
the profiles stay beside the report (`callgrind_annotate --inclusive=yes <report dir>/callgrind-onshi.<pid>.*`).
Instructions are not time: a memory stall or a system call costs more than its instruction count says, so the
ratio in instructions is lower than the ratio in CPU time that the saturation phases measure.
"""

from __future__ import annotations

import base64
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from benchmarks import harness
from loadtests import fixture_file
from loadtests.scenarios.reception import answer_problem

WARM_UP = 30
MEASURED = 150
PATIENCE = 900  # seconds for a server to answer under valgrind (imports run some 50x slower)


def available() -> bool:
    """Whether valgrind and callgrind_control are installed."""
    return bool(shutil.which("valgrind") and shutil.which("callgrind_control"))


def _start(app: str, *, factory: bool, env: Mapping[str, str], out: Path, ready_path: str) -> tuple[
        subprocess.Popen[bytes], str]:
    port = harness.free_port()
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}.%p",
               sys.executable, "-m", "uvicorn", *(["--factory"] if factory else []), app, "--host", "127.0.0.1",
               "--port", str(port), "--no-access-log", "--log-level", "warning"]
    log = out.with_suffix(".log").open("ab")
    server = subprocess.Popen(command, cwd=harness.ROOT, env=dict(env), start_new_session=True, stdout=log,
                              stderr=subprocess.STDOUT)
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{app} exited under valgrind (see {out.with_suffix('.log')})")
        try:
            if httpx.get(url + ready_path, timeout=30).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        time.sleep(1)
    harness.stop(server)
    raise RuntimeError(f"{app} did not answer under valgrind within {PATIENCE} s")


def _count(server: subprocess.Popen[bytes], out: Path, work: Callable[[int], None]) -> int:
    """Instructions of the server while `work(MEASURED)` runs (after `work(WARM_UP)`, not counted)."""
    work(WARM_UP)
    subprocess.run(["callgrind_control", "--instr=on", str(server.pid)], check=True, capture_output=True)
    subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True, capture_output=True)
    work(MEASURED)
    subprocess.run(["callgrind_control", "--dump=measured", str(server.pid)], check=True, capture_output=True)
    dumps = sorted(out.parent.glob(f"{out.name}.{server.pid}.*"), key=lambda p: p.stat().st_mtime)
    text = dumps[-1].read_text(errors="replace")
    found = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no instruction total in {dumps[-1]}")
    return int(found.group(1))


def _onshi_work(url: str, fixture: fixture_file.Fixture) -> Callable[[int], None]:
    rng = random.Random(7)
    client = httpx.Client(base_url=url, timeout=120)

    def work(count: int) -> None:
        for _ in range(count):
            card = fixture.pick(rng, {"eligible": 1.0})
            headers = {"Authorization": f"Bearer {rng.choice(fixture.terminals).token}"}
            challenge = client.post("/v1/challenges", json={"purpose": "verify"}, headers=headers)
            challenge.raise_for_status()
            body = challenge.json()
            proof = {"challenge_id": body["challenge_id"], "certificate": card.certificate_b64,
                     "signature": card.sign(base64.b64decode(body["nonce"])), "presence": {"method": "pin"}}
            answer = client.post("/v1/verifications", json=proof, headers=headers)
            answer.raise_for_status()
            if (problem := answer_problem(card, answer.json())) is not None:
                raise RuntimeError(problem)

    return work


def _floor_work(url: str) -> Callable[[int], None]:
    client = httpx.Client(base_url=url, timeout=120)

    def work(count: int) -> None:
        for _ in range(count):
            for _ in range(2):
                client.post("/floor", json={"purpose": "verify"}).raise_for_status()

    return work


def measure(*, env: Mapping[str, str], fixture: Path, work: Path, say: Callable[[str], None]) -> dict[str, float]:
    """Instructions per verification (Onshi) and per pair of POSTs (the floor), and their ratio."""
    figures: dict[str, float] = {}
    for name, app, factory, ready in (("floor", "benchmarks.floor_app:app", False, "/openapi.json"),
                                      ("onshi", "service.app:create_app", True, "/readyz")):
        say(f"instructions: starting {name} under valgrind (a few minutes)")
        out = work / f"callgrind-{name}"
        server, url = _start(app, factory=factory, env=env, out=out, ready_path=ready)
        try:
            runner = _onshi_work(url, fixture_file.load(fixture)) if name == "onshi" else _floor_work(url)
            figures[f"{name}_instructions"] = round(_count(server, out, runner) / MEASURED)
        finally:
            harness.stop(server, grace=120)
        say(f"instructions: {name} {figures[f'{name}_instructions']:,} per verification")
    figures["instruction_ratio"] = round(figures["onshi_instructions"] / figures["floor_instructions"], 2)
    return figures
