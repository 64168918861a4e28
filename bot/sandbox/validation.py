"""Validation rules of Mattermost's models, and text parsing (hashtags, @mentions)."""
from __future__ import annotations

import logging
import re

from .errors import AppError
from .ids import is_valid_id

log = logging.getLogger(__name__)

CHANNEL_NAME = re.compile(r"^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]*$")
GROUP_NAME = re.compile(r"^[a-f0-9]{40}$")
USERNAME = re.compile(r"^[a-z0-9.\-_]+$")
RESTRICTED_USERNAMES = frozenset({"all", "channel", "matterbot", "system", "here"})
TEAM_NAME = re.compile(r"^[a-z0-9]+([a-z\-0-9]+|(__)?)[a-z0-9]+$")
MENTION = re.compile(r"@([a-z0-9.\-_]+)", re.IGNORECASE)
HASHTAG = re.compile(r"^#[^\W\d_][\w.\-]*[^\W_]$")
CHANNEL_NAME_MAX = 64
DISPLAY_NAME_MAX = 64
HEADER_MAX = 1024
PURPOSE_MAX = 250
MESSAGE_MAX = 16383


def check_channel_fields(name: str, display_name: str, channel_type: str, header: str = "",
                         purpose: str = "") -> None:
    """Raise the AppError Channel.IsValid gives for these fields, in the server's order."""
    if len(display_name) > DISPLAY_NAME_MAX:
        raise AppError(400, "model.channel.is_valid.display_name.app_error", "Invalid display name.")
    if not CHANNEL_NAME.match(name) or len(name) > CHANNEL_NAME_MAX:
        raise AppError(400, "model.channel.is_valid.1_or_more.app_error",
                       "Name must be 1 or more lowercase alphanumeric character.")
    if channel_type not in ("O", "P", "D", "G"):
        raise AppError(400, "model.channel.is_valid.type.app_error", "Invalid type.")
    if len(header) > HEADER_MAX:
        raise AppError(400, "model.channel.is_valid.header.app_error", "Invalid header.")
    if len(purpose) > PURPOSE_MAX:
        raise AppError(400, "model.channel.is_valid.purpose.app_error", "Invalid purpose.")
    if channel_type not in ("D", "G"):
        parts = name.split("__")
        if GROUP_NAME.match(name) or (len(parts) == 2 and is_valid_id(parts[0]) and is_valid_id(parts[1])):
            raise AppError(400, "model.channel.is_valid.name.app_error", "Invalid channel name. "
                           "User ids are not permitted in channel name for non-direct message channels.")


def check_username(username: str) -> None:
    """Raise the 400 User.IsValid gives for a bad username."""
    if not (1 <= len(username) <= 64) or not USERNAME.match(username) or username in RESTRICTED_USERNAMES:
        raise AppError(400, "model.user.is_valid.username.app_error",
                       "Username must begin with a letter and contain between 3 and 22 characters "
                       "including numbers, lowercase letters, and the symbols \".\", \"-\", and \"_\".")


def check_email(email: str) -> None:
    """Raise the 400 User.IsValid gives for a bad email."""
    if not email or "@" not in email or len(email) > 128:
        raise AppError(400, "model.user.is_valid.email.app_error", "Invalid email.")


def check_team_name(name: str) -> None:
    """Raise the 400 Team.IsValid gives for a bad team name."""
    if not (2 <= len(name) <= 64) or not TEAM_NAME.match(name):
        raise AppError(400, "model.team.is_valid.characters.app_error",
                       "Name must be 2 or more lowercase alphanumeric characters.")


def check_message(message: str) -> None:
    """Raise the 400 Post.IsValid gives for an over-long message."""
    if len(message) > MESSAGE_MAX:
        raise AppError(400, "model.post.is_valid.message_length.app_error",
                       f"Message property length is greater than the maximum allowed ({MESSAGE_MAX}).")


def parse_hashtags(message: str) -> str:
    """Return the post's hashtags field: the distinct #words, space-separated."""
    found: list[str] = []
    for word in re.split(r"[\s,;:!?()\[\]{}<>\"']+", message):
        word = re.sub(r"^#{2,}", "#", word)
        word = re.sub(r"[^\w]+$", "", word)
        if HASHTAG.match(word) and len(word) > 2 and word not in found:
            found.append(word)
    return " ".join(found)[:1000].strip()


def mentioned_usernames(message: str) -> set[str]:
    """Return the lower-cased @names in message, each also without trailing punctuation."""
    names: set[str] = set()
    for raw in MENTION.findall(message):
        name = raw.lower()
        names.add(name)
        names.add(name.rstrip(".-_"))
    return names
