"""An insurer's occasional eligibility batch upload, followed by status polling until the batch is done.

The rows describe new insured people (surname 負荷, which no fixture holder has), so the upload-direction
matching runs but never changes the answers the reception scenario checks. Besides the two HTTP requests,
the time from upload to "done" is reported as its own entry ("BATCH eligibility upload to done").
"""

from __future__ import annotations

import random
import time
import uuid

import gevent
from locust import FastHttpUser, between, task

from loadtests.batch_rows import batch_csv
from loadtests.config import config
from loadtests.scenarios.common import fixture

BATCH_TIMEOUT_SECONDS = 120.0


class InsurerUploader(FastHttpUser):
    """An insurer (保険者) maintaining its members' records in batches."""

    host = config.url
    fixed_count = config.insurers
    wait_time = between(config.batch_wait_min, config.batch_wait_max)
    headers: dict[str, str]
    rng: random.Random

    def on_start(self) -> None:
        """The fixture's insurer credential."""
        self.headers = {"Authorization": f"Bearer {fixture().insurer.token}"}
        self.rng = random.Random()

    @task
    def upload_and_follow(self) -> None:
        """Upload a batch, then poll its status until it is done (or failed, or too slow)."""
        started = time.perf_counter()
        status_url = self._upload()
        if status_url is None:
            return
        deadline = time.monotonic() + BATCH_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            gevent.sleep(config.poll_seconds)
            finished = self._poll(status_url)
            if finished is not None:
                self._report(started, None if finished else "the batch failed or rejected rows")
                return
        self._report(started, f"not done after {BATCH_TIMEOUT_SECONDS:.0f} s")

    def _upload(self) -> str | None:
        number = fixture().insurer.insurer_number
        headers = {**self.headers, "Content-Type": "text/csv", "Idempotency-Key": str(uuid.uuid4())}
        body = batch_csv(config.batch_rows, self.rng)
        with self.client.post(f"/v1/insurers/{number}/eligibility-batches",
                              data=body,  # type: ignore[arg-type]  # documented as str or bytes, annotated str
                              headers=headers, name="POST /v1/insurers/[n]/eligibility-batches",
                              catch_response=True) as response:
            if response.status_code != 202:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return None
            return str(response.json()["status_url"])

    def _poll(self, status_url: str) -> bool | None:
        """True when done with every row accepted, False when failed or rows were rejected, None while running."""
        with self.client.get(f"{status_url}?errors_limit=0", headers=self.headers,
                             name="GET /v1/insurers/[n]/eligibility-batches/[id]", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return False
            body = response.json()
        if body["status"] not in ("done", "failed"):
            return None
        return bool(body["status"] == "done" and body["rows_rejected"] == 0)

    def _report(self, started: float, problem: str | None) -> None:
        self.environment.events.request.fire(
            request_type="BATCH", name="eligibility upload to done",
            response_time=(time.perf_counter() - started) * 1000, response_length=0,
            exception=None if problem is None else RuntimeError(problem), context={},
        )
