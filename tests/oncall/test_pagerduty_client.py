"""PagerDutyClient against local servers speaking PagerDuty's REST and Events API v2 routes.

Payload shapes follow PagerDuty's public docs (github.com/PagerDuty/developer-docs, api-schema):
- GET /oncalls: api-schema reference/REST/openapiv3.json "listOnCalls" example ({oncalls: [{user, schedule,
  escalation_policy, escalation_level, start, end}], limit, offset, more, total}); with include[]=users the
  user is the full user object (id, name, email, ...).
- REST errors: docs/REST-API/14-Errors.md ({"error": {"message", "code", "errors"}}; 2006 Authentication failed,
  2100 Not Found).
- POST /v2/enqueue: docs/events-API-v2/02-Trigger-Events.md and 01-Overview.md (202 {status, message, dedup_key};
  400 {status: "invalid event", message: "Event object is invalid", errors}).
"""
from __future__ import annotations

import pytest

from bot.oncall.paging import PageStatus
from bot.oncall.pagerduty import EventReceipt, OnCallPerson, PagerDutyClient, PagerDutyError
from tests.mosquitto import free_port
from tests.oncall.fakes import ROUTING_KEY, TOKEN, FakeEvents, FakePagerDutyRest


def client(rest: FakePagerDutyRest | None = None, events: FakeEvents | None = None, token: str = TOKEN):
    return PagerDutyClient(token, api_base=rest.base if rest else "http://127.0.0.1:9",
                           events_base=events.base if events else "http://127.0.0.1:9")


async def test_on_call_asks_for_the_schedule_with_users_included_and_sorts_by_level(rest):
    async with client(rest) as pd:
        people = await pd.on_call(schedule_id="PI7DH85")
    assert people == [OnCallPerson(email="ana@example.com", name="Ana Lopez", level=1, user_id="PXPGF42"),
                      OnCallPerson(email="tim.wright@example.com", name="Tim Wright", level=2, user_id="PT23IWX")]
    path, headers, query = rest.requests[0]
    assert path == "/oncalls"
    assert headers["Authorization"] == f"Token token={TOKEN}"
    assert headers["Accept"] == "application/vnd.pagerduty+json;version=2"
    assert ("schedule_ids[]", "PI7DH85") in query and ("earliest", "true") in query
    assert ("include[]", "users") in query
    assert not any(key == "escalation_policy_ids[]" for key, _ in query)


async def test_on_call_by_escalation_policy_and_schedule_together(rest):
    async with client(rest) as pd:
        await pd.on_call(schedule_id="PI7DH85", escalation_policy_id="PT20YPA")
    _, _, query = rest.requests[0]
    assert ("schedule_ids[]", "PI7DH85") in query and ("escalation_policy_ids[]", "PT20YPA") in query


async def test_on_call_follows_pages(rest):
    rest.page_size = 1
    async with client(rest) as pd:
        people = await pd.on_call(escalation_policy_id="PT20YPA")
    assert [p.name for p in people] == ["Ana Lopez", "Tim Wright"]
    assert [dict(q)["offset"] for _, _, q in rest.requests] == ["0", "1", "2"]


async def test_on_call_needs_a_schedule_or_a_policy():
    with pytest.raises(ValueError):
        await PagerDutyClient(TOKEN).on_call()


@pytest.mark.parametrize(("status", "body", "headers", "expected"), [
    (404, {"error": {"message": "Not Found", "code": 2100}}, {}, "PagerDuty answered HTTP 404, code 2100: Not Found"),
    (400, {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["Schedule Ids is invalid."]}}, {},
     "PagerDuty answered HTTP 400, code 2001: Invalid Input Provided: Schedule Ids is invalid."),
    (429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}}, {"Retry-After": "30"},
     "PagerDuty answered HTTP 429, code 2020: Rate Limit Exceeded"),
    (500, "upstream connect error", {}, "PagerDuty answered HTTP 500: upstream connect error"),
])
async def test_rest_errors_carry_pagerdutys_message(rest, status, body, headers, expected):
    rest.fail_with = (status, body, headers)
    async with client(rest) as pd:
        with pytest.raises(PagerDutyError) as caught:
            await pd.on_call(schedule_id="PNOPE00")
    assert str(caught.value) == expected
    assert caught.value.status == status
    assert caught.value.retryable is (status in (429, 500))
    assert caught.value.retry_after == (30.0 if status == 429 else None)


async def test_a_wrong_token_is_a_401_with_pagerdutys_message(rest):
    async with client(rest, token="wrong") as pd:
        with pytest.raises(PagerDutyError) as caught:
            await pd.on_call(schedule_id="PI7DH85")
    assert (caught.value.status, caught.value.code, caught.value.message) == (401, 2006, "Authentication failed")
    assert not caught.value.retryable


