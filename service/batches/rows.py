"""Row validators of the three batch kinds: one raw CSV/NDJSON row in, a typed row or all its errors out.

Pure functions, no database, no I/O. The batch pipeline calls `check_header` once with the column names of the
upload, then `validate_eligibility_row` / `validate_medication_row` / `validate_checkup_row` per data row, and
stores either the typed row or its `RowError`s (every error of the row, not just the first).

Input: a mapping column -> value. CSV gives strings; NDJSON may give str, int, float, bool, list, dict, None.
Numeric columns accept JSON numbers; code columns (record_id, symbol, number, branch, postal_code,
insurer_number, drug_code, facility_code) and dates must be strings (a number would have lost leading zeros);
any other JSON type is an `invalid_type` error. Empty strings and null mean "not given".

Normalisation: code, number and date fields are NFKC-normalised before parsing (full-width digits, half-width
kana); names, addresses and drug names are kept as given, only NFC-normalised and stripped (the linking step
normalises for matching). A free-text field that contains a My Number (個人番号) is rejected with
`my_number_not_allowed`. No error detail repeats a name, an address, a date, a measurement or a My Number:
only short code-like values (a bad sex code, an insurer number) are echoed.

Decisions: a 1-digit branch (枝番) is accepted and zero-padded ("1" -> "01"); the action is
case-insensitive ("UPSERT"); a YJ drug code is upper-cased before its shape is checked; an integral JSON
float (30.0) is accepted for integer columns.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Literal, TypeVar

from service.core.identifiers import contains_my_number, is_my_number, is_valid_insurer_number

T = TypeVar("T")
Action = Literal["upsert", "terminate"]

ELIGIBILITY_COLUMNS = (
    "record_id", "action", "symbol", "number", "branch", "holder_kind", "name_kanji", "name_kana",
    "birthdate", "sex", "address", "postal_code", "qualified_on", "disqualified_on", "copay_ratio",
    "limit_category",
)  # fmt: skip
MEDICATION_COLUMNS = (
    "record_id", "insurer_number", "symbol", "number", "branch", "dispensed_on", "drug_code", "drug_name",
    "quantity", "unit", "days", "facility_code",
)  # fmt: skip
CHECKUP_COLUMNS = (
    "record_id", "symbol", "number", "branch", "examined_on", "height_cm", "weight_kg", "bmi", "waist_cm",
    "systolic_bp", "diastolic_bp", "hba1c", "ldl", "hdl", "triglycerides", "ast", "alt", "gamma_gtp",
)  # fmt: skip
COLUMNS: dict[str, tuple[str, ...]] = {
    "eligibility": ELIGIBILITY_COLUMNS,
    "medication": MEDICATION_COLUMNS,
    "checkup": CHECKUP_COLUMNS,
}
# Columns outside the contract's list that are still understood (validated, not stored).
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "eligibility": ("insurer_number",),
    "medication": (),
    "checkup": (),
}

_UPSERT_REQUIRED = (
    "symbol", "number", "branch", "holder_kind", "name_kanji", "name_kana", "birthdate", "sex", "address",
    "qualified_on", "copay_ratio",
)  # fmt: skip
_ALWAYS_REQUIRED: dict[str, tuple[str, ...]] = {
    "eligibility": ("record_id",),
    "medication": tuple(column for column in MEDICATION_COLUMNS if column != "days"),
    "checkup": CHECKUP_COLUMNS[:5],
}
# Plausible physiological ranges (inclusive); outside them a value is a unit or typing mistake.
MEASURE_RANGES: dict[str, tuple[Decimal, Decimal]] = {
    "height_cm": (Decimal(50), Decimal(250)),
    "weight_kg": (Decimal(10), Decimal(300)),
    "bmi": (Decimal(8), Decimal(80)),
    "waist_cm": (Decimal(30), Decimal(250)),
    "systolic_bp": (Decimal(50), Decimal(300)),
    "diastolic_bp": (Decimal(20), Decimal(200)),
    "hba1c": (Decimal(3), Decimal(20)),
    "ldl": (Decimal(10), Decimal(1000)),
    "hdl": (Decimal(5), Decimal(250)),
    "triglycerides": (Decimal(10), Decimal(5000)),
    "ast": (Decimal(1), Decimal(10000)),
    "alt": (Decimal(1), Decimal(10000)),
    "gamma_gtp": (Decimal(1), Decimal(5000)),
}
EARLIEST_DATE = date(1900, 1, 1)
MY_NUMBER_DETAIL = (
    "contains a My Number (個人番号), which must never be sent: remove it (the value was not stored)"
)

_INTEGER = re.compile(r"[+-]?[0-9]+(?:\.0*)?")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_COMPACT_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_ERA_DATE = re.compile(r"[MTSHRmtshr][0-9]|[明大昭平令]|.*年")
_INSURED_NUMBER = re.compile(r"[0-9]+")
_BRANCH = re.compile(r"[0-9]{1,2}")
_INSURER_NUMBER = re.compile(r"[0-9]{6}|[0-9]{8}")
_POSTAL_CODE = re.compile(r"〒?\s*([0-9]{3})[-\u2010-\u2015\u2212\u30fc]?([0-9]{4})")
_YJ_CODE = re.compile(r"[0-9]{4}[0-9]{3}[A-Z][0-9A-Z]{4}")
_FACILITY_CODE = re.compile(r"[0-9]{10}")
# Hiragana, katakana (with the long-vowel mark, middle dot and iteration marks), Ainu small kana, spaces.
_KANA = re.compile(r"[\u3041-\u3096\u3099-\u309e\u30a1-\u30ff\u31f0-\u31ff ]+")
_SAFE_ECHO = re.compile(r"[A-Za-z0-9_]{1,8}")
_SAFE_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


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


@dataclass(frozen=True, slots=True)
class EligibilityRow:
    """A valid eligibility row (資格情報); a terminate row may leave the identity fields empty."""

    record_id: str
    action: Action
    symbol: str | None  # 記号
    number: str | None  # 番号
    branch: str | None  # 枝番, 2 digits
    holder_kind: int | None  # 1 本人, 2 家族
    name_kanji: str | None
    name_kana: str | None
    birthdate: date | None
    sex: int | None
    address: str | None
    postal_code: str | None  # 7 digits
    qualified_on: date | None  # 資格取得日
    disqualified_on: date | None  # 資格喪失日: the first day NOT covered
    copay_ratio: int | None  # 10, 20, 30 (%)
    limit_category: str | None  # 限度額適用区分


@dataclass(frozen=True, slots=True)
class MedicationRow:
    """A valid dispensed-medication row (薬剤情報) from a claims processor."""

    record_id: str
    insurer_number: str
    symbol: str
    number: str
    branch: str
    dispensed_on: date
    drug_code: str  # YJ code, 12 characters
    drug_name: str
    quantity: Decimal
    unit: str
    days: int | None
    facility_code: str  # 医療機関コード, 10 digits


@dataclass(frozen=True, slots=True)
class CheckupRow:
    """A valid checkup row (特定健診); a measure is None where it was not measured."""

    record_id: str
    symbol: str
    number: str
    branch: str
    examined_on: date
    height_cm: Decimal | None
    weight_kg: Decimal | None
    bmi: Decimal | None
    waist_cm: Decimal | None
    systolic_bp: Decimal | None
    diastolic_bp: Decimal | None
    hba1c: Decimal | None
    ldl: Decimal | None
    hdl: Decimal | None
    triglycerides: Decimal | None
    ast: Decimal | None
    alt: Decimal | None
    gamma_gtp: Decimal | None


_MEASURE_FIELDS = tuple(field.name for field in fields(CheckupRow))[5:]


class _Invalid(Exception):
    """A field value that breaks its rule; becomes one RowError."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail


