"""Export time and peak memory for a long incident channel: python3 bench/export.py [--messages 100000]

The messages are put into an in-process sandbox, then exported the way `@incident-bot export` does it:
paged through the REST API, redacted, streamed to a file.
"""
from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.clock import SystemClock  # noqa: E402
from bot.incidents.model import Incident, Severity, Status  # noqa: E402
from bot.mattermost.rest import MattermostRest  # noqa: E402
from bot.reports.channel_export import IncidentExporter  # noqa: E402
from bot.reports.redaction import Redactor  # noqa: E402
from bot.sandbox import Sandbox  # noqa: E402
from bot.store.db import Database  # noqa: E402
from bot.users import UserDirectory  # noqa: E402


async def main(count: int, fmt: str) -> None:
    sandbox = Sandbox()
    await sandbox.start(port=0)
    team = sandbox.create_team("bench", "Bench")
    user = sandbox.create_user("alice")
    bot, token = sandbox.create_bot("incident-bot")
    channel = sandbox.create_channel(team["id"], "inc-1-bench", "INC-1: bench", creator_id=bot["id"])
    sandbox.add_channel_member(channel["id"], user["id"])
    header = sandbox.post(bot["id"], channel["id"], "summary")
    started = time.perf_counter()
    for number in range(count):
        secret = " mail ops@example.com" if number % 100 == 0 else ""
        sandbox.post(user["id"], channel["id"], f"observation {number}: queue depth falling, workers healthy{secret}")
    print(f"seeded {count:,} posts in {time.perf_counter() - started:.1f}s")
    now = SystemClock().now_ms()
    incident = Incident(id=1, title="bench", severity=Severity.SEV2, status=Status.RESOLVED, reporter_id=user["id"],
                        commander_id=user["id"], created_at=now, updated_at=now, channel_id=channel["id"],
                        header_post_id=header["id"])
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(Path(folder) / "bench.sqlite")
        async with MattermostRest(sandbox.url, token, write_rate=None) as rest:
            exporter = IncidentExporter(db, rest, UserDirectory(rest.get_user), Redactor())
            tracemalloc.start()
            started = time.perf_counter()
            with open(Path(folder) / f"export.{fmt}", "w", newline="" if fmt == "csv" else None) as out:
                report = await exporter.write(incident, fmt, out)
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            size = (Path(folder) / f"export.{fmt}").stat().st_size
        await db.close()
    await sandbox.stop()
    print(f"exported {count:,} messages as {fmt} in {elapsed:.1f}s ({count / elapsed:,.0f} messages/s), "
          f"{size / 1e6:.1f} MB written, {report.total} redactions")
    print(f"peak traced memory during the export: {peak / 1e6:.1f} MB; "
          f"process peak RSS (sandbox included): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--messages", type=int, default=100_000)
    options.add_argument("--format", default="json", choices=("md", "json", "csv"))
    args = options.parse_args()
    asyncio.run(main(args.messages, args.format))
