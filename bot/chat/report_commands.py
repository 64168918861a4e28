"""`report`: MTTA/MTTR over a period, as a table and a chart."""
from __future__ import annotations

import re

from bot.chat.commands import CommandSpec
from bot.chat.context import CommandContext, Reply
from bot.chat.parsing import BadArguments
from bot.clock import Clock, format_duration
from bot.reports.incident_report import GROUPINGS, incident_report
from bot.reports.metrics import PeriodError, parse_period
from bot.store.db import Database


class ReportCommands:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock
        self.specs = [CommandSpec("report", "report [7d|30d|90d] [--by severity|service|playbook|period]",
                                  "MTTA and MTTR over a period, with a chart.", self.report)]

    async def report(self, ctx: CommandContext, args: str) -> list[Reply]:
        by_match = re.search(r"--by\s+(\S+)", args)
        by = by_match.group(1) if by_match else "severity"
        if by not in GROUPINGS:
            raise BadArguments(f"`--by` is one of {', '.join(GROUPINGS)}.")
        period_text = re.sub(r"--by\s+\S+", "", args).strip() or "30d"
        try:
            period = parse_period(period_text)
        except PeriodError as problem:
            raise BadArguments(str(problem)) from None
        rendered = await incident_report(self.db, period_s=period, now_ms=self.clock.now_ms(), by=by)
        slowest = "".join(f"\n- INC-{m.incident_id} {m.title} ({m.severity}): resolved after "
                          f"{format_duration(int(m.ttr_s * 1000))}" for m in rendered.report.slowest[:3])
        return [Reply(f"#### Incidents in the last {period_text}\n{rendered.table}"
                      + (f"\n\nSlowest to resolve:{slowest}" if slowest else ""),
                      files=(("incident-report.png", rendered.png), ("incident-report.csv",
                                                                     rendered.csv.encode())))]
