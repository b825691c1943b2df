"""Reading one raw batch row field by field: the shared field parsers and the row error of every batch kind.

Pure functions, no database, no I/O. A domain's validator (eligibility.rows, records.rows) reads a raw row
with `Fields` and these parsers, and returns either its typed row or every `RowError` of the row (not just the
first).

Input: a mapping column -> value. CSV gives strings; NDJSON may give str, int, float, bool, list, dict, None.
Numeric columns accept JSON numbers; code columns and dates must be strings (a number would have lost leading
zeros); any other JSON type is an `invalid_type` error. Empty strings and null mean "not given".

Normalisation: code, number and date fields are NFKC-normalised before parsing (full-width digits, half-width
kana); names, addresses and drug names are kept as given, only NFC-normalised and stripped (the linking step
normalises for matching). A free-text field that contains a My Number (個人番号) is rejected with
`my_number_not_allowed`. No error detail repeats a name, an address, a date, a measurement or a My Number:
only short code-like values (a bad sex code, an insurer number) are echoed.

Decisions: a 1-digit branch (枝番) is accepted and zero-padded ("1" -> "01"); an integral JSON float (30.0) is
accepted for integer columns.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from service.core.identifiers import contains_my_number, is_my_number, is_valid_insurer_number

T = TypeVar("T")

EARLIEST_DATE = date(1900, 1, 1)
MY_NUMBER_DETAIL = "contains a My Number (個人番号), which must never be sent: remove it (the value was not stored)"

_INTEGER = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_COMPACT_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_ERA_DATE = re.compile(r"[MTSHRmtshr][0-9]|[明大昭平令]|.*年")
_INSURED_NUMBER = re.compile(r"[0-9]+")
_BRANCH = re.compile(r"[0-9]{1,2}")
_INSURER_NUMBER = re.compile(r"[0-9]{6}|[0-9]{8}")
_POSTAL_CODE = re.compile(r"〒?\s*([0-9]{3})[-\u2010-\u2015\u2212\u30fc]?([0-9]{4})")
# Hiragana, katakana (with the long-vowel mark, middle dot and iteration marks), Ainu small kana, spaces.
_KANA = re.compile(r"[\u3041-\u3096\u3099-\u309e\u30a1-\u30ff\u31f0-\u31ff ]+")
_SAFE_ECHO = re.compile(r"[A-Za-z0-9_]{1,8}")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one data row (row 0: the header); `field` is None for whole-row problems."""

    row: int
    field: str | None
    error: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        """The contract's error object {"row", "field", "error", "detail"}."""
        return {"row": self.row, "field": self.field, "error": self.error, "detail": self.detail}


class Invalid(Exception):
    """A field value that breaks its rule; becomes one RowError."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail


class Fields:
    """Reads one raw row field by field and collects every error."""

    def __init__(self, raw: Mapping[str, object], *, row: int) -> None:
        self.raw = raw
        self.row = row
        self.errors: list[RowError] = []

    def add(self, field: str | None, error: str, detail: str) -> None:
        """Note one error of this row."""
        self.errors.append(RowError(self.row, field, error, detail))

    def failed(self, field: str) -> bool:
        """Whether this field has an error already."""
        return any(error.field == field for error in self.errors)

    def get(self, field: str, parse: Callable[[str], T], *, required: bool = False, numeric: bool = False) -> T | None:
        """The parsed value of a field, or None when it is empty (an error when required) or invalid."""
        try:
            text = _text(self.raw.get(field), numeric=numeric)
            if text is None:
                if required:
                    raise Invalid("missing_field", "required (必須項目)")
                return None
            return parse(text)
        except Invalid as invalid:
            self.add(field, invalid.error, invalid.detail)
            return None


def insured_id(f: Fields, *, required: bool) -> tuple[str | None, str | None, str | None]:
    """記号・番号・枝番, the individual insured number shared by all batch kinds."""
    symbol = f.get("symbol", parse_code_text(20), required=required)
    number = f.get("number", _insured_number, required=required)
    branch = f.get("branch", _branch, required=required)
    return symbol, number, branch


def check_order(f: Fields, field: str, earlier: date | None, later: date | None, rule: str, *, strict: bool) -> None:
    """A `date_order` error on `field` unless `later` comes after `earlier` (or on the same day, unless strict)."""
    if earlier is None or later is None:
        return
    if later < earlier or (strict and later == earlier):
        f.add(field, "date_order", f"must be {rule}")


def present(value: T | None) -> T:
    """Narrow a required value: reached only when its field produced no error."""
    if value is None:
        raise AssertionError("a required value is missing although its field reported no error")
    return value


# Field parsers: each takes the stripped, non-empty text and returns the value or raises Invalid.


def _text(value: object, *, numeric: bool) -> str | None:
    """The raw value as stripped text, None when empty; JSON numbers only for numeric columns."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if numeric and isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value)
    expected = "a number or a string" if numeric else "a string"
    raise Invalid("invalid_type", f"expected {expected}, got a JSON {_json_type(value)}")


