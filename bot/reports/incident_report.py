"""A report over the incidents in the store: the table, the chart and the CSV, for chat and the command line."""
from __future__ import annotations

from dataclasses import dataclass

from bot.reports.chart import bar_line_chart
from bot.reports.metrics import Report, build_report, chart_series, report_csv, report_table
from bot.store import incidents as incident_store
from bot.store.db import Database
from bot.store.timeline import entries as timeline_entries

GROUPINGS = ("severity", "service", "playbook", "period")


@dataclass(frozen=True)
class RenderedReport:
    report: Report
    table: str
    png: bytes
    csv: str


async def incident_report(db: Database, *, period_s: int, now_ms: int, by: str = "severity",
                          service_label: str = "service") -> RenderedReport:
    """Build the report of the last `period_s` seconds and render it three ways."""
    incidents = await incident_store.list_incidents(db)
    since = now_ms - period_s * 1000
    wanted = [incident for incident in incidents if incident.created_at >= since]
    entries = [entry for incident in wanted for entry in await timeline_entries(db, incident.id)]
    report = build_report(wanted, entries, since_ms=since, until_ms=now_ms + 1, service_label=service_label,
                          bucket="week" if period_s > 14 * 86400 else "day")
    labels, counts, mttr = chart_series(report)
    png = bar_line_chart(labels, counts, mttr, width=800, height=400,
                         title=f"Incidents and MTTR, last {period_s // 86400} days")
    return RenderedReport(report, report_table(report, by=by), png, report_csv(report))
