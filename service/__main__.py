"""`python -m service [--demo]`: start the HTTP server (embedded PostgreSQL and Redis unless configured)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import signal
import socket
import sys

import uvicorn

from service.app import create_app
from service.core.logging import configure_logging
from service.core.settings import Settings
from service.runtime import prepare, settings_or_exit


def _check_port(host: str, port: int) -> None:
    """Stop before anything is started or seeded when another process holds the port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
            print(f"onshi: cannot start: {host}:{port} {reason}: stop the other server or set ONSHI_PORT "
                  "(the clients follow ONSHI_PORT too)", file=sys.stderr)
            raise SystemExit(2) from None


def _check_authority(settings: Settings) -> None:
    """Production never creates an authority: its key and certificate must be there."""
    from service.authority.ca import CERT_FILE, KEY_FILE

    directory = settings.authority_path
    if settings.env == "production" and not ((directory / KEY_FILE).exists() and (directory / CERT_FILE).exists()):
        print(f"onshi: cannot start: no certificate authority in {directory} ({KEY_FILE}, {CERT_FILE}): set "
              "ONSHI_AUTHORITY_DIR, or create one with `python -m service.admin init-authority`", file=sys.stderr)
        raise SystemExit(2)


def _exit_on_sigterm() -> None:
    """SIGTERM ends the process as Ctrl-C does: through its exit handlers, which stop the embedded PostgreSQL.

    uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler it found; the default
    one killed the process on the spot, past every exit handler, and left the embedded PostgreSQL running. Exit
    status 143 (128 + 15), as a shell reports a process ended by SIGTERM.
    """
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> None:
    """Prepare servers and migrations, optionally seed the demo, then serve."""
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--demo", action="store_true", help="seed demo data (once) and print how to use it")
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    # the format of every line from here on, the demo's seeding included (create_app sets the same again)
    configure_logging(level=settings.log_level, log_format=settings.effective_log_format,
                      access_log=settings.access_log)
    _check_authority(settings)
    _check_port(settings.host, settings.port)
    # The embedded Redis, if any, is left to the app: its lifespan stops it, saved, when the service ends.
    served = settings
    _exit_on_sigterm()
    settings = prepare(settings)
    if args.demo:
        from service import demo

        seeded = asyncio.run(demo.seed(settings))
        print(demo.describe(seeded, base_url=f"http://{settings.host}:{settings.port}"), flush=True)
    uvicorn.run(create_app(settings.model_copy(update={"redis_url": served.redis_url})), host=settings.host,
                port=settings.port, log_config=None, timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
                timeout_keep_alive=int(settings.keep_alive_seconds))


if __name__ == "__main__":
    main()
