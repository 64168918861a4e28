"""Builders for the JSON shapes of Mattermost's models (User, Team, Channel, Post, ...)."""
from __future__ import annotations

import logging

from .ids import new_id

log = logging.getLogger(__name__)

SERVER_VERSION = "11.6.0"
BUILD_NUMBER = "sandbox"


def user_json(username: str, email: str, *, roles: str, first_name: str = "", last_name: str = "",
              now: int, is_bot: bool = False, bot_description: str = "") -> dict:
    """Return a new User as GET /users/{id} serialises it."""
    user = {
        "id": new_id(), "create_at": now, "update_at": now, "delete_at": 0,
        "username": username, "auth_data": "", "auth_service": "", "email": email, "email_verified": True,
        "nickname": "", "first_name": first_name, "last_name": last_name, "position": "", "roles": roles,
        "props": {}, "notify_props": {
            "channel": "true", "comments": "never", "desktop": "mention", "desktop_sound": "true",
            "email": "true", "first_name": "false", "mention_keys": "", "push": "mention",
            "push_status": "away"},
        "last_password_update": now, "last_picture_update": 0, "locale": "en",
        "timezone": {"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"},
        "disable_welcome_email": False,
    }
    if is_bot:
        user["is_bot"] = True
        user["bot_description"] = bot_description
    return user


def team_json(name: str, display_name: str, *, team_type: str, now: int, description: str = "",
              email: str = "") -> dict:
    """Return a new Team."""
    return {
        "id": new_id(), "create_at": now, "update_at": now, "delete_at": 0, "display_name": display_name,
        "name": name, "description": description, "email": email, "type": team_type, "company_name": "",
        "allowed_domains": "", "invite_id": new_id(), "allow_open_invite": team_type == "O", "scheme_id": None,
        "group_constrained": None, "policy_id": None, "cloud_limits_archived": False,
    }


def team_member_json(team_id: str, user_id: str, *, admin: bool, now: int) -> dict:
    """Return a TeamMember."""
    return {
        "team_id": team_id, "user_id": user_id, "roles": "team_user team_admin" if admin else "team_user",
        "delete_at": 0, "scheme_guest": False, "scheme_user": True, "scheme_admin": admin,
        "explicit_roles": "", "create_at": now,
    }


def channel_json(team_id: str, name: str, display_name: str, *, channel_type: str, creator_id: str, now: int,
                 header: str = "", purpose: str = "") -> dict:
    """Return a new Channel."""
    return {
        "id": new_id(), "create_at": now, "update_at": now, "delete_at": 0, "team_id": team_id,
        "type": channel_type, "display_name": display_name, "name": name, "header": header, "purpose": purpose,
        "last_post_at": now, "total_msg_count": 0, "extra_update_at": 0, "creator_id": creator_id,
        "scheme_id": None, "props": None, "group_constrained": None, "autotranslation": False, "shared": None,
        "total_msg_count_root": 0, "policy_id": None, "last_root_post_at": now, "banner_info": None,
        "policy_enforced": False, "policy_is_active": False, "default_category_name": "",
    }


def channel_member_json(channel_id: str, user_id: str, *, admin: bool, now: int) -> dict:
    """Return a ChannelMember."""
    return {
        "channel_id": channel_id, "user_id": user_id,
        "roles": "channel_user channel_admin" if admin else "channel_user",
        "last_viewed_at": 0, "msg_count": 0, "mention_count": 0, "mention_count_root": 0,
        "urgent_mention_count": 0, "msg_count_root": 0,
        "notify_props": {"desktop": "default", "email": "default", "ignore_channel_mentions": "default",
                         "mark_unread": "all", "push": "default", "channel_auto_follow_threads": "off"},
        "last_update_at": now, "scheme_guest": False, "scheme_user": True, "scheme_admin": admin,
        "explicit_roles": "", "autotranslation_disabled": False,
    }


