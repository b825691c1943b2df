"""Five-field matching: only all five equal after normalisation is a match; every difference says why."""

import datetime
import json
from typing import Any

import pytest

from service.linking.matcher import (
    FIELDS,
    FieldComparison,
    Identity,
    MatchResult,
    compare,
    normalize_identity,
)

ADDRESS = "東京都千代田区千代田1-1-1"
HOLDER: dict[str, Any] = {
    "name_kanji": "山田 太郎",
    "name_kana": "ヤマダ タロウ",
    "birthdate": datetime.date(1980, 4, 1),
    "sex": 1,
    "address": ADDRESS,
}


def field_case(field: str, record: str, holder: str, reason: str | None, case_id: str) -> Any:
    """One table row that sets one text field on both sides; reason None means the two must match."""
    differing = {} if reason is None else {field: reason}
    return pytest.param({field: record}, {field: holder}, differing, id=case_id)


def identity(**overrides: Any) -> Identity:
    """Build an identity: the default holder, with keyword overrides."""
    return Identity(**{**HOLDER, **overrides})


@pytest.mark.parametrize(
    ("record", "holder", "differing"),
    [
        pytest.param({}, {}, {}, id="identical"),
        pytest.param(
            {"name_kanji": "山田　太郎", "name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ", "address": "千代田区千代田一丁目一番一号"},
            {},
            {},
            id="all-equal-after-normalisation",
        ),
        pytest.param({"name_kana": "やまだ たろう"}, {}, {}, id="hiragana-kana-name"),
        field_case("name_kanji", "ＳＡＴＯ　ケン", "SATO ケン", None, "full-width-letters"),
        field_case("name_kanji", "葛\U000e0101西 太郎", "葛西太郎", None, "variation-selector"),
        field_case("address", "東京都千代田区千代田１－１－１", ADDRESS, None, "full-width-address"),
        field_case("address", "千代田区千代田1-1-1", ADDRESS, None, "prefecture-omitted-on-record"),
        field_case("address", ADDRESS, "千代田区千代田1丁目1番地1号", None, "prefecture-omitted-on-holder"),
        field_case("name_kanji", "髙橋 太郎", "高橋 太郎", "variant_kanji", "variant-taka"),
        field_case("name_kanji", "山\ufa11 太郎", "山崎 太郎", "variant_kanji", "variant-saki-u+fa11"),
        field_case("name_kanji", "渡邊 太郎", "渡辺 太郎", "variant_kanji", "variant-nabe"),
        field_case("name_kanji", "渡邉 太郎", "渡邊 太郎", "variant_kanji", "variant-nabe-two-old-forms"),
        field_case("name_kanji", "齋藤 太郎", "斎藤 太郎", "variant_kanji", "variant-sai"),
        field_case("name_kanji", "斉藤 太郎", "斎藤 太郎", "variant_kanji", "variant-sei-sai"),
        field_case("name_kanji", "小澤 太郎", "小沢 太郎", "variant_kanji", "variant-sawa"),
        field_case("name_kanji", "濵田 太郎", "浜田 太郎", "variant_kanji", "variant-hama"),
        field_case("name_kanji", "德川 太郎", "徳川 太郎", "variant_kanji", "variant-toku"),
        field_case("name_kanji", "櫻井 廣", "桜井 広", "variant_kanji", "variant-two-pairs"),
        field_case("name_kanji", "髙﨑 太郎", "高崎 太郎", "variant_kanji", "variant-taka-and-saki"),
        field_case("name_kanji", "國分 太郎", "国分 太郎", "variant_kanji", "variant-koku"),
        pytest.param(
            {"name_kanji": "鈴木 恭子", "name_kana": "スズキ キヨウコ", "sex": 2},
            {"name_kanji": "鈴木 恭子", "name_kana": "スズキ キョウコ", "sex": 2},
            {"name_kana": "small_kana"},
            id="small-yo",
        ),
        field_case("name_kana", "ハツトリ", "ハットリ", "small_kana", "small-tsu"),
        field_case("name_kana", "オオノ", "オーノ", "long_vowel", "long-vowel-oono"),
        field_case("name_kana", "ユウコ", "ﾕｰｺ", "long_vowel", "long-vowel-yuuko-half-width"),
        field_case("name_kana", "サトウ", "サトー", "long_vowel", "long-vowel-satou"),
        field_case("name_kana", "オ－ノ", "おーの", None, "dash-and-hiragana-settled"),
        field_case(
            "address", f"{ADDRESS} 千代田ハイツ203号室", ADDRESS, "building_name", "building-on-record"
        ),
        field_case("address", ADDRESS, "千代田区千代田1-1-1ﾒｿﾞﾝ", "building_name", "building-on-holder"),
        field_case("address", f"{ADDRESS}-203", ADDRESS, "different_value", "room-number-only-on-record"),
        field_case("address", "東京都千代田区千代田1-1", ADDRESS, "different_value", "go-missing"),
        field_case("address", "東京都新宿区西新宿2-8-1", ADDRESS, "different_value", "old-address"),
        field_case(
            "address", "東京都府中市宮町1-1", "広島県府中市宮町1-1", "different_value", "prefectures-differ"
        ),
        field_case("address", "紫波町大字桜町123", "紫波町桜町123", "different_value", "oaza-not-normalised"),
        field_case("address", "石川県金澤市", "石川県金沢市", "variant_kanji", "address-variant-kanji"),
        field_case("address", "霞ヶ関1-2", "霞ケ関1-2", "small_kana", "address-small-ke"),
        field_case("address", "霞が関1-2", "霞ケ関1-2", "different_value", "address-ga-vs-ke"),
        pytest.param(
            {"name_kanji": "佐藤 花子", "name_kana": "サトウ ハナコ", "sex": 2},
            {"name_kanji": "山田 花子", "name_kana": "ヤマダ ハナコ", "sex": 2},
            {"name_kanji": "different_value", "name_kana": "different_value"},
            id="married-name-change",
        ),
        pytest.param(
            {"name_kanji": "山田 次郎", "name_kana": "ヤマダ ジロウ"},
            {},
            {"name_kanji": "different_value", "name_kana": "different_value"},
            id="twins-same-address",
        ),
        pytest.param(
            {
                "name_kanji": "鈴木 恵子",
                "name_kana": "スズキ ケイコ",
                "sex": 2,
                "address": "大阪府堺市堺区南瓦町3-1",
            },
            {"name_kanji": "鈴木 慶子", "name_kana": "スズキ ケイコ", "sex": 2},
            {"name_kanji": "different_value", "address": "different_value"},
            id="2023-mis-link-same-birthdate-same-maiden-kana",
        ),
        pytest.param({"sex": 2}, {}, {"sex": "different_sex"}, id="different-sex"),
        pytest.param(
            {"birthdate": datetime.date(1980, 1, 4)},
            {},
            {"birthdate": "different_date"},
            id="different-birthdate",
        ),
        pytest.param({"name_kana": " "}, {}, {"name_kana": "missing_value"}, id="blank-kana-on-record"),
        field_case("address", "", "　", "missing_value", "both-blank-not-equal"),
        pytest.param(
            {"name_kanji": "髙橋 太郎", "name_kana": "タカハシ タロー"},
            {"name_kanji": "高橋 太郎", "name_kana": "タカハシ タロウ"},
            {"name_kanji": "variant_kanji", "name_kana": "long_vowel"},
            id="two-fields-two-reasons",
        ),
        field_case(
            "name_kana", "キヨウコー", "キョウコウ", "different_value", "small-kana-and-long-vowel-at-once"
        ),
        field_case("name_kana", "スズキ", "スズキ ケイコ", "different_value", "given-name-missing"),
    ],
)
def test_compare(record: dict[str, Any], holder: dict[str, Any], differing: dict[str, str]) -> None:
    result = compare(identity(**record), identity(**holder))

    assert result.matched is (not differing)
    assert {comparison.field: comparison.reason for comparison in result.differing} == differing
    assert tuple(comparison.field for comparison in result.fields) == FIELDS
    json.dumps(result.evidence())


