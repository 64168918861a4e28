"""PostList queries: pages, before/after cursors, since, threads and pinned posts."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .models import empty_post_list

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

SINCE_LIMIT = 1000


class PostLists:
    """Build the PostList answers of GET /channels/{id}/posts and friends."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def channel_posts(self, channel_id: str, *, page: int = 0, per_page: int = 60, since: int = 0,
                      before: str = "", after: str = "", include_deleted: bool = False,
                      skip_fetch_threads: bool = False) -> dict:
        """Answer GET /channels/{id}/posts with the server's precedence: since, after, before, page."""
        if since > 0:
            posts = [self.state.posts[i] for i in self.state.channel_posts.get(channel_id, [])]
            chosen = [p for p in posts if p["update_at"] > since][::-1][:SINCE_LIMIT]
            return self._post_list(chosen, skip_fetch_threads)
        live = self._visible(channel_id, include_deleted)
        newest_first = live[::-1]
        if after:
            anchor = self.state.posts.get(after)
            newer = [p for p in live if anchor and p["create_at"] > anchor["create_at"]]
            chosen = newer[page * per_page:(page + 1) * per_page][::-1]
            result = self._post_list(chosen, skip_fetch_threads)
            prev_id = after if page == 0 else self._older_than(live, chosen)
            next_id = "" if len(chosen) < per_page else self._newer_than(live, chosen)
        elif before:
            anchor = self.state.posts.get(before)
            older = [p for p in newest_first if anchor and p["create_at"] < anchor["create_at"]]
            chosen = older[page * per_page:(page + 1) * per_page]
            result = self._post_list(chosen, skip_fetch_threads)
            next_id = before if page == 0 else self._newer_than(live, chosen)
            prev_id = "" if len(chosen) < per_page else self._older_than(live, chosen)
        else:
            chosen = newest_first[page * per_page:(page + 1) * per_page]
            result = self._post_list(chosen, skip_fetch_threads)
            next_id, prev_id = self._newer_than(live, chosen), self._older_than(live, chosen)
        result["next_post_id"], result["prev_post_id"] = next_id, prev_id
        return result

    def thread(self, post_id: str) -> dict:
        """Answer GET /posts/{id}/thread: the whole thread of a root or a reply, newest first."""
        post = self.state.posts[post_id]
        posts = self.state.thread_posts(post["root_id"] or post["id"])
        return self._post_list(posts[::-1], skip_fetch_threads=True)

    def pinned(self, channel_id: str) -> dict:
        """Answer GET /channels/{id}/pinned: pinned live posts, newest first."""
        posts = [p for p in self.state.live_posts(channel_id) if p["is_pinned"]]
        return self._post_list(posts[::-1], skip_fetch_threads=True)

    def _visible(self, channel_id: str, include_deleted: bool) -> list[dict]:
        if include_deleted:
            return [self.state.posts[i] for i in self.state.channel_posts.get(channel_id, [])]
        return self.state.live_posts(channel_id)

    def _post_list(self, posts: list[dict], skip_fetch_threads: bool) -> dict:
        result = empty_post_list()
        for post in posts:
            result["order"].append(post["id"])
            result["posts"][post["id"]] = self.core.posting.for_client(post)
        if not skip_fetch_threads:
            for root_id in {p["root_id"] for p in posts if p["root_id"]}:
                for related in self.state.thread_posts(root_id):
                    if related["id"] not in result["posts"]:
                        result["posts"][related["id"]] = self.core.posting.for_client(related)
        return result

    @staticmethod
    def _newer_than(live: list[dict], chosen: list[dict]) -> str:
        """Return the id of the first post after the newest chosen one (GetPostIdAfterTime)."""
        if not chosen:
            return ""
        edge = max(p["create_at"] for p in chosen)
        return next((p["id"] for p in live if p["create_at"] > edge), "")

    @staticmethod
    def _older_than(live: list[dict], chosen: list[dict]) -> str:
        """Return the id of the last post before the oldest chosen one (GetPostIdBeforeTime)."""
        if not chosen:
            return ""
        edge = min(p["create_at"] for p in chosen)
        return next((p["id"] for p in reversed(live) if p["create_at"] < edge), "")
