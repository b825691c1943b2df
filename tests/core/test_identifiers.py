"""Insurer number check digits and My Number detection."""

from __future__ import annotations

import pytest

from service.core.identifiers import (
    contains_my_number,
    insurer_check_digit,
    is_my_number,
    is_valid_insurer_number,
)


def my_number(body: str) -> str:
    """A valid My Number from 11 digits, by the statutory formula (written independently of the service)."""
    weights = [2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6]  # Qn for n = 1..11, n counted from the right
    total = sum(int(digit) * weight for digit, weight in zip(reversed(body), weights, strict=True))
    remainder = total % 11
    return body + str(0 if remainder <= 1 else 11 - remainder)


def wrong_check_digit(number: str) -> str:
    """The same 12 digits with any other last digit."""
    return number[:11] + str((int(number[11]) + 1) % 10)


VALID = my_number("12345678901")
VALID_ZERO_CHECK = next(
    number for body in range(10_000_000_000, 10_000_001_000) if (number := my_number(str(body)))[-1] == "0"
)


@pytest.mark.parametrize(
    ("body", "check"),
    [("3312001", 5), ("0113001", 2), ("1234567", 4), ("13801", 6), ("0", 0), ("5", 9), ("1", 8)],
)
def test_insurer_check_digit(body: str, check: int) -> None:
    assert insurer_check_digit(body) == check


@pytest.mark.parametrize("body", ["", "33120O1", "３３１２００１", "3312 001"])
def test_insurer_check_digit_refuses_non_digits(body: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        insurer_check_digit(body)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("33120015", True),  # the DOMAIN.md example
        ("33120016", False),  # wrong check digit
        ("138016", True),  # 6-digit 国保
        ("138017", False),
        ("3312001", False),  # 7 digits
        ("331200150", False),  # 9 digits
        ("３３１２００１５", False),  # full-width digits: callers normalise first
        ("3312001A", False),
        ("", False),
    ],
)
def test_is_valid_insurer_number(value: str, valid: bool) -> None:
    assert is_valid_insurer_number(value) is valid


def test_check_digit_helper_agrees_with_published_example() -> None:
    assert my_number("12345678901") == "123456789018"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (VALID, True),
        (VALID_ZERO_CHECK, True),
        (my_number("98765432109"), True),
        (wrong_check_digit(VALID), False),
        (VALID[:11], False),
        (VALID + "0", False),
        ("１２３４５６７８９０１８", False),  # full-width: is_my_number wants ASCII
        ("12345678901a", False),
        ("", False),
    ],
)
def test_is_my_number(value: str, valid: bool) -> None:
    assert is_my_number(value) is valid


def test_every_check_digit_position_matters() -> None:
    for position in range(11):
        body = list("12345678901")
        body[position] = str((int(body[position]) + 1) % 10)
        assert not is_my_number("".join(body) + VALID[11])


SPACED = f"{VALID[:4]} {VALID[4:8]} {VALID[8:]}"
FULL_WIDTH = VALID.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


@pytest.mark.parametrize(
    "text",
    [
        VALID,
        f"山田太郎{VALID}",
        f"個人番号:{VALID}です",
        FULL_WIDTH,
        SPACED,
        f"{VALID[:4]}-{VALID[4:8]}-{VALID[8:]}",
        f"{VALID[:4]}－{VALID[4:8]}－{VALID[8:]}",  # full-width hyphen-minus
        f"{VALID[:4]}−{VALID[4:8]}‐{VALID[8:]}",  # minus sign, hyphen
        f"{VALID[:4]}ー{VALID[4:8]}ー{VALID[8:]}",  # katakana long-vowel mark used as a dash
        f"{VALID[:4]}　{VALID[4:8]}　{VALID[8:]}",  # ideographic spaces
        f"{VALID[:4]} - {VALID[4:8]} - {VALID[8:]}",
        f"東京都千代田区1-2-3 {SPACED}",  # an address number before it
        f"TEL 090-1234-5678 {VALID}",
        f"{VALID}\n",
    ],
)
def test_contains_my_number_detects(text: str) -> None:
    assert contains_my_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "山田太郎",
        wrong_check_digit(VALID),  # 12 digits failing the check digit
        f"{VALID}1",  # 13-digit run
        f"9{VALID}",
        f"{VALID[:4]} {VALID[4:8]} {VALID[8:]} 1234",  # 4-4-4-4 (a card number), not a My Number
        f"1234 {VALID[:4]} {VALID[4:8]} {VALID[8:]}",
        f"{VALID[:4]} {VALID[4:8]}{VALID[8:]}",  # 4-8 is not the 4-4-4 form
        f"{VALID[:4]}/{VALID[4:8]}/{VALID[8:]}",  # slashes are not group separators
        f"{VALID[:6]}\n{VALID[6:]}",
        "TEL 03-1234-5678",
    ],
)
def test_contains_my_number_ignores(text: str) -> None:
    assert not contains_my_number(text)
