"""Text normalisation for the five-field match (氏名, カナ氏名, 住所).

Only differences that are the same text written another way are settled here: character width, spaces,
dashes, variation selectors, hiragana/katakana in the kana name, and the ways of writing an address number
(「2丁目1番地2号」 = 「2-1-2」). Variant kanji, small kana, long vowels written out and building names are
left unequal on purpose: a wrong link shows one person's medical data to another (DOMAIN.md).

Spaces are removed everywhere, except that a space between two numbers in an address becomes a dash:
removing it would fuse them (「2-1-2 101」 -> 2-1-2101), and 「2-1-2-101」 is a common way to write it.

Known limits, all on the safe side (a genuine match goes to review, never a false one):
- 大字/字 are kept: 「大字桜町」 and 「桜町」 may or may not be the same place, only the insurer can tell.
- A town name ending in a numeral and 番 is read as a number when kanji numerals follow it (麻布十番一丁目 ->
  麻布10-1) but not when digits do (麻布十番1-2-3): the two forms then differ. 番町/番丁 towns (三番町) stay.
- 壱/弐/参/拾 (legal numerals) and ヶ/ケ/が in place names (霞ヶ関, 霞が関) are not settled.
"""

import re
import unicodedata

_VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
# \s covers ASCII, U+3000, NBSP and the thin spaces; the rest are zero-width marks typed or pasted in.
_SPACE_CHARS = r"\s\u200b\u2060\ufeff"
_SPACES = re.compile(f"[{_SPACE_CHARS}]+")
_DASHES = re.escape(
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2500\u2501\u2e3a\u2e3b\ufe58\ufe63\uff0d\u30fc\uff70"
)
_IDEOGRAPHS = "\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KATAKANA = "\u30a1-\u30fa\u30fc-\u30fe\u31f0-\u31ff"

_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in (*range(0x3041, 0x3097), 0x309D, 0x309E)}
_DASH_AFTER_KANA = re.compile(f"(?<=[{_KATAKANA}])[{_DASHES}]+")

_KANJI_DIGITS = "〇一二三四五六七八九"
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUMERAL = f"[{_KANJI_DIGITS}{''.join(_KANJI_UNITS)}]+"
_MARKERS = "丁目|番地|番|号"
# 番町/番丁 are town names (三番町); a digit after 番 means a town such as 麻布十番 followed by its chome.
_NUMERAL_BEFORE_MARKER = re.compile(f"({_KANJI_NUMERAL})(?=丁目|番地|番(?![町丁0-9])|号)")
_NUMERAL_AFTER_MARKER = re.compile(
    f"(?<=[0-9])((?:{_MARKERS})の?|[の{_DASHES}])({_KANJI_NUMERAL})(?![{_IDEOGRAPHS}])"
)
# Removing a space between two numbers would fuse them (2-1-2 101 -> 2-1-2101), so it becomes a dash.
_SPACE_BETWEEN_DIGITS = re.compile(f"(?<=[0-9])[{_SPACE_CHARS}]+(?=[0-9])")
_DASH_BETWEEN_DIGITS = re.compile(f"(?<=[0-9])[{_DASHES}]+(?=[0-9])")
_MARKER_BEFORE_NUMBER = re.compile(f"(?<=[0-9])(?:(?:{_MARKERS})[の{_DASHES}]?|の)(?=[0-9])")
_ROOM_AT_END = re.compile("(?<=[0-9])号室$")
_MARKER_AT_END = re.compile(f"(?<=[0-9])(?:{_MARKERS})(?![{_IDEOGRAPHS}])")

_PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip


def normalize_kanji_name(value: str) -> str:
    """Normalise a kanji name: NFKC, no spaces, no variation selectors; kana and numerals left as written."""
    return _remove_spaces(_nfkc(value))


def normalize_kana_name(value: str) -> str:
    """Normalise a kana name: as the kanji name, then katakana only and a dash after kana read as ー."""
    katakana = _remove_spaces(_nfkc(value)).translate(_HIRAGANA_TO_KATAKANA)
    return _DASH_AFTER_KANA.sub(lambda match: "ー" * len(match[0]), katakana)


def katakana_for_display(value: str) -> str:
    """A kana name as people read it: full-width katakana (from half-width or hiragana), one space between parts."""
    katakana = _SPACES.sub(" ", _nfkc(value)).strip().translate(_HIRAGANA_TO_KATAKANA)
    return unicodedata.normalize("NFC", katakana)


def normalize_address(value: str) -> str:
    """Normalise an address: as the kanji name, then 丁目/番地/号 and kanji numerals to the 「2-1-2」 form."""
    text = _remove_spaces(_SPACE_BETWEEN_DIGITS.sub("-", _nfkc(value)))
    text = _DASH_BETWEEN_DIGITS.sub("-", _arabic_numerals(text))
    text = _ROOM_AT_END.sub("", _MARKER_BEFORE_NUMBER.sub("-", text))
    return _MARKER_AT_END.sub("", text)


def strip_prefecture(normalized_address: str) -> tuple[str | None, str]:
    """Split a normalised address into its prefecture (None when it names none) and the rest."""
    for prefecture in _PREFECTURES:
        if normalized_address.startswith(prefecture):
            return prefecture, normalized_address.removeprefix(prefecture)
    return None, normalized_address


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", _VARIATION_SELECTORS.sub("", value))


def _remove_spaces(value: str) -> str:
    # NFKC turns a lone ゛ into space + combining mark: once the space is gone, NFC puts カ゛ back as ガ.
    return unicodedata.normalize("NFC", _SPACES.sub("", value))


def _arabic_numerals(text: str) -> str:
    """Rewrite kanji numerals that stand for chome, banchi or go numbers in arabic digits."""
    while True:
        converted = _NUMERAL_BEFORE_MARKER.sub(lambda match: _kanji_number(match[1]), text)
        converted = _NUMERAL_AFTER_MARKER.sub(lambda match: match[1] + _kanji_number(match[2]), converted)
        if converted == text:
            return text
        text = converted


def _kanji_number(numeral: str) -> str:
    """Read 二十三 as 23, 百二 as 102, and a numeral without 十百千 digit by digit (一〇二 as 102)."""
    if not any(unit in numeral for unit in _KANJI_UNITS):
        return "".join(str(_KANJI_DIGITS.index(digit)) for digit in numeral)
    total, current = 0, 0
    for char in numeral:
        if char in _KANJI_UNITS:
            total += (current or 1) * _KANJI_UNITS[char]
            current = 0
        else:
            current = current * 10 + _KANJI_DIGITS.index(char)
    return str(total + current)
