"""Incoming webhooks: create them, and turn a Slack-compatible payload into a post."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .errors import AppError
from .ids import is_valid_id, now_ms
from .models import incoming_hook_json
from .posting import CLIENT_POST_TYPES, RESERVED_PROPS
from .slack import slack_text, typed_attachments

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)


def hook_error(status: int, error_id: str, message: str) -> AppError:
    """Return an AppError from the webhook handler."""
    return AppError(status, error_id, message)


class Webhooks:
    """Manage incoming webhooks and execute their payloads."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def create(self, channel: dict, user_id: str, display_name: str = "", description: str = "",
               username: str = "", icon_url: str = "", channel_locked: bool = False) -> dict:
        """Create an incoming webhook posting into channel as user_id."""
        if not self.core.settings.enable_incoming_webhooks:
            raise AppError(501, "api.incoming_webhook.disabled.app_error", "Incoming webhooks have been disabled.")
        if len(display_name) > 64 or len(description) > 500:
            raise AppError(400, "model.incoming_hook.display_name.app_error", "Invalid display name.")
        hook = incoming_hook_json(channel["id"], channel["team_id"], user_id, now=now_ms(),
                                  display_name=display_name, description=description, username=username,
                                  icon_url=icon_url, channel_locked=channel_locked)
        self.state.hooks[hook["id"]] = hook
        return hook

    def execute(self, hook_id: str, payload: Any) -> dict:
        """Post a payload (text, attachments, props, channel, type) through the hook; return the post."""
        hook = self.state.hooks.get(hook_id)
        if hook is None or hook["delete_at"]:
            raise hook_error(400, "web.incoming_webhook.invalid.app_error", "Invalid webhook.")
        if not isinstance(payload, dict):
            raise hook_error(400, "web.incoming_webhook.parse.app_error", "Unable to parse incoming data.")
        text = payload.get("text") if isinstance(payload.get("text"), str) else ""
        attachments = typed_attachments(payload.get("attachments"))
        if not text and not attachments:
            raise hook_error(400, "web.incoming_webhook.text.app_error", "No text specified.")
        post_type = payload.get("type") if isinstance(payload.get("type"), str) else ""
        if post_type.startswith("system_") or (post_type not in CLIENT_POST_TYPES
                                               and not post_type.startswith("custom_")):
            raise hook_error(400, "api.context.invalid_param.app_error", "Invalid post.type parameter.")
        channel = self._target_channel(hook, payload.get("channel"))
        raw_props = payload.get("props") if isinstance(payload.get("props"), dict) else {}
        props = {k: v for k, v in raw_props.items() if k not in RESERVED_PROPS and k != "attachments"}
        props["from_webhook"] = "true"
        if hook["display_name"]:
            props["webhook_display_name"] = hook["display_name"]
        if self.core.settings.enable_post_username_override:
            username = payload.get("username") or hook["username"]
            if isinstance(username, str) and username:
                props["override_username"] = username
            icon = payload.get("icon_url") or hook["icon_url"]
            if isinstance(icon, str) and icon:
                props["override_icon_url"] = icon
        if attachments:
            props["attachments"] = attachments
            post_type = "slack_attachment"
        if channel["delete_at"]:
            raise AppError(400, "api.post.create_post.can_not_post_to_deleted.error",
                           "Can not post to deleted channel.")
        return self.core.posting.insert_post(channel, hook["user_id"], slack_text(text)[:16383], props=props,
                                             post_type=post_type)

    def _target_channel(self, hook: dict, override: Any) -> dict:
        """Return the hook's channel, or the payload's `channel` override (name, @username or id)."""
        channel = self.state.channels[hook["channel_id"]]
        if not isinstance(override, str) or not override or override in (channel["name"], channel["id"]):
            return channel
        if hook["channel_locked"]:
            raise hook_error(403, "web.incoming_webhook.channel_locked.app_error",
                             "This webhook is not permitted to post to the requested channel.")
        if override.startswith("@"):
            target_user = self.state.user_by_username(override[1:])
            if target_user is None:
                raise hook_error(404, "web.incoming_webhook.user.app_error", "Couldn't find the user.")
            return self.core.channels.direct_channel(hook["user_id"], target_user["id"], hook["user_id"])
        found = self.state.channel_by_name(hook["team_id"], override.lstrip("~"))
        if found is None and is_valid_id(override):
            found = self.state.channels.get(override)
        if found is None:
            raise hook_error(404, "web.incoming_webhook.channel.app_error", "Couldn't find the channel.")
        return found
