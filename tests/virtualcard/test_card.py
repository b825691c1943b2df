"""The virtual My Number Card: signing, PIN and face counters kept in the file, renewal, bad files."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from service.authority.ca import (
    JST,
    CertificateAuthority,
    generate_card_key,
    load_certificate,
    verify_card_signature,
    verify_issued_by,
)
from service.authority.errors import BadSignature
from virtualcard import CardError, CardLocked, VirtualCard, WrongPin

PIN = "4271"
NONCE = b"server nonce \x00\xff" * 2
FACE = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(range(256))


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority.generate()


@pytest.fixture(scope="module")
def keys() -> list[rsa.RSAPrivateKey]:
    return [generate_card_key() for _ in range(2)]


def _certificate_der(authority: CertificateAuthority, key: rsa.RSAPrivateKey) -> bytes:
    certificate = authority.issue_user_certificate(
        public_key=key.public_key(), birthdate=date(1985, 2, 3), issued_at=datetime.now(JST)
    )
    return certificate.public_bytes(Encoding.DER)


@pytest.fixture
def make_card(
    tmp_path: Path, authority: CertificateAuthority, keys: list[rsa.RSAPrivateKey]
) -> Callable[..., VirtualCard]:
    def make(name: str = "card.json", **overrides: Any) -> VirtualCard:
        arguments: dict[str, Any] = {
            "certificate_der": _certificate_der(authority, keys[0]),
            "private_key": keys[0],
            "pin": PIN,
            "face_image": FACE,
            "face_format": "jp2",
        }
        return VirtualCard.create(tmp_path / name, **(arguments | overrides))

    return make


def _verify(card: VirtualCard, nonce: bytes, signature: bytes) -> None:
    verify_card_signature(load_certificate(card.certificate_der), nonce, signature)


# --- file and signatures ---------------------------------------------------------------------------------


def test_created_card_file_is_private_and_hides_the_pin(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    assert stat.S_IMODE(card.path.stat().st_mode) == 0o600
    text = card.path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert document["format"] == "onshi-virtual-card/1"
    assert document["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert f'"{PIN}"' not in text
    assert set(document["pin"]) == {"kdf", "n", "r", "p", "salt", "hash"}


def test_load_round_trip(make_card: Callable[..., VirtualCard], authority: CertificateAuthority) -> None:
    card = make_card(face_format="png")
    loaded = VirtualCard.load(str(card.path))
    assert loaded.certificate_der == card.certificate_der
    assert loaded.face_image == FACE and loaded.face_format == "png"
    assert loaded.serial == str(load_certificate(card.certificate_der).serial_number)
    assert (loaded.pin_retry_limit, loaded.face_lock_limit) == (3, 10)
    verify_issued_by(load_certificate(loaded.certificate_der), authority.certificate)


def test_create_refuses_to_overwrite_a_card(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    before = card.path.read_bytes()
    with pytest.raises(FileExistsError):
        make_card()
    assert card.path.read_bytes() == before


@pytest.mark.parametrize("pin", ["123", "12345", "12a4", "１２３４"])
def test_create_refuses_a_pin_that_is_not_four_digits(
    make_card: Callable[..., VirtualCard], pin: str
) -> None:
    with pytest.raises(ValueError, match="4 digits"):
        make_card(pin=pin)


def test_signature_with_and_without_pin_verifies(make_card: Callable[..., VirtualCard]) -> None:
    card = VirtualCard.load(make_card().path)
    _verify(card, NONCE, card.sign(NONCE, pin=PIN))
    _verify(card, NONCE, card.sign(NONCE))
    with pytest.raises(BadSignature):
        _verify(card, NONCE + b"x", card.sign(NONCE))


def test_another_cards_signature_does_not_verify(
    make_card: Callable[..., VirtualCard], authority: CertificateAuthority, keys: list[rsa.RSAPrivateKey]
) -> None:
    mine = make_card("mine.json")
    other = make_card("other.json", private_key=keys[1], certificate_der=_certificate_der(authority, keys[1]))
    with pytest.raises(BadSignature):
        _verify(mine, NONCE, other.sign(NONCE))


# --- PIN -------------------------------------------------------------------------------------------------


def test_wrong_pins_are_counted_in_the_file_and_lock_after_three(
    make_card: Callable[..., VirtualCard],
) -> None:
    path = make_card().path
    with pytest.raises(WrongPin) as first:
        VirtualCard.load(path).sign(NONCE, pin="0000")
    assert first.value.remaining == 2
    with pytest.raises(WrongPin) as second:
        VirtualCard.load(path).sign(NONCE, pin="0000")  # a fresh load sees the earlier failure
    assert second.value.remaining == 1
    assert VirtualCard.load(path).pin_failures == 2
    with pytest.raises(CardLocked):
        VirtualCard.load(path).sign(NONCE, pin="0000")

    card = VirtualCard.load(path)
    assert card.pin_locked
    with pytest.raises(CardLocked):
        card.sign(NONCE, pin=PIN)  # even the right PIN
    card.sign(NONCE)  # face or visual check still works: the fallback must always exist
    assert VirtualCard.load(path).pin_failures == 3  # refusals while locked do not count further


def test_custom_retry_limit_of_four(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card(pin_retry_limit=4)
    remaining = []
    for _ in range(3):
        with pytest.raises(WrongPin) as raised:
            card.sign(NONCE, pin="9999")
        remaining.append(raised.value.remaining)
    assert remaining == [3, 2, 1]
    assert not VirtualCard.load(card.path).pin_locked
    with pytest.raises(CardLocked):
        card.sign(NONCE, pin="9999")
    assert VirtualCard.load(card.path).pin_locked


def test_correct_pin_resets_the_count(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    for _ in range(2):
        with pytest.raises(WrongPin):
            card.sign(NONCE, pin="1111")
    card.sign(NONCE, pin=PIN)
    assert VirtualCard.load(card.path).pin_failures == 0
    for _ in range(2):
        with pytest.raises(WrongPin):
            card.sign(NONCE, pin="1111")
    assert not card.pin_locked


def test_two_handles_on_one_card_share_the_count(make_card: Callable[..., VirtualCard]) -> None:
    first = make_card()
    second = VirtualCard.load(first.path)
    with pytest.raises(WrongPin):
        first.sign(NONCE, pin="1111")
    with pytest.raises(WrongPin):
        second.sign(NONCE, pin="1111")
    with pytest.raises(CardLocked):
        first.sign(NONCE, pin="1111")  # a stale in-memory count must not grant a fourth try
    assert second.pin_locked


def test_processes_entering_wrong_pins_together_lose_no_failure(
    make_card: Callable[..., VirtualCard],
) -> None:
    card = make_card(pin_retry_limit=10)
    code = (
        "import sys; from virtualcard import VirtualCard, WrongPin; card = VirtualCard.load(sys.argv[1]); "
        "print('ready', flush=True); sys.stdin.read()\n"
        "try: card.sign(b'nonce', pin='0000')\nexcept WrongPin: pass"
    )
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(card.path)],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    for process in processes:  # all loaded the card (count 0) and wait...
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    for process in processes:  # ...then all enter a wrong PIN at the same moment
        assert process.stdin is not None
        process.stdin.close()
    assert [process.wait(timeout=60) for process in processes] == [0] * 6
    assert VirtualCard.load(card.path).pin_failures == 6


# --- face matching ---------------------------------------------------------------------------------------


def test_face_matching_locks_after_ten_consecutive_failures(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    for _ in range(9):
        card.record_face_result(matched=False)
    card.record_face_result(matched=True)
    assert VirtualCard.load(card.path).face_failures == 0  # a match resets the count

    for _ in range(9):
        card.record_face_result(matched=False)
    assert not VirtualCard.load(card.path).face_locked
    card.record_face_result(matched=False)
    reloaded = VirtualCard.load(card.path)
    assert reloaded.face_locked
    with pytest.raises(CardLocked):
        reloaded.record_face_result(matched=True)
    assert not reloaded.pin_locked
    _verify(reloaded, NONCE, reloaded.sign(NONCE))  # PIN and staff visual check remain possible


# --- renewal ---------------------------------------------------------------------------------------------


def test_replace_credentials_keeps_pin_state_and_face_photo(
    make_card: Callable[..., VirtualCard], authority: CertificateAuthority, keys: list[rsa.RSAPrivateKey]
) -> None:
    card = make_card()
    old_serial, old_der = card.serial, card.certificate_der
    with pytest.raises(WrongPin):
        card.sign(NONCE, pin="0000")
    card.record_face_result(matched=False)

    card.replace_credentials(certificate_der=_certificate_der(authority, keys[1]), private_key=keys[1])

    renewed = VirtualCard.load(card.path)
    assert renewed.serial != old_serial
    assert (renewed.pin_failures, renewed.face_failures) == (1, 1)
    assert renewed.face_image == FACE
    signature = renewed.sign(NONCE, pin=PIN)  # the same PIN still works
    _verify(renewed, NONCE, signature)
    with pytest.raises(BadSignature):
        verify_card_signature(load_certificate(old_der), NONCE, signature)


def test_replace_credentials_refuses_a_key_that_does_not_match(
    make_card: Callable[..., VirtualCard], authority: CertificateAuthority, keys: list[rsa.RSAPrivateKey]
) -> None:
    card = make_card()
    before = card.path.read_bytes()
    with pytest.raises(ValueError, match="does not match"):
        card.replace_credentials(certificate_der=_certificate_der(authority, keys[1]), private_key=keys[0])
    assert card.path.read_bytes() == before


# --- bad files -------------------------------------------------------------------------------------------


def _corrupt(document: dict[str, Any], change: str) -> str:
    if change == "not json":
        return "{not json"
    if change == "wrong format":
        document["format"] = "onshi-virtual-card/99"
    elif change == "missing certificate":
        del document["certificate"]
    elif change == "bad base64":
        document["face_image"] = "***"
    elif change == "negative count":
        document["pin_failures"] = -1
    elif change == "unknown face format":
        document["face_format"] = "gif"
    elif change == "garbage key":
        document["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    elif change == "garbage certificate":
        document["certificate"] = base64.b64encode(b"not a certificate").decode()
    elif change == "huge scrypt cost":
        document["pin"]["n"] = 2**30
    return json.dumps(document)


@pytest.mark.parametrize(
    "change",
    [
        "not json",
        "wrong format",
        "missing certificate",
        "bad base64",
        "negative count",
        "unknown face format",
        "garbage key",
        "garbage certificate",
        "huge scrypt cost",
    ],
)
def test_malformed_file_raises_card_error(make_card: Callable[..., VirtualCard], change: str) -> None:
    path = make_card().path
    path.write_text(_corrupt(json.loads(path.read_text()), change), encoding="utf-8")
    with pytest.raises(CardError, match="malformed card file"):
        VirtualCard.load(path)


def test_key_of_another_card_is_rejected(
    make_card: Callable[..., VirtualCard], authority: CertificateAuthority, keys: list[rsa.RSAPrivateKey]
) -> None:
    path = make_card().path
    document = json.loads(path.read_text())
    document["certificate"] = base64.b64encode(_certificate_der(authority, keys[1])).decode()
    path.write_text(json.dumps(document))
    with pytest.raises(CardError, match="does not match"):
        VirtualCard.load(path)


def test_missing_or_binary_file_raises_card_error(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="cannot read"):
        VirtualCard.load(tmp_path / "absent.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CardError, match="malformed"):
        VirtualCard.load(tmp_path / "binary.json")


def test_card_package_imports_nothing_from_the_service_or_the_terminals() -> None:
    code = ("import sys, virtualcard; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('service', 'terminals')))")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