async def test_trigger_sends_the_documented_event_and_returns_the_receipt(events):
    async with client(events=events) as pd:
        receipt = await pd.trigger(ROUTING_KEY, "INC-42", "INC-42: checkout down", "critical", "incident-bot",
                                   details={"channel": "inc-42-checkout-down", "commander": "@alice"})
    assert receipt == EventReceipt(status="success", message="Event processed", dedup_key="INC-42")
    headers, body = events.events[0]
    assert "Authorization" not in headers  # the routing key authenticates; the REST token must not leak here
    assert body == {"routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": "INC-42",
                    "payload": {"summary": "INC-42: checkout down", "source": "incident-bot", "severity": "critical",
                                "custom_details": {"channel": "inc-42-checkout-down", "commander": "@alice"}}}


async def test_acknowledge_and_resolve_send_only_the_key_and_action(events):
    async with client(events=events) as pd:
        await pd.trigger(ROUTING_KEY, "INC-42", "checkout down", "error", "incident-bot")
        await pd.acknowledge(ROUTING_KEY, "INC-42")
        await pd.resolve(ROUTING_KEY, "INC-42")
    assert [body for _, body in events.events[1:]] == [
        {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "INC-42"},
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "INC-42"},
    ]
    assert events.state == {"INC-42": "resolve"}


async def test_long_summaries_are_cut_to_pagerdutys_limit(events):
    async with client(events=events) as pd:
        await pd.trigger(ROUTING_KEY, "INC-42", "x" * 2000, "warning", "incident-bot")
    assert len(events.events[0][1]["payload"]["summary"]) == 1024


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"severity": "sev1"}, "severity must be one of critical, error, warning, info"),
    ({"dedup_key": "k" * 256}, "dedup_key must be 1 to 255 characters"),
    ({"summary": "  "}, "must not be empty"),
])
async def test_trigger_refuses_what_pagerduty_would_reject(events, kwargs, message):
    args = {"routing_key": ROUTING_KEY, "dedup_key": "INC-42", "summary": "down", "severity": "info",
            "source": "incident-bot"} | kwargs
    async with client(events=events) as pd:
        with pytest.raises(ValueError, match=message):
            await pd.trigger(**args)
    assert events.events == []


async def test_an_invalid_event_reports_pagerdutys_errors(events):
    async with client(events=events) as pd:
        with pytest.raises(PagerDutyError) as caught:
            await pd.trigger("short-key", "INC-42", "down", "info", "incident-bot")
    assert str(caught.value) == ("PagerDuty answered HTTP 400, code invalid event: Event object is invalid: "
                                 "Length of 'routing_key' is incorrect (should be 32 characters)")
    assert not caught.value.retryable


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_events_throttling_and_outages_are_retryable(events, status):
    events.fail_with = (status, None)
    async with client(events=events) as pd:
        with pytest.raises(PagerDutyError) as caught:
            await pd.resolve(ROUTING_KEY, "INC-42")
    assert caught.value.status == status and caught.value.retryable


@pytest.mark.parametrize(("statuses", "expected"), [
    ([], PageStatus.MISSING),
    (["triggered"], PageStatus.OPEN),
    (["acknowledged"], PageStatus.ACKNOWLEDGED),
    (["resolved"], PageStatus.RESOLVED),
    (["resolved", "triggered"], PageStatus.OPEN),  # an older incident under the same key was resolved
])
async def test_incident_status_by_key(rest, statuses, expected):
    rest.incidents["INC-42"] = statuses
    async with client(rest) as pd:
        assert await pd.incident_status("INC-42") is expected
        assert await pd.incident_acknowledged("INC-42") is (expected in (PageStatus.ACKNOWLEDGED,
                                                                          PageStatus.RESOLVED))
    assert ("incident_key", "INC-42") in rest.requests[0][2]


async def test_unreachable_pagerduty_is_a_retryable_error_without_status():
    async with PagerDutyClient(TOKEN, api_base=f"http://127.0.0.1:{free_port()}") as pd:
        with pytest.raises(PagerDutyError) as caught:
            await pd.on_call(schedule_id="PI7DH85")
    assert caught.value.status is None and caught.value.retryable
    assert str(caught.value).startswith("PagerDuty: cannot reach 127.0.0.1:")


async def test_without_a_rest_token_only_events_work(events):
    async with PagerDutyClient("", events_base=events.base) as pd:
        await pd.trigger(ROUTING_KEY, "INC-7", "down", "info", "incident-bot")
        with pytest.raises(PagerDutyError, match="no REST API token"):
            await pd.on_call(schedule_id="PI7DH85")
