"""The eligibility batch row (資格情報): its columns, its typed row and its validator.

Decisions: the action is case-insensitive ("UPSERT") and defaults to upsert; a terminate row may leave the
identity fields empty; a row may name its insurer, which must then be the insurer of the upload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from service.batches.fields import (
    Fields,
    Invalid,
    RowError,
    check_order,
    echo,
    insured_id,
    nfkc,
    parse_choice,
    parse_code_text,
    parse_date_until,
    parse_free_text,
    parse_insurer_number,
    parse_kana,
    parse_postal_code,
    present,
)
from service.batches.header import Columns

Action = Literal["upsert", "terminate"]

_CONTRACT = (
    "record_id", "action", "symbol", "number", "branch", "holder_kind", "name_kanji", "name_kana",
    "birthdate", "sex", "address", "postal_code", "qualified_on", "disqualified_on", "copay_ratio",
    "limit_category",
)  # fmt: skip
_UPSERT_REQUIRED = (
    "symbol", "number", "branch", "holder_kind", "name_kanji", "name_kana", "birthdate", "sex", "address",
    "qualified_on", "copay_ratio",
)  # fmt: skip
ELIGIBILITY_COLUMNS = Columns(
    kind="eligibility",
    contract=_CONTRACT,
    required=("record_id",),
    extra=("insurer_number",),
    required_without=(("action", _UPSERT_REQUIRED),),  # without an action column every row is an upsert
)


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


def validate_eligibility_row(
    raw: Mapping[str, object], *, row: int, insurer_number: str, today: date
) -> EligibilityRow | list[RowError]:
    """Validate one eligibility row of the insurer `insurer_number`: a typed row, or all of its errors."""
    f = Fields(raw, row=row)
    action = f.get("action", _action)
    if action is None and not f.failed("action"):
        action = "upsert"
    upsert = action == "upsert"
    record_id = f.get("record_id", parse_code_text(64), required=True)
    _check_row_insurer(f, insurer_number)
    symbol, number, branch = insured_id(f, required=upsert)
    holder_kind = f.get("holder_kind", parse_choice((1, 2), "1 (本人) or 2 (家族)"), required=upsert, numeric=True)
    name_kanji = f.get("name_kanji", parse_free_text(50), required=upsert)
    name_kana = f.get("name_kana", parse_kana, required=upsert)
    birthdate = f.get("birthdate", parse_date_until(today), required=upsert)
    sex = f.get("sex", parse_choice((1, 2), "1 (male) or 2 (female)"), required=upsert, numeric=True)
    address = f.get("address", parse_free_text(200), required=upsert)
    postal_code = f.get("postal_code", parse_postal_code)
    qualified_on = f.get("qualified_on", parse_date_until(None), required=upsert)
    disqualified_on = f.get("disqualified_on", parse_date_until(None), required=action == "terminate")
    copay_ratio = f.get("copay_ratio", parse_choice((10, 20, 30), "10, 20 or 30"), required=upsert, numeric=True)
    limit_category = f.get("limit_category", parse_code_text(8))
    check_order(f, "qualified_on", birthdate, qualified_on, "not before the birthdate", strict=False)
    check_order(f, "disqualified_on", qualified_on, disqualified_on, "after qualified_on", strict=True)
    if f.errors:
        return f.errors
    return EligibilityRow(
        present(record_id), present(action), symbol, number, branch, holder_kind, name_kanji, name_kana,
        birthdate, sex, address, postal_code, qualified_on, disqualified_on, copay_ratio, limit_category,
    )  # fmt: skip


def _check_row_insurer(f: Fields, insurer_number: str) -> None:
    """An eligibility row may name its insurer; it must then be the insurer of the upload."""
    given = f.get("insurer_number", parse_insurer_number)
    if given is not None and given != insurer_number:
        detail = f"{given} is not the insurer of this upload ({insurer_number})"
        f.add("insurer_number", "insurer_mismatch", detail)


def _action(text: str) -> Action:
    value = nfkc(text).lower()
    if value == "upsert":
        return "upsert"
    if value == "terminate":
        return "terminate"
    raise Invalid("invalid_choice", f"must be upsert or terminate{echo(value)}")
