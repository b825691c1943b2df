"""Five-field matcher: an eligibility record is linked to a card holder only when all five fields are equal.

Pure functions, no I/O. compare() normalises both identities, compares field by field and says, for every
field that differs, why: the reason is shown to the insurer in the review queue. Nothing here is fuzzy: four
of five, or "almost the same", is not a match (DOMAIN.md, "Five-field matching before linking").

Reasons: variant_kanji, small_kana, long_vowel, building_name (address only), missing_value (a blank side),
different_value, different_date, different_sex. A reason names one kind of difference; two kinds at once in
one field are different_value.

Addresses and prefectures: when both addresses name a prefecture they are compared whole; when only one does,
its prefecture is stripped and the rest compared. The authority's address always carries the prefecture and
insurer records often omit it, so stripping avoids sending most genuine records to review; when both name one,
a different prefecture is a different address (府中市 is in both 東京都 and 広島県), so nothing is stripped.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from service.linking.normalize import (
    normalize_address,
    normalize_kana_name,
    normalize_kanji_name,
    strip_prefecture,
)

FIELDS: tuple[str, ...] = ("name_kanji", "name_kana", "birthdate", "sex", "address")
SEXES = (1, 2)

# Variant kanji (異体字) that normalisation must not settle: only the review reason uses them.
VARIANT_KANJI_GROUPS = (
    "高髙", "崎﨑嵜碕", "辺邊邉", "斎齋斉齊", "沢澤", "浜濱濵", "徳德", "桜櫻", "広廣", "国國", "島嶋嶌",
    "瀬瀨", "真眞", "槙槇", "竜龍", "実實", "恵惠", "栄榮", "寿壽", "関關", "万萬", "蔵藏", "条條", "来來",
    "与與", "戸戶", "遥遙", "桧檜", "穂穗", "弥彌", "鉄鐵", "騨驒", "吉𠮷", "淵渕", "曽曾", "富冨", "館舘",
    "峰峯", "柳栁", "野埜", "籠篭", "亀龜", "芦蘆", "鴎鷗", "黒黑", "礼禮", "静靜", "学學", "会會", "団團",
    "円圓", "仏佛", "児兒", "将將", "岳嶽", "県縣", "芸藝", "銭錢",
)  # fmt: skip
_VARIANT_FOLD = str.maketrans({char: group[0] for group in VARIANT_KANJI_GROUPS for char in group[1:]})
_SMALL_KANA_FOLD = str.maketrans(
    "ァィゥェォッャュョヮヵヶぁぃぅぇぉっゃゅょゎゕゖㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ",
    "アイウエオツヤユヨワカケあいうえおつやゆよわかけクシストヌハヒフヘホムラリルレロ",
)
_VOWEL_ROWS = {
    "ア": "アカサタナハマヤラワガザダバパァャヮヵ",
    "イ": "イキシチニヒミリギジヂビピィ",
    "ウ": "ウクスツヌフムユルグズヅブプゥュッヴ",
    "エ": "エケセテネヘメレゲゼデベペェヶ",
    "オ": "オコソトノホモヨロヲゴゾドボポォョ",
}
_VOWEL_OF = {kana: vowel for vowel, row in _VOWEL_ROWS.items() for kana in row}
# オウ/オオ/オー (and エイ/エー) are spellings of one long vowel.
_LONG_VOWEL_SPELLINGS = {("オ", "ウ"): "オ", ("エ", "イ"): "エ"}


@dataclass(frozen=True, slots=True)
class Identity:
    """The five identity fields, as written on an insurer record or held by the authority."""

    name_kanji: str
    name_kana: str
    birthdate: datetime.date
    sex: int  # 1 male, 2 female (住民票の性別)
    address: str

    def __post_init__(self) -> None:
        if self.sex not in SEXES:
            raise ValueError(f"sex must be 1 or 2, not {self.sex!r}")


@dataclass(frozen=True, slots=True)
class NormalizedIdentity:
    """An identity after normalisation; the address keeps its prefecture when it names one."""

    name_kanji: str
    name_kana: str
    birthdate: datetime.date
    sex: int
    address: str


@dataclass(frozen=True, slots=True)
class FieldComparison:
    """One field compared: raw values, the normalised values actually compared, and why they differ."""

    field: str
    record: str
    holder: str
    record_normalized: str
    holder_normalized: str
    equal: bool
    reason: str | None

    def as_evidence(self) -> dict[str, object]:
        """Return the comparison as a JSON-serialisable dict."""
        return {
            "field": self.field,
            "record": self.record,
            "holder": self.holder,
            "record_normalized": self.record_normalized,
            "holder_normalized": self.holder_normalized,
            "equal": self.equal,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class MatchResult:
    """All five comparisons, in FIELDS order."""

    fields: tuple[FieldComparison, ...]

    def __post_init__(self) -> None:
        if tuple(comparison.field for comparison in self.fields) != FIELDS:
            raise ValueError(f"a match result compares exactly {FIELDS}, in that order")

    @property
    def matched(self) -> bool:
        """True only when all five fields are equal."""
        return all(comparison.equal for comparison in self.fields)

    @property
    def differing(self) -> tuple[FieldComparison, ...]:
        """The comparisons that are not equal, in FIELDS order."""
        return tuple(comparison for comparison in self.fields if not comparison.equal)

    def evidence(self) -> dict[str, object]:
        """Return the result as a JSON-serialisable dict, kept with the link or the review item."""
        return {
            "matched": self.matched,
            "fields": {comparison.field: comparison.as_evidence() for comparison in self.fields},
        }


def normalize_identity(identity: Identity) -> NormalizedIdentity:
    """Normalise the three text fields of an identity."""
    return NormalizedIdentity(
        name_kanji=normalize_kanji_name(identity.name_kanji),
        name_kana=normalize_kana_name(identity.name_kana),
        birthdate=identity.birthdate,
        sex=identity.sex,
        address=normalize_address(identity.address),
    )


def compare(record: Identity, holder: Identity) -> MatchResult:
    """Compare an insurer record with a holder's identity on all five fields."""
    ours, theirs = normalize_identity(record), normalize_identity(holder)
    kanji = (record.name_kanji, holder.name_kanji), (ours.name_kanji, theirs.name_kanji)
    kana = (record.name_kana, holder.name_kana), (ours.name_kana, theirs.name_kana)
    address = (record.address, holder.address), _addresses_to_compare(ours.address, theirs.address)
    born = record.birthdate.isoformat(), holder.birthdate.isoformat()
    return MatchResult(
        fields=(
            _compare_text("name_kanji", *kanji),
            _compare_text("name_kana", *kana),
            _compare_exact("birthdate", born, "different_date"),
            _compare_exact("sex", (str(record.sex), str(holder.sex)), "different_sex"),
            _compare_text("address", *address),
        )
    )


