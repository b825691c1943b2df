"""Texts the screen shows, in English and Japanese."""

from __future__ import annotations


class Bilingual:
    """A mixin for what the screen shows: a subclass names its (English, Japanese) pair in `texts`."""

    __slots__ = ()

    @property
    def texts(self) -> tuple[str, str]:
        """(English, Japanese)."""
        raise NotImplementedError

    @property
    def message(self) -> str:
        """What the screen shows, in English."""
        return self.texts[0]

    @property
    def message_ja(self) -> str:
        """What the screen shows, in Japanese."""
        return self.texts[1]
