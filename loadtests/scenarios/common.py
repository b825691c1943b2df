"""What the scenarios share: the fixture, loaded and validated once per process."""

from __future__ import annotations

from functools import cache

from loadtests.config import config
from loadtests.fixture_file import Fixture, load


@cache
def fixture() -> Fixture:
    """The fixture file named by ONSHI_LOADTEST_FIXTURE (a FixtureError says how to make one)."""
    return load(config.fixture)
