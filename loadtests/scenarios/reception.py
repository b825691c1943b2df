"""Clinic reception at peak hour (weekday mornings): each terminal loops over patients.

One patient: POST /v1/challenges, the card signs the nonce (a real RSA-2048 signature, ~0.9 ms of the load
generator's CPU), POST /v1/verifications with the proof and the presence check; after an eligible answer some
patients consent to viewing (POST /v1/consents). Every answer is compared with what the fixture says the card
must get, including the insured number shown: an answer about another patient is a failure, not a success.
"""

from __future__ import annotations

import base64
import functools
import random
from collections.abc import Mapping
from typing import Any

import gevent
from locust import FastHttpUser, between, constant_throughput, task

from loadtests.config import config
from loadtests.fixture_file import Card, Terminal
from loadtests.scenarios.common import fixture


@functools.cache
def _headers(terminal: Terminal) -> dict[str, str]:
    return {"Authorization": f"Bearer {terminal.token}"}

# Categories a consenting patient chooses (an empty list is a recorded refusal): our estimate.
CONSENT_CHOICES: tuple[tuple[list[str], float], ...] = (
    (["medication", "checkup"], 0.7), (["medication"], 0.2), ([], 0.1),
)


def presence(rng: random.Random, weights: Mapping[str, float]) -> dict[str, object]:
    """A presence check as the reader reports it (a face match carries its distance and liveness)."""
    method = rng.choices(list(weights), weights=list(weights.values()))[0]
    if method == "face":
        return {"method": "face", "face_distance": round(rng.uniform(0.25, 0.5), 3), "liveness_passed": True}
    return {"method": method}


def answer_problem(card: Card, body: Any) -> str | None:
    """Why a verification answer is not the one this card must get; None when it is."""
    if not isinstance(body, dict):
        return "the answer is not a JSON object"
    if (body.get("result"), body.get("validity_code")) != (card.result, card.validity_code):
        return (f"{card.kind} card answered {body.get('result')}/{body.get('validity_code')}, "
                f"expected {card.result}/{card.validity_code}")
    if (body.get("certificate") or {}).get("serial") != card.serial:
        return "the answer is about another certificate"
    shown = (body.get("coverage") or {}).get("number")
    if shown != card.number:
        return f"the answer shows insured number {shown}, expected {card.number}"
    if not body.get("verification_id"):
        return "no verification_id"
    return None


class ReceptionTerminal(FastHttpUser):
    """A reception desk (顔認証付きカードリーダー) checking one patient after another.

    Each patient is checked at one terminal of the fixture, drawn at random: a locust user stands for the desks
    of many facilities, each of which sees a patient every few seconds at most (a terminal may ask for only so
    many challenges a minute).
    """

    host = config.url
    wait_time = constant_throughput(config.pace) if config.pace else between(config.wait_min, config.wait_max)
    rng: random.Random

    def on_start(self) -> None:
        """Start at a random phase when paced."""
        self.rng = random.Random()
        if config.pace:
            # Terminals spawned together would otherwise stay in phase and hit the service in bursts.
            gevent.sleep(self.rng.uniform(0, 1 / config.pace))

    @task
    def patient(self) -> None:
        """Challenge, card signature, verification and, sometimes, consent, at one terminal."""
        card = fixture().pick(self.rng, config.mix)
        terminal = self.rng.choice(fixture().terminals)
        headers = _headers(terminal)
        challenge = self._challenge(headers)
        if challenge is None:
            return
        challenge_id, nonce = challenge
        verification_id = self._verify(headers, card, challenge_id, nonce)
        if verification_id and card.result == "eligible" and self.rng.random() < config.consent_rate:
            self._consent(headers, verification_id)

    def _challenge(self, headers: dict[str, str]) -> tuple[str, bytes] | None:
        with self.client.post("/v1/challenges", json={"purpose": "verify"}, headers=headers,
                              name="POST /v1/challenges", catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return None
            body = response.json()
            return body["challenge_id"], base64.b64decode(body["nonce"])

    def _verify(self, headers: dict[str, str], card: Card, challenge_id: str, nonce: bytes) -> str | None:
        proof = {"challenge_id": challenge_id, "certificate": card.certificate_b64, "signature": card.sign(nonce),
                 "presence": presence(self.rng, config.presence)}
        with self.client.post("/v1/verifications", json=proof, headers=headers,
                              name="POST /v1/verifications", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return None
            body = response.json()
            problem = answer_problem(card, body)
            if problem is not None:
                response.failure(problem)
                return None
            return str(body["verification_id"])

    def _consent(self, headers: dict[str, str], verification_id: str) -> None:
        choices, weights = zip(*CONSENT_CHOICES, strict=True)
        categories = self.rng.choices(choices, weights=weights)[0]
        with self.client.post("/v1/consents", json={"verification_id": verification_id, "categories": categories},
                              headers=headers, name="POST /v1/consents", catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
