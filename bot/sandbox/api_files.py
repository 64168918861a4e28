"""REST routes: file upload (multipart or simple), download and FileInfo."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, invalid_url_param
from .http_util import caller, json_response, path_id

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

FID = "{file_id:[A-Za-z0-9]+}"


class FileRoutes:
    """Files: POST /files, GET /files/{id}, GET /files/{id}/info."""

    def __init__(self, core: Core):
        self.core = core

    def register(self, router: web.UrlDispatcher, api: str) -> None:
        """Add the routes under the API root."""
        router.add_post(api + "/files", self.upload)
        router.add_get(api + f"/files/{FID}", self.download)
        router.add_get(api + f"/files/{FID}/info", self.info)

    async def upload(self, request: web.Request) -> web.Response:
        """Store uploaded files: 201 {"file_infos": [...], "client_ids": [...]}."""
        user = caller(request)
        if not self.core.settings.enable_file_attachments:
            raise AppError(403, "api.file.attachments.disabled.app_error",
                           "File attachments have been disabled on this server.")
        channel_id = request.query.get("channel_id", "")
        infos: list[dict] = []
        client_ids: list[str] = []
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.name == "channel_id":
                    channel_id = (await part.text()).strip()
                elif part.name == "client_ids":
                    client_ids.append((await part.text()).strip())
                elif part.name == "files":
                    if not channel_id:
                        raise invalid_url_param("channel_id")
                    data = await part.read()
                    declared = part.headers.get("Content-Type", "")
                    infos.append(self.core.files.upload(user, channel_id, part.filename or "file", bytes(data),
                                                        declared))
        else:
            filename = request.query.get("filename", "")
            if not channel_id or not filename:
                raise invalid_url_param("channel_id" if not channel_id else "filename")
            data = await request.read()
            infos.append(self.core.files.upload(user, channel_id, filename, data, request.content_type))
        if not infos:
            raise AppError(400, "api.file.upload_file.incorrect_number_of_files.app_error",
                           "Unable to upload files. Incorrect number of files specified.")
        return json_response({"file_infos": infos, "client_ids": client_ids}, 201)

    async def download(self, request: web.Request) -> web.Response:
        """Return a file's bytes."""
        info = self.core.files.readable(caller(request), path_id(request, "file_id"))
        response = web.Response(body=self.core.state.file_data[info["id"]], content_type=info["mime_type"])
        response.headers["Content-Disposition"] = f'attachment;filename="{info["name"]}"'
        return response

    async def info(self, request: web.Request) -> web.Response:
        """Return a file's FileInfo."""
        return json_response(self.core.files.readable(caller(request), path_id(request, "file_id")))
