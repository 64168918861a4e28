"""A batch of alert writes on a real SQLite file: counts, timeline entries, explanations and timers, together."""
from __future__ import annotations

from dataclasses import replace

import pytest

from bot.alerts.model import Alert, AlertSeverity, AlertSource, AlertStatus
from bot.alerts.writes import AlertWrites
from bot.incidents.model import Incident, Severity, Status
from bot.store import alerts as alert_store
from bot.store import incidents as incident_store
from bot.store.alerts import AlertNote, PostExplanation
from bot.store.db import Database
from bot.store.timeline import entries

T0 = 1_767_225_600_000


def alert(fingerprint: str, status: AlertStatus = AlertStatus.FIRING, summary: str = "") -> Alert:
    return Alert(source=AlertSource.ALERTMANAGER, fingerprint=fingerprint, status=status, name=f"Disk {fingerprint}",
                 severity=AlertSeverity.CRITICAL, summary=summary, post_id=f"post-{fingerprint}")


@pytest.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "bot.sqlite")
    yield database
    await database.close()


async def new_incident(db: Database, title: str) -> int:
    async with db.transaction() as conn:
        incident = await incident_store.insert_incident(conn, Incident(
            id=0, title=title, severity=Severity.SEV2, status=Status.OPEN, reporter_id="bot", commander_id="bot",
            created_at=T0, updated_at=T0))
    return incident.id


async def test_each_note_is_counted_once_and_its_timeline_entry_has_the_count_it_reached(db):
    one, two = await new_incident(db, "one"), await new_incident(db, "two")
    first = AlertWrites(notes=[AlertNote(one, "alert_received", alert("a", summary="disk 91%"))])
    await first.save(db, T0)
    batch = AlertWrites(notes=[
        AlertNote(one, "alert_repeated", alert("a")),
        AlertNote(two, "alert_received", alert("a")),        # the same alert on another incident counts apart
        AlertNote(one, "alert_repeated", alert("a", summary="disk 95%")),
        AlertNote(one, "alert_joined", alert("b")),
        AlertNote(one, "alert_resolved", alert("a", AlertStatus.RESOLVED)),
    ])
    await batch.save(db, T0 + 1000)

    rows = {(a.fingerprint, a.status, a.count, a.summary, a.first_seen, a.last_seen)
            for a in await alert_store.incident_alerts(db, one)}
    assert rows == {("a", "resolved", 4, "disk 95%", T0, T0 + 1000), ("b", "firing", 1, "", T0 + 1000, T0 + 1000)}
    assert [(a.fingerprint, a.count) for a in await alert_store.incident_alerts(db, two)] == [("a", 1)]
    timeline = [(e.kind, e.text, e.data["count"]) for e in await entries(db, one) if e.kind.startswith("alert_")]
    assert timeline == [("alert_received", "Disk a (firing)", 1), ("alert_repeated", "Disk a (firing)", 2),
                        ("alert_repeated", "Disk a (firing)", 3), ("alert_joined", "Disk b (firing)", 1),
                        ("alert_resolved", "Disk a (resolved)", 4)]
    entry = next(e for e in await entries(db, one) if e.kind == "alert_joined")
    assert entry.data == {"fingerprint": "b", "count": 1, "post_id": "post-b", "source": "alertmanager"}


async def test_explanations_mark_versions_handled_and_are_looked_up_together(db):
    outcome = [{"alert": {"name": "DiskFull"}, "decisions": [{"kind": "repeat", "incident": 1}]}]
    await AlertWrites(explanations=[PostExplanation.of("p1", 0, "alertmanager", "", outcome),
                                    PostExplanation.of("p1", 5000, "alertmanager", "", []),
                                    PostExplanation.of("p2", 0, "", "no parser recognised the post", [])]).save(db, T0)
    wanted = [("p1", 0), ("p1", 7000), ("p2", 0), ("p3", 0)] + [(f"x{n}", 0) for n in range(1000)]
    assert await alert_store.explained_versions(db, wanted) == {("p1", 0), ("p2", 0)}
    assert await alert_store.is_explained(db, "p1", 5000)
    (first, second) = await alert_store.explanations(db, "p1")
    assert first["outcome"] == outcome and second["edit_at"] == 5000


async def test_a_later_timer_for_the_same_alert_replaces_the_earlier_one(db):
    writes = AlertWrites()
    writes.timers["a"] = (alert("a"), T0 + 60_000)
    later = AlertWrites()
    later.timers["a"] = (replace(alert("a"), summary="still"), T0 + 90_000)
    later.timers["b"] = (alert("b"), T0 + 30_000)
    writes.add(later)
    await writes.save(db, T0)
    assert [(due, a.fingerprint, a.summary) for due, a in await alert_store.timers(db)] == [
        (T0 + 30_000, "b", ""), (T0 + 90_000, "a", "still")]


async def test_a_failed_batch_leaves_nothing_behind(db):
    one = await new_incident(db, "one")
    broken = AlertWrites(notes=[AlertNote(one, "alert_received", alert("a")),
                                AlertNote(999, "alert_received", alert("b"))],
                         explanations=[PostExplanation.of("p1", 0, "alertmanager", "", [])])
    with pytest.raises(Exception):
        await broken.save(db, T0)   # incident 999 does not exist
    assert await alert_store.incident_alerts(db, one) == []
    assert not await alert_store.is_explained(db, "p1", 0)
    assert await alert_store.explanations(db, "p1") == []
