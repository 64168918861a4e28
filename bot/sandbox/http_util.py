"""Helpers shared by the REST route modules: JSON answers, bodies, URL and query parameters, the caller."""
from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from .errors import AppError, invalid_body_param, invalid_url_param, session_expired
from .ids import is_valid_id

log = logging.getLogger(__name__)

USER_KEY = web.RequestKey("sandbox_user", object)
TOKEN_KEY = web.RequestKey("sandbox_token", str)
REQUEST_ID_KEY = web.RequestKey("sandbox_request_id", str)
OK = {"status": "OK"}


def json_response(body: Any, status: int = 200) -> web.Response:
    """Return a JSON response as the server writes it (Content-Type exactly application/json)."""
    return web.Response(body=json.dumps(body, ensure_ascii=False).encode(), status=status,
                        headers={"Content-Type": "application/json"})


def caller(request: web.Request) -> dict:
    """Return the authenticated user of the request, or raise the 401."""
    user = request.get(USER_KEY)
    if user is None:
        raise session_expired()
    return user


async def json_body(request: web.Request, name: str) -> Any:
    """Return the decoded JSON body, or raise 400 invalid_body_param naming `name`."""
    try:
        raw = await request.read()
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        raise invalid_body_param(name) from None


async def json_object(request: web.Request, name: str) -> dict:
    """Return the JSON body, which must be an object."""
    body = await json_body(request, name)
    if not isinstance(body, dict):
        raise invalid_body_param(name)
    return body


def path_id(request: web.Request, name: str, allow_me: bool = False) -> str:
    """Return a URL id parameter after checking it is a valid 26-char id (or "me")."""
    value = request.match_info[name]
    if allow_me and value == "me":
        return caller(request)["id"]
    if not is_valid_id(value):
        raise invalid_url_param(name)
    return value


def query_int(request: web.Request, name: str, default: int) -> int:
    """Return an integer query parameter, or the default when absent or invalid."""
    try:
        return int(request.query.get(name, default))
    except ValueError:
        return default


def paging(request: web.Request) -> tuple[int, int]:
    """Return (page, per_page) with the server's rules: per_page defaults to 60, capped at 200."""
    page = max(query_int(request, "page", 0), 0)
    per_page = query_int(request, "per_page", 60)
    if per_page < 0:
        per_page = 60
    return page, min(per_page, 200)


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """Return a boolean query parameter ("true"/"false")."""
    value = request.query.get(name)
    return default if value is None else value.lower() == "true"


def require(condition: Any, error: AppError) -> None:
    """Raise error unless condition holds."""
    if not condition:
        raise error