def test_four_of_five_is_not_a_match() -> None:
    result = compare(identity(address="東京都千代田区千代田1-1-2"), identity())

    assert [comparison.equal for comparison in result.fields] == [True, True, True, True, False]
    assert result.matched is False


def test_evidence_shows_raw_and_compared_values() -> None:
    result = compare(identity(address="千代田区千代田一丁目一番一号", sex=2), identity())

    evidence = json.loads(json.dumps(result.evidence()))

    assert evidence["matched"] is False
    assert list(evidence["fields"]) == list(FIELDS)
    assert evidence["fields"]["address"] == {
        "field": "address",
        "record": "千代田区千代田一丁目一番一号",
        "holder": "東京都千代田区千代田1-1-1",
        "record_normalized": "千代田区千代田1-1-1",
        "holder_normalized": "千代田区千代田1-1-1",
        "equal": True,
        "reason": None,
    }
    assert evidence["fields"]["sex"]["reason"] == "different_sex"
    assert evidence["fields"]["birthdate"]["record"] == "1980-04-01"


def test_normalize_identity_keeps_prefecture() -> None:
    normalized = normalize_identity(
        identity(name_kana="やまだ　たろう", address="東京都千代田区千代田一丁目1番1号")
    )

    assert (normalized.name_kanji, normalized.name_kana, normalized.address) == (
        "山田太郎",
        "ヤマダタロウ",
        "東京都千代田区千代田1-1-1",
    )


@pytest.mark.parametrize("sex", [0, 3, 9])
def test_identity_refuses_unknown_sex(sex: int) -> None:
    with pytest.raises(ValueError, match="sex"):
        identity(sex=sex)


def test_match_result_refuses_fewer_than_five_fields() -> None:
    comparison = FieldComparison("name_kanji", "山田", "山田", "山田", "山田", True, None)

    with pytest.raises(ValueError, match="exactly"):
        MatchResult(fields=(comparison,))
