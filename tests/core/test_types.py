"""Shared field types (service/core/types.py): base64 text checked once, its bytes kept."""

from __future__ import annotations

import base64

import pytest
from pydantic import BaseModel, ValidationError

from service.core.types import Base64Text, base64_bytes


class _Proof(BaseModel):
    blob: Base64Text


def test_the_bytes_are_those_the_check_decoded_and_the_text_is_unchanged() -> None:
    raw = bytes(range(256)) * 4
    text = base64.b64encode(raw).decode()
    proof = _Proof.model_validate_json(f'{{"blob": "{text}"}}')
    assert base64_bytes(proof.blob) == raw
    assert proof.blob == text and proof.model_dump() == {"blob": text}
    assert proof.model_dump_json() == f'{{"blob":"{text}"}}'


def test_a_model_built_without_validation_still_gives_the_bytes() -> None:
    assert base64_bytes(_Proof.model_construct(blob="AAEC").blob) == b"\x00\x01\x02"


@pytest.mark.parametrize("bad", ["AA*C", "AAE", "AA-_", "AAEC\n"])
def test_text_that_is_not_standard_padded_base64_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="must be base64"):
        _Proof(blob=bad)
