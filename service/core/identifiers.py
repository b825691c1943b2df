"""Insurer number (保険者番号) check digits, and detection of My Numbers (個人番号), which are never accepted.

Pure functions, no I/O. The My Number is recognised only so that it can be refused: an input that carries one
in a free-text field is rejected (DOMAIN.md, "The key: the certificate serial, never the My Number").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

_ASCII_DIGITS = re.compile(r"[0-9]+")
_INSURER_NUMBER = re.compile(r"[0-9]{6}|[0-9]{8}")
_MY_NUMBER = re.compile(r"[0-9]{12}")
# Hyphen and dash look-alikes people type between digit groups (after NFKC: the full-width forms are gone).
_HYPHENS = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2500\u2501\u30fc\ufe63\uff0d\uff70"
_SEPARATOR = rf"(?:[ \t]*[{re.escape(_HYPHENS)}][ \t]*|[ \t]+)"
# A run of digit groups joined by single separators, e.g. "1234 5678 9012" or "03-1234-5678".
_DIGIT_RUN = re.compile(rf"[0-9]+(?:{_SEPARATOR}[0-9]+)*")


def insurer_check_digit(body: str) -> int:
    """Check digit of an insurer number body: weights 2,1,2,1... from the right, sum of product digits."""
    if not _ASCII_DIGITS.fullmatch(body):
        raise ValueError("an insurer number body is ASCII digits only")
    total = sum(_digit_sum(int(digit) * (2 - i % 2)) for i, digit in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_valid_insurer_number(value: str) -> bool:
    """True for 8 digits (社保 etc.) or 6 digits (国保) whose last digit is the check digit of the rest."""
    if not _INSURER_NUMBER.fullmatch(value):
        return False
    return insurer_check_digit(value[:-1]) == int(value[-1])


def is_my_number(digits: str) -> bool:
    """True for exactly 12 ASCII digits whose last is the statutory check digit of the first 11."""
    if not _MY_NUMBER.fullmatch(digits):
        return False
    return _my_number_check_digit(digits[:11]) == int(digits[11])


def contains_my_number(text: str) -> bool:
    """True if the text (after NFKC) holds a valid My Number: 12 digits alone or written 4-4-4."""
    normalised = unicodedata.normalize("NFKC", text)
    return any(is_my_number(candidate) for candidate in _candidates(normalised))


def _digit_sum(product: int) -> int:
    return product // 10 + product % 10


def _my_number_check_digit(body: str) -> int:
    # The statutory formula (番号法施行令 第8条): Pn is the n-th digit from the right,
    # Qn = n + 1 (n <= 6) or n - 5 (n >= 7).
    total = sum(int(digit) * (n + 1 if n <= 6 else n - 5) for n, digit in enumerate(reversed(body), start=1))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def _candidates(text: str) -> Iterator[str]:
    """12-digit groups, and chains of exactly three 4-digit groups (a 4-4-4-4 card number is not one)."""
    for run in _DIGIT_RUN.finditer(text):
        groups = _ASCII_DIGITS.findall(run.group())
        yield from (group for group in groups if len(group) == 12)
        yield from _four_digit_triples(groups)


def _four_digit_triples(groups: Sequence[str]) -> Iterator[str]:
    chain: list[str] = []
    for group in [*groups, ""]:
        if len(group) == 4:
            chain.append(group)
            continue
        if len(chain) == 3:
            yield "".join(chain)
        chain = []
