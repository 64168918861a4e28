"""The `incident-bot` command: run, demo, sandbox, and the playbook tools check, simulate, schema."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Awaitable

from bot.clock import SystemClock
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


def _playbook_tool(work) -> int:
    """Run a playbook tool; a usage mistake (a missing file, a bad alert payload) is one line and exit code 2."""
    from bot.workflow.tools import UsageError

    try:
        return work()
    except UsageError as exc:
        print(f"incident-bot: {exc}", file=sys.stderr)
        return 2


def command_check(args: argparse.Namespace) -> int:
    from bot.workflow.tools import check

    return _playbook_tool(lambda: check(args.paths, config=args.config, use_config=not args.no_config,
                                        out=sys.stdout))


def command_simulate(args: argparse.Namespace) -> int:
    from bot.workflow.tools import simulate

    return _playbook_tool(lambda: simulate(args.playbook, directory=args.dir, alert=args.alert,
                                           severity=args.severity, title=args.title, out=sys.stdout))


def command_schema(args: argparse.Namespace) -> int:
    from bot.workflow.tools import schema

    return _playbook_tool(lambda: schema(args.out, out=sys.stdout, commands=args.commands))


def _add_playbook_tools(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check", help="check the config and playbooks; print every problem as file:line:col",
        description="Validate the config (--config, or ./config.yaml when present) and playbooks (the paths given, "
                    "else the config's playbooks.dir, else playbooks/). Exit 1 when anything is wrong. Alert rule "
                    "names and run_command names are checked against the config; the environment variables it "
                    "uses must be set, as for `run`.")
    check.add_argument("paths", nargs="*", help="playbook files or folders")
    check.add_argument("--config", help="config file (default: ./config.yaml when it exists)")
    check.add_argument("--no-config", action="store_true",
                       help="check only the playbooks, even if ./config.yaml exists")
    check.set_defaults(func=command_check)
    simulate = commands.add_parser(
        "simulate", help="dry-run a playbook on a fake clock and print what it would do",
        description="Print, in time order, what a playbook would post, call and schedule for a sample incident, "
                    "with every template rendered. Nothing is sent anywhere.")
    simulate.add_argument("playbook", help="a playbook file, or a playbook name looked up in --dir")
    simulate.add_argument("--dir", help="where to look a playbook name up (default: playbooks)")
    simulate.add_argument("--alert", help="a JSON alert (Alertmanager webhook payload or generic alert JSON)")
    simulate.add_argument("--severity", help="sev1..sev4 (default: the playbook's, else sev3)")
    simulate.add_argument("--title", help="the incident's title (default: the alert's summary, or 'Sample incident')")
    simulate.set_defaults(func=command_simulate)
    schema = commands.add_parser("schema", help="print the playbook (or custom command) JSON Schema, for editors")
    schema.add_argument("--out", help="write it to this file instead, like playbooks/playbook.schema.json")
    schema.add_argument("--commands", action="store_true",
                        help="the custom command files' schema (playbooks/commands/commands.schema.json)")
    schema.set_defaults(func=command_schema)


def command_report(args: argparse.Namespace) -> int:
    from bot.reports.incident_report import incident_report
    from bot.reports.metrics import PeriodError, parse_period
    from bot.store.db import Database

    try:
        config = load_config(Path(args.config))
        period = parse_period(args.period)
    except ConfigError as exc:
        print("\n".join(str(p) for p in exc.problems), file=sys.stderr)
        return 2
    except PeriodError as exc:
        print(f"incident-bot: --period: {exc}", file=sys.stderr)
        return 2

    async def report() -> None:
        db = await Database.open(config.storage.path)
        try:
            rendered = await incident_report(db, period_s=period, now_ms=SystemClock().now_ms(), by=args.by)
        finally:
            await db.close()
        print(rendered.table)
        if args.png:
            Path(args.png).write_bytes(rendered.png)
        if args.csv:
            Path(args.csv).write_text(rendered.csv)

    asyncio.run(report())
    return 0


def command_export(args: argparse.Namespace) -> int:
    from bot.reports.channel_export import IncidentExporter
    from bot.reports.export import write_many_json_lines
    from bot.reports.metrics import PeriodError, parse_period
    from bot.reports.redaction import Redactor
    from bot.store import incidents as incident_store
    from bot.store.db import Database
    from bot.store.timeline import entries as timeline_entries

    try:
        config = load_config(Path(args.config))
        period = parse_period(args.since) if args.since else 0
    except ConfigError as exc:
        print("\n".join(str(p) for p in exc.problems), file=sys.stderr)
        return 2
    except PeriodError as exc:
        print(f"incident-bot: --since: {exc}", file=sys.stderr)
        return 2
    summary = config.summary
    redactor = Redactor(summary.redaction_rules if summary.redaction else (), builtins=summary.redaction)

    async def export() -> int:
        from bot.mattermost.rest import MattermostRest
        from bot.users import UserDirectory

        db = await Database.open(config.storage.path)
        try:
            if args.incident:
                incident = await incident_store.get_incident(db, int(args.incident.upper().removeprefix("INC-")))
                if incident is None:
                    print(f"incident-bot: there is no {args.incident}", file=sys.stderr)
                    return 1
                async with MattermostRest(config.mattermost.url, config.mattermost.token) as rest:
                    exporter = IncidentExporter(db, rest, UserDirectory(rest.get_user), redactor)
                    with open(args.out or f"{incident.key}.{args.format}", "w", newline="" if args.format == "csv"
                              else None) as out:
                        await exporter.write(incident, args.format, out)
                return 0
            since = SystemClock().now_ms() - period * 1000
            with open(args.out or "incidents.jsonl", "w") as out:
                for incident in await incident_store.list_incidents(db):
                    if incident.created_at >= since:   # one incident in memory at a time
                        write_many_json_lines(out, [(incident, await timeline_entries(db, incident.id))], redactor)
            return 0
        finally:
            await db.close()

    if not args.incident and not args.since:
        print("incident-bot: name an incident (INC-42) or a period (--since 30d)", file=sys.stderr)
        return 2
    return asyncio.run(export())


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
    report = commands.add_parser("report", help="MTTA/MTTR over a period, from the bot's database")
    report.add_argument("--config", default="config.yaml")
    report.add_argument("--period", default="30d", help="7d, 30d, 90d... (default 30d)")
    report.add_argument("--by", default="severity", choices=("severity", "service", "playbook", "period"))
    report.add_argument("--png", help="write the chart here")
    report.add_argument("--csv", help="write the numbers here")
    report.set_defaults(func=command_report)
    export = commands.add_parser("export", help="an incident with its channel history, or all incidents of a period")
    export.add_argument("incident", nargs="?", help="INC-42; leave out with --since for many incidents (JSON Lines)")
    export.add_argument("--config", default="config.yaml")
    export.add_argument("--format", default="md", choices=("md", "json", "csv"))
    export.add_argument("--since", help="with no incident: every incident of this period, like 30d")
    export.add_argument("--out", help="the file to write")
    export.set_defaults(func=command_export)
    sandbox = commands.add_parser("sandbox", help="run only the Mattermost-compatible sandbox server")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8065)
    sandbox.add_argument("--rate-limit", action="store_true", help="limit requests like Mattermost (10/s, burst 100)")
    sandbox.set_defaults(func=command_sandbox)
    _add_playbook_tools(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)