class _Fields:
    """Reads one raw row field by field and collects every error."""

    def __init__(self, raw: Mapping[str, object], *, row: int) -> None:
        self.raw = raw
        self.row = row
        self.errors: list[RowError] = []

    def add(self, field: str | None, error: str, detail: str) -> None:
        self.errors.append(RowError(self.row, field, error, detail))

    def failed(self, field: str) -> bool:
        return any(error.field == field for error in self.errors)

    def get(
        self, field: str, parse: Callable[[str], T], *, required: bool = False, numeric: bool = False
    ) -> T | None:
        try:
            text = _text(self.raw.get(field), numeric=numeric)
            if text is None:
                if required:
                    raise _Invalid("missing_field", "required (必須項目)")
                return None
            return parse(text)
        except _Invalid as invalid:
            self.add(field, invalid.error, invalid.detail)
            return None


# Header


def check_header(columns: Sequence[str], *, kind: str, partial: bool = False) -> list[RowError]:
    """Row-0 errors for a batch header: missing required columns, unknown and duplicate columns.

    `partial=True` checks only unknown and duplicate names (for an NDJSON line, whose keys may be omitted).
    """
    known = _known_columns(kind)
    if not partial and not any(column in known for column in columns):
        detail = f"the first line must be the header with the {kind} column names, e.g. record_id"
        return [RowError(0, None, "missing_header", detail)]
    errors = _unknown_columns(columns, known) + _duplicate_columns(columns)
    return errors if partial else errors + _missing_columns(columns, kind)


