"""Local servers speaking PagerDuty's and Opsgenie's routes, for the on-call client and provider tests.

PagerDuty shapes follow its public docs (github.com/PagerDuty/developer-docs, api-schema):
- GET /oncalls: api-schema reference/REST/openapiv3.json "listOnCalls" example ({oncalls: [{user, schedule,
  escalation_policy, escalation_level, start, end}], limit, offset, more, total}); with include[]=users the
  user is the full user object (id, name, email, ...).
- REST errors: docs/REST-API/14-Errors.md ({"error": {"message", "code", "errors"}}; 2006 Authentication failed,
  2100 Not Found).
- POST /v2/enqueue: docs/events-API-v2/02-Trigger-Events.md and 01-Overview.md (202 {status, message, dedup_key};
  400 {status: "invalid event", message: "Event object is invalid", errors}).

Opsgenie shapes follow its docs:
- https://docs.opsgenie.com/docs/who-is-on-call-api (Get On Calls, flat=true: {data: {_parent, onCallRecipients}})
- https://docs.opsgenie.com/docs/alert-api (Create Alert -> 202 {result: "Request will be processed", took,
  requestId}; Acknowledge / Close by alias -> 202; Get Alert -> {data: {status, acknowledged, ...}})
- https://docs.opsgenie.com/docs/response (errors: {message, took, requestId}; 401, 404, 422, 429, 5xx)
"""
from __future__ import annotations

import uuid

from aiohttp import web

TOKEN = "y_NbAkKc66ryYTWUXYEu"
ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"


def user(uid: str, name: str, email: str) -> dict:
    return {"id": uid, "type": "user", "summary": name, "name": name, "email": email, "time_zone": "Europe/Berlin",
            "self": f"https://api.pagerduty.com/users/{uid}", "html_url": f"https://acme.pagerduty.com/users/{uid}"}


def oncall(person: dict, level: int) -> dict:
    return {
        "user": person,
        "schedule": {"id": "PI7DH85", "type": "schedule_reference", "summary": "Daily Engineering Rotation",
                     "self": "https://api.pagerduty.com/schedules/PI7DH85",
                     "html_url": "https://subdomain.pagerduty.com/schedules/PI7DH85"},
        "escalation_policy": {"id": "PT20YPA", "type": "escalation_policy_reference",
                              "summary": "Engineering Escalation Policy",
                              "self": "https://api.pagerduty.com/escalation_policies/PT20YPA",
                              "html_url": "https://subdomain.pagerduty.com/escalation_policies/PT20YPA"},
        "escalation_level": level, "start": "2015-03-06T15:28:51-05:00", "end": "2015-03-07T15:28:51-05:00",
    }


TIM = user("PT23IWX", "Tim Wright", "tim.wright@example.com")
ANA = user("PXPGF42", "Ana Lopez", "ana@example.com")


