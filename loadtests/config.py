"""Load-test configuration, from the environment (read once, when the locustfile is imported).

    ONSHI_URL                      service base URL (default http://127.0.0.1:8000)
    ONSHI_LOADTEST_FIXTURE         fixture file (default loadtests/.fixture.json)
    ONSHI_LOADTEST_PACE            verifications per second per reception user, arriving at random (a Poisson
                                   process per user: loadtests/pacing.py); when unset, each user waits
                                   ONSHI_LOADTEST_WAIT_MIN..MAX seconds between patients
    ONSHI_LOADTEST_WAIT_MIN/MAX    seconds between patients at one terminal (default 5..15, a desk at peak hour)
    ONSHI_LOADTEST_MIX             answers drawn per check, e.g. "eligible=85,not_registered=5,code_4=2"
                                   (default: the fixture's own mix)
    ONSHI_LOADTEST_PRESENCE        presence methods, e.g. "face=80,pin=15,visual=5"
    ONSHI_LOADTEST_CONSENT_RATE    share of eligible checks followed by a consent (default 0.065)
    ONSHI_LOADTEST_INSURERS        insurer users (locust fixed_count; default 1)
    ONSHI_LOADTEST_BATCH_ROWS      rows per eligibility batch upload (default 200)
    ONSHI_LOADTEST_BATCH_WAIT_MIN/MAX  seconds between an insurer's uploads (default 20..40)
    ONSHI_LOADTEST_POLL_SECONDS    batch status polling interval (default 1)
    ONSHI_LOADTEST_VIEWERS         viewer users (doctors and pharmacists of the fixture's staff; default 0)
    ONSHI_LOADTEST_VIEWER_PACE     reads per second per viewer user, arriving at random (default: one every
                                   20-60 s)

The user count itself is locust's (`-u`, or LOCUST_USERS): each reception user is one terminal at a time,
assigned round-robin over the fixture's terminals.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.fixture_file import KINDS, PROFILE

DEFAULT_MIX = ",".join(f"{kind}={share}" for kind, share in PROFILE.items())
PRESENCE_METHODS = ("face", "pin", "visual")
# Face recognition is the reader's default; PIN and the staff visual check are the fallbacks (our estimate).
DEFAULT_PRESENCE = "face=80,pin=15,visual=5"
# ~6.7M medication views a month against ~275M checks, 37% by card: ~6.5% of card checks lead to a viewing
# consent (DOMAIN.md, "Scale").
DEFAULT_CONSENT_RATE = 0.065


def parse_weights(text: str, *, name: str, allowed: tuple[str, ...] | None = None) -> dict[str, float]:
    """'a=1,b=2.5' as {'a': 1.0, 'b': 2.5}; a clear error for anything else."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or not key.strip() or weight < 0:
            raise ValueError(f"{name}: expected key=weight pairs separated by commas, got {part!r}")
        if allowed is not None and key.strip() not in allowed:
            raise ValueError(f"{name}: unknown {key.strip()!r} (one of {', '.join(allowed)})")
        weights[key.strip()] = weight
    if not weights or sum(weights.values()) <= 0:
        raise ValueError(f"{name}: at least one positive weight is needed")
    return weights


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    try:
        return default if raw in (None, "") else float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)  # no slots: the class attributes are the defaults from_env falls back to
class LoadTestConfig:
    """Every knob of the load test."""

    url: str = "http://127.0.0.1:8000"
    fixture: Path = Path("loadtests/.fixture.json")
    pace: float | None = None
    wait_min: float = 5.0
    wait_max: float = 15.0
    mix: dict[str, float] = field(default_factory=lambda: {k: float(v) for k, v in PROFILE.items()})
    presence: dict[str, float] = field(default_factory=lambda: parse_weights(DEFAULT_PRESENCE, name="presence"))
    consent_rate: float = DEFAULT_CONSENT_RATE
    insurers: int = 1
    viewers: int = 0
    viewer_pace: float | None = None
    batch_rows: int = 200
    batch_wait_min: float = 20.0
    batch_wait_max: float = 40.0
    poll_seconds: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LoadTestConfig:
        """The configuration the environment describes."""
        env = os.environ if env is None else env
        pace = _float(env, "ONSHI_LOADTEST_PACE", 0.0)
        return cls(
            url=env.get("ONSHI_URL", cls.url).rstrip("/"),
            fixture=Path(env.get("ONSHI_LOADTEST_FIXTURE", str(cls.fixture))),
            pace=pace if pace > 0 else None,
            wait_min=_float(env, "ONSHI_LOADTEST_WAIT_MIN", cls.wait_min),
            wait_max=_float(env, "ONSHI_LOADTEST_WAIT_MAX", cls.wait_max),
            mix=parse_weights(env.get("ONSHI_LOADTEST_MIX", DEFAULT_MIX), name="ONSHI_LOADTEST_MIX",
                              allowed=tuple(KINDS)),
            presence=parse_weights(env.get("ONSHI_LOADTEST_PRESENCE", DEFAULT_PRESENCE),
                                   name="ONSHI_LOADTEST_PRESENCE", allowed=PRESENCE_METHODS),
            consent_rate=_float(env, "ONSHI_LOADTEST_CONSENT_RATE", DEFAULT_CONSENT_RATE),
            insurers=int(_float(env, "ONSHI_LOADTEST_INSURERS", cls.insurers)),
            viewers=int(_float(env, "ONSHI_LOADTEST_VIEWERS", cls.viewers)),
            viewer_pace=_float(env, "ONSHI_LOADTEST_VIEWER_PACE", 0.0) or None,
            batch_rows=int(_float(env, "ONSHI_LOADTEST_BATCH_ROWS", cls.batch_rows)),
            batch_wait_min=_float(env, "ONSHI_LOADTEST_BATCH_WAIT_MIN", cls.batch_wait_min),
            batch_wait_max=_float(env, "ONSHI_LOADTEST_BATCH_WAIT_MAX", cls.batch_wait_max),
            poll_seconds=_float(env, "ONSHI_LOADTEST_POLL_SECONDS", cls.poll_seconds),
        )


config = LoadTestConfig.from_env()
