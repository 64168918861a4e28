"""Posts: create (with de-duplication and mentions), edit, pin, delete and react, with their events."""
from __future__ import annotations

import collections
import copy
import logging
from typing import TYPE_CHECKING, Any

from .attachments import comparable, generate_action_ids, strip_integrations
from .errors import AppError, invalid_body_param, permission_denied
from .events import Event, compact
from .ids import is_valid_id, now_ms
from .models import post_json, reaction_json
from .validation import check_message, mentioned_usernames, parse_hashtags

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

PENDING_POST_TTL_MS = 30_000
RESERVED_PROPS = ("from_webhook", "override_username", "webhook_display_name", "override_icon_url",
                  "override_icon_emoji", "from_bot", "mm_blocks_actions")
CLIENT_POST_TYPES = ("", "slack_attachment", "reminder")
CHANNEL_WIDE_MENTIONS = ("channel", "all", "here")


def post_not_found() -> AppError:
    """Return the 404 for a missing or deleted post."""
    return AppError(404, "app.post.get.app_error", "Unable to get the post.")


def mention_text(post: dict) -> str:
    """Return the text mentions are read from: the message plus attachment pretext, text and field values."""
    parts = [post["message"]]
    attachments = post["props"].get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if isinstance(attachment, dict):
            parts += [str(attachment.get("pretext") or ""), str(attachment.get("text") or "")]
            parts += [str(f.get("value") or "") for f in attachment.get("fields") or [] if isinstance(f, dict)]
    return "\n".join(parts)


