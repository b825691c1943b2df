"""Where the clients find the service: --url, else ONSHI_URL, else the address the server itself listens on."""

from __future__ import annotations

import os
from collections.abc import Mapping


def default_url(environ: Mapping[str, str] | None = None) -> str:
    """ONSHI_URL, or http://ONSHI_HOST:ONSHI_PORT as the server reads them (default 127.0.0.1:8000)."""
    env = os.environ if environ is None else environ
    if env.get("ONSHI_URL"):
        return env["ONSHI_URL"]
    host = env.get("ONSHI_HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # listening everywhere: this machine answers on loopback
        host = "127.0.0.1"
    return f"http://{host}:{env.get('ONSHI_PORT') or '8000'}"