def _known_columns(kind: str) -> frozenset[str]:
    if kind not in COLUMNS:
        raise ValueError(f"unknown batch kind {kind!r}")
    return frozenset(COLUMNS[kind] + EXTRA_COLUMNS[kind])


def _unknown_columns(columns: Sequence[str], known: frozenset[str]) -> list[RowError]:
    errors = []
    for position, column in enumerate(columns, start=1):
        if column not in known:
            hint = _column_hint(column, known)
            name = column if _SAFE_COLUMN.fullmatch(column) else None
            detail = f"column {position}{f' {name!r}' if name else ''} is not in the contract{hint}"
            errors.append(RowError(0, name, "unknown_column", detail))
    return errors


def _column_hint(column: str, known: frozenset[str]) -> str:
    cleaned = column.lstrip("\ufeff").strip().lower()
    return f" (did you mean {cleaned!r}?)" if cleaned in known else ""


def _duplicate_columns(columns: Sequence[str]) -> list[RowError]:
    seen: set[str] = set()
    errors = []
    for column in columns:
        if column in seen and _SAFE_COLUMN.fullmatch(column):
            errors.append(RowError(0, column, "duplicate_column", "the column appears more than once"))
        seen.add(column)
    return errors


def _missing_columns(columns: Sequence[str], kind: str) -> list[RowError]:
    required = _ALWAYS_REQUIRED[kind]
    if kind == "eligibility" and "action" not in columns:  # every row is then an upsert
        required = required + _UPSERT_REQUIRED
    present = set(columns)
    return [
        RowError(0, column, "missing_column", "required column is missing from the header")
        for column in required
        if column not in present
    ]


# Row validators


def validate_eligibility_row(
    raw: Mapping[str, object], *, row: int, insurer_number: str, today: date
) -> EligibilityRow | list[RowError]:
    """Validate one eligibility row of the insurer `insurer_number`: a typed row, or all of its errors."""
    f = _Fields(raw, row=row)
    action = f.get("action", _action)
    if action is None and not f.failed("action"):
        action = "upsert"
    upsert = action == "upsert"
    record_id = f.get("record_id", _code_text(64), required=True)
    _check_row_insurer(f, insurer_number)
    symbol, number, branch = _insured_id(f, required=upsert)
    holder_kind = f.get("holder_kind", _choice((1, 2), "1 (本人) or 2 (家族)"), required=upsert, numeric=True)
    name_kanji = f.get("name_kanji", _free_text(50), required=upsert)
    name_kana = f.get("name_kana", _kana, required=upsert)
    birthdate = f.get("birthdate", _date_until(today), required=upsert)
    sex = f.get("sex", _choice((1, 2), "1 (male) or 2 (female)"), required=upsert, numeric=True)
    address = f.get("address", _free_text(200), required=upsert)
    postal_code = f.get("postal_code", _postal_code)
    qualified_on = f.get("qualified_on", _date_until(None), required=upsert)
    disqualified_on = f.get("disqualified_on", _date_until(None), required=action == "terminate")
    copay_ratio = f.get("copay_ratio", _choice((10, 20, 30), "10, 20 or 30"), required=upsert, numeric=True)
    limit_category = f.get("limit_category", _code_text(8))
    _check_order(f, "qualified_on", birthdate, qualified_on, "not before the birthdate", strict=False)
    _check_order(f, "disqualified_on", qualified_on, disqualified_on, "after qualified_on", strict=True)
    if f.errors:
        return f.errors
    return EligibilityRow(
        _present(record_id), _present(action), symbol, number, branch, holder_kind, name_kanji, name_kana,
        birthdate, sex, address, postal_code, qualified_on, disqualified_on, copay_ratio, limit_category,
    )  # fmt: skip


def validate_medication_row(
    raw: Mapping[str, object], *, row: int, today: date
) -> MedicationRow | list[RowError]:
    """Validate one dispensed-medication row: a typed row, or all of its errors."""
    f = _Fields(raw, row=row)
    record_id = f.get("record_id", _code_text(64), required=True)
    insurer_number = f.get("insurer_number", _insurer_number, required=True)
    symbol, number, branch = _insured_id(f, required=True)
    dispensed_on = f.get("dispensed_on", _date_until(today), required=True)
    drug_code = f.get("drug_code", _drug_code, required=True)
    drug_name = f.get("drug_name", _free_text(200), required=True)
    quantity = f.get("quantity", _decimal_in(Decimal("0.001"), Decimal(100000)), required=True, numeric=True)
    unit = f.get("unit", _code_text(20), required=True)
    days = f.get("days", _integer_in(1, 366), numeric=True)
    facility_code = f.get("facility_code", _facility_code, required=True)
    if f.errors:
        return f.errors
    return MedicationRow(
        _present(record_id), _present(insurer_number), _present(symbol), _present(number), _present(branch),
        _present(dispensed_on), _present(drug_code), _present(drug_name), _present(quantity), _present(unit),
        days, _present(facility_code),
    )  # fmt: skip


