"""Normalisation of names and addresses: what it settles, and what it must leave unequal."""

import pytest

from service.linking.matcher import VARIANT_KANJI_GROUPS
from service.linking.normalize import (
    normalize_address,
    normalize_kana_name,
    normalize_kanji_name,
    strip_prefecture,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("山田 太郎", "山田太郎", id="ascii-space"),
        pytest.param("山田　太郎", "山田太郎", id="ideographic-space"),
        pytest.param("山田\u00a0太郎", "山田太郎", id="nbsp"),
        pytest.param("山田\u2009太郎\u202f", "山田太郎", id="thin-spaces"),
        pytest.param("\t山田\n太郎 ", "山田太郎", id="tab-newline-trailing"),
        pytest.param("山田\u200b太郎\ufeff", "山田太郎", id="zero-width-space-and-bom"),
        pytest.param("髙橋 一郎", "髙橋一郎", id="variant-kanji-and-numeral-kept"),
        pytest.param("山\ufa11 健", "山\ufa11健", id="u+fa11-saki-not-decomposed"),
        pytest.param("渡邊　邉", "渡邊邉", id="watanabe-variants-kept"),
        pytest.param("葛\U000e0100飾 花子", "葛飾花子", id="ideographic-variation-selector"),
        pytest.param("辻\ufe00 一", "辻一", id="standard-variation-selector"),
        pytest.param("佐藤 ｹｲｺ", "佐藤ケイコ", id="half-width-kana-widened"),
        pytest.param("佐藤 けいこ", "佐藤けいこ", id="hiragana-in-kanji-name-kept"),
        pytest.param("田中 三郎", "田中三郎", id="kanji-numeral-kept"),
        pytest.param("ＳＭＩＴＨ　ジョン", "SMITHジョン", id="full-width-latin"),
        pytest.param("鈴木 キョウコ", "鈴木キョウコ", id="small-kana-kept"),
    ],
)
def test_normalize_kanji_name(raw: str, expected: str) -> None:
    assert normalize_kanji_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("ヤマダ タロウ", "ヤマダタロウ", id="katakana-with-space"),
        pytest.param("やまだ　たろう", "ヤマダタロウ", id="hiragana-to-katakana"),
        pytest.param("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ", id="half-width-with-dakuten"),
        pytest.param("ﾎﾟｰﾙ", "ポール", id="half-width-handakuten-and-long-mark"),
        pytest.param("ｼﾞｮｰｼﾞ", "ジョージ", id="half-width-small-kana"),
        pytest.param("ハ゜ク　カ゛ク", "パクガク", id="stand-alone-voicing-marks"),
        pytest.param("オ-ノ", "オーノ", id="ascii-hyphen-after-kana"),
        pytest.param("オ－ノ", "オーノ", id="full-width-hyphen-minus"),
        pytest.param("オ‐ノ", "オーノ", id="u+2010-hyphen"),
        pytest.param("オ‑ノ", "オーノ", id="u+2011-non-breaking-hyphen"),
        pytest.param("オ‒ノ", "オーノ", id="u+2012-figure-dash"),
        pytest.param("オ–ノ", "オーノ", id="u+2013-en-dash"),
        pytest.param("オ—ノ", "オーノ", id="u+2014-em-dash"),
        pytest.param("オ―ノ", "オーノ", id="u+2015-horizontal-bar"),
        pytest.param("オ−ノ", "オーノ", id="u+2212-minus"),
        pytest.param("お－の", "オーノ", id="dash-after-hiragana"),
        pytest.param("-アベ", "-アベ", id="dash-not-after-kana-kept"),
        pytest.param("オオノ", "オオノ", id="long-vowel-written-out-kept"),
        pytest.param("キョウコ", "キョウコ", id="small-kana-kept"),
        pytest.param("ハツトリ", "ハツトリ", id="large-tsu-kept"),
        pytest.param("ゔぁいおれっと", "ヴァイオレット", id="hiragana-vu-and-small-kana"),
        pytest.param("すゞき", "スヾキ", id="hiragana-iteration-mark"),
        pytest.param("タナカ\u3000ハナコ\u00a0", "タナカハナコ", id="ideographic-space-and-nbsp"),
    ],
)
def test_normalize_kana_name(raw: str, expected: str) -> None:
    assert normalize_kana_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("2丁目1番地2号", "2-1-2", id="chome-banchi-go"),
        pytest.param("2丁目1番2号", "2-1-2", id="chome-ban-go"),
        pytest.param("2-1-2", "2-1-2", id="hyphens"),
        pytest.param("２－１－２", "2-1-2", id="full-width-digits-and-hyphens"),
        pytest.param("二丁目一番地二号", "2-1-2", id="kanji-numerals"),
        pytest.param("2丁目1-2", "2-1-2", id="chome-then-hyphen"),
        pytest.param("1番地の2", "1-2", id="banchi-no"),
        pytest.param("一番地の二", "1-2", id="banchi-no-kanji"),
        pytest.param("1-2", "1-2", id="banchi-hyphen"),
        pytest.param("123の4", "123-4", id="chiban-no"),
        pytest.param("2ー1ー2", "2-1-2", id="long-vowel-mark-between-digits"),
        pytest.param("2‐1−2", "2-1-2", id="hyphen-and-minus-between-digits"),
        pytest.param("2—1―2", "2-1-2", id="em-dash-and-bar-between-digits"),
        pytest.param("二丁目一－二", "2-1-2", id="kanji-numerals-with-dashes"),
        pytest.param("十一丁目二十三番地", "11-23", id="juichi-nijusan"),
        pytest.param("百二番地", "102", id="hyaku-ni"),
        pytest.param("一〇二番地", "102", id="digit-by-digit-kanji"),
        pytest.param("三丁目十番五号", "3-10-5", id="ju-ban"),
        pytest.param("二十丁目", "20", id="niju-chome"),
        pytest.param("千代田区千代田一丁目一番一号", "千代田区千代田1-1-1", id="full-kanji-address"),
        pytest.param(
            "八王子市元本郷町三丁目24番1号", "八王子市元本郷町3-24-1", id="numeral-in-city-name-kept"
        ),
        pytest.param("四日市市諏訪町1番5号", "四日市市諏訪町1-5", id="yokkaichi"),
        pytest.param("港区六本木六丁目10番1号", "港区六本木6-10-1", id="roppongi"),
        pytest.param("千代田区三番町6番地", "千代田区三番町6", id="sanbancho-town-kept"),
        pytest.param("中央区銀座４丁目", "中央区銀座4", id="trailing-chome"),
        pytest.param("2-1-2 メゾン青山101号室", "2-1-2メゾン青山101", id="building-and-room"),
        pytest.param("2丁目1番2号　101号室", "2-1-2-101", id="room-after-go"),
        pytest.param("2-1-2 101", "2-1-2-101", id="space-between-numbers-is-a-dash"),
        pytest.param("1-2-3 ｺｰﾎﾟ ｻｸﾗ", "1-2-3コーポサクラ", id="half-width-building"),
        pytest.param("5号棟", "5号棟", id="go-to-kept"),
        pytest.param("東京都 千代田区　霞が関", "東京都千代田区霞が関", id="spaces-removed"),
        pytest.param("紫波町大字桜町字上野123", "紫波町大字桜町字上野123", id="oaza-aza-kept"),
        pytest.param("葛\U000e0100飾区", "葛飾区", id="variation-selector"),
        pytest.param("霞ヶ関1-2", "霞ヶ関1-2", id="small-ke-kept"),
    ],
)
def test_normalize_address(raw: str, expected: str) -> None:
    assert normalize_address(raw) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param("東京都千代田区千代田1-1", ("東京都", "千代田区千代田1-1"), id="tokyo-to"),
        pytest.param("北海道札幌市中央区北1条西2", ("北海道", "札幌市中央区北1条西2"), id="hokkaido"),
        pytest.param("京都府京都市上京区", ("京都府", "京都市上京区"), id="kyoto-fu"),
        pytest.param("神奈川県横浜市", ("神奈川県", "横浜市"), id="four-character-prefecture"),
        pytest.param("京都市上京区", (None, "京都市上京区"), id="kyoto-city-without-prefecture"),
        pytest.param("府中市宮町1-1", (None, "府中市宮町1-1"), id="fuchu-without-prefecture"),
        pytest.param("大阪市北区", (None, "大阪市北区"), id="osaka-city-not-osaka-fu"),
    ],
)
def test_strip_prefecture(address: str, expected: tuple[str | None, str]) -> None:
    assert strip_prefecture(address) == expected


@pytest.mark.parametrize("group", VARIANT_KANJI_GROUPS)
def test_variant_kanji_survive_normalisation(group: str) -> None:
    assert normalize_kanji_name(group) == group
