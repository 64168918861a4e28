"""Related activity, the pure part: which open incidents a post or an alert relates to, and what a digest shows.

An incident's labels are those of the alert that opened it; an incident opened by hand has none, so label
rules never match it. Nothing here does I/O: `bot.incidents.related` reads, records and posts.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from bot.alerts.model import Alert, AlertSource
from bot.alerts.parsers.post_content import searchable_text
from bot.incidents.funnel_config import FunnelRule
from bot.mattermost.events import Post

EXCERPT_CHARS = 120
DIGEST_LINES = 15


@dataclass(frozen=True)
class Candidate:
    """An incident as the funnel sees it: where its channel is, its labels, whether it is still open."""

    id: int
    channel_id: str
    labels: Mapping[str, str]
    open: bool = True


@dataclass(frozen=True)
class RelatedItem:
    """One post or alert related to an incident; `key` is unique per incident, so re-reads add nothing."""

    key: str              # post:<post id> or alert:<fingerprint>:<status>
    rule: str
    at: int               # when it was posted or seen (ms)
    author: str
    excerpt: str
    channel_name: str = ""
    post_id: str = ""
    channel_id: str = ""
    permalink: str = ""


@dataclass(frozen=True)
class Digest:
    """What one digest post shows: the first `DIGEST_LINES` items and how many more there were."""

    items: tuple[RelatedItem, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


def incident_labels(alert_json: str) -> dict[str, str]:
    """The labels of the alert that opened an incident ({} when it was opened by hand, or unreadable)."""
    if not alert_json:
        return {}
    try:
        labels = json.loads(alert_json).get("labels")
    except (ValueError, AttributeError):
        return {}
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items() if isinstance(v, (str, int, float)) and str(v).strip()}


def mentions(text: str, value: str) -> bool:
    """Whether `value` occurs in `text` as a whole word, ignoring case ("checkout" in "Deployed checkout v1")."""
    value = value.strip()
    if not value:
        return False
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE) is not None


def is_bots_own(post: Post, bot_user_id: str) -> bool:
    """The bot's own posts (a webhook the bot account owns posts for others, so those are not)."""
    return post.user_id == bot_user_id and post.props.get("from_webhook") != "true"


def incidents_for_post(rules: Sequence[FunnelRule], post: Post, *, channel_name: str, authors: frozenset[str],
                       incidents: Sequence[Candidate], bot_user_id: str) -> list[tuple[Candidate, FunnelRule]]:
    """The open incidents a post relates to, each with the first rule that relates it.

    `authors` are the usernames the post counts as from: its account's, and a webhook's override name.
    The bot's own posts, system posts and posts in an incident's own channel are never related to it.
    """
    if is_bots_own(post, bot_user_id) or post.type.startswith("system_") or post.delete_at:
        return []
    rules = [r for r in rules if not r.alerts and channel_name in r.channels
             and (not r.senders or authors & set(r.senders))]
    if not rules:
        return []
    text = searchable_text(post)
    found = []
    for incident in incidents:
        if not incident.open or incident.channel_id == post.channel_id:
            continue
        rule = next((r for r in rules if any(mentions(text, incident.labels.get(label, "")) for label in r.labels)),
                    None)
        if rule is not None:
            found.append((incident, rule))
    return found


def incidents_for_alert(rules: Sequence[FunnelRule], alert: Alert, *, incidents: Sequence[Candidate],
                        own: frozenset[int] = frozenset()) -> list[tuple[Candidate, FunnelRule]]:
    """The open incidents an alert relates to: its labels equal theirs on every key of a rule.

    `own` are the incidents the alert opened or joined: it is on their alert list already.
    """
    found = []
    for incident in incidents:
        if not incident.open or incident.id in own:
            continue
        rule = next((r for r in rules if r.alerts and _same_labels(alert.labels, incident.labels, r.labels)), None)
        if rule is not None:
            found.append((incident, rule))
    return found


def _same_labels(ours: Mapping[str, str], theirs: Mapping[str, str], keys: Sequence[str]) -> bool:
    return all(ours.get(key, "").strip() and ours.get(key, "").strip() == theirs.get(key, "").strip()
               for key in keys)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first non-empty line, spaces collapsed, cut to `limit` characters with an ellipsis."""
    line = next((" ".join(part.split()) for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def post_item(rule: FunnelRule, post: Post, *, channel_name: str, author: str, permalink: str) -> RelatedItem:
    return RelatedItem(key=f"post:{post.id}", rule=rule.name, at=post.create_at, author=author,
                       excerpt=excerpt(searchable_text(post)) or "(no text)", channel_name=channel_name,
                       post_id=post.id, channel_id=post.channel_id, permalink=permalink)


def alert_item(rule: FunnelRule, alert: Alert, *, at: int, post: Post | None, channel_name: str,
               permalink: str) -> RelatedItem:
    summary = alert.summary if alert.summary and alert.summary != alert.name else ""
    text = f"{alert.name} ({alert.status.value})" + (f": {summary}" if summary else "")
    return RelatedItem(key=f"alert:{alert.fingerprint}:{alert.status.value}", rule=rule.name, at=at,
                       author="alert" if alert.source is AlertSource.JSON else alert.source.value, excerpt=excerpt(text), channel_name=channel_name,
                       post_id=post.id if post else "", channel_id=post.channel_id if post else "",
                       permalink=permalink or alert.link)


def quiet(text: str) -> str:
    """Text that notifies nobody when the bot posts it again: @mentions get a zero-width space."""
    return re.sub(r"@(?=[\w.-])", "@\u200b", text)


def digest(items: Sequence[RelatedItem], limit: int = DIGEST_LINES) -> Digest:
    """The digest of items, oldest first, at most `limit` lines, their excerpts quieted."""
    ordered = sorted(items, key=lambda item: item.at)
    return Digest(tuple(replace(item, excerpt=quiet(item.excerpt)) for item in ordered[:limit]), len(ordered))


def is_due(first_noted_at: int, now_ms: int, coalesce_s: int) -> bool:
    """An incident's pending items are posted once the first of them has waited a whole window."""
    return now_ms - first_noted_at >= coalesce_s * 1000