class Posting:
    """Create and change posts the way the server's app layer does, publishing the websocket events."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state
        self.ephemerals: collections.deque[dict] = collections.deque(maxlen=1000)   # sent, newest last (for tests)

    # ---------------------------------------------------------------- create
    def create_post(self, user: dict, channel_id: str, message: str, *, root_id: str = "",
                    props: dict | None = None, file_ids: list | None = None, pending_post_id: str = "",
                    post_type: str = "", set_online: bool = True) -> dict:
        """Create a post as the user (POST /posts): permission, validation, de-duplication, events."""
        channel = self.state.channels.get(channel_id)
        if channel is None or not (self.state.is_admin(user) or self.state.is_member(channel_id, user["id"])):
            raise permission_denied()
        if channel["delete_at"]:
            raise AppError(400, "api.post.create_post.can_not_post_to_deleted.error",
                           "Can not post to deleted channel.")
        if post_type.startswith("system_"):
            raise invalid_body_param("post.type")
        if post_type not in CLIENT_POST_TYPES and not post_type.startswith("custom_"):
            raise AppError(400, "model.post.is_valid.type.app_error", "Invalid type.")
        check_message(message)
        if root_id:
            root = self.state.posts.get(root_id) if is_valid_id(root_id) else None
            if root is None or root["delete_at"] or root["channel_id"] != channel_id or root["root_id"]:
                raise AppError(400, "api.post.create_post.root_id.app_error", "Invalid RootId parameter.")
        duplicate = self._deduplicate(pending_post_id)
        if duplicate is not None:
            return self.for_client(duplicate)
        props = {k: v for k, v in (props or {}).items() if k not in RESERVED_PROPS}
        if user.get("is_bot"):
            props["from_bot"] = "true"
        post = self.insert_post(channel, user["id"], message, root_id=root_id, props=props,
                                file_ids=self._attachable(user["id"], channel_id, file_ids or []),
                                pending_post_id=pending_post_id, post_type=post_type, set_online=set_online)
        if pending_post_id:
            self.state.pending_posts[pending_post_id] = (post["id"], now_ms() + PENDING_POST_TTL_MS)
        return self.for_client(post)

    def insert_post(self, channel: dict, user_id: str, message: str, *, root_id: str = "", props: dict | None = None,
                    file_ids: list | None = None, pending_post_id: str = "", post_type: str = "",
                    set_online: bool = True) -> dict:
        """Store a post without permission checks, update counters and publish `posted`."""
        now = self.state.next_post_time(channel["id"])
        post = post_json(channel["id"], user_id, message, now=now, root_id=root_id, post_type=post_type,
                         props=props, hashtags=parse_hashtags(message), file_ids=file_ids,
                         pending_post_id=pending_post_id)
        generate_action_ids(post["props"])
        self.state.posts[post["id"]] = post
        self.state.channel_posts[channel["id"]].append(post["id"])
        for file_id in post["file_ids"]:
            self.state.files[file_id]["post_id"] = post["id"]
        channel["last_post_at"] = now
        channel["total_msg_count"] += 1
        if root_id:
            self.state.replies.setdefault(root_id, []).append(post["id"])
            self.state.posts[root_id]["update_at"] = now
        else:
            channel["total_msg_count_root"] += 1
            channel["last_root_post_at"] = now
        self._publish_posted(channel, post, set_online)
        return post

    def _deduplicate(self, pending_post_id: str) -> dict | None:
        """Return the post already created with this pending_post_id in the last 30 s, if any."""
        if not pending_post_id:
            return None
        now = now_ms()
        for key, (_, expiry) in list(self.state.pending_posts.items()):
            if expiry < now:
                del self.state.pending_posts[key]
        seen = self.state.pending_posts.get(pending_post_id)
        return self.state.posts.get(seen[0]) if seen else None

    def _attachable(self, user_id: str, channel_id: str, file_ids: list) -> list[str]:
        """Return the file ids the user may attach here: own uploads to this channel, not yet attached."""
        ok = []
        for file_id in file_ids:
            info = self.state.files.get(file_id) if isinstance(file_id, str) else None
            if info and info["user_id"] == user_id and info["channel_id"] == channel_id and not info.get("post_id"):
                ok.append(file_id)
        return ok

    def _publish_posted(self, channel: dict, post: dict, set_online: bool) -> None:
        sender = self.state.users.get(post["user_id"], {"username": ""})
        sender_name = "@" + sender["username"]
        if post["type"].startswith("system_"):
            sender_name = "System"
        elif (post["props"].get("from_webhook") == "true" and post["props"].get("override_username")
              and channel["type"] != "D"):
            sender_name = post["props"]["override_username"]
        display_name = "@" + sender["username"] if channel["type"] == "D" else channel["display_name"]
        data: dict[str, Any] = {
            "channel_display_name": display_name, "channel_name": channel["name"],
            "channel_type": channel["type"], "post": compact(self.for_client(post)), "sender_name": sender_name,
            "set_online": set_online, "team_id": channel["team_id"],
        }
        if post["file_ids"]:
            data["otherFile"] = "true"
            if any(self.state.files[f]["mime_type"].startswith("image/") for f in post["file_ids"]):
                data["image"] = "true"
        mentions = frozenset() if post["type"].startswith("system_") else self._mentions(channel, post)
        self.core.hub.publish(Event("posted", data, channel_id=channel["id"], mentions=mentions))

    def _mentions(self, channel: dict, post: dict) -> frozenset[str]:
        """Return the members mentioned by the post (by @username, @channel/@all/@here, or a DM)."""
        members = self.state.member_ids(channel["id"]) - {post["user_id"]}
        if channel["type"] == "D":
            return frozenset(members)
        names = mentioned_usernames(mention_text(post))
        if names & set(CHANNEL_WIDE_MENTIONS):
            return frozenset(members)
        return frozenset(u for u in members if self.state.users[u]["username"] in names)

    # ---------------------------------------------------------------- read
    def get_live(self, post_id: str) -> dict:
        """Return a stored, non-deleted post or raise 404."""
        post = self.state.posts.get(post_id)
        if post is None or post["delete_at"]:
            raise post_not_found()
        return post

    def for_client(self, post: dict) -> dict:
        """Return a copy of the post as the API serves it: thread counters and metadata filled in."""
        out = copy.deepcopy(post)
        strip_integrations(out["props"])
        root_id = post["root_id"] or post["id"]
        replies = [p for p in self.state.thread_posts(root_id) if p["root_id"]]
        out["reply_count"] = len(replies)
        out["last_reply_at"] = max((p["create_at"] for p in replies), default=0)
        metadata: dict[str, Any] = {}
        if post["file_ids"]:
            metadata["files"] = [copy.deepcopy(self.state.files[f]) for f in post["file_ids"]]
        reactions = self.state.reactions.get(post["id"])
        if reactions:
            out["has_reactions"] = True
            metadata["reactions"] = copy.deepcopy(reactions)
        out["metadata"] = metadata
        return out

    # ---------------------------------------------------------------- change
    def patch_post(self, post: dict, patch: dict, actor: dict) -> dict:
        """Apply a PostPatch (present keys only; props replaces the whole map) and publish post_edited."""
        if post["user_id"] != actor["id"] and not self.state.is_admin(actor):
            raise permission_denied()
        now = now_ms()
        edited = False
        if isinstance(patch.get("message"), str) and patch["message"] != post["message"]:
            check_message(patch["message"])
            post["message"] = patch["message"]
            post["hashtags"] = parse_hashtags(post["message"])
            edited = True
        if isinstance(patch.get("props"), dict):
            keep = {k: v for k, v in post["props"].items() if k in RESERVED_PROPS}
            props = {**{k: v for k, v in patch["props"].items() if k not in RESERVED_PROPS}, **keep}
            generate_action_ids(props)
            if comparable(props.get("attachments")) != comparable(post["props"].get("attachments")):
                edited = True
            post["props"] = props
        if isinstance(patch.get("file_ids"), list):
            post["file_ids"] = [f for f in patch["file_ids"] if f in self.state.files]
            edited = True
        if isinstance(patch.get("is_pinned"), bool):
            post["is_pinned"] = patch["is_pinned"]
        if edited:
            post["edit_at"] = now
        post["update_at"] = now
        self._publish_edited(post)
        return self.for_client(post)

    def update_post(self, post_id: str, message: str, props: dict | None, file_ids: list) -> dict:
        """Replace message, props and files as app.UpdatePost (SafeUpdate false, no permission check) does."""
        post = self.get_live(post_id)
        if post["type"].startswith("system_"):
            raise AppError(400, "api.post.update_post.system_message.app_error", "Unable to update system message.")
        if self.state.channels[post["channel_id"]]["delete_at"]:
            raise AppError(400, "api.post.update_post.can_not_update_post_in_deleted.error",
                           "Can not update a post in a deleted channel.")
        check_message(message)
        now = now_ms()
        edited = message != post["message"]
        props = copy.deepcopy(props) if props is not None else {}
        generate_action_ids(props)
        wanted = list(dict.fromkeys(f for f in file_ids if isinstance(f, str)))
        kept = [f for f in wanted if f in post["file_ids"]]
        added = self._attachable(post["user_id"], post["channel_id"], [f for f in wanted if f not in kept])
        new_files = [f for f in wanted if f in kept or f in added]
        for file_id in set(post["file_ids"]) - set(new_files):
            self.state.files[file_id]["delete_at"] = now
        for file_id in added:
            self.state.files[file_id]["post_id"] = post["id"]
        if new_files != post["file_ids"] or comparable(props.get("attachments")) != comparable(
                post["props"].get("attachments")):
            edited = True
        post.update(message=message, hashtags=parse_hashtags(message), props=props, file_ids=new_files,
                    update_at=now)
        if edited:
            post["edit_at"] = now
        self._publish_edited(post)
        return self.for_client(post)

    def send_ephemeral(self, user_id: str, channel_id: str, message: str, *, root_id: str = "",
                       props: dict | None = None) -> dict:
        """Show a post to one user only (app.SendEphemeralPost): never stored, sent as ephemeral_message."""
        post = post_json(channel_id, user_id, message, now=now_ms(), root_id=root_id, post_type="system_ephemeral",
                         props=props)
        post.update(update_at=0, file_ids=None)
        generate_action_ids(post["props"])
        client = copy.deepcopy(post)
        strip_integrations(client["props"])
        self.ephemerals.append({**client, "to_user_id": user_id})
        self.core.hub.publish(Event("ephemeral_message", {"post": compact(client)}, user_id=user_id,
                                    channel_id=channel_id))
        return client

    def set_pinned(self, post: dict, pinned: bool, actor: dict) -> None:
        """Pin or unpin (a PatchPost of is_pinned, so it also publishes post_edited)."""
        channel = self.state.channels[post["channel_id"]]
        if not self.state.can_manage_channel(actor, channel):
            raise permission_denied()
        post["is_pinned"] = pinned
        post["update_at"] = now_ms()
        self._publish_edited(post)

    def delete_post(self, post: dict, actor: dict) -> None:
        """Soft-delete a post and its replies; publish post_deleted (sanitized and sensitive variants)."""
        if post["user_id"] != actor["id"] and not self.state.is_admin(actor):
            raise permission_denied()
        now = now_ms()
        for reply_id in [] if post["root_id"] else self.state.replies.get(post["id"], []):
            reply = self.state.posts[reply_id]
            if not reply["delete_at"]:
                reply["delete_at"] = reply["update_at"] = now
        post["delete_at"] = post["update_at"] = now
        body = compact(self.for_client(post))
        self.core.hub.publish(Event("post_deleted", {"post": body}, channel_id=post["channel_id"], sanitized=True))
        self.core.hub.publish(Event("post_deleted", {"post": body, "delete_by": actor["id"]},
                                    channel_id=post["channel_id"], sensitive=True))

    def _publish_edited(self, post: dict) -> None:
        self.core.hub.publish(Event("post_edited", {"post": compact(self.for_client(post))},
                                    channel_id=post["channel_id"]))

    # ---------------------------------------------------------------- reactions
    def add_reaction(self, post: dict, user: dict, emoji_name: str) -> dict:
        """Store a reaction (idempotent) and publish reaction_added."""
        existing = next((r for r in self.state.reactions.get(post["id"], [])
                         if r["user_id"] == user["id"] and r["emoji_name"] == emoji_name), None)
        if existing:
            return dict(existing)
        now = now_ms()
        reaction = reaction_json(user["id"], post["id"], emoji_name, post["channel_id"], now=now)
        self.state.reactions.setdefault(post["id"], []).append(reaction)
        post["has_reactions"] = True
        post["update_at"] = now
        self.core.hub.publish(Event("reaction_added", {"reaction": compact(reaction)}, channel_id=post["channel_id"]))
        return dict(reaction)

    def remove_reaction(self, post: dict, user_id: str, emoji_name: str) -> None:
        """Delete a reaction and publish reaction_removed."""
        reactions = self.state.reactions.get(post["id"], [])
        reaction = next((r for r in reactions if r["user_id"] == user_id and r["emoji_name"] == emoji_name), None)
        if reaction is None:
            return
        reactions.remove(reaction)
        post["has_reactions"] = bool(reactions)
        post["update_at"] = now_ms()
        self.core.hub.publish(Event("reaction_removed", {"reaction": compact(reaction)},
                                    channel_id=post["channel_id"]))
