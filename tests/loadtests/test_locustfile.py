"""Smoke tests of the load test: the locustfile defines its scenarios, the fixture file is validated on load,
and the reception terminal's prepared bodies (loadtests/desk.py) are the JSON the service expects.

No load is generated here (timings belong in benchmarks/peak.py). Importing locust patches the
standard library with gevent, so the locustfile is imported in a child process, never in the test process.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from loadtests.config import LoadTestConfig, parse_weights
from loadtests.desk import CHALLENGE_BODY, answer_problem, prepare
from loadtests.fixture_file import FORMAT, KINDS, PROFILE, FixtureError, load, parse, write
from loadtests.fixtures import kind_counts, people

ROOT = Path(__file__).resolve().parents[2]
_DESCRIBE = """
import json
import loadtests.locustfile as locustfile
from locust import User
users = {name: obj for name, obj in vars(locustfile).items() if isinstance(obj, type) and issubclass(obj, User)}
print(json.dumps({name: {"tasks": [t.__name__ for t in cls.tasks], "fixed_count": cls.fixed_count,
                         "host": cls.host, "abstract": cls.abstract} for name, cls in users.items()}))
"""


def describe_locustfile(**env: str) -> dict[str, Any]:
    """The user classes the locustfile exports, as a child process that imported it sees them."""
    done = subprocess.run([sys.executable, "-c", _DESCRIBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    described: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return described


def test_the_locustfile_defines_the_reception_insurer_and_viewer_scenarios() -> None:
    users = describe_locustfile(ONSHI_URL="http://127.0.0.1:8123", ONSHI_LOADTEST_INSURERS="2",
                                ONSHI_LOADTEST_VIEWERS="3")
    assert set(users) == {"ReceptionTerminal", "InsurerUploader", "ViewerStaff"}
    assert users["ReceptionTerminal"]["tasks"] == ["patient"]
    assert users["InsurerUploader"]["tasks"] == ["upload_and_follow"]
    assert users["ViewerStaff"]["tasks"] == ["read"]
    assert users["InsurerUploader"]["fixed_count"] == 2
    assert users["ViewerStaff"]["fixed_count"] == 3
    assert {u["host"] for u in users.values()} == {"http://127.0.0.1:8123"}
    assert not any(u["abstract"] for u in users.values())


def test_locust_lists_the_scenarios_without_a_fixture_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--list"], cwd=ROOT, capture_output=True,
        text=True, timeout=120, env={**os.environ, "ONSHI_LOADTEST_FIXTURE": str(tmp_path / "missing.json")},
    )
    assert done.returncode == 0, done.stderr
    assert "ReceptionTerminal" in done.stdout and "InsurerUploader" in done.stdout


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key: rsa.RSAPrivateKey, serial: int) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "JPKI user certificate")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(serial).not_valid_before(now).not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def _card(key_index: int, der: bytes, serial: int, kind: str) -> dict[str, Any]:
    result, code, shows_record = KINDS[kind]
    return {"serial": str(serial), "certificate": base64.b64encode(der).decode(), "key": key_index, "kind": kind,
            "result": result, "validity_code": code, "number": "0001" if shows_record else None}


@pytest.fixture
def document(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {
        "format": FORMAT, "insurer": {"insurer_number": "06130017", "token": "oni_x"},
        "terminals": [{"terminal_id": "t-1", "facility_code": "9000000001", "token": "ont_x"}],
        "keys": [pem],
        "cards": [_card(0, _certificate(key, 1001), 1001, "eligible"),
                  _card(0, _certificate(key, 1002), 1002, "code_5")],
    }


def test_a_valid_fixture_loads_and_its_cards_really_sign(document: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "fixture.json"
    write(path, document)
    fixture = load(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert [c.kind for c in fixture.cards] == ["eligible", "code_5"]
    assert (fixture.cards[1].result, fixture.cards[1].validity_code, fixture.cards[1].number) == (
        "not_eligible", 5, None)
    nonce = os.urandom(32)
    certificate = x509.load_der_x509_certificate(base64.b64decode(fixture.cards[0].certificate_b64))
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(base64.b64decode(fixture.cards[0].sign(nonce)), nonce, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="something-else"), "format"),
        (lambda d: d.update(terminals=[]), "terminals"),
        (lambda d: d["cards"][0].update(kind="eligible_maybe"), "unknown kind"),
        (lambda d: d["cards"][0].update(key=3), "'key' must index"),
        (lambda d: d["cards"][0].update(certificate="not base64!"), "base64"),
        (lambda d: d["cards"][0].update(serial="42"), "serial"),
        (lambda d: d["cards"][0].update(number=None), "'number' must be a string"),
        (lambda d: d["cards"][1].update(number="0002"), "'number' must be null"),
        (lambda d: d["cards"][1].update(certificate=d["cards"][0]["certificate"]), "serial"),
        (lambda d: d.update(keys=["-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"]), "PEM"),
        (lambda d: d["insurer"].pop("token"), "token"),
    ],
)
def test_an_inconsistent_fixture_is_refused_with_a_reason(document: dict[str, Any], change: Any, message: str) -> None:
    broken = copy.deepcopy(document)
    change(broken)
    with pytest.raises(FixtureError, match=message):
        parse(broken)


def test_a_card_with_another_cards_key_is_refused(document: dict[str, Any]) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    broken = copy.deepcopy(document)
    broken["cards"][0]["certificate"] = base64.b64encode(_certificate(other, 1001)).decode()
    with pytest.raises(FixtureError, match="not the key of this certificate"):
        parse(broken)


def test_a_key_whose_private_half_does_not_match_its_public_half_is_refused(
        document: dict[str, Any], key: rsa.RSAPrivateKey) -> None:
    numbers = key.private_numbers()  # OpenSSL checks a CRT result and falls back on d: both are broken here
    broken = rsa.RSAPrivateNumbers(p=numbers.p, q=numbers.q, d=numbers.d ^ 2, dmp1=numbers.dmp1 ^ 2,
                                   dmq1=numbers.dmq1, iqmp=numbers.iqmp, public_numbers=numbers.public_numbers)
    pem = broken.private_key(unsafe_skip_rsa_key_validation=True).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(FixtureError, match=r"keys\[0\] is inconsistent"):
        parse({**document, "keys": [pem]})


def test_a_missing_fixture_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match=r"python -m loadtests\.fixtures"):
        load(tmp_path / "nothing.json")
    (tmp_path / "garbage.json").write_text("{")
    with pytest.raises(FixtureError, match="cannot read"):
        load(tmp_path / "garbage.json")


def test_the_seeded_mix_follows_the_profile_and_keeps_every_kind() -> None:
    assert kind_counts(500) == {k: share * 5 for k, share in PROFILE.items()}
    small = kind_counts(10)
    assert sum(small.values()) == 10 and all(n >= 1 for n in small.values())
    persons = people(kind_counts(200), run=7, today=date(2026, 4, 1))
    assert len({(p.identity.birthdate, p.identity.name_kana) for p in persons}) == 200
    by_kind = {p.kind: p for p in persons}
    assert by_kind["code_4"].records == [] and len(by_kind["code_5"].records) == 2
    assert by_kind["code_3"].records[1]["qualified_on"] > "2026-04-01"


def test_the_configuration_comes_from_the_environment() -> None:
    config = LoadTestConfig.from_env({
        "ONSHI_URL": "http://127.0.0.1:9000/", "ONSHI_LOADTEST_PACE": "2.5", "ONSHI_LOADTEST_MIX": "eligible=1",
        "ONSHI_LOADTEST_FIXTURE": "/tmp/f.json",
    })
    assert (config.url, config.pace, config.mix, str(config.fixture)) == (
        "http://127.0.0.1:9000", 2.5, {"eligible": 1.0}, "/tmp/f.json")
    assert LoadTestConfig.from_env({}).pace is None
    with pytest.raises(ValueError, match="unknown 'eligibel'"):
        LoadTestConfig.from_env({"ONSHI_LOADTEST_MIX": "eligibel=1"})
    with pytest.raises(ValueError, match="key=weight"):
        parse_weights("face", name="presence")


def test_the_reception_bodies_are_the_json_the_service_expects(document: dict[str, Any]) -> None:
    desk = prepare(parse(document), {"eligible": 1.0}, {"face": 1.0})
    rng = random.Random(3)
    patient = desk.patient(rng)
    assert patient.card.kind == "eligible"
    nonce = os.urandom(32)
    challenge_id = 'c-1 "quoted" \\ 受付'  # whatever the service sends back is escaped, not pasted
    proof = json.loads(patient.proof(challenge_id, patient.card.signature(nonce), desk.presence(rng)))
    assert set(proof) == {"challenge_id", "certificate", "signature", "presence"}
    assert (proof["challenge_id"], proof["certificate"]) == (challenge_id, patient.card.certificate_b64)
    certificate = x509.load_der_x509_certificate(base64.b64decode(proof["certificate"]))
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(base64.b64decode(proof["signature"]), nonce, padding.PKCS1v15(), hashes.SHA256())
    assert proof["presence"]["method"] == "face" and proof["presence"]["liveness_passed"] is True
    assert 0.25 <= proof["presence"]["face_distance"] <= 0.5
    assert json.loads(CHALLENGE_BODY) == {"purpose": "verify"}
    assert [h["Authorization"] for h in desk.headers] == ["Bearer ont_x"]
    assert all(h["Content-Type"] == "application/json" for h in desk.headers)


def test_the_desk_draws_cards_and_presence_checks_by_their_weights(document: dict[str, Any]) -> None:
    fixture = parse(document)
    rng = random.Random(5)
    only_code_5 = prepare(fixture, {"eligible": 0.0, "code_5": 1.0}, {"pin": 1.0, "face": 0.0, "visual": 2.0})
    assert {only_code_5.patient(rng).card.kind for _ in range(50)} == {"code_5"}
    assert {only_code_5.presence(rng) for _ in range(50)} == {b'{"method": "pin"}', b'{"method": "visual"}'}
    absent = prepare(fixture, {"revoked": 1.0}, {"pin": 1.0})  # no revoked card here: any card, as Fixture.pick
    assert {absent.patient(rng).card.serial for _ in range(50)} == {"1001", "1002"}


def test_an_answer_about_another_patient_is_a_failure(document: dict[str, Any]) -> None:
    card = parse(document).cards[0]
    answer = {"verification_id": "v-1", "result": "eligible", "validity_code": 1,
              "certificate": {"serial": card.serial}, "coverage": {"number": card.number}}
    assert answer_problem(card, answer) is None
    assert answer_problem(card, {**answer, "coverage": {"number": "9999"}}) == (
        "the answer shows insured number 9999, expected 0001")
    assert answer_problem(card, {**answer, "certificate": {"serial": "1002"}}) == (
        "the answer is about another certificate")
    assert answer_problem(card, [answer]) == "the answer is not a JSON object"
