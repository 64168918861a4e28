"""Custom slash commands: create/get/update/delete, execute (the request to the command URL) and response_url.

Follows api4/command.go, app/command.go (tryExecuteCustomCommand, DoCommandRequest, HandleCommandResponse[Post],
HandleCommandWebhook) and web/webhook.go commandWebhook of server 11.6. Built-in and plugin commands are not
emulated: an unknown trigger is the real 404. As for button actions, loopback and private URLs are allowed.
The REST routes are in api_commands.py.
"""
from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from .errors import AppError, invalid_body_param, permission_denied
from .ids import is_valid_id, new_id, now_ms
from .slack import slack_text, typed_attachments
from .validation import mentioned_usernames

if TYPE_CHECKING:
    from .core import Core

log = logging.getLogger(__name__)

COMMAND_WEBHOOK_LIFETIME_MS = 30 * 60 * 1000   # model.CommandWebhookLifetime
COMMAND_WEBHOOK_MAX_USES = 5                   # TryUse(hook.Id, 5)
MAX_INTEGRATION_RESPONSE_SIZE = 1024 * 1024
CHANNEL_MENTION = re.compile(r"\B~([a-z0-9.\-_]+)")
# model.Command's JSON fields in the server's order, with their Go types.
COMMAND_FIELDS: tuple[tuple[str, type], ...] = (
    ("id", str), ("token", str), ("create_at", int), ("update_at", int), ("delete_at", int), ("creator_id", str),
    ("team_id", str), ("trigger", str), ("method", str), ("username", str), ("icon_url", str),
    ("auto_complete", bool), ("auto_complete_desc", str), ("auto_complete_hint", str), ("display_name", str),
    ("description", str), ("url", str), ("plugin_id", str))


def command_not_found() -> AppError:
    """Return c.SetCommandNotFoundError()'s 404."""
    return AppError(404, "store.sql_command.save.get.app_error", "Unable to get the command.")


def _invalid(field: str, message: str) -> AppError:
    return AppError(400, f"model.command.is_valid.{field}.app_error", message)


def _trigger_error(error_id: str, trigger: str, message: str, status: int = 500, detail: str = "") -> AppError:
    return AppError(status, f"api.command.execute_command.{error_id}.app_error",
                    message.replace("{trigger}", trigger), detail)


def command_response(raw: Any) -> dict:
    """Return a CommandResponse with every field as the server serialises it (Go zero values)."""
    raw = raw if isinstance(raw, dict) else {}
    out: dict[str, Any] = {}
    for key, default in (("response_type", ""), ("text", ""), ("username", ""), ("channel_id", ""),
                         ("icon_url", ""), ("type", ""), ("goto_location", ""), ("trigger_id", "")):
        out[key] = raw[key] if isinstance(raw.get(key), str) else default
    out["props"] = raw["props"] if isinstance(raw.get("props"), dict) else None
    out["skip_slack_parsing"] = raw.get("skip_slack_parsing") is True
    out["attachments"] = typed_attachments(raw["attachments"]) if isinstance(raw.get("attachments"), list) else None
    extra = raw.get("extra_responses")
    out["extra_responses"] = [command_response(r) for r in extra] if isinstance(extra, list) else None
    return out


def response_from_body(content_type: str, body: bytes) -> dict | None:
    """model.CommandResponseFromHTTPBody: JSON when the type is application/json, else the body is the text."""
    if content_type.split(";")[0].strip() == "application/json":
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        if parsed is not None and not isinstance(parsed, dict):
            return None
        return command_response(parsed)
    return command_response({"text": body.decode("utf-8", "replace")})


