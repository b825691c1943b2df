"""特定健診 reference values: 保健指導判定値 and 受診勧奨判定値, and the flag of a measured value.

Source: 厚生労働省「標準的な健診・保健指導プログラム（令和6年度版）」, 第2編 健診, the table 健診検査項目の
保健指導判定値及び受診勧奨判定値 (https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/0000194155.html). The figures
below could not be checked against the MHLW PDF itself where this was written (no network but package
registries); they were cross-checked against copies of that table published by insurers and clinics and
against the programme revision working group's draft (AST/ALT/γ-GT). docs/viewer.md lists them.

- Triglycerides: the fasting (空腹時) values; the 随時 guidance value is 175 mg/dL, but the checkup batch
  does not say whether the sample was fasting, so the stricter reading is not assumed.
- BMI and waist have no 受診勧奨判定値: 25 kg/m² and 85 cm (men) / 90 cm (women) are the criteria of
  内臓脂肪蓄積 used to select people for 特定保健指導 (階層化), shown as guidance values.
- HDL cholesterol is flagged when low (≤ 39 and ≤ 34 mg/dL); every other measure when high.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Flag = Literal["normal", "guidance", "referral"]
SOURCE = "厚生労働省「標準的な健診・保健指導プログラム（令和6年度版）」保健指導判定値・受診勧奨判定値"
FLAG_LABELS: dict[Flag, str] = {"normal": "基準範囲内", "guidance": "保健指導判定値", "referral": "受診勧奨判定値"}


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    """The two cut-offs of one measure; `low` measures are flagged at or below them, the others at or above."""

    field: str
    guidance: Decimal
    referral: Decimal | None
    low: bool = False
    guidance_female: Decimal | None = None  # waist: 90 cm for women, 85 cm for men

    def guidance_for(self, sex: int | None) -> Decimal:
        """The guidance cut-off for this sex (1 male, 2 female)."""
        return self.guidance_female if sex == 2 and self.guidance_female is not None else self.guidance

    def flag(self, value: Decimal | float | int, *, sex: int | None = None) -> Flag:
        """normal, guidance (保健指導判定値 reached) or referral (受診勧奨判定値 reached)."""
        number = Decimal(str(value))

        def reached(cut: Decimal) -> bool:
            return number <= cut if self.low else number >= cut

        if self.referral is not None and reached(self.referral):
            return "referral"
        return "guidance" if reached(self.guidance_for(sex)) else "normal"

    def describe(self, sex: int | None = None) -> str:
        """「130以上 / 140以上」: the cut-offs as a person reads them."""
        side = "以下" if self.low else "以上"
        guidance = f"{self.guidance_for(sex)}{side}"
        if self.guidance_female is not None and sex not in (1, 2):
            guidance = f"男性{self.guidance}{side}・女性{self.guidance_female}{side}"
        return guidance if self.referral is None else f"{guidance} / {self.referral}{side}"


def _d(text: str) -> Decimal:
    return Decimal(text)


REFERENCE_VALUES: dict[str, ReferenceValue] = {
    value.field: value
    for value in (
        ReferenceValue("bmi", _d("25"), None),
        ReferenceValue("waist_cm", _d("85"), None, guidance_female=_d("90")),
        ReferenceValue("systolic_bp", _d("130"), _d("140")),
        ReferenceValue("diastolic_bp", _d("85"), _d("90")),
        ReferenceValue("hba1c", _d("5.6"), _d("6.5")),
        ReferenceValue("triglycerides", _d("150"), _d("300")),
        ReferenceValue("hdl", _d("39"), _d("34"), low=True),
        ReferenceValue("ldl", _d("120"), _d("140")),
        ReferenceValue("ast", _d("31"), _d("51")),
        ReferenceValue("alt", _d("31"), _d("51")),
        ReferenceValue("gamma_gtp", _d("51"), _d("101")),
    )
}


def flag_of(field: str, value: Decimal | float | int | None, *, sex: int | None = None) -> Flag | None:
    """The flag of a measured value; None when not measured or the measure has no reference value."""
    reference = REFERENCE_VALUES.get(field)
    if reference is None or value is None:
        return None
    return reference.flag(value, sex=sex)
