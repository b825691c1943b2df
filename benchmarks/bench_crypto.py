"""Time the verification hot path: certificate parse, CA check, card signature check (µs per call).

Run from the repository root: `python -m benchmarks.bench_crypto`. Prints figures only, best and median of
several rounds (shared machines are noisy). "New card": nothing of it in the process yet (parse, key set-up,
CA check all paid); "seen before": the same card again, as for consent after a check. The budget, well under
100 µs for the two checks so that 500 verifications/s fit easily on 2 cores, is for a human to compare.
"""

from __future__ import annotations

import os
import statistics
import timeit
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from service.authority import ca
from service.authority.ca import (
    CertificateAuthority,
    generate_card_key,
    load_certificate,
    verify_card_signature,
    verify_issued_by,
)

NUMBER = 500
REPEAT = 7


def _per_call_us(function: Callable[[], object]) -> tuple[float, float]:
    rounds = [seconds / NUMBER * 1e6 for seconds in timeit.repeat(function, number=NUMBER, repeat=REPEAT)]
    return min(rounds), statistics.median(rounds)


def _forget() -> None:
    """Drop everything the process remembers about certificates."""
    ca._verify_issued_by.cache_clear()
    ca._load_certificate.cache_clear()


def _fresh_objects(der: bytes) -> Iterator[x509.Certificate]:
    """Distinct parsed objects of one certificate, as many as the timing loop needs, parsed beforehand."""
    objects = [x509.load_der_x509_certificate(der) for _ in range(NUMBER * REPEAT + 1)]
    for certificate in objects:
        certificate.extensions  # noqa: B018 -- as load_certificate leaves it
    return iter(objects)


def main() -> None:
    """Print µs per call for each step of a card verification."""
    authority = CertificateAuthority.generate()
    card_key = generate_card_key()
    certificate = authority.issue_user_certificate(
        public_key=card_key.public_key(), birthdate=date(1980, 6, 15), issued_at=datetime.now(UTC)
    )
    der = certificate.public_bytes(Encoding.DER)
    nonce = os.urandom(32)
    signature = card_key.sign(nonce, padding.PKCS1v15(), hashes.SHA256())
    anchor = authority.certificate
    for_ca_check, for_signature = _fresh_objects(der), _fresh_objects(der)

    def full() -> None:
        parsed = load_certificate(der)
        verify_issued_by(parsed, anchor)
        verify_card_signature(parsed, nonce, signature)

    def new_card(step: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            _forget()
            step()

        return run

    steps: dict[str, Callable[[], object]] = {
        "load_certificate, new card": new_card(lambda: load_certificate(der)),
        "verify_issued_by, new card": new_card(lambda: verify_issued_by(next(for_ca_check), anchor)),
        "verify_card_signature, new card": lambda: verify_card_signature(next(for_signature), nonce, signature),
        "verify_issued_by, seen before": lambda: verify_issued_by(certificate, anchor),
        "verify_card_signature, seen before": lambda: verify_card_signature(certificate, nonce, signature),
        "load + both checks, new card": new_card(full),
        "load + both checks, seen before": full,
    }
    print(f"{'step (µs per call)':40s} {'best':>8s} {'median':>8s}")
    for label, function in steps.items():
        best, median = _per_call_us(function)
        print(f"{label:40s} {best:8.1f} {median:8.1f}")


if __name__ == "__main__":
    main()
