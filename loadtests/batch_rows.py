"""Eligibility batch rows of new insured people (surname 負荷, which no fixture holder has): uploading them runs the
upload-direction matching without changing any answer the reception scenario checks. No locust import here, so
the benchmark's orchestrator can build a batch too."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

HEADER = ("record_id,action,symbol,number,branch,holder_kind,name_kanji,name_kana,birthdate,sex,address,"
          "postal_code,qualified_on,disqualified_on,copay_ratio,limit_category")
GIVEN = (("一郎", "イチロウ"), ("二郎", "ジロウ"), ("花", "ハナ"), ("桜", "サクラ"), ("翼", "ツバサ"))

def batch_csv(rows: int, rng: random.Random) -> bytes:
    """An eligibility batch of `rows` new insured people, with record ids unique to this upload."""
    tag = uuid.uuid4().hex[:10]
    lines = [HEADER]
    for i in range(rows):
        kanji, kana = rng.choice(GIVEN)
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 60))
        lines.append(",".join((
            f"LTI-{tag}-{i}", "upsert", str(rng.randrange(1, 99)), str(rng.randrange(10**6, 10**7)), "00",
            str(rng.choice((1, 2))), f"負荷 {kanji}", f"フカ {kana}", born.isoformat(), str(rng.choice((1, 2))),
            f"大阪府大阪市北区梅田{rng.randrange(1, 4)}-{rng.randrange(1, 20)}-{rng.randrange(1, 30)}", "5300001",
            "2024-04-01", "", rng.choice(("10", "20", "30")), "",
        )))
    return ("\n".join(lines) + "\n").encode()
