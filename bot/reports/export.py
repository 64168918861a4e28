"""Export one incident's record (incident, timeline, channel messages) as Markdown, JSON or CSV, streaming.

Writers take any iterables and consume them once, item by item: a generator of 100k messages is never
held in memory. Every text field passes through the redactor; each writer returns the redaction totals.
"""
from __future__ import annotations

import csv
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TextIO

from bot.incidents.model import Incident
from bot.reports.redaction import RedactionReport, Redactor
from bot.store.timeline import TimelineEntry

log = logging.getLogger(__name__)

FORMAT = "incident-bot/export-v1"
CSV_COLUMNS = ("kind", "event", "id", "time", "author", "text", "root_id", "pinned", "reactions", "files",
               "edited", "data")


@dataclass(frozen=True)
class ExportMessage:
    """One channel message as an export shows it (the username already looked up)."""

    id: str
    create_at: int
    edit_at: int = 0
    user: str = ""
    message: str = ""
    root_id: str = ""
    is_pinned: bool = False
    reactions: tuple[tuple[str, str], ...] = ()   # (emoji name, username)
    file_names: tuple[str, ...] = ()


def iso_utc(ms: int | None) -> str | None:
    """Milliseconds since the epoch as ISO 8601 UTC (2026-01-01T00:00:00.000Z); None stays None."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z"


class _Scrubber:
    """Redact text for one export and keep its running report (names are cached: they repeat)."""

    def __init__(self, redactor: Redactor, report: RedactionReport, cache_size: int = 4096) -> None:
        self.redactor = redactor
        self.report = report
        self._names: dict[str, tuple[str, Counter[str]]] = {}
        self._cache_size = cache_size

    def text(self, value: str) -> str:
        cleaned, counts = self.redactor.redact(value)
        if counts:
            self.report.add(counts)
        return cleaned

    def name(self, value: str) -> str:
        hit = self._names.get(value)
        if hit is None:
            hit = self.redactor.redact(value)
            if len(self._names) >= self._cache_size:
                self._names.clear()
            self._names[value] = hit
        if hit[1]:
            self.report.add(hit[1])
        return hit[0]

    def value(self, value: Any) -> Any:
        cleaned, counts = self.redactor.redact_value(value)
        if counts:
            self.report.add(counts)
        return cleaned


def _json_text(raw: str) -> Any:
    """A field stored as JSON text, decoded when it is JSON (else the text itself)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _person(user_id: str, usernames: Mapping[str, str]) -> str:
    return usernames.get(user_id, user_id) if user_id else ""


def incident_record(incident: Incident, scrub: _Scrubber, usernames: Mapping[str, str]) -> dict[str, Any]:
    """The incident's exported fields, redacted."""
    return {
        "id": incident.id,
        "key": incident.key,
        "title": scrub.text(incident.title),
        "severity": incident.severity.value,
        "status": incident.status.value,
        "commander": scrub.name(_person(incident.commander_id, usernames)),
        "reporter": scrub.name(_person(incident.reporter_id, usernames)),
        "created_at": iso_utc(incident.created_at),
        "updated_at": iso_utc(incident.updated_at),
        "acknowledged_at": iso_utc(incident.acknowledged_at),
        "resolved_at": iso_utc(incident.resolved_at),
        "channel_id": incident.channel_id,
        "channel_name": scrub.name(incident.channel_name),
        "summary": scrub.text(incident.summary),
        "playbook": scrub.name(incident.playbook),
        "alert": scrub.value(_json_text(incident.alert)),
        "roles": scrub.value(_json_text(incident.roles)),
    }


def timeline_record(entry: TimelineEntry, scrub: _Scrubber, usernames: Mapping[str, str]) -> dict[str, Any]:
    """One timeline entry's exported fields, redacted."""
    return {
        "id": entry.id,
        "at": iso_utc(entry.at),
        "kind": entry.kind,
        "actor": scrub.name(_person(entry.actor_id, usernames)),
        "text": scrub.text(entry.text),
        "data": scrub.value(dict(entry.data)),
    }


def message_record(message: ExportMessage, scrub: _Scrubber) -> dict[str, Any]:
    """One message's exported fields, redacted."""
    return {
        "id": message.id,
        "created_at": iso_utc(message.create_at),
        "edited_at": iso_utc(message.edit_at) if message.edit_at else None,
        "user": scrub.name(message.user),
        "message": scrub.text(message.message),
        "root_id": message.root_id,
        "is_pinned": message.is_pinned,
        "reactions": [{"emoji": scrub.name(emoji), "user": scrub.name(user)} for emoji, user in message.reactions],
        "files": [scrub.text(name) for name in message.file_names],
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ": "))


def _write_array(out: TextIO, items: Iterable[Any], record: Callable[[Any], dict[str, Any]]) -> None:
    """Write a JSON array one element per line, pulling items one at a time."""
    out.write("[")
    separator = "\n"
    for item in items:
        out.write(separator)
        out.write(_dumps(record(item)))
        separator = ",\n"
    out.write("\n]" if separator != "\n" else "]")


def write_json(out: TextIO, incident: Incident, timeline: Iterable[TimelineEntry],
               messages: Iterable[ExportMessage], redactor: Redactor, *,
               usernames: Mapping[str, str] | None = None) -> RedactionReport:
    """Write one JSON document: format, incident, timeline, messages, then the redaction counts."""
    report, names = RedactionReport(), usernames or {}
    scrub = _Scrubber(redactor, report)
    out.write(f'{{"format": {_dumps(FORMAT)},\n"incident": {_dumps(incident_record(incident, scrub, names))},\n')
    out.write('"timeline": ')
    _write_array(out, timeline, lambda entry: timeline_record(entry, scrub, names))
    out.write(',\n"messages": ')
    _write_array(out, messages, lambda message: message_record(message, scrub))
    out.write(f',\n"redactions": {_dumps(report.as_dict())}}}\n')
    return report


