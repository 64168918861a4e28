"""Each export writer's output parsed back, with the seeded secrets gone and everything else intact."""
from __future__ import annotations

import csv
import io
import json

from bot.reports.export import CSV_COLUMNS, iso_utc, write_csv, write_json, write_many_json_lines, write_markdown
from bot.reports.redaction import Redactor


def test_iso_utc_formats_milliseconds_in_utc():
    assert iso_utc(1_767_225_600_123) == "2026-01-01T00:00:00.123Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(None) is None


def test_json_export_parses_back_redacted(incident, timeline, messages, redactor, usernames, leaks):
    out = io.StringIO()
    report = write_json(out, incident, iter(timeline), (m for m in messages), redactor, usernames=usernames)
    text = out.getvalue()
    assert leaks(text) == []
    doc = json.loads(text)
    assert list(doc) == ["format", "incident", "timeline", "messages", "redactions"]
    inc = doc["incident"]
    assert inc["key"] == "INC-42" and inc["severity"] == "sev1" and inc["status"] == "resolved"
    assert inc["title"] == "DB down | reported by [redacted:email]"
    assert inc["commander"] == "alice" and inc["reporter"] == "bob"
    assert inc["created_at"] == "2026-01-01T00:00:00.000Z" and inc["resolved_at"] == "2026-01-01T00:15:00.000Z"
    assert inc["alert"]["labels"]["instance"] == "[redacted:ipv4]:9100"
    assert inc["alert"]["annotations"]["dsn"] == "postgres://app:[redacted:url_password]@db"
    assert inc["roles"] == {"scribe": "u-carol"}
    assert [e["kind"] for e in doc["timeline"]] == ["opened", "acknowledged", "note", "resolved"]
    assert doc["timeline"][2]["data"]["tags"] == ["[redacted:ticket_secret]", 3]
    assert doc["timeline"][2]["actor"] == "alice"
    assert [m["id"] for m in doc["messages"]] == ["p1", "p2", "p3", "p4", "p5"]
    first, second = doc["messages"][0], doc["messages"][1]
    assert first["is_pinned"] is True and first["edited_at"] is None and first["files"] == ["df.txt"]
    assert first["reactions"] == [{"emoji": "+1", "user": "alice"}, {"emoji": "eyes", "user": "carol"}]
    assert second["root_id"] == "p1" and second["edited_at"] == "2026-01-01T00:00:03.000Z"
    assert second["message"] == "Here is the key, oops:\n[redacted:pem_private_key]\nignore"
    assert doc["messages"][3]["files"] == ["[redacted:email]"]  # the whole name looks like an address
    assert doc["redactions"] == report.as_dict()
    assert report.counts == {"email": 3, "ipv4": 3, "ipv6": 1, "url_password": 2, "aws_access_key_id": 1,
                             "aws_secret_access_key": 1, "pem_private_key": 1, "authorization": 1, "ticket_secret": 2}


def test_json_export_with_nothing_to_list_is_still_valid(incident, redactor):
    out = io.StringIO()
    write_json(out, incident, [], [], redactor)
    doc = json.loads(out.getvalue())
    assert doc["timeline"] == [] and doc["messages"] == []
    assert doc["incident"]["commander"] == "u-alice"  # no username known: the id is shown


def test_csv_export_has_one_row_per_event_and_message(incident, timeline, messages, redactor, usernames, leaks):
    out = io.StringIO(newline="")
    report = write_csv(out, incident, timeline, (m for m in messages), redactor, usernames=usernames)
    assert leaks(out.getvalue()) == []
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["kind"] for r in rows] == ["timeline"] * 4 + ["message"] * 5
    assert [r["event"] for r in rows[:4]] == ["opened", "acknowledged", "note", "resolved"]
    opened = rows[0]
    assert opened["time"] == "2026-01-01T00:00:00.000Z" and opened["author"] == "bob"
    assert opened["text"] == "Opened from alert on [redacted:ipv6]"
    assert json.loads(opened["data"]) == {"source": "alertmanager"}
    p1, p2, p3, p4, p5 = rows[4:]
    assert p1["author"] == "bob" and p1["pinned"] == "true" and p1["reactions"] == "+1:alice; eyes:carol"
    assert p1["files"] == "df.txt" and p1["edited"] == "" and p1["root_id"] == ""
    assert p2["root_id"] == "p1" and p2["edited"] == "2026-01-01T00:00:03.000Z" and p2["pinned"] == "false"
    assert "[redacted:pem_private_key]" in p2["text"]
    assert p3["text"] == "curl -H 'Authorization: [redacted:authorization]' https://api"
    assert p4["files"] == "[redacted:email]"
    assert p5["text"] == "=SUM(A1) | pipes, \"quotes\", commas\nand a second line"
    assert report.total == 11  # the incident's own fields (title, summary, alert) are not rows


def test_markdown_export_contains_the_record_and_no_secrets(incident, timeline, messages, redactor, usernames,
                                                             leaks):
    out = io.StringIO()
    report = write_markdown(out, incident, timeline, iter(messages), redactor, usernames=usernames)
    text = out.getvalue()
    assert leaks(text) == []
    assert text.startswith("# INC-42: DB down | reported by [redacted:email]\n")
    assert "| Severity | SEV1 |" in text and "| Status | Resolved |" in text
    assert "| Commander | @alice |" in text and "| Channel | ~inc-42-db |" in text
    assert "## Summary\n\n> Primary [redacted:ipv4] ran out of disk.\n> # not a heading\n" in text
    assert "- 2026-01-01T00:01:00.000Z · **acknowledged** · @alice\n" in text
    assert "- 2026-01-01T00:02:00.000Z · **note** · @alice — key [redacted:aws_access_key_id] leaked\n" in text
    assert "**@bob** · 2026-01-01T00:00:01.000Z · pinned\n" in text
    assert "Reactions: :+1: alice, :eyes: carol" in text and "Files: df.txt" in text
    assert "reply in thread `p1` · edited 2026-01-01T00:00:03.000Z" in text
    assert "> Here is the key, oops:\n> [redacted:pem_private_key]\n> ignore\n" in text
    assert "> and a second line" in text
    assert text.index("## Timeline") < text.index("## Messages") < text.index("## Redactions")
    assert text.endswith("- url_password: 2\n")
    assert "- email: 3\n" in text and report.total == 15


def test_markdown_export_of_an_empty_record(incident, redactor):
    out = io.StringIO()
    report = write_markdown(out, incident, [], [], Redactor(builtins=False))
    text = out.getvalue()
    assert "No timeline entries." in text and "No messages." in text and "Nothing was redacted." in text
    assert report.total == 0


def test_json_lines_period_export_streams_one_incident_per_line(incident, timeline, redactor, usernames, leaks):
    from dataclasses import replace
    second = replace(incident, id=43, title="Cache flapping", alert="", roles="", summary="")
    pairs = ((inc, iter(entries)) for inc, entries in [(incident, timeline), (second, [])])
    out = io.StringIO()
    total = write_many_json_lines(out, pairs, redactor, usernames=usernames)
    assert leaks(out.getvalue()) == []
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, last = (json.loads(line) for line in lines)
    assert first["incident"]["key"] == "INC-42" and len(first["timeline"]) == 4
    assert last["incident"] == {**last["incident"], "key": "INC-43", "alert": None, "roles": None}
    assert last["timeline"] == [] and last["redactions"] == {"total": 0, "by_rule": {}}
    assert total.total == first["redactions"]["total"] > 0
