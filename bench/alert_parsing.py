"""How fast alert posts are recognised and parsed, on one core: python3 bench/alert_parsing.py"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.alerts.parsers import default_parsers, recognise  # noqa: E402
from bot.mattermost.events import Post  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "alerts"


def main(total: int = 30_000) -> None:
    alert_posts = [Post.from_json(json.loads(p.read_text())) for p in sorted(FIXTURES.glob("*.json"))
                   if "_webhook_" not in p.name]
    chat_posts = [Post.from_json({"id": f"p{i}", "channel_id": "c", "user_id": "u",
                                  "message": f"chat message {i} about lunch and deploys"}) for i in range(100)]
    huge = [Post.from_json({"id": "h", "channel_id": "c", "user_id": "u", "message": "x" * 16_000})]
    parsers = default_parsers()
    for label, posts in (("alert posts", alert_posts), ("chat posts", chat_posts), ("16k-char posts", huge)):
        count = 0
        started = time.perf_counter()
        while count < total:
            for post in posts:
                recognise(post, parsers)
            count += len(posts)
        elapsed = time.perf_counter() - started
        print(f"{label:>15}: {count / elapsed:10,.0f} posts/s ({count} in {elapsed:.2f}s)")


if __name__ == "__main__":
    main()