def is_http_url(url: str) -> bool:
    """model.IsValidHTTPURL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def command_fields(body: dict) -> dict:
    """Decode a Command body as Go decodes it into model.Command: absent or null is the zero value, a wrong type 400."""
    out: dict[str, Any] = {}
    for key, kind in COMMAND_FIELDS:
        value = body.get(key)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise invalid_body_param("command")
        out[key] = kind() if value is None else value
    return out


def validate(cmd: dict) -> None:
    """Command.IsValid, in its order, for the fields a client can set."""
    if not is_valid_id(cmd["creator_id"]):
        raise _invalid("user_id", "Invalid user id.")
    if not is_valid_id(cmd["team_id"]):
        raise _invalid("team_id", "Invalid team ID.")
    trigger = cmd["trigger"]
    if not trigger or len(trigger) > 128 or trigger.startswith("/") or " " in trigger:
        raise _invalid("trigger", "Invalid trigger.")
    if not cmd["url"] or len(cmd["url"]) > 1024:
        raise _invalid("url", "Invalid URL.")
    if not is_http_url(cmd["url"]):
        raise _invalid("url_http", "Invalid URL. Must be a valid URL and start with http:// or https://.")
    if cmd["method"] not in ("P", "G"):
        raise _invalid("method", "Invalid Method.")
    if len(cmd["display_name"]) > 64:
        raise _invalid("display_name", "Invalid title.")
    if len(cmd["description"]) > 128:
        raise _invalid("description", "Invalid description.")


class Commands:
    """Store custom commands, run them, and take delayed answers on their response_url."""

    def __init__(self, core: Core):
        self.core = core
        self.state = core.state
        self.commands: dict[str, dict] = {}
        self.hooks: dict[str, dict] = {}

    # ---------------------------------------------------------------- management
    def may_manage(self, user: dict, team_id: str) -> bool:
        """manage_slash_commands: system admins and team admins."""
        return self.state.is_admin(user) or self.state.is_team_admin(team_id, user["id"])

    def create(self, body: dict, creator_id: str) -> dict:
        """Validate and store a Command (app.CreateCommand + Command.IsValid); return it."""
        fields = command_fields(body)
        now = now_ms()
        cmd = {**fields, "id": new_id(), "token": new_id(), "create_at": now, "update_at": now, "delete_at": 0,
               "creator_id": creator_id, "trigger": fields["trigger"].lower(), "plugin_id": ""}
        if any(c["trigger"] == cmd["trigger"] for c in self.team_commands(cmd["team_id"])):
            raise AppError(400, "api.command.duplicate_trigger.app_error", "This trigger word is already in use.")
        validate(cmd)
        self.commands[cmd["id"]] = cmd
        return copy.deepcopy(cmd)

    def update(self, user: dict, command_id: str, body: dict) -> dict:
        """api4 updateCommand + app.UpdateCommand: the whole Command replaces the old one, in the same team.

        Id, token, creator, create_at and team are kept from the stored command; the trigger is not checked
        against the team's other commands (only create does that). A caller who may not manage the team's
        commands gets the 404, as for a missing command, so ids do not leak.
        """
        fields = command_fields(body)
        if fields["id"] != command_id:
            raise invalid_body_param("command")
        old = self.commands.get(command_id)
        if old is None or old["delete_at"]:
            raise command_not_found()
        if fields["team_id"] != old["team_id"]:
            raise AppError(400, "api.command.team_mismatch.app_error", "Unable to update commands across teams.")
        if not self.may_manage(user, old["team_id"]):
            raise command_not_found()
        cmd = {**fields, "trigger": fields["trigger"].lower(), "update_at": now_ms(),
               **{key: old[key] for key in ("id", "token", "create_at", "delete_at", "creator_id", "plugin_id",
                                            "team_id")}}
        validate(cmd)
        self.commands[command_id] = cmd
        return copy.deepcopy(cmd)

    def get(self, user: dict, command_id: str) -> dict:
        """GET /commands/{id}: the command, or the 404 when it is missing or the caller may not manage it."""
        cmd = self.commands.get(command_id)
        if cmd is None or cmd["delete_at"] or not self.may_manage(user, cmd["team_id"]):
            raise command_not_found()
        return copy.deepcopy(cmd)

    def team_commands(self, team_id: str) -> list[dict]:
        """Return the team's live commands, oldest first."""
        return [c for c in self.commands.values() if c["team_id"] == team_id and not c["delete_at"]]

    def delete(self, user: dict, command_id: str) -> None:
        """Delete a command (404 hides commands of teams the user may not manage)."""
        cmd = self.commands.get(command_id)
        if cmd is None or cmd["delete_at"] or not self.may_manage(user, cmd["team_id"]):
            raise command_not_found()
        cmd["delete_at"] = cmd["update_at"] = now_ms()

    # ---------------------------------------------------------------- execute
    async def execute(self, user: dict, channel_id: str, command: str, team_id: str = "",
                      root_id: str = "") -> dict:
        """POST /commands/execute: checks of api4 executeCommand, then app.ExecuteCommand; return the response."""
        if len(command) <= 1 or not command.startswith("/") or not is_valid_id(channel_id):
            raise AppError(400, "api.command.execute_command.start.app_error", "No command trigger found.")
        channel = self.state.channels.get(channel_id)
        if channel is None or not (self.state.is_admin(user) or self.state.is_member(channel_id, user["id"])):
            raise permission_denied()
        if channel["type"] in ("D", "G"):
            if not (self.state.is_admin(user) or self.state.is_team_member(team_id, user["id"])):
                raise permission_denied()
        else:
            team_id = channel["team_id"]
        match = re.search(r"\s", command)
        trigger, message = (command[:match.start()], command[match.start() + 1:]) if match else (command, "")
        trigger = trigger.lower()
        if not trigger.startswith("/"):
            raise AppError(400, "api.command.execute_command.format.app_error",
                           "Command trigger word is missing the leading slash character")
        trigger = trigger[1:]
        client_trigger_id, trigger_id = self.core.actions.trigger_ids(user["id"])
        cmd = next((c for c in self.team_commands(team_id) if c["trigger"] == trigger), None)
        if cmd is None:
            raise AppError(404, "api.command.execute_command.not_found.app_error",
                           f"Command with a trigger of '{trigger}' not found. To send a message beginning with "
                           "\"/\", try adding an empty space at the beginning of the message.")
        team = self.state.teams.get(team_id) or {"name": ""}
        hook = {"id": new_id(), "create_at": now_ms(), "command_id": cmd["id"], "user_id": user["id"],
                "channel_id": channel_id, "root_id": root_id, "use_count": 0}
        self.hooks[hook["id"]] = hook
        fields: list[tuple[str, str]] = [
            ("token", cmd["token"]), ("team_id", cmd["team_id"]), ("team_domain", team["name"]),
            ("channel_id", channel_id), ("channel_name", channel["name"]), ("user_id", user["id"]),
            ("user_name", user["username"]), ("command", "/" + trigger), ("text", message),
            ("trigger_id", trigger_id),
        ]
        for name, uid in self._user_mentions(message, team_id).items():
            fields += [("user_mentions", name), ("user_mentions_ids", uid)]
        for name, cid in self._channel_mentions(message, team_id).items():
            fields += [("channel_mentions", name), ("channel_mentions_ids", cid)]
        fields.append(("response_url", f"{self.core.settings.site_url}/hooks/commands/{hook['id']}"))
        response = await self._request(cmd, fields)
        response["trigger_id"] = client_trigger_id
        args = {"user_id": user["id"], "channel_id": channel_id, "root_id": root_id, "command": command}
        return self.handle_response(cmd, args, response)

    def _user_mentions(self, message: str, team_id: str) -> dict[str, str]:
        """app.MentionsToTeamMembers: @username of a team member -> user id."""
        found = {}
        for name in sorted(mentioned_usernames(message)):
            other = self.state.user_by_username(name)
            if other and self.state.is_team_member(team_id, other["id"]):
                found[name] = other["id"]
        return found

    def _channel_mentions(self, message: str, team_id: str) -> dict[str, str]:
        """app.MentionsToPublicChannels: ~name of a public channel of the team -> channel id."""
        found = {}
        for name in CHANNEL_MENTION.findall(message):
            channel = self.state.channel_by_name(team_id, name)
            if channel and channel["type"] == "O" and not channel["delete_at"]:
                found[name] = channel["id"]
        return found

    async def _request(self, cmd: dict, fields: list[tuple[str, str]]) -> dict:
        """app.DoCommandRequest: form POST (or GET query), 200 required, JSON or text body."""
        trigger = cmd["trigger"]
        encoded = urlencode(fields)
        headers = {"Accept": "application/json", "Authorization": "Token " + cmd["token"]}
        url, data = cmd["url"], None
        if cmd["method"] == "G":
            url += ("&" if urlsplit(url).query else ("" if url.endswith("?") else "?")) + encoded
        else:
            data = encoded.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        timeout = aiohttp.ClientTimeout(total=self.core.settings.outgoing_integration_requests_timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                method = "GET" if cmd["method"] == "G" else "POST"
                async with session.request(method, url, data=data, headers=headers) as resp:
                    body = await resp.content.read(MAX_INTEGRATION_RESPONSE_SIZE)
                    status, content_type = resp.status, resp.headers.get("Content-Type", "")
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.info("slash command request to %r failed: %r", url, exc)
            raise _trigger_error("failed", trigger, "Command with a trigger of '{trigger}' failed.",
                                 detail=repr(exc)) from None
        if status != 200:
            phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
            raise _trigger_error("failed_resp", trigger,
                                 f"Command with a trigger of '{{trigger}}' returned response {status} {phrase}".strip()
                                 + ".", detail=body.decode("utf-8", "replace"))
        response = response_from_body(content_type, body)
        if response is None:
            raise _trigger_error("failed", trigger, "Command with a trigger of '{trigger}' failed.")
        return response

    # ---------------------------------------------------------------- answers
    def handle_response(self, cmd: dict, args: dict, response: dict) -> dict:
        """app.HandleCommandResponse: post the response and its extra_responses; return the response."""
        trigger = args["command"].split(" ")[0][1:].lower() if args["command"] else ""
        failed = False
        for item in [response] + list(response.get("extra_responses") or []):
            try:
                self._handle_post(cmd, args, item)
            except AppError as exc:
                log.info("slash command response not posted: %s", exc)
                failed = True
        if failed:
            raise _trigger_error("create_post_failed", trigger,
                                 "Command '{trigger}' failed to post response. Please contact your System "
                                 "Administrator.")
        return response

    def _handle_post(self, cmd: dict, args: dict, response: dict) -> None:
        """app.HandleCommandResponsePost (custom commands: builtIn false, so always from_webhook)."""
        channel_id = args["channel_id"]
        if response["channel_id"]:
            if not self.state.is_member(response["channel_id"], args["user_id"]):
                raise AppError(403, "api.command.command_post.forbidden.app_error",
                               "Specified user is not a member of specified channel.")
            channel_id = response["channel_id"]
        props = copy.deepcopy(response["props"] or {})
        settings = self.core.settings
        if settings.enable_post_username_override:
            username = cmd["username"] or response["username"]
            if username:
                props["override_username"] = username
            props["override_icon_url"] = cmd["icon_url"] or response["icon_url"]
        props["from_webhook"] = "true"
        message = response["text"] if response["skip_slack_parsing"] else slack_text(response["text"])
        post_type = response["type"]
        if response["attachments"] is not None:
            props["attachments"] = copy.deepcopy(response["attachments"])
            post_type = "slack_attachment"
        if response["response_type"] == "in_channel":
            channel = self.state.channels.get(channel_id)
            if channel is None or channel["delete_at"]:
                raise AppError(400, "api.post.create_post.can_not_post_to_deleted.error",
                               "Can not post to deleted channel.")
            self.core.posting.insert_post(channel, args["user_id"], message[:16383], root_id=args["root_id"],
                                          props=props, post_type=post_type)
        elif response["response_type"] in ("", "ephemeral") and (response["text"] or response["attachments"]
                                                                  is not None):
            self.core.posting.send_ephemeral(args["user_id"], channel_id, message, root_id=args["root_id"],
                                             props=props)

    def webhook(self, hook_id: str, response: dict | None) -> None:
        """app.HandleCommandWebhook: 30 minutes and 5 uses, then the response is handled as the original one."""
        if response is None:
            raise AppError(400, "app.command.handle_command_webhook.parse", "Unable to parse incoming data.")
        hook = self.hooks.get(hook_id)
        if hook is None or hook["create_at"] <= now_ms() - COMMAND_WEBHOOK_LIFETIME_MS:
            raise AppError(404, "app.command_webhook.get.missing", "Unable to find the webhook.")
        cmd = self.commands.get(hook["command_id"])
        if cmd is None:
            raise command_not_found()
        if hook["use_count"] >= COMMAND_WEBHOOK_MAX_USES:
            raise AppError(400, "app.command_webhook.try_use.invalid", "Invalid use.")
        hook["use_count"] += 1
        args = {"user_id": hook["user_id"], "channel_id": hook["channel_id"], "root_id": hook["root_id"],
                "command": ""}
        self.handle_response(cmd, args, response)
