"""The alert queue: each post version is queued once while in flight, and holds its channel's catch-up cursor."""
from __future__ import annotations

import asyncio

import pytest

from bot.alerts.intake import AlertQueue, Work
from bot.alerts.model import Alert, AlertSeverity, AlertSource, AlertStatus
from bot.mattermost.events import Post


def post(post_id: str, create_at: int, *, channel: str = "alerts", edit_at: int = 0) -> Post:
    return Post(id=post_id, channel_id=channel, user_id="monitoring", message="[FIRING:1] DiskFull",
                create_at=create_at, update_at=edit_at or create_at, edit_at=edit_at)


async def test_a_post_version_in_flight_is_not_queued_twice_until_it_is_finished():
    queue = AlertQueue()
    first = post("p1", 1000)
    assert queue.offer_post(first)
    assert not queue.offer_post(first)                      # a catch-up re-read while it waits
    assert queue.offer_post(post("p1", 1000, edit_at=2000))   # an edit is a new version
    batch = await queue.take(10)
    assert [w.version for w in batch] == [("p1", 0), ("p1", 2000)]
    assert not queue.offer_post(first), "still in flight until its batch is finished"
    queue.finish(batch[0])
    assert queue.offer_post(first), "once saved, the store's record decides (the queue forgets it)"


async def test_the_cursor_stays_before_the_oldest_post_in_flight_in_its_channel():
    queue = AlertQueue()
    assert queue.cursor_limit("alerts") is None
    queue.offer_post(post("a", 1000))
    queue.offer_post(post("b", 1005))
    queue.offer_post(post("old", 500, edit_at=1010))   # an edit is re-read from its edit time
    queue.offer_post(post("c", 2000, channel="other"))
    assert queue.cursor_limit("alerts") == 999
    assert queue.cursor_limit("other") == 1999
    a, b, edit, c = await queue.take(10)
    queue.finish(a)
    assert queue.cursor_limit("alerts") == 1004
    queue.finish(b)
    assert queue.cursor_limit("alerts") == 1009
    queue.finish(edit)
    queue.finish(c)
    assert queue.cursor_limit("alerts") is None and queue.cursor_limit("other") is None


async def test_take_waits_for_work_and_takes_at_most_the_limit_in_arrival_order():
    queue = AlertQueue()
    waiting = asyncio.create_task(queue.take(2))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    for n in range(3):
        queue.offer_post(post(f"p{n}", 1000 + n))
    assert [w.post.id for w in await waiting] == ["p0", "p1"]
    assert [w.post.id for w in await queue.take(2)] == ["p2"]


async def test_finishing_tells_whoever_waits_for_the_work():
    queue = AlertQueue()
    loop = asyncio.get_running_loop()
    alert = Alert(source=AlertSource.GENERIC, fingerprint="f", status=AlertStatus.FIRING, name="DiskFull",
                  severity=AlertSeverity.CRITICAL)
    saved, failed = Work(alerts=(alert,), done=loop.create_future()), Work(alerts=(alert,), done=loop.create_future())
    queue.put(saved)
    queue.put(failed)
    await queue.take(5)
    queue.finish(saved)
    queue.finish(failed, RuntimeError("the database is gone"))
    assert await saved.done is None
    with pytest.raises(RuntimeError, match="database is gone"):
        await failed.done
