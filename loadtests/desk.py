"""What a reception terminal sends and checks, prepared once per load-generator process (no locust import here).

The generator's CPU per verification is part of what the peak benchmark reports, and on one machine it competes
with the service: besides the card's RSA signature (which stays real, made anew for every challenge), each
patient should cost it as little as possible. So everything that does not depend on the challenge is prepared
when the fixture is loaded: the draw of cards by kind and of presence methods (cumulative weights), each
terminal's headers, and each card's proof body up to its signature, as JSON bytes with the certificate's base64
already in it. Per patient, only the challenge id, the signature and the presence check are joined in.
"""

from __future__ import annotations

import json
import random
from bisect import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, TypeVar

from loadtests.fixture_file import Card, Fixture

T = TypeVar("T")
CHALLENGE_BODY = b'{"purpose":"verify"}'
_FACE = b'{"method":"face","face_distance":%.3f,"liveness_passed":true}'


def draw(rng: random.Random, items: Sequence[T], cumulative: Sequence[float]) -> T:
    """One of `items`, drawn by cumulative weights (what random.choices does for k=1, without its lists)."""
    return items[bisect(cumulative, rng.random() * cumulative[-1], 0, len(cumulative) - 1)]


@dataclass(frozen=True, slots=True)
class Patient:
    """A card and the start of its proof body: everything up to the signature, serialised once."""

    card: Card
    proof_head: bytes

    def proof(self, challenge_id: str, signature: bytes, presence: bytes) -> bytes:
        """The POST /v1/verifications body: this card's certificate, `signature` (base64) and `presence` (JSON)."""
        return b"".join((self.proof_head, signature, b'","challenge_id":', json.dumps(challenge_id).encode(),
                         b',"presence":', presence, b"}"))


def patient(card: Card) -> Patient:
    """A card with its proof body prepared (the certificate is base64, so it needs no JSON escaping)."""
    return Patient(card=card, proof_head=b'{"certificate":' + json.dumps(card.certificate_b64).encode()
                   + b',"signature":"')


@dataclass(frozen=True, slots=True)
class Desk:
    """The draws of one reception load: kinds of card by the mix, cards, terminals, presence checks."""

    kinds: tuple[str, ...]
    kind_weights: tuple[float, ...]  # cumulative
    patients: Mapping[str, tuple[Patient, ...]]
    headers: tuple[dict[str, str], ...]  # per terminal: its bearer token and the JSON body's content type
    methods: tuple[str, ...]
    method_weights: tuple[float, ...]  # cumulative
    method_bodies: Mapping[str, bytes]  # the presence JSON of each method but face (whose distance varies)

    def patient(self, rng: random.Random) -> Patient:
        """A card of a kind drawn by the mix (as Fixture.pick draws it)."""
        return rng.choice(self.patients[draw(rng, self.kinds, self.kind_weights)])

    def presence(self, rng: random.Random) -> bytes:
        """A presence check as the reader reports it, as JSON (a face match carries its distance and liveness)."""
        method = draw(rng, self.methods, self.method_weights)
        if method == "face":
            return _FACE % rng.uniform(0.25, 0.5)
        return self.method_bodies[method]


def prepare(fixture: Fixture, mix: Mapping[str, float], presence: Mapping[str, float]) -> Desk:
    """The desk for `fixture`: kinds the fixture lacks are skipped, and without any, every card is drawn evenly."""
    kinds = tuple(k for k, w in mix.items() if w > 0 and fixture.by_kind.get(k))
    if kinds:
        weights, patients = [mix[k] for k in kinds], {k: tuple(map(patient, fixture.by_kind[k])) for k in kinds}
    else:
        kinds, weights, patients = ("any",), [1.0], {"any": tuple(map(patient, fixture.cards))}
    methods = tuple(m for m, w in presence.items() if w > 0)
    headers = tuple({"Authorization": f"Bearer {t.token}", "Content-Type": "application/json",
                     "Accept-Encoding": "identity"} for t in fixture.terminals)
    return Desk(kinds=kinds, kind_weights=tuple(accumulate(weights)), patients=patients, headers=headers,
                methods=methods, method_weights=tuple(accumulate(presence[m] for m in methods)),
                method_bodies={m: json.dumps({"method": m}).encode() for m in methods})


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
