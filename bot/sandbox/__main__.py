"""Run the sandbox standalone: python3 -m bot.sandbox [--host H] [--port P] [--rate-limit]."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from .server import Sandbox

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python3 -m bot.sandbox", description="Mattermost-compatible sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8065)
    parser.add_argument("--rate-limit", action="store_true", help="enable GCRA rate limiting")
    parser.add_argument("--per-sec", type=int, default=10)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--site-url", default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Start the sandbox, print how to reach it, and run until SIGINT/SIGTERM."""
    sandbox = Sandbox(rate_limit=args.rate_limit, per_sec=args.per_sec, burst=args.burst, site_url=args.site_url)
    url = await sandbox.start(args.host, args.port)
    print(f"sandbox url: {url}", flush=True)
    print(f"admin token: {sandbox.admin_token}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
