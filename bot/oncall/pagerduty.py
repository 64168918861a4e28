"""PagerDuty: who is on call (REST API v2) and paging people (Events API v2), keyed by the incident key.

References, from PagerDuty's public documentation (github.com/PagerDuty/developer-docs, published at
developer.pagerduty.com, and the OpenAPI schema github.com/PagerDuty/api-schema):
- auth: docs/REST-API/02-Authentication.md: `Authorization: Token token=<key>` on every REST call, with
  `Accept: application/vnd.pagerduty+json;version=2`. The Events API takes no header: the routing key is in the body.
- on-calls: api-schema reference/REST/openapiv3.json, `GET /oncalls` (listOnCalls, "List all of the on-calls"):
  query schedule_ids[], escalation_policy_ids[], earliest, include[] (users | schedules | escalation_policies),
  limit, offset -> 200 {oncalls: [{user, schedule, escalation_policy, escalation_level, start, end}], limit,
  offset, more, total}. Without include[]=users `user` is a reference {id, type: user_reference, summary};
  with it, the full user including name and email.
- REST errors: docs/REST-API/14-Errors.md: {"error": {"message", "code", "errors": [...]}}; 401 bad token,
  403, 404, 429 rate limited, 500.
- events: docs/events-API-v2/02-Trigger-Events.md: `POST https://events.pagerduty.com/v2/enqueue` with
  {routing_key, event_action: trigger | acknowledge | resolve, dedup_key (max 255), payload: {summary (max 1024),
  source, severity: critical | error | warning | info, custom_details, ...}}; acknowledge and resolve carry only
  routing_key, dedup_key and event_action. docs/events-API-v2/01-Overview.md: 202 {status: "success",
  message: "Event processed", dedup_key}; 400 {status: "invalid event", message: "Event object is invalid",
  errors: [...]}; 429 and 5xx: retry later.
- incidents by key: `GET /incidents?incident_key=<dedup_key>` (List incidents,
  developer.pagerduty.com/api-reference/9d0b4b12e36f9-list-incidents): {incidents: [{status: triggered |
  acknowledged | resolved, incident_key, ...}]}.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.oncall.paging import PageStatus, PagingError
from bot.oncall.paging_http import Answer, JsonHttp, retry_after, text_of

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "error", "warning", "info")
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
_PAGE_SIZE = 100
_MAX_PAGES = 10


class PagerDutyError(PagingError):
    """PagerDuty refused a request or could not be reached."""

    provider = "PagerDuty"


@dataclass(frozen=True)
class OnCallPerson:
    """Someone on call in PagerDuty; `level` 1 is paged first."""

    email: str
    name: str
    level: int
    user_id: str = ""


@dataclass(frozen=True)
class EventReceipt:
    """PagerDuty's answer to an accepted event."""

    status: str
    message: str
    dedup_key: str


