-- depends: 0005.batch-leases
-- A record and a holder with the same kanji and kana names are review candidates even when the birthdate
-- differs (a typo agrees on four of five fields): matching looks them up by both names.

CREATE INDEX holders_match_names ON holders (norm_kanji, norm_kana);
CREATE INDEX eligibility_match_names ON eligibility_records (norm_kanji, norm_kana) WHERE is_current;
