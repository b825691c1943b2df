"""The card slot: which card is on the reader, and the only place the card signs (its key stays in the process).

The kiosk's demo reader takes a card by name from a directory of card files (a real reader would sense it);
`clear()` forgets the card and everything learnt about its holder, as the next patient arrives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from terminals.agent.errors import AgentError, from_card
from virtualcard import CardError, VirtualCard

_CARD_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
CARD_SUFFIX = ".card.json"


@dataclass(frozen=True, slots=True)
class CardInfo:
    """What the reader can tell before any signature: the card's own lock states, and whether it has a photo."""

    pin_locked: bool
    face_locked: bool
    has_photo: bool


def describe(card: VirtualCard) -> CardInfo:
    """The card's state as the method screen needs it."""
    return CardInfo(pin_locked=card.pin_locked, face_locked=card.face_locked, has_photo=bool(card.face_image))


def load(path: Path) -> VirtualCard:
    """Read a card file (422 card_unreadable when it cannot be read)."""
    try:
        return VirtualCard.load(path)
    except (CardError, OSError) as exc:
        raise from_card(exc if isinstance(exc, CardError) else CardError(str(exc))) from None


class DemoReader:
    """A reader fed from a directory of virtual card files (the demo's `.onshi-data/demo/cards`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def names(self) -> list[str]:
        """The cards that can be placed, by file name without the suffix."""
        return sorted(p.name.removesuffix(CARD_SUFFIX) for p in self.directory.glob(f"*{CARD_SUFFIX}"))

    def place(self, name: str) -> VirtualCard:
        """The card of this name (404 when there is none; the name never reaches the file system unchecked)."""
        if not _CARD_NAME.fullmatch(name) or name not in self.names():
            raise AgentError(404, "no_such_card", "そのカードはありません。")
        return load(self.directory / f"{name}{CARD_SUFFIX}")