def validate_checkup_row(raw: Mapping[str, object], *, row: int, today: date) -> CheckupRow | list[RowError]:
    """Validate one checkup row (empty measure = not measured): a typed row, or all of its errors."""
    f = _Fields(raw, row=row)
    record_id = f.get("record_id", _code_text(64), required=True)
    symbol, number, branch = _insured_id(f, required=True)
    examined_on = f.get("examined_on", _date_until(today), required=True)
    measures = [f.get(name, _decimal_in(*MEASURE_RANGES[name]), numeric=True) for name in _MEASURE_FIELDS]
    if all(measure is None for measure in measures) and not any(f.failed(name) for name in _MEASURE_FIELDS):
        f.add(None, "no_measurements", "the row has no measured value")
    if f.errors:
        return f.errors
    return CheckupRow(
        _present(record_id),
        _present(symbol),
        _present(number),
        _present(branch),
        _present(examined_on),
        *measures,
    )


def _insured_id(f: _Fields, *, required: bool) -> tuple[str | None, str | None, str | None]:
    """記号・番号・枝番, the individual insured number shared by all batch kinds."""
    symbol = f.get("symbol", _code_text(20), required=required)
    number = f.get("number", _insured_number, required=required)
    branch = f.get("branch", _branch, required=required)
    return symbol, number, branch


def _check_row_insurer(f: _Fields, insurer_number: str) -> None:
    """An eligibility row may name its insurer; it must then be the insurer of the upload."""
    given = f.get("insurer_number", _insurer_number)
    if given is not None and given != insurer_number:
        detail = f"{given} is not the insurer of this upload ({insurer_number})"
        f.add("insurer_number", "insurer_mismatch", detail)


def _check_order(
    f: _Fields, field: str, earlier: date | None, later: date | None, rule: str, *, strict: bool
) -> None:
    if earlier is None or later is None:
        return
    if later < earlier or (strict and later == earlier):
        f.add(field, "date_order", f"must be {rule}")


def _present(value: T | None) -> T:
    """Narrow a required value: reached only when its field produced no error."""
    if value is None:
        raise AssertionError("a required value is missing although its field reported no error")
    return value


# Field parsers: each takes the stripped, non-empty text and returns the value or raises _Invalid.


