"""Errors of the holder portal."""

from __future__ import annotations

from service.core.errors import Forbidden, Unauthorized


class PortalSessionRequired(Unauthorized):
    """No live portal session: sign in with the card again."""

    code = "portal_session_required"


class AccessLogOnly(Forbidden):
    """An expired certificate may read the access log, nothing else."""

    code = "access_log_only"
