"""Row validators of the eligibility, medication and checkup batches, and the header check."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date
from decimal import Decimal

import pytest

from service.batches.fields import RowError
from service.batches.header import Columns, check_header
from service.batches.sinks import sink_for, sinks_by_kind
from service.eligibility.rows import ELIGIBILITY_COLUMNS, EligibilityRow, validate_eligibility_row
from service.eligibility.service import EligibilitySink
from service.records.rows import (
    CHECKUP_COLUMNS,
    MEASURE_RANGES,
    MEDICATION_COLUMNS,
    CheckupRow,
    MedicationRow,
    validate_checkup_row,
    validate_medication_row,
)

SPECS: dict[str, Columns] = {c.kind: c for c in (ELIGIBILITY_COLUMNS, MEDICATION_COLUMNS, CHECKUP_COLUMNS)}
COLUMNS = {kind: spec.contract for kind, spec in SPECS.items()}

TODAY = date(2024, 5, 1)
INSURER = "33120015"
OTHER_INSURER = "138016"  # a valid 6-digit 国保 number
NAME_KANJI = "山田 太郎"
NAME_KANA = "ヤマダ タロウ"
ADDRESS = "東京都千代田区千代田1-1"
BIRTHDATE = "1980-01-02"
PERSONAL = (NAME_KANJI, NAME_KANA, ADDRESS, BIRTHDATE, "19800102")


def my_number(body: str) -> str:
    """A valid My Number from 11 digits, by the statutory formula."""
    weights = [2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6]
    total = sum(int(digit) * weight for digit, weight in zip(reversed(body), weights, strict=True))
    remainder = total % 11
    return body + str(0 if remainder <= 1 else 11 - remainder)


MY_NUMBER = my_number("40817263549")
NOT_MY_NUMBER = MY_NUMBER[:11] + str((int(MY_NUMBER[11]) + 1) % 10)
SPACED_MY_NUMBER = f"{MY_NUMBER[:4]} {MY_NUMBER[4:8]} {MY_NUMBER[8:]}"


ErrorCase = tuple[str, Mapping[str, object], Sequence[tuple[str | None, str]]]


def eligibility(**overrides: object) -> dict[str, object]:
    """A valid eligibility row as CSV gives it (all strings), with overrides."""
    row: dict[str, object] = {
        "record_id": "R-0001",
        "action": "upsert",
        "symbol": "愛知",
        "number": "1234",
        "branch": "01",
        "holder_kind": "1",
        "name_kanji": NAME_KANJI,
        "name_kana": NAME_KANA,
        "birthdate": BIRTHDATE,
        "sex": "1",
        "address": ADDRESS,
        "postal_code": "100-0001",
        "qualified_on": "2020-04-01",
        "disqualified_on": "",
        "copay_ratio": "30",
        "limit_category": "",
    }
    return row | overrides


def medication(**overrides: object) -> dict[str, object]:
    """A valid medication row, with overrides."""
    row: dict[str, object] = {
        "record_id": "M-1",
        "insurer_number": INSURER,
        "symbol": "12",
        "number": "3456",
        "branch": "00",
        "dispensed_on": "2024-04-30",
        "drug_code": "2149039F1020",
        "drug_name": "アムロジピン錠5mg",
        "quantity": "28",
        "unit": "錠",
        "days": "28",
        "facility_code": "1312345678",
    }
    return row | overrides


def checkup(**overrides: object) -> dict[str, object]:
    """A valid checkup row with a few measures, with overrides."""
    row: dict[str, object] = {
        "record_id": "K-1",
        "symbol": "12",
        "number": "3456",
        "branch": "01",
        "examined_on": "2024-04-10",
        "height_cm": "170.2",
        "weight_kg": "65.0",
        "bmi": "22.4",
        "systolic_bp": "120",
        "diastolic_bp": "80",
        "hba1c": "5.4",
    }
    return row | overrides


def check_eligibility(raw: Mapping[str, object]) -> EligibilityRow | list[RowError]:
    return validate_eligibility_row(raw, row=7, insurer_number=INSURER, today=TODAY)


def accepted_eligibility(raw: Mapping[str, object]) -> EligibilityRow:
    result = check_eligibility(raw)
    assert isinstance(result, EligibilityRow), result
    return result


def rejected(result: object) -> list[RowError]:
    assert isinstance(result, list), result
    assert result, "a rejected row carries at least one error"
    return result


def problems(result: object) -> list[tuple[str | None, str]]:
    return [(error.field, error.error) for error in rejected(result)]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# --- contract shape


def test_columns_are_the_contracts_in_order() -> None:
    assert COLUMNS["eligibility"] == (
        "record_id", "action", "symbol", "number", "branch", "holder_kind", "name_kanji", "name_kana",
        "birthdate", "sex", "address", "postal_code", "qualified_on", "disqualified_on", "copay_ratio",
        "limit_category",
    )  # fmt: skip
    assert COLUMNS["medication"] == (
        "record_id", "insurer_number", "symbol", "number", "branch", "dispensed_on", "drug_code", "drug_name",
        "quantity", "unit", "days", "facility_code",
    )  # fmt: skip
    assert COLUMNS["checkup"] == (
        "record_id", "symbol", "number", "branch", "examined_on", "height_cm", "weight_kg", "bmi", "waist_cm",
        "systolic_bp", "diastolic_bp", "hba1c", "ldl", "hdl", "triglycerides", "ast", "alt", "gamma_gtp",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("row_type", "kind"),
    [(EligibilityRow, "eligibility"), (MedicationRow, "medication"), (CheckupRow, "checkup")],
)
def test_typed_rows_follow_the_column_order(row_type: type, kind: str) -> None:
    assert tuple(field.name for field in fields(row_type)) == COLUMNS[kind]


def test_row_error_as_dict() -> None:
    error = RowError(3, "sex", "invalid_choice", "must be 1 or 2")
    assert error.as_dict() == {
        "row": 3,
        "field": "sex",
        "error": "invalid_choice",
        "detail": "must be 1 or 2",
    }


# --- eligibility: valid rows


def test_valid_eligibility_row_is_typed() -> None:
    assert accepted_eligibility(eligibility()) == EligibilityRow(
        record_id="R-0001", action="upsert", symbol="愛知", number="1234", branch="01", holder_kind=1,
        name_kanji=NAME_KANJI, name_kana=NAME_KANA, birthdate=date(1980, 1, 2), sex=1, address=ADDRESS,
        postal_code="1000001", qualified_on=date(2020, 4, 1), disqualified_on=None, copay_ratio=30,
        limit_category=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"name_kanji": nfd("佐藤 ガク"), "name_kana": nfd("サトウ ガク")}, id="nfd"),
        pytest.param({"address": nfd("東京都港区芝公園4-2-8 ビル")}, id="nfd-address"),
    ],
)
def test_eligibility_names_are_stored_nfc(overrides: dict[str, object]) -> None:
    row = accepted_eligibility(eligibility(**overrides))
    for column, value in overrides.items():
        assert getattr(row, column) == unicodedata.normalize("NFC", str(value))


@pytest.mark.parametrize(
    ("column", "given", "stored"),
    [
        ("name_kana", "ﾔﾏﾀﾞ ﾀﾛｳ", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # half-width kana: accepted, kept as given
        ("name_kana", "やまだ　たろう", "やまだ　たろう"),  # hiragana, ideographic space
        ("name_kana", "ヤマダ・ジョージ", "ヤマダ・ジョージ"),
        ("name_kanji", "　山田 太郎 ", "山田 太郎"),  # stripped, full-width space too
        ("number", "１２３４", "1234"),
        ("branch", "１", "01"),  # one digit: zero-padded
        ("branch", "7", "07"),
        ("symbol", "ＡＢ１２", "AB12"),
        ("postal_code", "1000001", "1000001"),
        ("postal_code", "〒100-0001", "1000001"),
        ("postal_code", "１００－０００１", "1000001"),
        ("postal_code", "100ー0001", "1000001"),
        ("limit_category", "ｱ", "ア"),
        ("limit_category", "現役並みⅢ", "現役並みIII"),
        ("record_id", "Ｒ－１", "R-1"),
    ],
)
def test_eligibility_normalisation(column: str, given: str, stored: str) -> None:
    assert getattr(accepted_eligibility(eligibility(**{column: given})), column) == stored


@pytest.mark.parametrize(
    ("column", "given", "parsed"),
    [
        ("birthdate", "19800102", date(1980, 1, 2)),
        ("birthdate", "１９８０－０１－０２", date(1980, 1, 2)),
        ("birthdate", " 1980-01-02 ", date(1980, 1, 2)),
        ("birthdate", "1900-01-01", date(1900, 1, 1)),
        ("qualified_on", "2030-04-01", date(2030, 4, 1)),  # an announced future qualification is fine
        ("disqualified_on", "2024-04-01", date(2024, 4, 1)),
        ("holder_kind", 2, 2),  # NDJSON numbers
        ("sex", 2, 2),
        ("copay_ratio", 20, 20),
        ("copay_ratio", 10.0, 10),
        ("copay_ratio", "３０", 30),
        ("action", "UPSERT", "upsert"),
        ("action", None, "upsert"),  # empty action = upsert
        ("action", "", "upsert"),
    ],
)
def test_eligibility_parsing(column: str, given: object, parsed: object) -> None:
    assert getattr(accepted_eligibility(eligibility(**{column: given})), column) == parsed


def test_birthdate_today_and_qualified_on_birthdate_are_accepted() -> None:
    row = accepted_eligibility(eligibility(birthdate="2024-05-01", qualified_on="2024-05-01"))
    assert row.birthdate == row.qualified_on == TODAY


def test_terminate_needs_only_record_id_and_disqualified_on() -> None:
    row = accepted_eligibility(
        {"record_id": "R-0001", "action": "terminate", "disqualified_on": "2024-04-01"}
    )
    assert (row.action, row.disqualified_on, row.name_kanji, row.symbol) == (
        "terminate",
        date(2024, 4, 1),
        None,
        None,
    )


def test_terminate_still_validates_given_fields() -> None:
    raw = {"record_id": "R-1", "action": "terminate", "disqualified_on": "2024-04-01", "sex": "9"}
    assert problems(check_eligibility(raw)) == [("sex", "invalid_choice")]


@pytest.mark.parametrize("given", [INSURER, "３３１２００１５", "", None])
def test_row_insurer_number_matching_the_upload_is_accepted(given: object) -> None:
    accepted_eligibility(eligibility(insurer_number=given))


@pytest.mark.parametrize(
    "text",
    [
        NOT_MY_NUMBER,  # 12 digits failing the check digit
        f"{MY_NUMBER}1",  # a 13-digit run
        f"{SPACED_MY_NUMBER} 5678",  # 4-4-4-4
    ],
)
def test_digit_runs_that_are_not_my_numbers_are_accepted(text: str) -> None:
    assert accepted_eligibility(eligibility(address=f"{ADDRESS} {text}")).address == f"{ADDRESS} {text}"


def test_unknown_columns_are_ignored_by_the_row_validator() -> None:
    accepted_eligibility(eligibility(note="anything"))


# --- eligibility: every error

UPSERT_REQUIRED = (
    "record_id", "symbol", "number", "branch", "holder_kind", "name_kanji", "name_kana", "birthdate", "sex",
    "address", "qualified_on", "copay_ratio",
)  # fmt: skip

ELIGIBILITY_ERRORS: list[ErrorCase] = [
    *[(f"missing-{c}", {c: ""}, [(c, "missing_field")]) for c in UPSERT_REQUIRED],
    ("missing-as-null", {"sex": None}, [("sex", "missing_field")]),
    ("missing-blank", {"name_kanji": " \u3000 "}, [("name_kanji", "missing_field")]),
    ("terminate-needs-date", {"action": "terminate"}, [("disqualified_on", "missing_field")]),
    ("action", {"action": "delete"}, [("action", "invalid_choice")]),
    ("holder_kind", {"holder_kind": "3"}, [("holder_kind", "invalid_choice")]),
    ("sex-letter", {"sex": "M"}, [("sex", "invalid_choice")]),
    ("sex-zero", {"sex": 0}, [("sex", "invalid_choice")]),
    ("copay", {"copay_ratio": "25"}, [("copay_ratio", "invalid_choice")]),
    ("copay-fraction", {"copay_ratio": 0.3}, [("copay_ratio", "invalid_choice")]),
    ("bool", {"sex": True}, [("sex", "invalid_type")]),
    ("list", {"holder_kind": [1]}, [("holder_kind", "invalid_type")]),
    ("object", {"name_kanji": {"family": "山田"}}, [("name_kanji", "invalid_type")]),
    ("code-as-number", {"number": 1234}, [("number", "invalid_type")]),
    ("date-as-number", {"birthdate": 19800102}, [("birthdate", "invalid_type")]),
    ("nan", {"copay_ratio": float("nan")}, [("copay_ratio", "invalid_format")]),
    ("number-letters", {"number": "12A4"}, [("number", "invalid_format")]),
    ("branch-3-digits", {"branch": "001"}, [("branch", "invalid_format")]),
    ("branch-letter", {"branch": "A"}, [("branch", "invalid_format")]),
    ("postal-short", {"postal_code": "100-001"}, [("postal_code", "invalid_format")]),
    ("kana-latin", {"name_kana": "Yamada Taro"}, [("name_kana", "invalid_format")]),
    ("kana-kanji", {"name_kana": "山田タロウ"}, [("name_kana", "invalid_format")]),
    ("kana-hyphen", {"name_kana": "サトウ-タロウ"}, [("name_kana", "invalid_format")]),
    ("control-char", {"name_kanji": "山田\x07太郎"}, [("name_kanji", "invalid_format")]),
    ("record-id-tab", {"record_id": "R\t1"}, [("record_id", "invalid_format")]),
    ("insurer-short", {"insurer_number": "3312001"}, [("insurer_number", "invalid_format")]),
    ("slashes", {"birthdate": "1980/01/02"}, [("birthdate", "invalid_date")]),
    ("no-zero-pad", {"birthdate": "1980-1-2"}, [("birthdate", "invalid_date")]),
    ("era", {"birthdate": "S55.1.2"}, [("birthdate", "invalid_date")]),
    ("era-kanji", {"qualified_on": "令和2年4月1日"}, [("qualified_on", "invalid_date")]),
    ("not-a-day", {"qualified_on": "2023-02-29"}, [("qualified_on", "invalid_date")]),
    ("not-a-day-compact", {"disqualified_on": "20241301"}, [("disqualified_on", "invalid_date")]),
    ("born-tomorrow", {"birthdate": "2024-05-02"}, [("birthdate", "out_of_range")]),
    ("born-1899", {"birthdate": "1899-12-31"}, [("birthdate", "out_of_range")]),
    ("qualified-1899", {"qualified_on": "1899-12-31"}, [("qualified_on", "out_of_range")]),
    ("qualified-before-birth", {"qualified_on": "1979-12-31"}, [("qualified_on", "date_order")]),
    ("disqualified-same-day", {"disqualified_on": "2020-04-01"}, [("disqualified_on", "date_order")]),
    ("disqualified-before", {"disqualified_on": "2019-04-01"}, [("disqualified_on", "date_order")]),
    ("record-id", {"record_id": "R" * 65}, [("record_id", "too_long")]),
    ("symbol", {"symbol": "記" * 21}, [("symbol", "too_long")]),
    ("number", {"number": "1" * 21}, [("number", "too_long")]),
    ("name_kanji", {"name_kanji": "山" * 51}, [("name_kanji", "too_long")]),
    ("name_kana", {"name_kana": "ア" * 101}, [("name_kana", "too_long")]),
    ("address", {"address": "東" * 201}, [("address", "too_long")]),
    ("limit_category", {"limit_category": "ABCDEFGHI"}, [("limit_category", "too_long")]),
    ("mn-kanji", {"name_kanji": f"山田{MY_NUMBER}"}, [("name_kanji", "my_number_not_allowed")]),
    ("mn-kana", {"name_kana": f"ヤマダ {SPACED_MY_NUMBER}"}, [("name_kana", "my_number_not_allowed")]),
    ("mn-address", {"address": f"{ADDRESS} {SPACED_MY_NUMBER}"}, [("address", "my_number_not_allowed")]),
    ("mn-record-id", {"record_id": MY_NUMBER}, [("record_id", "my_number_not_allowed")]),
    ("mn-symbol", {"symbol": SPACED_MY_NUMBER}, [("symbol", "my_number_not_allowed")]),
    ("mismatch", {"insurer_number": OTHER_INSURER}, [("insurer_number", "insurer_mismatch")]),
    ("check-digit", {"insurer_number": "33120016"}, [("insurer_number", "invalid_check_digit")]),
]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [pytest.param(overrides, expected, id=name) for name, overrides, expected in ELIGIBILITY_ERRORS],
)
def test_eligibility_errors(
    overrides: Mapping[str, object], expected: Sequence[tuple[str | None, str]]
) -> None:
    result = rejected(check_eligibility(eligibility(**overrides)))
    assert problems(result) == expected
    assert all(error.row == 7 and error.detail for error in result)


def test_eligibility_error_table_covers_every_error() -> None:
    produced = {error for _, _, expected in ELIGIBILITY_ERRORS for _, error in expected}
    assert produced == {
        "missing_field", "invalid_choice", "invalid_type", "invalid_format", "invalid_date", "out_of_range",
        "date_order", "too_long", "my_number_not_allowed", "insurer_mismatch", "invalid_check_digit",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [pytest.param(overrides, expected, id=name) for name, overrides, expected in ELIGIBILITY_ERRORS],
)
def test_error_details_never_echo_personal_data(
    overrides: Mapping[str, object], expected: Sequence[tuple[str | None, str]]
) -> None:
    for error in rejected(check_eligibility(eligibility(**overrides))):
        for value in (*PERSONAL, MY_NUMBER, *[str(v) for v in overrides.values() if len(str(v)) > 8]):
            assert value not in error.detail


def test_all_errors_of_a_row_are_reported() -> None:
    raw = eligibility(record_id="", sex="9", birthdate="R6.4.1", address=MY_NUMBER, copay_ratio="0")
    assert problems(check_eligibility(raw)) == [
        ("record_id", "missing_field"),
        ("birthdate", "invalid_date"),
        ("sex", "invalid_choice"),
        ("address", "my_number_not_allowed"),
        ("copay_ratio", "invalid_choice"),
    ]


def test_my_number_detail_explains_without_the_digits() -> None:
    [error] = rejected(check_eligibility(eligibility(address=f"{ADDRESS} 個人番号{MY_NUMBER}")))
    assert "My Number" in error.detail
    assert MY_NUMBER not in error.detail
    assert ADDRESS not in error.detail


@pytest.mark.parametrize(
    ("given", "echoed"),
    [("M", True), ("female", True), ("19800102", False), ("山田", False), (NAME_KANA, False)],
)
def test_only_short_codes_are_echoed(given: str, echoed: bool) -> None:
    [error] = rejected(check_eligibility(eligibility(sex=given)))
    assert (repr(given) in error.detail) is echoed


def test_era_date_detail_asks_for_iso() -> None:
    [error] = rejected(check_eligibility(eligibility(birthdate="R6.4.1")))
    assert "YYYY-MM-DD" in error.detail and "和暦" in error.detail


def test_insurer_mismatch_names_both_insurers() -> None:
    [error] = rejected(check_eligibility(eligibility(insurer_number=OTHER_INSURER)))
    assert OTHER_INSURER in error.detail and INSURER in error.detail


def test_invalid_action_does_not_demand_the_upsert_fields() -> None:
    raw = {"record_id": "R-1", "action": "remove"}
    assert problems(check_eligibility(raw)) == [("action", "invalid_choice")]


# --- medication


def check_medication(raw: Mapping[str, object]) -> MedicationRow | list[RowError]:
    return validate_medication_row(raw, row=2, today=TODAY)


def test_valid_medication_row_is_typed() -> None:
    assert check_medication(medication()) == MedicationRow(
        record_id="M-1", insurer_number=INSURER, symbol="12", number="3456", branch="00",
        dispensed_on=date(2024, 4, 30), drug_code="2149039F1020", drug_name="アムロジピン錠5mg",
        quantity=Decimal(28), unit="錠", days=28, facility_code="1312345678",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("column", "given", "parsed"),
    [
        ("drug_code", "2149039f1020", "2149039F1020"),
        ("drug_code", "２１４９０３９Ｆ１０２０", "2149039F1020"),
        ("drug_name", nfd("ガスター錠"), "ガスター錠"),
        ("quantity", 1.5, Decimal("1.5")),
        ("quantity", "０.５", Decimal("0.5")),
        ("quantity", 3, Decimal(3)),
        ("days", "", None),
        ("days", 14, 14),
        ("insurer_number", OTHER_INSURER, OTHER_INSURER),
        ("facility_code", "１３１２３４５６７８", "1312345678"),
        ("dispensed_on", "20240501", TODAY),
        ("unit", "ｍＬ", "mL"),
    ],
)
def test_medication_parsing(column: str, given: object, parsed: object) -> None:
    row = check_medication(medication(**{column: given}))
    assert isinstance(row, MedicationRow), row
    assert getattr(row, column) == parsed


MEDICATION_REQUIRED = tuple(c for c in COLUMNS["medication"] if c != "days")
MEDICATION_ERRORS: list[ErrorCase] = [
    *[(f"missing-{c}", {c: None}, [(c, "missing_field")]) for c in MEDICATION_REQUIRED],
    ("bool-quantity", {"quantity": True}, [("quantity", "invalid_type")]),
    ("code-as-number", {"drug_code": 2149039}, [("drug_code", "invalid_type")]),
    ("list-days", {"days": [1]}, [("days", "invalid_type")]),
    ("yj-shape", {"drug_code": "214903F91020"}, [("drug_code", "invalid_format")]),
    ("yj-length", {"drug_code": "2149039F102"}, [("drug_code", "invalid_format")]),
    ("facility", {"facility_code": "131234567"}, [("facility_code", "invalid_format")]),
    ("quantity-text", {"quantity": "28錠"}, [("quantity", "invalid_format")]),
    ("quantity-exponent", {"quantity": "1e3"}, [("quantity", "invalid_format")]),
    ("days-fraction", {"days": "1.5"}, [("days", "invalid_format")]),
    ("insurer-format", {"insurer_number": "1234"}, [("insurer_number", "invalid_format")]),
    ("insurer-check", {"insurer_number": "33120016"}, [("insurer_number", "invalid_check_digit")]),
    ("date", {"dispensed_on": "R6.4.30"}, [("dispensed_on", "invalid_date")]),
    ("future", {"dispensed_on": "2024-05-02"}, [("dispensed_on", "out_of_range")]),
    ("quantity-zero", {"quantity": "0"}, [("quantity", "out_of_range")]),
    ("quantity-negative", {"quantity": -2}, [("quantity", "out_of_range")]),
    ("days-zero", {"days": "0"}, [("days", "out_of_range")]),
    ("days-long", {"days": 400}, [("days", "out_of_range")]),
    ("unit", {"unit": "u" * 21}, [("unit", "too_long")]),
    ("drug-name", {"drug_name": "薬" * 201}, [("drug_name", "too_long")]),
    ("mn-drug-name", {"drug_name": f"ロキソニン {MY_NUMBER}"}, [("drug_name", "my_number_not_allowed")]),
    ("mn-record-id", {"record_id": SPACED_MY_NUMBER}, [("record_id", "my_number_not_allowed")]),
]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [pytest.param(overrides, expected, id=name) for name, overrides, expected in MEDICATION_ERRORS],
)
def test_medication_errors(
    overrides: Mapping[str, object], expected: Sequence[tuple[str | None, str]]
) -> None:
    assert problems(check_medication(medication(**overrides))) == expected


def test_medication_reports_all_errors() -> None:
    raw = medication(drug_code="X", quantity="-1", facility_code="1")
    assert problems(check_medication(raw)) == [
        ("drug_code", "invalid_format"),
        ("quantity", "out_of_range"),
        ("facility_code", "invalid_format"),
    ]


# --- checkup


def check_checkup(raw: Mapping[str, object]) -> CheckupRow | list[RowError]:
    return validate_checkup_row(raw, row=4, today=TODAY)


def test_valid_checkup_row_is_typed() -> None:
    row = check_checkup(checkup())
    assert isinstance(row, CheckupRow), row
    assert (row.record_id, row.examined_on, row.height_cm, row.weight_kg) == (
        "K-1",
        date(2024, 4, 10),
        Decimal("170.2"),
        Decimal("65.0"),
    )
    assert row.ldl is None and row.gamma_gtp is None  # empty = not measured


@pytest.mark.parametrize(
    ("column", "given", "parsed"),
    [
        ("height_cm", 170.2, Decimal("170.2")),
        ("systolic_bp", 128, Decimal(128)),
        ("hba1c", "５．６", Decimal("5.6")),
        ("ldl", " 140 ", Decimal(140)),
        ("bmi", "", None),
        ("bmi", None, None),
        ("branch", "1", "01"),
    ],
)
def test_checkup_parsing(column: str, given: object, parsed: object) -> None:
    row = check_checkup(checkup(**{column: given}))
    assert isinstance(row, CheckupRow), row
    assert getattr(row, column) == parsed


@pytest.mark.parametrize(("measure", "bounds"), list(MEASURE_RANGES.items()))
def test_checkup_ranges(measure: str, bounds: tuple[Decimal, Decimal]) -> None:
    low, high = bounds
    for accepted in (low, high):
        assert isinstance(check_checkup(checkup(**{measure: str(accepted)})), CheckupRow)
    for rejected in (low - Decimal("0.1"), high + Decimal("0.1")):
        assert problems(check_checkup(checkup(**{measure: str(rejected)}))) == [(measure, "out_of_range")]


CHECKUP_ERRORS: list[ErrorCase] = [
    *[(f"missing-{c}", {c: ""}, [(c, "missing_field")]) for c in COLUMNS["checkup"][:5]],
    ("bool", {"hdl": False}, [("hdl", "invalid_type")]),
    ("object", {"ldl": {"value": 120}}, [("ldl", "invalid_type")]),
    ("text", {"hba1c": "high"}, [("hba1c", "invalid_format")]),
    ("comma", {"weight_kg": "65,5"}, [("weight_kg", "invalid_format")]),
    ("nan-text", {"ast": "NaN"}, [("ast", "invalid_format")]),
    ("infinity", {"alt": float("inf")}, [("alt", "invalid_format")]),
    ("date", {"examined_on": "2024/04/10"}, [("examined_on", "invalid_date")]),
    ("future", {"examined_on": "2024-05-02"}, [("examined_on", "out_of_range")]),
    ("negative", {"waist_cm": "-80"}, [("waist_cm", "out_of_range")]),
    ("record-id", {"record_id": "K" * 65}, [("record_id", "too_long")]),
    ("mn-record-id", {"record_id": MY_NUMBER}, [("record_id", "my_number_not_allowed")]),
    ("branch", {"branch": "1-1"}, [("branch", "invalid_format")]),
]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [pytest.param(overrides, expected, id=name) for name, overrides, expected in CHECKUP_ERRORS],
)
def test_checkup_errors(overrides: Mapping[str, object], expected: Sequence[tuple[str | None, str]]) -> None:
    assert problems(check_checkup(checkup(**overrides))) == expected


def test_checkup_without_any_measure_is_rejected() -> None:
    raw = {column: checkup()[column] for column in COLUMNS["checkup"][:5]}
    assert problems(check_checkup(raw)) == [(None, "no_measurements")]


def test_checkup_measure_details_do_not_echo_values() -> None:
    [error] = rejected(check_checkup(checkup(systolic_bp="999")))
    assert "999" not in error.detail


# --- header


def header_problems(columns: list[str], kind: str, **options: bool) -> list[tuple[str | None, str]]:
    errors = check_header(columns, SPECS[kind], **options)
    assert all(error.row == 0 for error in errors)
    return [(error.field, error.error) for error in errors]


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        ("eligibility", list(COLUMNS["eligibility"])),
        ("eligibility", [*COLUMNS["eligibility"], "insurer_number"]),
        ("eligibility", list(reversed(COLUMNS["eligibility"]))),
        ("eligibility", ["record_id", "action", "disqualified_on"]),  # a terminate-only file
        ("medication", list(COLUMNS["medication"])),
        ("medication", [c for c in COLUMNS["medication"] if c != "days"]),
        ("checkup", list(COLUMNS["checkup"])),
        ("checkup", ["record_id", "symbol", "number", "branch", "examined_on", "hba1c"]),
    ],
)
def test_good_headers(kind: str, columns: list[str]) -> None:
    assert check_header(columns, SPECS[kind]) == []


def test_header_without_action_needs_the_upsert_columns() -> None:
    columns = [c for c in COLUMNS["eligibility"] if c not in ("action", "name_kana", "sex")]
    assert header_problems(columns, "eligibility") == [
        ("name_kana", "missing_column"),
        ("sex", "missing_column"),
    ]


def test_header_errors() -> None:
    columns = ["record_id", "insurer_number", "symbol", "number", "branch", "dispensed_on", "drug_code"]
    columns += ["drug_name", "quantity", "unit", "Facility_Code", "memo", "unit"]
    assert header_problems(columns, "medication") == [
        ("Facility_Code", "unknown_column"),
        ("memo", "unknown_column"),
        ("unit", "duplicate_column"),
        ("facility_code", "missing_column"),
    ]


def test_unknown_column_hints_at_the_contract_name() -> None:
    errors = check_header(["\ufeffrecord_id", "disqualified_on", "action"], ELIGIBILITY_COLUMNS)
    assert [(error.field, error.error) for error in errors] == [
        (None, "unknown_column"),
        ("record_id", "missing_column"),
    ]
    assert "column 1" in errors[0].detail and "'record_id'" in errors[0].detail


def test_partial_header_check_skips_missing_columns() -> None:
    assert header_problems(["record_id", "extra"], "checkup", partial=True) == [("extra", "unknown_column")]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [([], []), (["memo"], [("memo", "unknown_column")])],
)
def test_partial_check_of_an_ndjson_line_never_asks_for_a_header(
    keys: list[str], expected: list[tuple[str | None, str]]
) -> None:
    assert header_problems(keys, "eligibility", partial=True) == expected


def test_data_line_instead_of_header_is_one_error_without_echo() -> None:
    line = ["R-1", "upsert", "愛知", "1234", "01", "1", NAME_KANJI, NAME_KANA, BIRTHDATE, "1", ADDRESS]
    [error] = check_header(line, ELIGIBILITY_COLUMNS)
    assert (error.row, error.field, error.error) == (0, None, "missing_header")
    assert not any(value in error.detail for value in PERSONAL)


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="kind"):
        sink_for(sinks_by_kind(EligibilitySink()), "claims")


def test_two_sinks_of_one_kind_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="kind 'eligibility'"):
        sinks_by_kind(EligibilitySink(), EligibilitySink())
