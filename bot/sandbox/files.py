"""Uploaded files: store bytes and FileInfo, and read image sizes."""
from __future__ import annotations

import logging
import mimetypes
import struct
from typing import TYPE_CHECKING

from .errors import AppError, permission_denied
from .ids import now_ms
from .models import file_info_json

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)


def image_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) of a PNG or GIF, else (0, 0)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    return 0, 0


def guess_mime(name: str, declared: str = "") -> str:
    """Return the file's MIME type from its extension, else the declared one."""
    guessed, _ = mimetypes.guess_type(name)
    return guessed or declared or "application/octet-stream"


class Files:
    """Store uploads and look them up with the right permission checks."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state

    def upload(self, user: dict, channel_id: str, name: str, data: bytes, declared_mime: str = "") -> dict:
        """Store one uploaded file for a channel; return its FileInfo."""
        channel = self.state.channels.get(channel_id)
        if channel is None or not (self.state.is_admin(user) or self.state.is_member(channel_id, user["id"])):
            raise permission_denied()
        if len(data) > self.core.settings.max_file_size:
            raise AppError(413, "api.file.upload_file.too_large_detailed.app_error",
                           "Unable to upload file. File is too large.")
        width, height = image_size(data)
        info = file_info_json(user["id"], channel_id, name, len(data), guess_mime(name, declared_mime),
                              now=now_ms(), width=width, height=height)
        self.state.files[info["id"]] = info
        self.state.file_data[info["id"]] = data
        return info

    def readable(self, user: dict, file_id: str) -> dict:
        """Return the FileInfo if the user may read it, else raise 404/403."""
        info = self.state.files.get(file_id)
        if info is None or info["delete_at"]:
            raise AppError(404, "app.file_info.get.app_error", "Unable to get the file info.")
        channel = self.state.channels.get(info["channel_id"])
        allowed = info["user_id"] == user["id"] or (channel and self.state.can_read_channel(user, channel)
                                                    and (info.get("post_id") or self.state.is_admin(user)))
        if not allowed:
            raise permission_denied()
        return info