class FakePagerDutyRest:
    """GET /oncalls and GET /incidents, recording each request's headers and query."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, list[tuple[str, str]]]] = []
        self.oncalls = [oncall(TIM, 2), oncall(ANA, 1), oncall(ANA, 1)]
        self.page_size: int | None = None
        self.incidents: dict[str, list[str]] = {}
        self.fail_with: tuple[int, object, dict] | None = None
        self.app = web.Application()
        self.app.router.add_get("/oncalls", self.list_oncalls)
        self.app.router.add_get("/incidents", self.list_incidents)

    def check(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.path, dict(request.headers), list(request.query.items())))
        if request.headers.get("Authorization") != f"Token token={TOKEN}":
            return web.json_response({"error": {"message": "Authentication failed", "code": 2006}}, status=401)
        if self.fail_with:
            status, body, headers = self.fail_with
            if isinstance(body, str):
                return web.Response(status=status, text=body, headers=headers)
            return web.json_response(body, status=status, headers=headers)
        return None

    async def list_oncalls(self, request: web.Request) -> web.Response:
        if refused := self.check(request):
            return refused
        offset, limit = int(request.query.get("offset", 0)), int(request.query.get("limit", 25))
        limit = self.page_size or limit
        entries = self.oncalls
        if "include[]" not in request.query:  # without include[]=users only a reference comes back
            entries = [dict(e, user={k: e["user"][k] for k in ("id", "type", "summary", "self", "html_url")})
                       for e in entries]
        page = entries[offset:offset + limit]
        return web.json_response({"oncalls": page, "limit": limit, "offset": offset,
                                  "more": offset + limit < len(entries), "total": None})

    async def list_incidents(self, request: web.Request) -> web.Response:
        if refused := self.check(request):
            return refused
        key = request.query.get("incident_key", "")
        incidents = [{"id": f"P{n}", "type": "incident", "incident_number": n, "status": status,
                      "incident_key": key, "title": "checkout down"}
                     for n, status in enumerate(self.incidents.get(key, []), start=1)]
        return web.json_response({"incidents": incidents, "limit": 25, "offset": 0, "more": False, "total": None})


class FakeEvents:
    """POST /v2/enqueue, remembering the state of each dedup key like PagerDuty's alert de-duplication."""

    def __init__(self) -> None:
        self.events: list[tuple[dict, dict]] = []
        self.state: dict[str, str] = {}
        self.fail_with: tuple[int, object] | None = None
        self.app = web.Application()
        self.app.router.add_post("/v2/enqueue", self.enqueue)

    async def enqueue(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.events.append((dict(request.headers), body))
        if self.fail_with:
            status, payload = self.fail_with
            return web.json_response(payload, status=status) if payload is not None else web.Response(status=status)
        if len(body.get("routing_key", "")) != 32:
            return web.json_response({"status": "invalid event", "message": "Event object is invalid",
                                      "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]},
                                     status=400)
        self.state[body["dedup_key"]] = body["event_action"]
        return web.json_response({"status": "success", "message": "Event processed",
                                  "dedup_key": body["dedup_key"]}, status=202)


# Opsgenie

KEY = "eb243592-faa2-4ba2-a551q-1afdf565c889"


def envelope(**fields) -> dict:
    return fields | {"took": 0.012, "requestId": str(uuid.uuid4())}


class FakeOpsgenie:
    """Schedules with on-call recipients and alerts by alias, recording every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict, dict, object]] = []
        self.schedules = {"Platform Primary": ("d875alp4-9b4e-4219-alp3-0c26936d18de",
                                               ["alice@example.com", "bob@example.com"])}
        self.alerts: dict[str, dict] = {}
        self.fail_with: tuple[int, dict, dict] | None = None
        self.app = web.Application()
        self.app.router.add_get("/v2/schedules/{identifier}/on-calls", self.on_calls)
        self.app.router.add_post("/v2/alerts", self.create)
        self.app.router.add_post("/v2/alerts/{identifier}/acknowledge", self.acknowledge)
        self.app.router.add_post("/v2/alerts/{identifier}/close", self.close)
        self.app.router.add_get("/v2/alerts/{identifier}", self.get)

    async def check(self, request: web.Request) -> web.Response | None:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.match_info.get("identifier", ""), dict(request.query),
                              dict(request.headers), body))
        if request.headers.get("Authorization") != f"GenieKey {KEY}":
            return web.json_response(envelope(message="Could not authenticate"), status=401)
        if self.fail_with:
            status, payload, headers = self.fail_with
            return web.json_response(envelope(**payload), status=status, headers=headers)
        return None

    async def on_calls(self, request: web.Request) -> web.Response:
        if refused := await self.check(request):
            return refused
        identifier = request.match_info["identifier"]
        by = request.query.get("scheduleIdentifierType", "id")
        found = [(name, sid, people) for name, (sid, people) in self.schedules.items()
                 if (name if by == "name" else sid) == identifier]
        if not found:
            return web.json_response(envelope(message=f"Schedule with identifier [{identifier}] does not exist"),
                                     status=404)
        name, sid, people = found[0]
        parent = {"id": sid, "name": name, "enabled": True}
        if request.query.get("flat") == "true":
            return web.json_response(envelope(data={"_parent": parent, "onCallRecipients": people}))
        return web.json_response(envelope(data={"_parent": parent, "onCallParticipants": [
            {"id": str(uuid.uuid4()), "name": p, "type": "user"} for p in people]}))

    async def create(self, request: web.Request) -> web.Response:
        if refused := await self.check(request):
            return refused
        body = await request.json()
        if not body.get("message"):
            return web.json_response(envelope(message="Request body is not processable. Please check the errors.",
                                              errors={"message": "Message can not be empty."}), status=422)
        alias = body.get("alias") or str(uuid.uuid4())
        existing = self.alerts.get(alias)
        if existing and existing["status"] == "open":
            existing["count"] += 1
        else:
            self.alerts[alias] = {"id": str(uuid.uuid4()), "tinyId": str(len(self.alerts) + 1), "alias": alias,
                                  "message": body["message"], "status": "open", "acknowledged": False,
                                  "isSeen": False, "snoozed": False, "count": 1,
                                  "priority": body.get("priority", "P3"), "source": body.get("source", "")}
        return web.json_response(envelope(result="Request will be processed"), status=202)

    async def action(self, request: web.Request, change: dict) -> web.Response:
        if refused := await self.check(request):
            return refused
        if request.query.get("identifierType") != "alias":
            return web.json_response(envelope(message="identifierType must be alias here"), status=422)
        alert = self.alerts.get(request.match_info["identifier"])
        if alert is not None:  # unknown aliases fail later, in the asynchronous request status
            alert.update(change)
        return web.json_response(envelope(result="Request will be processed"), status=202)

    async def acknowledge(self, request: web.Request) -> web.Response:
        return await self.action(request, {"acknowledged": True})

    async def close(self, request: web.Request) -> web.Response:
        return await self.action(request, {"status": "closed"})

    async def get(self, request: web.Request) -> web.Response:
        if refused := await self.check(request):
            return refused
        alert = self.alerts.get(request.match_info["identifier"]) if request.query.get("identifierType") == "alias" \
            else None
        if alert is None:
            return web.json_response(envelope(message="Alert does not exist"), status=404)
        return web.json_response(envelope(data=alert))