def post_json(channel_id: str, user_id: str, message: str, *, now: int, root_id: str = "", post_type: str = "",
              props: dict | None = None, hashtags: str = "", file_ids: list | None = None,
              pending_post_id: str = "") -> dict:
    """Return a new Post (metadata is filled in when the post is served)."""
    return {
        "id": new_id(), "create_at": now, "update_at": now, "edit_at": 0, "delete_at": 0, "is_pinned": False,
        "user_id": user_id, "channel_id": channel_id, "root_id": root_id, "original_id": "", "message": message,
        "type": post_type, "props": dict(props or {}), "hashtags": hashtags, "file_ids": list(file_ids or []),
        "pending_post_id": pending_post_id, "remote_id": "", "reply_count": 0, "last_reply_at": 0,
        "participants": None, "metadata": {},
    }


def reaction_json(user_id: str, post_id: str, emoji_name: str, channel_id: str, *, now: int) -> dict:
    """Return a Reaction."""
    return {"user_id": user_id, "post_id": post_id, "emoji_name": emoji_name, "create_at": now,
            "update_at": now, "delete_at": 0, "remote_id": "", "channel_id": channel_id}


def file_info_json(user_id: str, channel_id: str, name: str, size: int, mime_type: str, *, now: int,
                   width: int = 0, height: int = 0) -> dict:
    """Return a FileInfo for an uploaded file."""
    extension = name.rsplit(".", 1)[1].lower() if "." in name else ""
    return {
        "id": new_id(), "user_id": user_id, "channel_id": channel_id, "create_at": now, "update_at": now,
        "delete_at": 0, "name": name, "extension": extension, "size": size, "mime_type": mime_type,
        "width": width, "height": height, "has_preview_image": bool(width and height), "mini_preview": None,
        "remote_id": "", "archived": False,
    }


def incoming_hook_json(channel_id: str, team_id: str, user_id: str, *, now: int, display_name: str = "",
                       description: str = "", username: str = "", icon_url: str = "",
                       channel_locked: bool = False) -> dict:
    """Return an IncomingWebhook."""
    return {
        "id": new_id(), "create_at": now, "update_at": now, "delete_at": 0, "user_id": user_id,
        "channel_id": channel_id, "team_id": team_id, "display_name": display_name, "description": description,
        "username": username, "icon_url": icon_url, "channel_locked": channel_locked,
    }


def bot_json(user: dict, owner_id: str, description: str, display_name: str) -> dict:
    """Return the Bot record of a bot user."""
    return {"user_id": user["id"], "username": user["username"], "display_name": display_name,
            "description": description, "owner_id": owner_id, "create_at": user["create_at"],
            "update_at": user["update_at"], "delete_at": 0}


def access_token_json(user_id: str, token: str, description: str) -> dict:
    """Return a UserAccessToken as POST /users/{id}/tokens answers it."""
    return {"id": new_id(), "token": token, "user_id": user_id, "description": description, "is_active": True}


def empty_post_list() -> dict:
    """Return an empty PostList."""
    return {"order": [], "posts": {}, "next_post_id": "", "prev_post_id": "", "has_next": False,
            "first_inaccessible_post_time": 0}


def group_json(name: str, display_name: str, *, now: int, description: str = "") -> dict:
    """Return a new custom Group (model.Group: name omitted when nil, remote_id null, member_ids null)."""
    return {
        "id": new_id(), "name": name, "display_name": display_name, "description": description,
        "source": "custom", "remote_id": None, "create_at": now, "update_at": now, "delete_at": 0,
        "has_syncables": False, "allow_reference": True, "member_ids": None,
    }


def group_member_json(group_id: str, user_id: str, *, now: int) -> dict:
    """Return a GroupMember."""
    return {"group_id": group_id, "user_id": user_id, "create_at": now, "delete_at": 0}


def status_json(user_id: str, status: str = "offline", *, manual: bool = False, last_activity_at: int = 0,
                dnd_end_time: int = 0) -> dict:
    """Return a Status as GET /users/{id}/status serialises it (active_channel is blanked, so omitted)."""
    return {"user_id": user_id, "status": status, "manual": manual, "last_activity_at": last_activity_at,
            "dnd_end_time": dnd_end_time}
