"""Shared sample data for the export tests: an incident, a timeline and messages seeded with secrets."""
from __future__ import annotations

import pytest

from bot.incidents.model import Incident, Severity, Status
from bot.reports.export import ExportMessage
from bot.reports.redaction import Redactor
from bot.store.timeline import TimelineEntry

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z

PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
       "-----END RSA PRIVATE KEY-----")

# Every one of these must be gone from every export.
SECRETS = ("alice.ops@example.com", "10.20.30.40", "2001:db8::42", "hunter2", "AKIAIOSFODNN7EXAMPLE",
           "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
           "eyJhbGciOiJIUzI1NiJ9.pay1oad.sig", "TICKET-SECRET-991")


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([{"name": "ticket_secret", "pattern": r"TICKET-SECRET-\d+"}])


@pytest.fixture
def incident() -> Incident:
    return Incident(
        id=42, title="DB down | reported by alice.ops@example.com", severity=Severity.SEV1, status=Status.RESOLVED,
        reporter_id="u-bob", commander_id="u-alice", created_at=START, updated_at=START + 900_000,
        acknowledged_at=START + 60_000, resolved_at=START + 900_000, channel_id="c1", channel_name="inc-42-db",
        summary="Primary 10.20.30.40 ran out of disk.\n# not a heading", playbook="database",
        alert='{"labels": {"instance": "10.20.30.40:9100"}, "annotations": {"dsn": "postgres://app:hunter2@db"}}',
        roles='{"scribe": "u-carol"}')


@pytest.fixture
def timeline() -> list[TimelineEntry]:
    return [
        TimelineEntry(1, 42, START, "opened", "u-bob", "Opened from alert on 2001:db8::42", {"source": "alertmanager"}),
        TimelineEntry(2, 42, START + 60_000, "acknowledged", "u-alice", "", {}),
        TimelineEntry(3, 42, START + 120_000, "note", "u-alice", "key AKIAIOSFODNN7EXAMPLE leaked",
                      {"env": {"key": "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                       "tags": ["TICKET-SECRET-991", 3]}),
        TimelineEntry(4, 42, START + 900_000, "resolved", "u-alice", "Fixed", {"by": "u-alice"}),
    ]


def sample_messages() -> list[ExportMessage]:
    """Messages covering threads, pins, edits, reactions, files and every kind of secret."""
    return [
        ExportMessage("p1", START + 1_000, 0, "bob", "Disk full on 10.20.30.40, ping alice.ops@example.com",
                      "", True, (("+1", "alice"), ("eyes", "carol")), ("df.txt",)),
        ExportMessage("p2", START + 2_000, START + 3_000, "alice", f"Here is the key, oops:\n{PEM}\nignore",
                      "p1", False, (), ()),
        ExportMessage("p3", START + 4_000, 0, "carol",
                      "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.pay1oad.sig' https://api", "p1"),
        ExportMessage("p4", START + 5_000, 0, "dave", "ticket TICKET-SECRET-991, dsn postgres://app:hunter2@db:5432",
                      "", False, (), ("dump-alice.ops@example.com.sql",)),
        ExportMessage("p5", START + 6_000, 0, "erin", "=SUM(A1) | pipes, \"quotes\", commas\nand a second line"),
    ]


@pytest.fixture
def messages() -> list[ExportMessage]:
    return sample_messages()


@pytest.fixture
def usernames() -> dict[str, str]:
    return {"u-alice": "alice", "u-bob": "bob", "u-carol": "carol"}


@pytest.fixture
def leaks():
    """A function listing the seeded secrets still present in some output (should be none)."""
    return lambda text: [secret for secret in SECRETS if secret in text]


@pytest.fixture
def seeded_secrets() -> tuple[str, ...]:
    return SECRETS
