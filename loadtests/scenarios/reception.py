"""Clinic reception at peak hour (weekday mornings): each terminal loops over patients.

One patient: POST /v1/challenges, the card signs the nonce (a real RSA-2048 signature, ~0.75 ms of the load
generator's CPU), POST /v1/verifications with the proof and the presence check; after an eligible answer some
patients consent to viewing (POST /v1/consents). Every answer is compared with what the fixture says the card
must get, including the insured number shown: an answer about another patient is a failure, not a success.

The rest is kept cheap for the generator (loadtests/desk.py): bodies are sent as prepared JSON bytes, answers are
decoded straight from their bytes, and the terminals keep no cookie jar (they authenticate with a bearer token).
"""

from __future__ import annotations

import base64
import functools
import json
import random
from typing import Any

import gevent
from locust import FastHttpUser, between, task
from locust.contrib.fasthttp import ResponseContextManager

from loadtests.config import config
from loadtests.desk import CHALLENGE_BODY, Desk, Patient, answer_problem, prepare
from loadtests.pacing import first_arrival, poisson_arrivals
from loadtests.scenarios.common import fixture

__all__ = ["CONSENT_CHOICES", "ReceptionTerminal", "answer_problem", "desk"]

# Categories a consenting patient chooses (an empty list is a recorded refusal): our estimate.
CONSENT_CHOICES: tuple[tuple[list[str], float], ...] = (
    (["medication", "checkup"], 0.7), (["medication"], 0.2), ([], 0.1),
)


@functools.cache
def desk() -> Desk:
    """The fixture's cards, terminals and presence checks, prepared once per process."""
    return prepare(fixture(), config.mix, config.presence)


def _json(response: ResponseContextManager) -> Any:
    """The answer's JSON, decoded straight from its bytes (None when it is not JSON)."""
    try:
        return json.loads(response.content)
    except ValueError:
        return None


class ReceptionTerminal(FastHttpUser):
    """A reception desk (顔認証付きカードリーダー) checking one patient after another.

    Each patient is checked at one terminal of the fixture, drawn at random: a locust user stands for the desks
    of many facilities, each of which sees a patient every few seconds at most (a terminal may ask for only so
    many challenges a minute).
    """

    host = config.url
    wait_time = poisson_arrivals(config.pace) if config.pace else between(config.wait_min, config.wait_max)
    rng: random.Random

    def on_start(self) -> None:
        """No cookie jar (nothing to consult or fill on every request); when paced, the first patient comes at a
        random time, as the later ones do (terminals spawned together must not start together)."""
        self.client.client.cookiejar = None
        self.rng = random.Random()
        if config.pace:
            gevent.sleep(first_arrival(self, config.pace, self.rng))

    @task
    def patient(self) -> None:
        """Challenge, card signature, verification and, sometimes, consent, at one terminal."""
        prepared = desk()
        patient = prepared.patient(self.rng)
        headers = self.rng.choice(prepared.headers)
        challenge = self._challenge(headers)
        if challenge is None:
            return
        challenge_id, nonce = challenge
        body = patient.proof(challenge_id, patient.card.signature(nonce), prepared.presence(self.rng))
        verification_id = self._verify(headers, patient, body)
        if verification_id and patient.card.result == "eligible" and self.rng.random() < config.consent_rate:
            self._consent(headers, verification_id)

    def _challenge(self, headers: dict[str, str]) -> tuple[str, bytes] | None:
        with self.client.post("/v1/challenges", data=CHALLENGE_BODY,  # type: ignore[arg-type]  # str or bytes
                              headers=headers, name="POST /v1/challenges", catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return None
            body = _json(response)
            if not isinstance(body, dict) or not isinstance(body.get("challenge_id"), str):
                response.failure("the answer has no challenge_id")
                return None
            return body["challenge_id"], base64.b64decode(body["nonce"])

    def _verify(self, headers: dict[str, str], patient: Patient, proof: bytes) -> str | None:
        with self.client.post("/v1/verifications", data=proof,  # type: ignore[arg-type]  # str or bytes
                              headers=headers, name="POST /v1/verifications", catch_response=True) as response:
            status = response.status_code
            if status != 200:
                response.failure(f"HTTP {status}: {(response.text or '')[:200]}")
                return None
            body = _json(response)
            problem = answer_problem(patient.card, body)
            if problem is not None:
                response.failure(problem)
                return None
            return str(body["verification_id"])

    def _consent(self, headers: dict[str, str], verification_id: str) -> None:
        choices, weights = zip(*CONSENT_CHOICES, strict=True)
        categories = self.rng.choices(choices, weights=weights)[0]
        body = json.dumps({"verification_id": verification_id, "categories": categories}).encode()
        with self.client.post("/v1/consents", data=body,  # type: ignore[arg-type]  # str or bytes
                              headers=headers, name="POST /v1/consents", catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
