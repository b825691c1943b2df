"""Schemathesis against the live service (a real socket), with every kind of credential: 0 server errors.

Every operation of /openapi.json gets generated requests, valid (positive) and invalid (negative) ones, and
each request is sent once with each credential: none, a terminal's, an insurer's (its own insurer number in
the path, to reach past the tenant check), the operator's, a claims processor's and a doctor's session. A 5xx
answer is a failure; the failures are listed all at once. `ONSHI_FUZZ_EXAMPLES` sets the examples per
operation and mode (default 50: about 6,000 requests, about 30 s here).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.factories import (
    bearer,
    make_claims_processor,
    make_insurer,
    make_operator,
    make_staff,
    make_terminal,
)

EXAMPLES = int(os.environ.get("ONSHI_FUZZ_EXAMPLES", "50"))
LOGOUTS = {"/v1/staff/logout"}  # sent without the session: a fuzzed logout would end it for the rest of the run


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_context: Any, value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture
async def credentials(conn: asyncpg.Connection, live_url: str) -> dict[str, dict[str, str]]:
    """Headers of every kind of caller."""
    terminal = await make_terminal(conn)
    insurer = await make_insurer(conn)
    doctor = await make_staff(conn, facility_code=terminal["facility_code"], role="doctor")
    async with httpx.AsyncClient(base_url=live_url) as http:
        login = await http.post("/v1/staff/login", json={"login": doctor["login"], "password": doctor["password"]})
    assert login.status_code == 200, login.text
    return {
        "none": {},
        "terminal": bearer(terminal["token"]),
        "insurer": {**bearer(insurer["token"]), "X-Insurer-Number": insurer["insurer_number"]},
        "operator": bearer(await make_operator(conn)),
        "claims": bearer((await make_claims_processor(conn))["token"]),
        "staff": {"Cookie": f"onshi_session={login.cookies['onshi_session']}",
                  "X-CSRF-Token": login.json()["csrf_token"]},
    }


def _fuzz(live_url: str, credentials: dict[str, dict[str, str]]) -> tuple[Counter[int], list[str]]:
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    session = requests.Session()
    insurer_number = credentials["insurer"].pop("X-Insurer-Number")
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed = {"insurer_number": insurer_number} if "{insurer_number}" in operation.path else None
        strategy = st.one_of(*(operation.as_strategy(mode, path_parameters=fixed)
                               for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)))

        @given(case=strategy)
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            for kind, headers in credentials.items():
                if kind == "staff" and case.path in LOGOUTS:
                    continue
                response = case.call(base_url=live_url, session=session, headers=dict(headers))
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append(f"{case.method.upper()} {case.path} as {kind}: "
                                    f"{response.status_code} {response.text[:200]}")

        run()
    return statuses, failures


async def test_no_server_error_for_any_generated_request_and_credential(
    live_url: str, credentials: dict[str, dict[str, str]]
) -> None:
    statuses, failures = await asyncio.to_thread(_fuzz, live_url, credentials)
    print(f"schemathesis: {sum(statuses.values())} requests, answers {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) > 1000  # it really ran
    assert failures == [], "\n".join(failures[:20])