def write_many_json_lines(out: TextIO, incidents_with_timelines: Iterable[tuple[Incident, Iterable[TimelineEntry]]],
                          redactor: Redactor, *, usernames: Mapping[str, str] | None = None) -> RedactionReport:
    """Write a period export as JSON Lines: one {incident, timeline, redactions} object per incident."""
    total, names = RedactionReport(), usernames or {}
    for incident, timeline in incidents_with_timelines:
        report = RedactionReport()
        scrub = _Scrubber(redactor, report)
        out.write(f'{{"incident": {_dumps(incident_record(incident, scrub, names))}, "timeline": [')
        separator = ""
        for entry in timeline:
            out.write(separator + _dumps(timeline_record(entry, scrub, names)))
            separator = ", "
        out.write(f'], "redactions": {_dumps(report.as_dict())}}}\n')
        total.add(report.counts)
    return total


def _joined(values: Iterable[str]) -> str:
    return "; ".join(values)


def write_csv(out: TextIO, incident: Incident, timeline: Iterable[TimelineEntry],
              messages: Iterable[ExportMessage], redactor: Redactor, *,
              usernames: Mapping[str, str] | None = None) -> RedactionReport:
    """Write one CSV row per timeline event, then one per message (open `out` with newline="")."""
    report, names = RedactionReport(), usernames or {}
    scrub = _Scrubber(redactor, report)
    rows = csv.writer(out)
    rows.writerow(CSV_COLUMNS)
    for entry in timeline:
        event = timeline_record(entry, scrub, names)
        data = _dumps(event["data"]) if event["data"] else ""
        rows.writerow(("timeline", event["kind"], event["id"], event["at"], event["actor"], event["text"],
                       "", "", "", "", "", data))
    for message in messages:
        post = message_record(message, scrub)
        reactions = _joined(f"{r['emoji']}:{r['user']}" for r in post["reactions"])
        rows.writerow(("message", "", post["id"], post["created_at"], post["user"], post["message"],
                       post["root_id"], "true" if post["is_pinned"] else "false", reactions,
                       _joined(post["files"]), post["edited_at"] or "", ""))
    return report


def _inline(text: str) -> str:
    """Text on one Markdown line (for list items)."""
    return " ".join(text.split())


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return _inline(text).replace("|", "\\|")


def _quoted(text: str) -> str:
    """Text as a Markdown block quote, so headings or fences inside it cannot break the page."""
    return "\n".join(f"> {line}".rstrip() for line in (text or " ").splitlines() or [""]) + "\n"


def _markdown_header(out: TextIO, record: dict[str, Any]) -> None:
    out.write(f"# {record['key']}: {_inline(record['title'])}\n\n| Field | Value |\n| --- | --- |\n")
    fields = (("Severity", record["severity"].upper()), ("Status", record["status"].capitalize()),
              ("Commander", record["commander"] and f"@{record['commander']}"),
              ("Reporter", record["reporter"] and f"@{record['reporter']}"),
              ("Created", record["created_at"]), ("Acknowledged", record["acknowledged_at"]),
              ("Resolved", record["resolved_at"]), ("Channel", record["channel_name"] and f"~{record['channel_name']}"),
              ("Playbook", record["playbook"]))
    for label, value in fields:
        out.write(f"| {label} | {_cell(value or '—')} |\n")
    if record["summary"]:
        out.write(f"\n## Summary\n\n{_quoted(record['summary'])}")


def _markdown_message(out: TextIO, post: dict[str, Any]) -> None:
    facts = [f"**@{_inline(post['user']) or 'unknown'}**", post["created_at"] or ""]
    if post["root_id"]:
        facts.append(f"reply in thread `{post['root_id']}`")
    if post["is_pinned"]:
        facts.append("pinned")
    if post["edited_at"]:
        facts.append(f"edited {post['edited_at']}")
    out.write(f"\n{' · '.join(facts)}\n\n{_quoted(post['message'])}")
    if post["reactions"]:
        out.write("\nReactions: " + ", ".join(f":{r['emoji']}: {r['user']}" for r in post["reactions"]) + "\n")
    if post["files"]:
        out.write("\nFiles: " + ", ".join(_inline(name) for name in post["files"]) + "\n")


def write_markdown(out: TextIO, incident: Incident, timeline: Iterable[TimelineEntry],
                   messages: Iterable[ExportMessage], redactor: Redactor, *,
                   usernames: Mapping[str, str] | None = None) -> RedactionReport:
    """Write a readable Markdown record: header table, summary, timeline, messages, redaction counts."""
    report, names = RedactionReport(), usernames or {}
    scrub = _Scrubber(redactor, report)
    _markdown_header(out, incident_record(incident, scrub, names))
    out.write("\n## Timeline\n\n")
    empty = True
    for entry in timeline:
        event, empty = timeline_record(entry, scrub, names), False
        actor = f" · @{event['actor']}" if event["actor"] else ""
        text = f" — {_inline(event['text'])}" if event["text"] else ""
        out.write(f"- {event['at']} · **{event['kind']}**{actor}{text}\n")
    out.write("No timeline entries.\n" if empty else "")
    out.write("\n## Messages\n")
    empty = True
    for message in messages:
        _markdown_message(out, message_record(message, scrub))
        empty = False
    out.write("\nNo messages.\n" if empty else "")
    out.write("\n## Redactions\n\n")
    counts = report.as_dict()["by_rule"]
    out.write("".join(f"- {rule}: {count}\n" for rule, count in counts.items()) or "Nothing was redacted.\n")
    return report