class PagerDutyClient:
    """Asks PagerDuty who is on call and triggers, acknowledges and resolves pages."""

    def __init__(self, api_token: str, *, api_base: str = "https://api.pagerduty.com",
                 events_base: str = "https://events.pagerduty.com", timeout: float = 10.0) -> None:
        self._api_token = api_token
        self._api_base = api_base.rstrip("/")
        self._events_base = events_base.rstrip("/")
        self._http = JsonHttp(PagerDutyError, timeout=timeout)

    async def __aenter__(self) -> PagerDutyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()

    async def on_call(self, schedule_id: str | None = None,
                      escalation_policy_id: str | None = None) -> list[OnCallPerson]:
        """Who is on call now for a schedule and/or an escalation policy, by escalation level then name."""
        if not schedule_id and not escalation_policy_id:
            raise ValueError("give a schedule_id, an escalation_policy_id or both")
        query: list[tuple[str, str]] = [("earliest", "true"), ("include[]", "users"), ("limit", str(_PAGE_SIZE))]
        if schedule_id:
            query.append(("schedule_ids[]", schedule_id))
        if escalation_policy_id:
            query.append(("escalation_policy_ids[]", escalation_policy_id))
        people: dict[tuple[str, int], OnCallPerson] = {}
        offset = 0
        for _ in range(_MAX_PAGES):
            body = await self._rest("GET", "/oncalls", query + [("offset", str(offset))])
            entries = _list(body, "oncalls")
            for entry in entries:
                person = _person(entry)
                people.setdefault((person.user_id or person.email, person.level), person)
            offset += len(entries)
            if not entries or body.get("more") is not True:
                break
        return sorted(people.values(), key=lambda p: (p.level, p.name.lower()))

    async def trigger(self, routing_key: str, dedup_key: str, summary: str, severity: str = "critical",
                      source: str = "incident-bot", details: dict[str, Any] | None = None) -> EventReceipt:
        """Page the service behind `routing_key`; later events with the same `dedup_key` update the same alert."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        if not summary.strip() or not source.strip():
            raise ValueError("summary and source must not be empty")
        payload: dict[str, Any] = {"summary": summary[:MAX_SUMMARY], "source": source, "severity": severity}
        if details:
            payload["custom_details"] = details
        return await self._event(routing_key, "trigger", dedup_key, payload)

    async def acknowledge(self, routing_key: str, dedup_key: str) -> EventReceipt:
        """Mark the page as acknowledged: PagerDuty stops notifying people about it."""
        return await self._event(routing_key, "acknowledge", dedup_key)

    async def resolve(self, routing_key: str, dedup_key: str) -> EventReceipt:
        """Resolve the page; a later trigger with the same key opens a new one."""
        return await self._event(routing_key, "resolve", dedup_key)

    async def incident_status(self, dedup_key: str) -> PageStatus:
        """Where the incident opened under `dedup_key` stands (an open one wins over older resolved ones)."""
        body = await self._rest("GET", "/incidents", [("incident_key", dedup_key)])
        statuses = {str(incident.get("status")) for incident in _list(body, "incidents")}
        if "acknowledged" in statuses:
            return PageStatus.ACKNOWLEDGED
        if "triggered" in statuses:
            return PageStatus.OPEN
        return PageStatus.RESOLVED if "resolved" in statuses else PageStatus.MISSING

    async def incident_acknowledged(self, dedup_key: str) -> bool:
        """True once someone has taken the page: it is acknowledged or already resolved."""
        return await self.incident_status(dedup_key) in (PageStatus.ACKNOWLEDGED, PageStatus.RESOLVED)

    async def _rest(self, method: str, path: str, query: list[tuple[str, str]]) -> Any:
        if not self._api_token:
            raise PagerDutyError("no REST API token is configured")
        headers = {"Authorization": f"Token token={self._api_token}",
                   "Accept": "application/vnd.pagerduty+json;version=2"}
        answer = await self._http.request(method, f"{self._api_base}{path}", params=query, headers=headers)
        if answer.status != 200:
            raise _rest_error(answer)
        return answer.body

    async def _event(self, routing_key: str, action: str, dedup_key: str,
                     payload: dict[str, Any] | None = None) -> EventReceipt:
        if not routing_key:
            raise ValueError("a routing key (the service's Events API v2 integration key) is required")
        if not dedup_key or len(dedup_key) > MAX_DEDUP_KEY:
            raise ValueError(f"dedup_key must be 1 to {MAX_DEDUP_KEY} characters")
        event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}
        if payload is not None:
            event["payload"] = payload
        answer = await self._http.request("POST", f"{self._events_base}/v2/enqueue", json=event)
        if answer.status != 202:
            raise _events_error(answer)
        body = answer.body if isinstance(answer.body, dict) else {}
        log.info("PagerDuty accepted %s for %s", action, dedup_key)
        return EventReceipt(status=str(body.get("status", "success")), message=str(body.get("message", "")),
                            dedup_key=str(body.get("dedup_key") or dedup_key))


def _list(body: Any, key: str) -> list[dict[str, Any]]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise PagerDutyError(f"the answer has no `{key}` list: {text_of(body)}", status=200)
    return [item for item in items if isinstance(item, dict)]


def _person(entry: dict[str, Any]) -> OnCallPerson:
    user = entry.get("user") if isinstance(entry.get("user"), dict) else {}
    try:
        level = int(entry.get("escalation_level", 1))
    except (TypeError, ValueError):
        level = 1
    return OnCallPerson(email=str(user.get("email") or ""), name=str(user.get("name") or user.get("summary") or ""),
                        level=level, user_id=str(user.get("id") or ""))


def _rest_error(answer: Answer) -> PagerDutyError:
    """Map a REST error body {"error": {"message", "code", "errors"}} (or anything else) to PagerDutyError."""
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    code = None
    if isinstance(error, dict):
        code = error.get("code")
        message = str(error.get("message") or "")
        message = ": ".join(part for part in (message, _details(error.get("errors"))) if part)
    else:
        message = ""
    return PagerDutyError(message or text_of(answer.body), status=answer.status, code=code,
                          retry_after=retry_after(answer))


def _events_error(answer: Answer) -> PagerDutyError:
    """Map an Events API error body {"status", "message", "errors"} (or anything else) to PagerDutyError."""
    body = answer.body if isinstance(answer.body, dict) else {}
    message = ": ".join(part for part in (str(body.get("message") or ""), _details(body.get("errors"))) if part)
    return PagerDutyError(message or text_of(answer.body), status=answer.status, code=body.get("status"),
                          retry_after=retry_after(answer))


def _details(errors: Any) -> str:
    """PagerDuty's `errors` detail, a list of strings (or, now and then, one string)."""
    if isinstance(errors, str):
        return errors
    return "; ".join(str(e) for e in errors if e) if isinstance(errors, list) else ""
