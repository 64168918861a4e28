"""Mattermost-style ids, tokens and millisecond timestamps."""
from __future__ import annotations

import logging
import secrets
import time

log = logging.getLogger(__name__)

ID_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"


def new_id() -> str:
    """Return a new 26-character id from Mattermost's base32 alphabet (like model.NewId)."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(26))


def is_valid_id(value: object) -> bool:
    """Tell whether value looks like a Mattermost id (26 ASCII letters or digits)."""
    return isinstance(value, str) and len(value) == 26 and value.isascii() and value.isalnum()


def now_ms() -> int:
    """Return the current time in milliseconds since the epoch."""
    return int(time.time() * 1000)