def _number_text(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise Invalid("invalid_format", "not a finite number")
    return format(Decimal(repr(value)), "f")


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def echo(value: str) -> str:
    """' (got X)' for a short code-like value; nothing for anything that might be personal data."""
    safe = _SAFE_ECHO.fullmatch(value) and sum(char.isdigit() for char in value) <= 4
    return f" (got {value!r})" if safe else ""


def _reject_unsafe_text(value: str) -> None:
    if contains_my_number(value):
        raise Invalid("my_number_not_allowed", MY_NUMBER_DETAIL)
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise Invalid("invalid_format", "contains control characters")


def parse_free_text(max_length: int) -> Callable[[str], str]:
    """Names, addresses, drug names: kept as given, NFC-normalised."""

    def parse(text: str) -> str:
        value = unicodedata.normalize("NFC", text)
        _reject_unsafe_text(value)
        if len(value) > max_length:
            raise Invalid("too_long", f"at most {max_length} characters")
        return value

    return parse


def parse_code_text(max_length: int) -> Callable[[str], str]:
    """Identifiers and short codes (record_id, 記号, units, 限度額適用区分): NFKC, printable."""

    def parse(text: str) -> str:
        value = nfkc(text)
        _reject_unsafe_text(value)
        if not value.isprintable():
            raise Invalid("invalid_format", "contains unprintable characters")
        if len(value) > max_length:
            raise Invalid("too_long", f"at most {max_length} characters")
        return value

    return parse


_kana_text = parse_free_text(100)


def parse_kana(text: str) -> str:
    """カナ氏名: stored NFC as given; must be kana once NFKC-normalised (half-width kana allowed)."""
    value = _kana_text(text)
    if not _KANA.fullmatch(unicodedata.normalize("NFKC", value)):
        raise Invalid("invalid_format", "must be kana (カナ): katakana, hiragana, ー, ・, spaces")
    return value


def parse_choice(allowed: tuple[int, ...], meaning: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = nfkc(text)
        if _INTEGER.fullmatch(value) and int(Decimal(value)) in allowed:
            return int(Decimal(value))
        raise Invalid("invalid_choice", f"must be {meaning}{echo(value)}")

    return parse


def parse_integer_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = nfkc(text)
        if not _INTEGER.fullmatch(value):
            raise Invalid("invalid_format", "must be a whole number")
        number = int(Decimal(value))
        if not low <= number <= high:
            raise Invalid("out_of_range", f"must be between {low} and {high}")
        return number

    return parse


def parse_decimal_in(low: Decimal, high: Decimal) -> Callable[[str], Decimal]:
    def parse(text: str) -> Decimal:
        value = nfkc(text)
        if len(value) > 32 or not _DECIMAL.fullmatch(value):
            raise Invalid("invalid_format", "must be a decimal number such as 12.5")
        number = Decimal(value)
        if not low <= number <= high:
            raise Invalid("out_of_range", f"must be between {low} and {high}")
        return number

    return parse


def _date(text: str) -> date:
    value = nfkc(text)
    match = _ISO_DATE.fullmatch(value) or _COMPACT_DATE.fullmatch(value)
    if match is None:
        if _ERA_DATE.match(value):
            raise Invalid("invalid_date", "era dates (和暦, e.g. R6.4.1) are not accepted: use YYYY-MM-DD")
        raise Invalid("invalid_date", "must be a date written YYYY-MM-DD (or YYYYMMDD)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise Invalid("invalid_date", "not a calendar date (YYYY-MM-DD)") from None


def parse_date_until(latest: date | None) -> Callable[[str], date]:
    """A date from 1900-01-01, and not after `latest` (today) when given."""

    def parse(text: str) -> date:
        value = _date(text)
        if value < EARLIEST_DATE:
            raise Invalid("out_of_range", "must not be before 1900-01-01")
        if latest is not None and value > latest:
            raise Invalid("out_of_range", "must not be in the future")
        return value

    return parse


def _insured_number(text: str) -> str:
    value = nfkc(text)
    if not _INSURED_NUMBER.fullmatch(value):
        raise Invalid("invalid_format", "must be digits only (番号)")
    if is_my_number(value):  # 12 digits with the My Number check digit: refused, as in any other field
        raise Invalid("my_number_not_allowed", MY_NUMBER_DETAIL)
    if len(value) > 20:
        raise Invalid("too_long", "at most 20 digits")
    return value


def _branch(text: str) -> str:
    value = nfkc(text)
    if not _BRANCH.fullmatch(value):
        raise Invalid("invalid_format", "must be 2 digits (枝番, e.g. 01)")
    return value.zfill(2)


def parse_insurer_number(text: str) -> str:
    value = nfkc(text)
    if not _INSURER_NUMBER.fullmatch(value):
        raise Invalid("invalid_format", "must be 8 digits (or 6 digits for 国保)")
    if not is_valid_insurer_number(value):
        raise Invalid("invalid_check_digit", f"{value} fails the insurer number check digit")
    return value


def parse_postal_code(text: str) -> str:
    match = _POSTAL_CODE.fullmatch(nfkc(text))
    if match is None:
        raise Invalid("invalid_format", "must be 7 digits, e.g. 100-0001")
    return match[1] + match[2]
