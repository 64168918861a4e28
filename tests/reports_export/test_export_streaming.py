"""Writers stream: 100,000 messages from a generator go to disk without being held in memory."""
from __future__ import annotations

import csv
import json
import tracemalloc
from pathlib import Path
from typing import Iterator

import pytest

from bot.incidents.model import Incident, Severity, Status
from bot.reports.export import ExportMessage, write_csv, write_json, write_markdown
from bot.reports.redaction import Redactor

COUNT = 20_000   # bench/export.py measures 100,000
PEAK_LIMIT = 4 * 1024 * 1024
START = 1_767_225_600_000


def many_messages(count: int) -> Iterator[ExportMessage]:
    """A long channel: ~250 characters a message, an e-mail address in every hundredth."""
    filler = "Restarted the worker pool and watched queue depth fall; nothing else to report yet, will check again. "
    for i in range(count):
        secret = f" ping oncall{i}@example.com" if i % 100 == 0 else ""
        yield ExportMessage(f"post{i:08d}", START + i * 1000, 0, f"user{i % 50}", f"{i}: {filler * 2}{secret}",
                            "" if i % 3 else f"post{i - 1:08d}", i % 500 == 0,
                            (("+1", f"user{i % 7}"),) if i % 4 == 0 else (), ("log.txt",) if i % 9 == 0 else ())


def peak_while_writing(writer, path: Path, newline: str | None = None) -> tuple[int, dict]:
    incident = Incident(7, "Queue backlog", Severity.SEV2, Status.OPEN, "u1", "u1", START, START)
    with path.open("w", encoding="utf-8", newline=newline) as out:
        tracemalloc.start()
        try:
            report = writer(out, incident, [], many_messages(COUNT), Redactor())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return peak, report.as_dict()


@pytest.mark.parametrize("writer", [write_json, write_csv, write_markdown], ids=["json", "csv", "markdown"])
def test_a_long_channel_streams_in_bounded_memory(writer, tmp_path):
    path = tmp_path / f"export.{writer.__name__}"
    peak, redactions = peak_while_writing(writer, path, newline="" if writer is write_csv else None)
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.1f} MB"
    assert path.stat().st_size > PEAK_LIMIT  # the output alone would not have fitted under the limit
    assert redactions == {"total": COUNT // 100, "by_rule": {"email": COUNT // 100}}
    with path.open(encoding="utf-8", newline="") as written:
        if writer is write_json:
            doc = json.load(written)
            assert len(doc["messages"]) == COUNT and doc["messages"][-1]["id"] == f"post{COUNT - 1:08d}"
        elif writer is write_csv:
            assert sum(1 for row in csv.reader(written) if row[0] == "message") == COUNT
        else:
            assert sum(1 for line in written if line.startswith("**@user")) == COUNT
    assert "@example.com" not in path.read_text(encoding="utf-8")
