"""The `incident-bot` command: run, demo."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Awaitable

from bot.config import ConfigError, load_config

log = logging.getLogger(__name__)


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)


def run_until_signalled(work: Awaitable[None]) -> None:
    """Run a coroutine; SIGTERM and Ctrl-C cancel it so it can shut down cleanly."""

    async def main() -> None:
        task = asyncio.ensure_future(work)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            log.info("stopped")

    asyncio.run(main())


def command_run(args: argparse.Namespace) -> int:
    from bot.app import StartupError, build_and_run

    try:
        config = load_config(Path(args.config))
    except ConfigError as exc:
        print(f"incident-bot: the configuration has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    _setup_logging(config.log_level)
    try:
        run_until_signalled(build_and_run(config))
    except StartupError as exc:
        print(f"incident-bot: {exc}", file=sys.stderr)
        return 2
    return 0


def command_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    _setup_logging("WARNING" if not args.verbose else "INFO")
    run_until_signalled(run_demo(keep_running=not args.no_wait, port=args.port))
    return 0


def command_sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.__main__ import main as sandbox_main

    argv = ["--host", args.host, "--port", str(args.port)] + (["--rate-limit"] if args.rate_limit else [])
    return sandbox_main(argv) or 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="incident-bot", description="Incident response for Mattermost.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the bot against a Mattermost server")
    run.add_argument("--config", default="config.yaml", help="config file (default: config.yaml)")
    run.set_defaults(func=command_run)
    demo = commands.add_parser("demo", help="play a short incident against a built-in Mattermost sandbox")
    demo.add_argument("--no-wait", action="store_true", help="exit after the demo instead of serving until Ctrl-C")
    demo.add_argument("--port", type=int, default=0, help="sandbox port (default: any free port)")
    demo.add_argument("--verbose", action="store_true", help="show the bot's log")
    demo.set_defaults(func=command_demo)
    sandbox = commands.add_parser("sandbox", help="run only the Mattermost-compatible sandbox server")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8065)
    sandbox.add_argument("--rate-limit", action="store_true", help="limit requests like Mattermost (10/s, burst 100)")
    sandbox.set_defaults(func=command_sandbox)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)
