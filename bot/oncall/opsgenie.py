"""Opsgenie: who is on call for a schedule, and alerts keyed by the incident key (the alert's alias).

References, from Opsgenie's public documentation:
- https://docs.opsgenie.com/docs/who-is-on-call-api ("Get On Calls"): `GET /v2/schedules/:scheduleIdentifier/on-calls`
  with scheduleIdentifierType=id|name and flat=true|false; with flat=true the answer is
  {data: {_parent: {id, name, enabled}, onCallRecipients: ["user@example.com", ...]}, took, requestId}
  (Opsgenie usernames are e-mail addresses).
- https://docs.opsgenie.com/docs/alert-api: every sample request sends `Authorization: GenieKey <key>`.
  "Create Alert" `POST /v2/alerts` {message (max 130), alias (max 512; one open alert per alias), description
  (max 15000), priority P1..P5 (default P3), source, details (string map), tags} -> 202
  {result: "Request will be processed", took, requestId}: creation and actions are processed asynchronously.
  "Acknowledge Alert" `POST /v2/alerts/:identifier/acknowledge?identifierType=alias` and "Close Alert"
  `POST /v2/alerts/:identifier/close?identifierType=alias`, body {user, source, note} -> 202 likewise.
  "Get Alert" `GET /v2/alerts/:identifier?identifierType=alias` -> 200 {data: {id, tinyId, alias, message,
  status: open|closed, acknowledged, ...}, took, requestId}.
- https://docs.opsgenie.com/docs/response: error answers carry {message, took, requestId}; 401 invalid key,
  403 not permitted, 404 not found, 422 semantic errors, 429 too many requests, 5xx.
The EU instance lives at https://api.eu.opsgenie.com: pass it as `api_base`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import quote

from bot.oncall.paging import PageStatus, PagingError
from bot.oncall.paging_http import Answer, JsonHttp, retry_after, text_of

log = logging.getLogger(__name__)

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
MAX_MESSAGE = 130
MAX_ALIAS = 512
MAX_DESCRIPTION = 15000


class OpsgenieError(PagingError):
    """Opsgenie refused a request or could not be reached."""

    provider = "Opsgenie"


@dataclass(frozen=True)
class AlertReceipt:
    """Opsgenie's answer to an accepted (asynchronous) alert request."""

    result: str
    request_id: str


class OpsgenieClient:
    """Asks Opsgenie who is on call and creates, acknowledges, closes and polls alerts by alias."""

    def __init__(self, api_key: str, *, api_base: str = "https://api.opsgenie.com", timeout: float = 10.0) -> None:
        self._headers = {"Authorization": f"GenieKey {api_key}"}
        self._api_base = api_base.rstrip("/")
        self._http = JsonHttp(OpsgenieError, timeout=timeout)

    async def __aenter__(self) -> OpsgenieClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()

    async def on_call(self, schedule: str, *, identifier_type: str = "name") -> list[str]:
        """The usernames (e-mail addresses) on call now in `schedule`, named by name (or by id)."""
        if identifier_type not in ("name", "id"):
            raise ValueError("identifier_type must be 'name' or 'id'")
        answer = await self._call("GET", f"/v2/schedules/{quote(schedule, safe='')}/on-calls",
                                  params={"scheduleIdentifierType": identifier_type, "flat": "true"})
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        recipients = data.get("onCallRecipients") if isinstance(data, dict) else None
        if not isinstance(recipients, list):
            raise OpsgenieError(f"the answer has no onCallRecipients list: {text_of(answer.body)}",
                                status=answer.status)
        return [str(r) for r in recipients if r]

    async def create_alert(self, alias: str, message: str, *, priority: str = "P3", description: str = "",
                           source: str = "incident-bot", details: dict[str, Any] | None = None,
                           tags: Sequence[str] = ()) -> AlertReceipt:
        """Open an alert under `alias` (the incident key); while it is open, Opsgenie folds repeats into it."""
        _check_alias(alias)
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
        if not message.strip():
            raise ValueError("message must not be empty")
        body: dict[str, Any] = {"message": _clip(message, MAX_MESSAGE), "alias": alias, "priority": priority,
                                "source": source}
        if description:
            body["description"] = _clip(description, MAX_DESCRIPTION)
        if details:
            body["details"] = {str(k): str(v) for k, v in details.items()}
        if tags:
            body["tags"] = list(tags)
        return _receipt(await self._call("POST", "/v2/alerts", json=body, expect=202))

    async def acknowledge_alert(self, alias: str, *, note: str = "", user: str = "",
                                source: str = "incident-bot") -> AlertReceipt:
        """Acknowledge the open alert under `alias`."""
        return await self._action(alias, "acknowledge", note=note, user=user, source=source)

    async def close_alert(self, alias: str, *, note: str = "", user: str = "",
                          source: str = "incident-bot") -> AlertReceipt:
        """Close the open alert under `alias`."""
        return await self._action(alias, "close", note=note, user=user, source=source)

    async def alert_status(self, alias: str) -> PageStatus:
        """Where the alert under `alias` stands; MISSING also while Opsgenie is still creating it."""
        _check_alias(alias)
        answer = await self._call("GET", f"/v2/alerts/{quote(alias, safe='')}", params={"identifierType": "alias"},
                                  expect=200, missing_ok=True)
        if answer.status == 404:
            return PageStatus.MISSING
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        if not isinstance(data, dict):
            raise OpsgenieError(f"the answer has no alert data: {text_of(answer.body)}", status=answer.status)
        if data.get("status") == "closed":
            return PageStatus.RESOLVED
        return PageStatus.ACKNOWLEDGED if data.get("acknowledged") is True else PageStatus.OPEN

    async def alert_acknowledged(self, alias: str) -> bool:
        """True once someone has taken the alert: it is acknowledged or already closed."""
        return await self.alert_status(alias) in (PageStatus.ACKNOWLEDGED, PageStatus.RESOLVED)

    async def _action(self, alias: str, action: str, *, note: str, user: str, source: str) -> AlertReceipt:
        _check_alias(alias)
        body = {key: value for key, value in (("user", user), ("source", source), ("note", note)) if value}
        answer = await self._call("POST", f"/v2/alerts/{quote(alias, safe='')}/{action}",
                                  params={"identifierType": "alias"}, json=body, expect=202)
        return _receipt(answer)

    async def _call(self, method: str, path: str, *, expect: int = 200, missing_ok: bool = False,
                    **kwargs: Any) -> Answer:
        answer = await self._http.request(method, f"{self._api_base}{path}", headers=self._headers, **kwargs)
        if answer.status == expect or (missing_ok and answer.status == 404):
            return answer
        raise _error(answer)


def _check_alias(alias: str) -> None:
    if not alias or len(alias) > MAX_ALIAS:
        raise ValueError(f"alias must be 1 to {MAX_ALIAS} characters")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _receipt(answer: Answer) -> AlertReceipt:
    body = answer.body if isinstance(answer.body, dict) else {}
    return AlertReceipt(result=str(body.get("result", "")), request_id=str(body.get("requestId", "")))


def _error(answer: Answer) -> OpsgenieError:
    """Map an Opsgenie error body {message, took, requestId} (or anything else) to OpsgenieError."""
    body = answer.body if isinstance(answer.body, dict) else {}
    message = str(body.get("message") or "") or text_of(answer.body)
    errors = body.get("errors")
    if isinstance(errors, dict) and errors:  # 422s name the offending fields
        message += " (" + "; ".join(f"{field}: {problem}" for field, problem in errors.items()) + ")"
    return OpsgenieError(message, status=answer.status, retry_after=retry_after(answer))
