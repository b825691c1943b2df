"""The medication (薬剤情報) and checkup (特定健診) batch rows: their columns, typed rows and validators.

Decisions: a YJ drug code is upper-cased before its shape is checked; a checkup row needs at least one
measured value, and each measure must lie in a plausible physiological range (`MEASURE_RANGES`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal

from service.batches.fields import (
    Fields,
    Invalid,
    RowError,
    insured_id,
    nfkc,
    parse_code_text,
    parse_date_until,
    parse_decimal_in,
    parse_free_text,
    parse_insurer_number,
    parse_integer_in,
    present,
)
from service.batches.header import Columns

_MEDICATION = (
    "record_id", "insurer_number", "symbol", "number", "branch", "dispensed_on", "drug_code", "drug_name",
    "quantity", "unit", "days", "facility_code",
)  # fmt: skip
_CHECKUP = (
    "record_id", "symbol", "number", "branch", "examined_on", "height_cm", "weight_kg", "bmi", "waist_cm",
    "systolic_bp", "diastolic_bp", "hba1c", "ldl", "hdl", "triglycerides", "ast", "alt", "gamma_gtp",
)  # fmt: skip
MEDICATION_COLUMNS = Columns(
    kind="medication", contract=_MEDICATION, required=tuple(column for column in _MEDICATION if column != "days")
)
CHECKUP_COLUMNS = Columns(kind="checkup", contract=_CHECKUP, required=_CHECKUP[:5])
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
_YJ_CODE = re.compile(r"[0-9]{4}[0-9]{3}[A-Z][0-9A-Z]{4}")
_FACILITY_CODE = re.compile(r"[0-9]{10}")


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


def validate_medication_row(raw: Mapping[str, object], *, row: int, today: date) -> MedicationRow | list[RowError]:
    """Validate one dispensed-medication row: a typed row, or all of its errors."""
    f = Fields(raw, row=row)
    record_id = f.get("record_id", parse_code_text(64), required=True)
    insurer_number = f.get("insurer_number", parse_insurer_number, required=True)
    symbol, number, branch = insured_id(f, required=True)
    dispensed_on = f.get("dispensed_on", parse_date_until(today), required=True)
    drug_code = f.get("drug_code", _drug_code, required=True)
    drug_name = f.get("drug_name", parse_free_text(200), required=True)
    quantity = f.get("quantity", parse_decimal_in(Decimal("0.001"), Decimal(100000)), required=True, numeric=True)
    unit = f.get("unit", parse_code_text(20), required=True)
    days = f.get("days", parse_integer_in(1, 366), numeric=True)
    facility_code = f.get("facility_code", _facility_code, required=True)
    if f.errors:
        return f.errors
    return MedicationRow(
        present(record_id), present(insurer_number), present(symbol), present(number), present(branch),
        present(dispensed_on), present(drug_code), present(drug_name), present(quantity), present(unit),
        days, present(facility_code),
    )  # fmt: skip


def validate_checkup_row(raw: Mapping[str, object], *, row: int, today: date) -> CheckupRow | list[RowError]:
    """Validate one checkup row (empty measure = not measured): a typed row, or all of its errors."""
    f = Fields(raw, row=row)
    record_id = f.get("record_id", parse_code_text(64), required=True)
    symbol, number, branch = insured_id(f, required=True)
    examined_on = f.get("examined_on", parse_date_until(today), required=True)
    measures = [f.get(name, parse_decimal_in(*MEASURE_RANGES[name]), numeric=True) for name in _MEASURE_FIELDS]
    if all(measure is None for measure in measures) and not any(f.failed(name) for name in _MEASURE_FIELDS):
        f.add(None, "no_measurements", "the row has no measured value")
    if f.errors:
        return f.errors
    return CheckupRow(
        present(record_id), present(symbol), present(number), present(branch), present(examined_on), *measures
    )


def _drug_code(text: str) -> str:
    value = nfkc(text).upper()
    if not _YJ_CODE.fullmatch(value):
        raise Invalid("invalid_format", "must be a 12-character YJ code: 7 digits, a letter, 4 alphanumerics")
    return value


def _facility_code(text: str) -> str:
    value = nfkc(text)
    if not _FACILITY_CODE.fullmatch(value):
        raise Invalid("invalid_format", "must be a 10-digit medical institution code (医療機関コード)")
    return value
