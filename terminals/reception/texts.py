"""Every text the reception screen shows, in Japanese and English, and the tables that name codes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta, timezone
from typing import Any, Literal

JST = timezone(timedelta(hours=9), "JST")
CATEGORIES = ("medication", "checkup")
CLEAR_SCREEN = "\x1b[2J\x1b[H"
RULE = "=" * 48
EXIT_OK, EXIT_NEGATIVE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 130

Lang = Literal["ja", "en"]
Method = Literal["face", "pin", "visual"]
Mode = Literal["check", "register", "unlink", "access_log"]
Text = tuple[str, str]
"""A screen text: (Japanese, English); templates take `str.format` fields."""
Json = Mapping[str, Any]
METHODS: tuple[Method, ...] = ("face", "pin", "visual")


# Screen texts


class Msg:
    """Every sentence the terminal shows, in Japanese and English."""

    PAPER: Text = (
        "本日は資格確認書または保険証で受付してください。",
        "Use the paper fallback today: the eligibility certificate or the health insurance card.",
    )
    CHECK_NOT_DONE: Text = ("資格確認できませんでした。", "The eligibility check could not be done.")
    RETRYING: Text = ("通信エラー: 再試行中 ({n}/{total})", "Network error: retrying ({n}/{total})")
    UNAVAILABLE: Text = (
        "サービスと通信できないため資格確認できませんでした ({attempts}回試行)。後でもう一度確認してください。",
        "The service cannot be reached, so the check could not be done ({attempts} attempts). Check again later.",
    )
    UNEXPECTED: Text = ("サービスから想定外の応答がありました。", "The service sent an unexpected answer.")
    SERVICE_ERROR: Text = ("サービスのエラー", "Service error")
    REQUEST_ID: Text = ("問い合わせ番号", "Request id")
    CARD_UNREADABLE: Text = (
        "カードを読み取れません。カードを置き直してください。",
        "The card cannot be read: place it again.",
    )
    INSERT_CARD: Text = (
        "カードを置いてください (カードファイルのパス、空欄で終了)",
        "Place the card (card file path, empty to quit)",
    )
    NEXT_PATIENT: Text = ("次の方へ: Enter を押してください", "Next patient: press Enter")
    CANCELLED: Text = ("中止しました。", "Cancelled.")
    INTERRUPTED: Text = ("中断しました。", "Interrupted.")
    NO_TOKEN: Text = (
        "端末の認証情報がありません: --token または ONSHI_TERMINAL_TOKEN",
        "No terminal credential: pass --token or set ONSHI_TERMINAL_TOKEN",
    )
    CHOOSE_METHOD: Text = ("本人確認の方法を選んでください", "Choose how to confirm the patient's identity")
    METHOD_FACE: Text = ("顔認証", "face recognition")
    METHOD_PIN: Text = ("暗証番号 (4桁)", "PIN (4 digits)")
    METHOD_VISUAL: Text = ("職員による目視確認", "visual check by staff")
    METHOD_NOT_AVAILABLE: Text = ("この方法は使えません: {method}", "This method cannot be used: {method}")
    HOLDER_ONLY: Text = (
        "利用登録・解除・閲覧記録の確認はご本人の顔認証または暗証番号が必要です (目視確認は使えません)。",
        "Registration, unlinking and the access log need the holder's face or PIN (no visual check).",
    )
    INVALID_CHOICE: Text = ("選択肢の番号を入力してください。", "Enter the number of a choice.")
    ENTER_PIN: Text = ("暗証番号 (4桁) を入力してください", "Enter the PIN (4 digits)")
    PIN_FORMAT: Text = (
        "暗証番号は4桁の数字です (カードには送っていません)。",
        "The PIN is 4 digits (nothing was sent to the card).",
    )
    WRONG_PIN: Text = (
        "暗証番号が違います。あと{remaining}回間違えるとカードがロックされます。",
        "Wrong PIN: {remaining} more wrong attempt(s) lock the card.",
    )
    RETRY_PIN: Text = ("暗証番号をもう一度入力する", "enter the PIN again")
    PIN_LOCKED: Text = (
        "暗証番号が3回続けて違ったため、カードがロックされました。"
        "ロックの解除 (暗証番号の初期化) はお住まいの市区町村の窓口にお問い合わせください。",
        "The card is locked after too many wrong PINs: the holder must contact their municipal office "
        "to reset the PIN.",
    )
    PIN_LOCKED_AT_LOAD: Text = (
        "このカードは暗証番号がロックされています (解除は市区町村の窓口)。顔認証または目視確認で続けます。",
        "This card's PIN is locked (reset at the municipal office): continuing with face or visual check.",
    )
    CARD_UNUSABLE: Text = (
        "カードがロックされているため、このカードでは確認できません。市区町村の窓口でロックを解除してください。",
        "The card is locked and cannot be used: the holder must have it unlocked at the municipal office.",
    )
    OFFER_VISUAL: Text = (
        "職員による目視確認に切り替えますか?",
        "Switch to a visual check by staff?",
    )
    CONFIRM_VISUAL: Text = (
        "職員の方: カードの顔写真とご本人を目視で確認しましたか?",
        "Staff: have you checked the card's photo against the patient by sight?",
    )
    LOOK_AT_CAMERA: Text = ("カメラの方を向いてください。", "Look at the camera.")
    FACE_MATCHED: Text = ("顔認証できました。", "Face recognised.")
    FACE_RETRY: Text = ("もう一度顔認証しますか?", "Try face recognition again?")
    FACE_FALL_BACK: Text = (
        "顔認証を続けられません。暗証番号または職員の目視確認に切り替えます。",
        "Face recognition cannot continue: switching to the PIN or a visual check by staff.",
    )
    FACE_LOCKED: Text = (
        "顔認証が10回続けて失敗したため、このカードの顔認証はロックされています。暗証番号または職員の目視確認に切り替えます。",
        "Face matching on this card is locked after 10 consecutive failures: switching to the PIN or a "
        "visual check by staff.",
    )
    FACE_UNAVAILABLE: Text = ("顔認証を使えません: {reason}", "Face recognition is unavailable: {reason}")
    ASK_CONSENT: Text = (
        "{category}を医師・歯科医師・薬剤師が閲覧することに同意しますか?",
        "Do you agree that doctors, dentists and pharmacists here may view your {category_en}?",
    )
    CONSENT_GIVEN: Text = ("情報提供に同意しました: {categories}", "Consent given: {categories_en}")
    CONSENT_REFUSED: Text = ("情報提供に同意しませんでした。", "No consent given.")
    CONSENT_EXPIRES: Text = ("同意の有効期限: {expires}", "Consent valid until: {expires}")
    CONSENT_FAILED: Text = ("同意を登録できませんでした。", "The consent could not be recorded.")
    OFFER_REGISTER: Text = (
        "このカードで保険証の利用登録をしますか?",
        "Register this card for health-insurance use now?",
    )
    CONFIRM_UNLINK: Text = (
        "保険証の利用登録を解除すると、このカードで資格確認できなくなります。解除しますか?",
        "After unlinking, this card can no longer be used for eligibility checks. Unlink?",
    )
    UNLINKED: Text = ("保険証の利用登録を解除しました。", "The card is no longer registered for insurance use.")
    ACTION_FAILED: Text = ("処理できませんでした。", "The request could not be completed.")
    ACCESS_LOG: Text = ("あなたの情報の閲覧記録", "Who viewed your data")
    ACCESS_LOG_EMPTY: Text = ("閲覧記録はありません。", "Nobody has viewed your data.")
    CHECK_ID: Text = ("確認番号", "Check id")
    VALIDITY: Text = ("有効性", "Validity")
    NAME: Text = ("氏名", "Name")
    KANA: Text = ("フリガナ", "Kana")
    BIRTHDATE: Text = ("生年月日", "Birthdate")
    SEX: Text = ("性別", "Sex")
    INSURER: Text = ("保険者番号", "Insurer number")
    SYMBOL_NUMBER: Text = ("記号・番号・枝番", "Symbol / number / branch")
    HOLDER_KIND: Text = ("本人・家族", "Insured person / dependant")
    COPAY: Text = ("負担割合", "Copay")
    PERIOD: Text = ("有効期間", "Coverage")
    LIMIT: Text = ("限度額適用区分", "High-cost category")
    CERTIFICATE: Text = ("電子証明書の有効期限", "Certificate valid until")
    NONE: Text = ("なし", "none")


VALIDITY_CODES: dict[int, Text] = {
    1: ("有効", "valid"),
    2: ("無効", "invalid"),
    3: ("無効・新しい資格あり", "invalid, a newer qualification exists"),
    4: ("該当資格なし", "no qualification"),
    5: ("複数該当", "several qualifications match"),
}
HOLDER_KINDS: dict[str, Text] = {"1": ("本人", "insured person"), "2": ("家族", "dependant")}
SEXES: dict[str, Text] = {"1": ("男", "male"), "2": ("女", "female")}
CATEGORY_NAMES: dict[str, Text] = {"medication": ("薬剤情報", "medication"), "checkup": ("特定健診", "checkups")}
ROLE_NAMES: dict[str, Text] = {
    "doctor": ("医師", "doctor"),
    "dentist": ("歯科医師", "dentist"),
    "pharmacist": ("薬剤師", "pharmacist"),
    "reception": ("受付", "reception"),
}
METHOD_NAMES: dict[str, Text] = {"face": Msg.METHOD_FACE, "pin": Msg.METHOD_PIN, "visual": Msg.METHOD_VISUAL}

# What the screen says for each answer: the headline, then what the patient or the staff should do next.
OUTCOMES: dict[str, tuple[Text, tuple[Text, ...]]] = {
    "eligible": (("有効: 資格を確認できました", "Eligible: coverage confirmed"), ()),
    "expired_grace": (
        (
            "有効: 資格を確認できました (電子証明書は期限切れ・猶予期間中)",
            "Eligible (certificate expired, in its grace period)",
        ),
        (
            (
                "電子証明書の有効期限が切れています。3か月の猶予期間中のため資格確認はできますが、"
                "薬剤情報・特定健診情報の提供はできません。市区町村の窓口で電子証明書を更新してください。",
                "The card's certificate has expired: within the 3-month grace period eligibility is confirmed, but "
                "no medication or checkup data can be shared. Renew the certificate at the municipal office.",
            ),
        ),
    ),
    "code_2": (
        ("無効: この保険資格は無効です", "Not eligible: this insurance is not valid"),
        (
            (
                "資格喪失日などを保険者に確認し、現在加入している保険を患者さんに確認してください。",
                "Ask the patient for their current insurance and check the record with the insurer.",
            ),
            Msg.PAPER,
        ),
    ),
    "code_3": (
        ("無効: 新しい保険資格があります", "Not eligible: a newer qualification exists"),
        (
            (
                "新しい保険証情報が登録されているか、新しい保険者に確認してください。",
                "Ask the new insurer whether the new insurance has been registered.",
            ),
            Msg.PAPER,
        ),
    ),
    "code_4": (
        ("該当資格なし: 保険資格が見つかりません", "No qualification found"),
        (
            (
                "加入している保険を患者さんに確認し、保険者に確認してください。",
                "Ask the patient which insurance they have and check with that insurer.",
            ),
            Msg.PAPER,
        ),
    ),
    "code_5": (
        ("複数該当: 複数の資格が該当するため確認できません", "Several qualifications match: cannot decide"),
        (("保険者に確認してください。", "Ask the insurer to correct the records."), Msg.PAPER),
    ),
    "not_eligible": (("資格を確認できませんでした", "Not eligible"), (Msg.PAPER,)),
    "not_registered": (
        ("利用登録が必要です: このカードは保険証として登録されていません", "Not registered for insurance use"),
        (
            (
                "このカードで保険証の利用登録ができます (--register)。",
                "The card can be registered for insurance use here (--register).",
            ),
            Msg.PAPER,
        ),
    ),
    "certificate_revoked": (
        ("電子証明書が失効しています", "The card's certificate has been revoked"),
        (
            (
                "お住まいの市区町村の窓口で電子証明書の再発行を受けてください。",
                "The holder must have the certificate reissued at their municipal office.",
            ),
            Msg.PAPER,
        ),
    ),
    "certificate_suspended": (
        ("電子証明書が一時停止中です (紛失の届出など)", "The card's certificate is suspended (reported lost)"),
        (
            (
                "カードが見つかった場合は、マイナンバー総合フリーダイヤル (コールセンター) で"
                "一時停止を解除してください。",
                "If the card was found, the holder must lift the suspension through the call centre hotline.",
            ),
            Msg.PAPER,
        ),
    ),
    "certificate_expired": (
        ("電子証明書の有効期限が切れています", "The card's certificate has expired"),
        (
            (
                "お住まいの市区町村の窓口で電子証明書を更新してください。",
                "The holder must renew the certificate at their municipal office.",
            ),
            Msg.PAPER,
        ),
    ),
    "unknown": (("資格を確認できませんでした: {result}", "The check gave an unknown answer: {result}"), (Msg.PAPER,)),
}
NO_VIEWING: Text = (
    "薬剤情報・特定健診情報の提供はできません。",
    "No medication or checkup data can be shared for this check.",
)
REGISTRATION_OUTCOMES: dict[str, Text] = {
    "linked": ("保険証の利用登録が完了しました。", "The card is now registered for insurance use."),
    "already_linked": ("このカードは既に利用登録されています。", "The card was already registered."),
    "needs_review": (
        "登録情報の一部 (氏名の字体・住所など) が一致しないため、保険者が確認します。確認後に利用できます。",
        "Some details (name characters, address) differ: the insurer will review them before the card can be used.",
    ),
    "no_match": (
        "一致する保険資格が見つかりません。保険者に届け出た氏名・生年月日・住所などを確認してください。",
        "No matching insurance record: check the name, birthdate and address registered with the insurer.",
    ),
    "ambiguous": (
        "複数の保険資格が該当するため登録できません。保険者に確認してください。",
        "Several records match, so nothing was linked: ask the insurer.",
    ),
}
CHALLENGE_ERRORS = frozenset({"challenge_not_usable", "challenge_expired"})
CERTIFICATE_STATES = ("suspended", "revoked", "expired")  # as the service names them in certificate_not_usable
CERTIFICATE_NOT_USABLE: Text = (
    "電子証明書がこの操作に使えない状態です。",
    "The card's certificate cannot be used for this in its present state.",
)
ERROR_HINTS: dict[int, Text] = {
    401: ("端末の認証に失敗しました。端末の設定 (トークン) を確認してください。", "The terminal's token is invalid."),
    403: ("この端末には許可されていない操作です。", "This terminal may not do this."),
    409: (
        "確認の有効期限が切れたか、既に使われています。もう一度カードを置いてやり直してください。",
        "The check expired or was already used: place the card again.",
    ),
    410: ("同意の有効期限が切れています。", "The consent has expired or was withdrawn."),
    422: (
        "カードの署名または電子証明書を確認できませんでした。",
        "The card's signature or certificate was not accepted.",
    ),
    429: ("混雑しています。しばらく待ってからやり直してください。", "The service is busy: try again shortly."),
}


def tr(text: Text, lang: Lang, **values: object) -> str:
    """The text in `lang`: Japanese with the English in parentheses, or English only."""
    ja, en = (part.format(**values) for part in text)
    return en if lang == "en" else f"{ja} ({en})"
