"""Identifier systems, code systems and the checkup measures' codes of the FHIR views.

JP Core (JAMI FHIR JP WG, jp-core v1.x, `input/fsh/aliases-jpcore.fsh` and the JP_Coverage / JP_Organization
profiles) gives the systems for insurer numbers, 医療機関コード, 記号・番号・枝番, the YJ code and JLAC10.
Onshi's own systems (validity codes, consent categories, staff roles, certificate serials) live under
`ONSHI_BASE`, a placeholder in the reserved `.example` domain (RFC 2606) until the project has a canonical URL.
"""

from __future__ import annotations

from dataclasses import dataclass

FHIR_VERSION = "4.0.1"
ONSHI_BASE = "https://onshi.example/fhir"

# JP Core identifier systems
INSURER_NUMBER = "http://jpfhir.jp/fhir/core/mhlw/IdSystem/InsurerNumber"  # 保険者番号 (urn:oid:1.2.392.100495.20.3.61)
MEDICAL_INSTITUTION = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no"  # 医療機関コード 10 桁
INSURANCE_MEMBER_ID = "http://jpfhir.jp/fhir/clins/Idsystem/JP_Insurance_memberID"  # 被保険者個人識別子
EXT_SYMBOL = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSymbol"
EXT_NUMBER = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonNumber"
EXT_SUBNUMBER = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Coverage_InsuredPersonSubNumber"
INSURED_PERSON_CATEGORY = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/InsuredPersonCategory"  # 1 被保険者, 2 被扶養者
NAME_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"  # IDE 漢字, SYL カナ

# Code systems
YJ_CODE = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code"  # urn:oid:1.2.392.100495.20.1.73
JLAC10 = "http://medis.or.jp/CodeSystem/master-JLAC10-17digits"  # urn:oid:1.2.392.200119.4.504
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
COPAY_TYPE = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
URI_IDENTIFIER = "urn:ietf:rfc:3986"

# Onshi's own systems
VALIDITY_CODE = f"{ONSHI_BASE}/CodeSystem/validity-code"
VERIFICATION_RESULT = f"{ONSHI_BASE}/CodeSystem/verification-result"
CONSENT_CATEGORY = f"{ONSHI_BASE}/CodeSystem/consent-category"
STAFF_ROLE = f"{ONSHI_BASE}/CodeSystem/staff-role"
CERTIFICATE_SERIAL = f"{ONSHI_BASE}/NamingSystem/certificate-serial"
EXT_VALIDITY_CODE = f"{ONSHI_BASE}/StructureDefinition/validity-code"
EXT_RESULT = f"{ONSHI_BASE}/StructureDefinition/verification-result"
EXT_VIEWING_ALLOWED = f"{ONSHI_BASE}/StructureDefinition/viewing-allowed"
EXT_LIMIT_CATEGORY = f"{ONSHI_BASE}/StructureDefinition/limit-category"

VALIDITY_LABELS = {1: "有効", 2: "無効", 3: "無効（新しい資格あり）", 4: "該当資格なし", 5: "複数該当"}


@dataclass(frozen=True, slots=True)
class MeasureCode:
    """How one checkup column is coded: 特定健診 JLAC10 (17 digits), LOINC, UCUM unit, category."""

    field: str
    display: str
    jlac10: str
    loinc: str
    loinc_display: str
    unit: str  # UCUM
    category: str  # vital-signs | laboratory | exam


# JLAC10: the 特定健診 item codes (健診結果・質問票情報 XML, 厚生労働省「特定健診・特定保健指導の電子的な標準様式」
# 項目コード表). The batch columns do not say how a laboratory value was measured, so the laboratory items carry
# the table's 「その他」 method code (…99901/…99902); height, weight, BMI, waist (実測) and blood pressure
# (その他) have no method variants that the batch could distinguish. LOINC: loinc.org, the usual codes for
# these measures (blood pressure as the FHIR vital-signs panel 85354-9 with its two components).
MEASURE_CODES: tuple[MeasureCode, ...] = (
    MeasureCode("height_cm", "身長", "9N001000000000001", "8302-2", "Body height", "cm", "vital-signs"),
    MeasureCode("weight_kg", "体重", "9N006000000000001", "29463-7", "Body weight", "kg", "vital-signs"),
    MeasureCode("bmi", "BMI", "9N011000000000001", "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2",
                "vital-signs"),
    MeasureCode("waist_cm", "腹囲（実測）", "9N016160100000001", "8280-0",
                "Waist Circumference at umbilicus by Tape measure", "cm", "exam"),
    MeasureCode("systolic_bp", "収縮期血圧", "9A755000000000001", "8480-6", "Systolic blood pressure", "mm[Hg]",
                "vital-signs"),
    MeasureCode("diastolic_bp", "拡張期血圧", "9A765000000000001", "8462-4", "Diastolic blood pressure", "mm[Hg]",
                "vital-signs"),
    MeasureCode("hba1c", "HbA1c（NGSP）", "3D046000001999902", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood",
                "%", "laboratory"),
    MeasureCode("ldl", "LDLコレステロール", "3F077000002399901", "2089-1",
                "Cholesterol in LDL [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory"),
    MeasureCode("hdl", "HDLコレステロール", "3F070000002399901", "2085-9",
                "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory"),
    MeasureCode("triglycerides", "中性脂肪", "3F015000002399901", "2571-8",
                "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory"),
    MeasureCode("ast", "AST（GOT）", "3B035000002399901", "1920-8",
                "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "laboratory"),
    MeasureCode("alt", "ALT（GPT）", "3B045000002399901", "1742-6",
                "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "laboratory"),
    MeasureCode("gamma_gtp", "γ-GT（γ-GTP）", "3B090000002399901", "2324-2",
                "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "laboratory"),
)
BLOOD_PRESSURE_PANEL = ("85354-9", "Blood pressure panel with all children optional")
MEASURES_BY_FIELD = {m.field: m for m in MEASURE_CODES}
