"""Issuing and renewing virtual My Number Cards: the authority signs, records the holder, writes the card file."""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from service.authority import service as authority_service
from service.authority.ca import CertificateAuthority
from service.authority.repository import get_certificate, get_holder
from service.authority.schemas import IdentityAttributes
from service.core.database import Connection
from service.core.errors import InvalidInput, NotFound
from virtualcard import VirtualCard


def card_photo(path: Path | None) -> tuple[bytes, str]:
    """The card's face photo as JPEG 2000 (the real card's format); empty when none is given."""
    if path is None:
        return b"", "jp2"
    data = path.read_bytes()
    try:
        import cv2
        import numpy as np
    except ImportError:  # OpenCV is part of the locked install; without it keep the file's own format
        return data, path.suffix.lstrip(".").lower() or "jpeg"
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidInput(f"{path} is not a readable image")
    ok, encoded = cv2.imencode(".jp2", image)
    if not ok:
        raise InvalidInput("could not encode the photo as JPEG 2000")
    return encoded.tobytes(), "jp2"


async def issue_card(
    conn: Connection, *, authority: CertificateAuthority, out: Path, identity: IdentityAttributes,
    photo: tuple[bytes, str], pin: str | None, pin_retry_limit: int, actor: str,
) -> dict[str, object]:
    """A new key pair and user certificate, the holder's attributes recorded, the card file written."""
    chosen_pin = pin or f"{secrets.randbelow(10_000):04d}"
    if not (len(chosen_pin) == 4 and chosen_pin.isascii() and chosen_pin.isdigit()):
        raise InvalidInput("the PIN must be 4 digits")
    certificate, key = authority_service.issue_certificate(authority, birthdate=identity.birthdate)
    der = certificate.public_bytes(encoding=Encoding.DER)
    registered = await authority_service.register_holder(
        conn, authority=authority, certificate_der=der, identity=identity, actor=actor
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    VirtualCard.create(out, certificate_der=der, private_key=key, pin=chosen_pin, face_image=photo[0],
                       face_format=photo[1], pin_retry_limit=pin_retry_limit)
    result: dict[str, object] = {"serial": registered.serial, "card": str(out)}
    if pin is None:
        result["pin"] = chosen_pin
    return result


async def renew_card(
    conn: Connection, *, authority: CertificateAuthority, path: Path, actor: str
) -> dict[str, str]:
    """Renewal: a new key and certificate (new serial) in the same card file; old -> new recorded."""
    card = VirtualCard.load(path)
    old = await get_certificate(conn, card.serial)
    holder = None if old is None else await get_holder(conn, old.holder_id)
    if old is None or holder is None:
        raise NotFound(f"the authority has no record of certificate {card.serial}")
    certificate, key = authority_service.issue_certificate(authority, birthdate=holder.birthdate)
    der = certificate.public_bytes(encoding=Encoding.DER)
    serial = await authority_service.renew(
        conn, authority=authority, old_serial=card.serial, certificate_der=der, actor=actor
    )
    card.replace_credentials(certificate_der=der, private_key=key)
    return {"old_serial": old.serial, "serial": serial}