def _text(value: object, *, numeric: bool) -> str | None:
    """The raw value as stripped text, None when empty; JSON numbers only for numeric columns."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if numeric and isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value)
    expected = "a number or a string" if numeric else "a string"
    raise _Invalid("invalid_type", f"expected {expected}, got a JSON {_json_type(value)}")


def _number_text(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise _Invalid("invalid_format", "not a finite number")
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


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _echo(value: str) -> str:
    """' (got X)' for a short code-like value; nothing for anything that might be personal data."""
    safe = _SAFE_ECHO.fullmatch(value) and sum(char.isdigit() for char in value) <= 4
    return f" (got {value!r})" if safe else ""


def _reject_unsafe_text(value: str) -> None:
    if contains_my_number(value):
        raise _Invalid("my_number_not_allowed", MY_NUMBER_DETAIL)
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise _Invalid("invalid_format", "contains control characters")


def _free_text(max_length: int) -> Callable[[str], str]:
    """Names, addresses, drug names: kept as given, NFC-normalised."""

    def parse(text: str) -> str:
        value = unicodedata.normalize("NFC", text)
        _reject_unsafe_text(value)
        if len(value) > max_length:
            raise _Invalid("too_long", f"at most {max_length} characters")
        return value

    return parse


def _code_text(max_length: int) -> Callable[[str], str]:
    """Identifiers and short codes (record_id, 記号, units, 限度額適用区分): NFKC, printable."""

    def parse(text: str) -> str:
        value = _nfkc(text)
        _reject_unsafe_text(value)
        if not value.isprintable():
            raise _Invalid("invalid_format", "contains unprintable characters")
        if len(value) > max_length:
            raise _Invalid("too_long", f"at most {max_length} characters")
        return value

    return parse


_kana_text = _free_text(100)


def _kana(text: str) -> str:
    """カナ氏名: stored NFC as given; must be kana once NFKC-normalised (half-width kana allowed)."""
    value = _kana_text(text)
    if not _KANA.fullmatch(unicodedata.normalize("NFKC", value)):
        raise _Invalid("invalid_format", "must be kana (カナ): katakana, hiragana, ー, ・, spaces")
    return value


def _action(text: str) -> Action:
    value = _nfkc(text).lower()
    if value == "upsert":
        return "upsert"
    if value == "terminate":
        return "terminate"
    raise _Invalid("invalid_choice", f"must be upsert or terminate{_echo(value)}")


def _choice(allowed: tuple[int, ...], meaning: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _nfkc(text)
        if _INTEGER.fullmatch(value) and int(Decimal(value)) in allowed:
            return int(Decimal(value))
        raise _Invalid("invalid_choice", f"must be {meaning}{_echo(value)}")

    return parse


def _integer_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _nfkc(text)
        if not _INTEGER.fullmatch(value):
            raise _Invalid("invalid_format", "must be a whole number")
        number = int(Decimal(value))
        if not low <= number <= high:
            raise _Invalid("out_of_range", f"must be between {low} and {high}")
        return number

    return parse


def _decimal_in(low: Decimal, high: Decimal) -> Callable[[str], Decimal]:
    def parse(text: str) -> Decimal:
        value = _nfkc(text)
        if len(value) > 32 or not _DECIMAL.fullmatch(value):
            raise _Invalid("invalid_format", "must be a decimal number such as 12.5")
        number = Decimal(value)
        if not low <= number <= high:
            raise _Invalid("out_of_range", f"must be between {low} and {high}")
        return number

    return parse


def _date(text: str) -> date:
    value = _nfkc(text)
    match = _ISO_DATE.fullmatch(value) or _COMPACT_DATE.fullmatch(value)
    if match is None:
        if _ERA_DATE.match(value):
            raise _Invalid("invalid_date", "era dates (和暦, e.g. R6.4.1) are not accepted: use YYYY-MM-DD")
        raise _Invalid("invalid_date", "must be a date written YYYY-MM-DD (or YYYYMMDD)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise _Invalid("invalid_date", "not a calendar date (YYYY-MM-DD)") from None


def _date_until(latest: date | None) -> Callable[[str], date]:
    """A date from 1900-01-01, and not after `latest` (today) when given."""

    def parse(text: str) -> date:
        value = _date(text)
        if value < EARLIEST_DATE:
            raise _Invalid("out_of_range", "must not be before 1900-01-01")
        if latest is not None and value > latest:
            raise _Invalid("out_of_range", "must not be in the future")
        return value

    return parse


def _insured_number(text: str) -> str:
    value = _nfkc(text)
    if not _INSURED_NUMBER.fullmatch(value):
        raise _Invalid("invalid_format", "must be digits only (番号)")
    if is_my_number(value):  # 12 digits with the My Number check digit: refused, as in any other field
        raise _Invalid("my_number_not_allowed", MY_NUMBER_DETAIL)
    if len(value) > 20:
        raise _Invalid("too_long", "at most 20 digits")
    return value


def _branch(text: str) -> str:
    value = _nfkc(text)
    if not _BRANCH.fullmatch(value):
        raise _Invalid("invalid_format", "must be 2 digits (枝番, e.g. 01)")
    return value.zfill(2)


def _insurer_number(text: str) -> str:
    value = _nfkc(text)
    if not _INSURER_NUMBER.fullmatch(value):
        raise _Invalid("invalid_format", "must be 8 digits (or 6 digits for 国保)")
    if not is_valid_insurer_number(value):
        raise _Invalid("invalid_check_digit", f"{value} fails the insurer number check digit")
    return value


def _postal_code(text: str) -> str:
    match = _POSTAL_CODE.fullmatch(_nfkc(text))
    if match is None:
        raise _Invalid("invalid_format", "must be 7 digits, e.g. 100-0001")
    return match[1] + match[2]


def _drug_code(text: str) -> str:
    value = _nfkc(text).upper()
    if not _YJ_CODE.fullmatch(value):
        raise _Invalid(
            "invalid_format", "must be a 12-character YJ code: 7 digits, a letter, 4 alphanumerics"
        )
    return value


def _facility_code(text: str) -> str:
    value = _nfkc(text)
    if not _FACILITY_CODE.fullmatch(value):
        raise _Invalid("invalid_format", "must be a 10-digit medical institution code (医療機関コード)")
    return value