def _addresses_to_compare(record: str, holder: str) -> tuple[str, str]:
    """Strip the prefecture from an address only when the other address names none."""
    record_prefecture, record_rest = strip_prefecture(record)
    holder_prefecture, holder_rest = strip_prefecture(holder)
    if record_prefecture is not None and holder_prefecture is None:
        return record_rest, holder
    if holder_prefecture is not None and record_prefecture is None:
        return record, holder_rest
    return record, holder


def _compare_exact(field: str, raw: tuple[str, str], reason: str) -> FieldComparison:
    record, holder = raw
    equal = record == holder
    return FieldComparison(field, record, holder, record, holder, equal, None if equal else reason)


def _compare_text(field: str, raw: tuple[str, str], normalized: tuple[str, str]) -> FieldComparison:
    ours, theirs = normalized
    # An empty value proves nothing: two blanks are not a match.
    equal = ours == theirs and ours != ""
    reason = None if equal else _text_reason(field, ours, theirs)
    return FieldComparison(field, *raw, ours, theirs, equal, reason)


def _text_reason(field: str, ours: str, theirs: str) -> str:
    """Name the one kind of difference between two unequal normalised values, else different_value."""
    if not ours or not theirs:
        return "missing_value"
    folds: tuple[tuple[str, Callable[[str], str]], ...] = (
        ("variant_kanji", lambda text: text.translate(_VARIANT_FOLD)),
        ("small_kana", lambda text: text.translate(_SMALL_KANA_FOLD)),
        ("long_vowel", _fold_long_vowels),
    )
    for reason, fold in folds:
        if fold(ours) == fold(theirs):
            return reason
    if field == "address" and _differs_by_building(ours, theirs):
        return "building_name"
    return "different_value"


def _fold_long_vowels(text: str) -> str:
    """Write every long vowel out the same way: オーノ, オウノ and オオノ all become オオノ."""
    folded: list[str] = []
    for char in text:
        vowel = _VOWEL_OF.get(folded[-1]) if folded else None
        if vowel is not None and char == "ー":
            char = vowel
        if vowel is not None:
            char = _LONG_VOWEL_SPELLINGS.get((vowel, char), char)
        folded.append(char)
    return "".join(folded)


def _differs_by_building(ours: str, theirs: str) -> bool:
    """True when one address is the other plus a trailing part that is not a number (2-1-2 + メゾン101)."""
    shorter, longer = sorted((ours, theirs), key=len)
    if longer == shorter or not longer.startswith(shorter):
        return False
    extra = longer.removeprefix(shorter)
    return not extra[0].isdigit() and extra[0] != "-"
