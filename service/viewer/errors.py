"""Errors of the viewer."""

from __future__ import annotations

from service.core.errors import Forbidden, Unauthorized


class BadCredentials(Unauthorized):
    """Unknown login or wrong password (never saying which)."""

    code = "bad_credentials"


class RoleCannotView(Forbidden):
    """Reception staff see eligibility only; the access policy decides the rest."""

    code = "role_cannot_view"


class CategoryNotConsented(Forbidden):
    """The patient did not consent to this category."""

    code = "category_not_consented"


class CardNotUsable(Forbidden):
    """The card that gave the consent (or the one that renewed it) is suspended or revoked: nothing is shown."""

    code = "certificate_not_usable"
