"""OpsgenieClient against a local server speaking Opsgenie's schedule and alert routes.

Payload shapes follow Opsgenie's docs:
- https://docs.opsgenie.com/docs/who-is-on-call-api (Get On Calls, flat=true: {data: {_parent, onCallRecipients}})
- https://docs.opsgenie.com/docs/alert-api (Create Alert -> 202 {result: "Request will be processed", took,
  requestId}; Acknowledge / Close by alias -> 202; Get Alert -> {data: {status, acknowledged, ...}})
- https://docs.opsgenie.com/docs/response (errors: {message, took, requestId}; 401, 404, 422, 429, 5xx)
"""
from __future__ import annotations

import uuid

import pytest

from bot.oncall.paging import PageStatus
from bot.oncall.opsgenie import AlertReceipt, OpsgenieClient, OpsgenieError
from tests.mosquitto import free_port
from tests.oncall.fakes import KEY, FakeOpsgenie


def client(genie: FakeOpsgenie, key: str = KEY) -> OpsgenieClient:
    return OpsgenieClient(key, api_base=genie.base)


async def test_on_call_by_schedule_name_returns_the_recipients_emails(genie):
    async with client(genie) as og:
        assert await og.on_call("Platform Primary") == ["alice@example.com", "bob@example.com"]
    method, identifier, query, headers, _ = genie.requests[0]
    assert (method, identifier) == ("GET", "Platform Primary")   # the space travelled quoted and came back
    assert query == {"scheduleIdentifierType": "name", "flat": "true"}
    assert headers["Authorization"] == f"GenieKey {KEY}"


async def test_on_call_by_schedule_id(genie):
    async with client(genie) as og:
        assert await og.on_call("d875alp4-9b4e-4219-alp3-0c26936d18de", identifier_type="id") == [
            "alice@example.com", "bob@example.com"]


async def test_an_unknown_schedule_is_a_404_with_opsgenies_message(genie):
    async with client(genie) as og:
        with pytest.raises(OpsgenieError) as caught:
            await og.on_call("Nope")
    assert str(caught.value) == "Opsgenie answered HTTP 404: Schedule with identifier [Nope] does not exist"


async def test_create_alert_sends_the_incident_key_as_alias(genie):
    async with client(genie) as og:
        receipt = await og.create_alert("INC-42", "INC-42: checkout down", priority="P1",
                                        description="Checkout returns 500s since 14:02.",
                                        details={"channel": "inc-42", "attempt": 1}, tags=["incident-bot"])
    assert isinstance(receipt, AlertReceipt) and receipt.result == "Request will be processed"
    assert uuid.UUID(receipt.request_id)
    _, _, _, headers, body = genie.requests[0]
    assert headers["Authorization"] == f"GenieKey {KEY}"
    assert body == {"message": "INC-42: checkout down", "alias": "INC-42", "priority": "P1", "source": "incident-bot",
                    "description": "Checkout returns 500s since 14:02.",
                    "details": {"channel": "inc-42", "attempt": "1"}, "tags": ["incident-bot"]}


async def test_the_alert_lifecycle_by_alias(genie):
    async with client(genie) as og:
        assert await og.alert_status("INC-42") is PageStatus.MISSING
        await og.create_alert("INC-42", "checkout down")
        assert await og.alert_status("INC-42") is PageStatus.OPEN
        assert await og.alert_acknowledged("INC-42") is False
        await og.acknowledge_alert("INC-42", note="on it", user="alice")
        assert await og.alert_status("INC-42") is PageStatus.ACKNOWLEDGED
        assert await og.alert_acknowledged("INC-42") is True
        await og.close_alert("INC-42", note="resolved in Mattermost")
        assert await og.alert_status("INC-42") is PageStatus.RESOLVED
    posts = [(identifier, query, body) for method, identifier, query, _, body in genie.requests if method == "POST"]
    assert posts[1:] == [
        ("INC-42", {"identifierType": "alias"}, {"user": "alice", "source": "incident-bot", "note": "on it"}),
        ("INC-42", {"identifierType": "alias"}, {"source": "incident-bot", "note": "resolved in Mattermost"}),
    ]
    gets = [query for method, _, query, _, _ in genie.requests if method == "GET"]
    assert all(query == {"identifierType": "alias"} for query in gets)


async def test_aliases_with_spaces_and_slashes_reach_opsgenie_intact(genie):
    async with client(genie) as og:
        await og.create_alert("ops team/INC 42", "checkout down")
        await og.acknowledge_alert("ops team/INC 42")
        assert await og.alert_status("ops team/INC 42") is PageStatus.ACKNOWLEDGED


async def test_messages_are_cut_to_opsgenies_limit(genie):
    async with client(genie) as og:
        await og.create_alert("INC-42", "x" * 500)
    assert len(genie.requests[0][4]["message"]) == 130


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"priority": "high"}, "priority must be one of P1, P2, P3, P4, P5"),
    ({"alias": ""}, "alias must be 1 to 512 characters"),
    ({"message": " "}, "message must not be empty"),
])
async def test_create_alert_refuses_what_opsgenie_would_reject(genie, kwargs, message):
    args = {"alias": "INC-42", "message": "down"} | kwargs
    async with client(genie) as og:
        with pytest.raises(ValueError, match=message):
            await og.create_alert(**args)
    assert genie.requests == []


@pytest.mark.parametrize(("status", "payload", "headers", "expected"), [
    (422, {"message": "Request body is not processable. Please check the errors.",
           "errors": {"message": "Message can not be empty."}}, {},
     "Opsgenie answered HTTP 422: Request body is not processable. Please check the errors. "
     "(message: Message can not be empty.)"),
    (429, {"message": "You are making too many requests! To avoid errors, we recommend you limit requests."},
     {"Retry-After": "5"},
     "Opsgenie answered HTTP 429: You are making too many requests! To avoid errors, we recommend you limit requests."),
    (500, {"message": "Internal Server Error"}, {}, "Opsgenie answered HTTP 500: Internal Server Error"),
])
async def test_errors_carry_opsgenies_message(genie, status, payload, headers, expected):
    genie.fail_with = (status, payload, headers)
    async with client(genie) as og:
        with pytest.raises(OpsgenieError) as caught:
            await og.create_alert("INC-42", "down")
    assert str(caught.value) == expected
    assert caught.value.retryable is (status != 422)
    assert caught.value.retry_after == (5.0 if status == 429 else None)


async def test_a_wrong_key_is_a_401(genie):
    async with client(genie, key="wrong") as og:
        with pytest.raises(OpsgenieError) as caught:
            await og.alert_status("INC-42")
    assert (caught.value.status, caught.value.message) == (401, "Could not authenticate")
    assert not caught.value.retryable


async def test_unreachable_opsgenie_is_a_retryable_error():
    async with OpsgenieClient(KEY, api_base=f"http://127.0.0.1:{free_port()}") as og:
        with pytest.raises(OpsgenieError) as caught:
            await og.create_alert("INC-42", "down")
    assert caught.value.status is None and caught.value.retryable
