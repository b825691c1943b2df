"""`python -m service [--demo]`: start the HTTP server (embedded PostgreSQL and Redis unless configured)."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from service.app import create_app
from service.core.settings import get_settings
from service.runtime import prepare


def main(argv: list[str] | None = None) -> None:
    """Prepare servers and migrations, optionally seed the demo, then serve."""
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--demo", action="store_true", help="seed demo data (once) and print how to use it")
    args = parser.parse_args(argv)
    settings = prepare(get_settings())
    if args.demo:
        from service import demo

        seeded = asyncio.run(demo.seed(settings))
        print(demo.describe(seeded, base_url=f"http://{settings.host}:{settings.port}"), flush=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                timeout_graceful_shutdown=int(settings.shutdown_grace_seconds))


if __name__ == "__main__":
    main()
