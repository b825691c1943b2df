"""Errors of registration and linking."""

from __future__ import annotations

from service.core.errors import Conflict


class NotRegistered(Conflict):
    """The card is not registered for insurance use (nothing to unlink)."""

    code = "not_registered"
