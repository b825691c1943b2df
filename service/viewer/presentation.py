"""What the viewer pages show in Japanese: labels of roles, facilities, categories and measures, and formatting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from service.core.clock import JST
from service.linking.normalize import katakana_for_display
from service.records.reference_values import FLAG_LABELS, REFERENCE_VALUES, Flag, flag_of

ROLE_LABELS = {"reception": "受付", "doctor": "医師", "dentist": "歯科医師", "pharmacist": "薬剤師"}
FACILITY_TYPE_LABELS = {"clinic": "診療所", "hospital": "病院", "dental": "歯科診療所", "pharmacy": "薬局"}
CATEGORY_LABELS = {"medication": "薬剤情報", "checkup": "特定健診情報"}

# (field, label, unit) of every checkup measure, in the order of the 特定健診 result sheet.
MEASURES: tuple[tuple[str, str, str], ...] = (
    ("height_cm", "身長", "cm"),
    ("weight_kg", "体重", "kg"),
    ("bmi", "BMI", "kg/m²"),
    ("waist_cm", "腹囲", "cm"),
    ("systolic_bp", "収縮期血圧", "mmHg"),
    ("diastolic_bp", "拡張期血圧", "mmHg"),
    ("hba1c", "HbA1c", "%"),
    ("ldl", "LDLコレステロール", "mg/dL"),
    ("hdl", "HDLコレステロール", "mg/dL"),
    ("triglycerides", "中性脂肪", "mg/dL"),
    ("ast", "AST（GOT）", "U/L"),
    ("alt", "ALT（GPT）", "U/L"),
    ("gamma_gtp", "γ-GTP", "U/L"),
)


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def japanese_date(value: date | str | None) -> str:
    """2024年5月1日."""
    if value is None:
        return "—"
    day = _as_date(value)
    return f"{day.year}年{day.month}月{day.day}日"


def japanese_datetime(value: datetime | str) -> str:
    """2024年5月1日 14:05 JST (Japan time, labelled)."""
    moment = (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(JST)
    return f"{japanese_date(moment.date())} {moment:%H:%M} JST"


def age_on(birthdate: date | str, today: date) -> int:
    """Age in full years on `today`."""
    born = _as_date(birthdate)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def number(value: Decimal | int | float | None) -> str:
    """A number as it was reported (HbA1c 6.0 stays 6.0, never 6E+0); a dash when not measured."""
    if value is None:
        return "—"
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def category_label(category: str) -> str:
    """薬剤情報 / 特定健診情報."""
    return CATEGORY_LABELS.get(category, category)


def role_label(role: str) -> str:
    """医師 / 歯科医師 / 薬剤師 / 受付."""
    return ROLE_LABELS.get(role, role)


def facility_type_label(facility_type: str) -> str:
    """診療所 / 病院 / 歯科診療所 / 薬局."""
    return FACILITY_TYPE_LABELS.get(facility_type, facility_type)


def kana(value: str) -> str:
    """A kana name in full-width katakana, whatever the insurer wrote (ﾔﾏﾀﾞ, やまだ -> ヤマダ)."""
    return katakana_for_display(value)


def facility(code: str, name: str | None) -> str:
    """A facility's name; its code when it is not registered here."""
    return name or f"医療機関コード {code}"


@dataclass(frozen=True, slots=True)
class Assessment:
    """A checkup value's flag as the table shows it: CSS class, short mark, and the words for screen readers."""

    flag: Flag
    mark: str
    label: str


_MARKS = {("guidance", False): "↑", ("referral", False): "↑↑", ("guidance", True): "↓", ("referral", True): "↓↓"}


def assess(field: str, value: Decimal | None, sex: int | None) -> Assessment | None:
    """The flag of a value against the 特定健診 reference values (None: not measured, no reference, normal)."""
    flag = flag_of(field, value, sex=sex)
    if flag is None or flag == "normal":
        return None
    return Assessment(flag, _MARKS[(flag, REFERENCE_VALUES[field].low)], FLAG_LABELS[flag])


def reference_text(field: str, sex: int | None) -> str:
    """「130以上 / 140以上」 (保健指導判定値 / 受診勧奨判定値), or a dash when the measure has none."""
    reference = REFERENCE_VALUES.get(field)
    return reference.describe(sex) if reference else "—"
