"""PagerDutyProvider and OpsgenieProvider against the local PagerDuty and Opsgenie fakes, and the paging config."""
from __future__ import annotations

import pytest

from bot.incidents.model import Severity
from bot.oncall.opsgenie import OpsgenieClient
from bot.oncall.pagerduty import PagerDutyClient
from bot.oncall.providers import (OpsgenieProvider, PagerDutyProvider, PagingConfigError, PagingProvider,
                                  providers_from_config)
from tests.oncall.fakes import KEY, ROUTING_KEY, TIM, TOKEN, oncall

UNREACHABLE = "http://127.0.0.1:9"
SEVERITIES = [("sev1", "critical", "P1"), ("sev2", "error", "P2"), ("sev3", "warning", "P3"), ("sev4", "info", "P4")]
ENVIRON = {"PAGERDUTY_TOKEN": TOKEN, "PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "OPSGENIE_API_KEY": KEY}


@pytest.fixture
async def pagerduty(rest, events):
    client = PagerDutyClient(TOKEN, api_base=rest.base, events_base=events.base)
    provider: PagingProvider = PagerDutyProvider(client, routing_key=ROUTING_KEY, schedule_id="PI7DH85")
    yield provider
    await provider.close()


@pytest.fixture
async def opsgenie(genie):
    provider: PagingProvider = OpsgenieProvider(OpsgenieClient(KEY, api_base=genie.base), schedule="Platform Primary")
    yield provider
    await provider.close()


def sent_events(events) -> list[dict]:
    return [body for _, body in events.events]


def alert_posts(genie) -> list[tuple[str, dict, object]]:
    return [(identifier, query, body) for method, identifier, query, _, body in genie.requests if method == "POST"]


# ------------------------------------------------------------------------------------------ who is on call

async def test_pagerduty_on_call_emails_come_level_by_level_without_repeats(pagerduty, rest):
    rest.oncalls.append(oncall(TIM, 3))  # Tim is also on a later level: he is listed once, at his first
    assert await pagerduty.on_call_emails() == ["ana@example.com", "tim.wright@example.com"]
    _, _, query = rest.requests[0]
    assert ("schedule_ids[]", "PI7DH85") in query and ("include[]", "users") in query


async def test_pagerduty_on_call_by_escalation_policy(rest):
    client = PagerDutyClient(TOKEN, api_base=rest.base)
    provider = PagerDutyProvider(client, routing_key=ROUTING_KEY, escalation_policy_id="PT20YPA")
    try:
        assert await provider.on_call_emails() == ["ana@example.com", "tim.wright@example.com"]
    finally:
        await provider.close()
    _, _, query = rest.requests[0]
    assert ("escalation_policy_ids[]", "PT20YPA") in query and not any(k == "schedule_ids[]" for k, _ in query)


async def test_pagerduty_without_a_schedule_or_policy_has_nobody_on_call_and_asks_nothing():
    provider = PagerDutyProvider(PagerDutyClient(TOKEN, api_base=UNREACHABLE), routing_key=ROUTING_KEY)
    assert await provider.on_call_emails() == []


async def test_opsgenie_on_call_emails_in_opsgenies_order(opsgenie, genie):
    genie.schedules["Platform Primary"][1][:] = ["alice@example.com", "bob@example.com", "Alice@Example.com", ""]
    assert await opsgenie.on_call_emails() == ["alice@example.com", "bob@example.com"]
    _, identifier, query, _, _ = genie.requests[0]
    assert identifier == "Platform Primary" and query == {"scheduleIdentifierType": "name", "flat": "true"}


async def test_opsgenie_schedule_by_id(genie):
    client = OpsgenieClient(KEY, api_base=genie.base)
    provider = OpsgenieProvider(client, schedule="d875alp4-9b4e-4219-alp3-0c26936d18de", identifier_type="id")
    try:
        assert await provider.on_call_emails() == ["alice@example.com", "bob@example.com"]
    finally:
        await provider.close()


# ------------------------------------------------------------------------------------------ pages

@pytest.mark.parametrize(("severity", "pagerduty_severity", "_"), SEVERITIES)
async def test_pagerduty_trigger_keys_the_page_by_incident_and_maps_the_severity(pagerduty, events, severity,
                                                                                  pagerduty_severity, _):
    await pagerduty.trigger("INC-12", "INC-12: checkout down", severity, details={"channel": "inc-12-checkout"})
    assert sent_events(events) == [{
        "routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": "INC-12",
        "payload": {"summary": "INC-12: checkout down", "source": "incident-bot", "severity": pagerduty_severity,
                    "custom_details": {"channel": "inc-12-checkout"}}}]


@pytest.mark.parametrize(("severity", "_", "priority"), SEVERITIES)
async def test_opsgenie_trigger_uses_the_incident_key_as_alias_and_maps_the_priority(opsgenie, genie, severity, _,
                                                                                     priority):
    await opsgenie.trigger("INC-12", "INC-12: checkout down", severity)
    assert alert_posts(genie) == [("", {}, {"message": "INC-12: checkout down", "alias": "INC-12",
                                            "priority": priority, "source": "incident-bot"})]


async def test_the_incidents_severity_enum_is_taken_as_well(pagerduty, opsgenie, events, genie):
    await pagerduty.trigger("INC-12", "down", Severity.SEV2)
    await opsgenie.trigger("INC-12", "down", Severity.SEV2)
    assert sent_events(events)[0]["payload"]["severity"] == "error"
    assert genie.alerts["INC-12"]["priority"] == "P2"


@pytest.mark.parametrize("severity", ["sev5", "critical", "P1", ""])
async def test_an_unknown_severity_is_refused_before_anything_is_sent(pagerduty, opsgenie, events, genie, severity):
    for provider in (pagerduty, opsgenie):
        with pytest.raises(ValueError, match="severity must be one of sev1, sev2, sev3, sev4"):
            await provider.trigger("INC-12", "down", severity)
    assert events.events == [] and genie.requests == []


async def test_pagerduty_acknowledge_and_resolve_follow_the_same_dedup_key(pagerduty, events):
    await pagerduty.trigger("INC-12", "down", "sev1")
    await pagerduty.acknowledge("INC-12")
    await pagerduty.resolve("INC-12")
    assert sent_events(events)[1:] == [
        {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "INC-12"},
        {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "INC-12"},
    ]
    assert events.state == {"INC-12": "resolve"}


async def test_opsgenie_acknowledge_and_resolve_act_on_the_alias(opsgenie, genie):
    await opsgenie.trigger("INC-12", "down", "sev1")
    await opsgenie.acknowledge("INC-12")
    assert genie.alerts["INC-12"]["acknowledged"] is True
    await opsgenie.resolve("INC-12")
    assert genie.alerts["INC-12"]["status"] == "closed"
    assert alert_posts(genie)[1:] == [
        ("INC-12", {"identifierType": "alias"}, {"source": "incident-bot", "note": "Acknowledged in Mattermost"}),
        ("INC-12", {"identifierType": "alias"}, {"source": "incident-bot", "note": "Resolved in Mattermost"}),
    ]


# ------------------------------------------------------------------------------------------ acknowledged?

@pytest.mark.parametrize(("statuses", "taken"), [
    ([], False), (["triggered"], False), (["acknowledged"], True), (["resolved"], True),
    (["resolved", "triggered"], False),
])
async def test_pagerduty_acknowledged_polls_the_incident_by_key(pagerduty, rest, statuses, taken):
    rest.incidents["INC-12"] = statuses
    assert await pagerduty.acknowledged("INC-12") is taken
    path, _, query = rest.requests[0]
    assert path == "/incidents" and ("incident_key", "INC-12") in query


async def test_opsgenie_acknowledged_follows_the_alert(opsgenie, genie):
    assert await opsgenie.acknowledged("INC-12") is False  # not created yet (Opsgenie creates asynchronously)
    await opsgenie.trigger("INC-12", "down", "sev3")
    assert await opsgenie.acknowledged("INC-12") is False
    genie.alerts["INC-12"]["acknowledged"] = True          # someone acknowledged it in Opsgenie's app
    assert await opsgenie.acknowledged("INC-12") is True
    gets = [(identifier, query) for method, identifier, query, _, _ in genie.requests if method == "GET"]
    assert len(gets) == 3 and all(g == ("INC-12", {"identifierType": "alias"}) for g in gets)


# ------------------------------------------------------------------------------------------ config

def full_section(rest=None, events=None, genie=None) -> dict:
    pagerduty = {"token_env": "PAGERDUTY_TOKEN", "routing_key_env": "PAGERDUTY_ROUTING_KEY", "schedule_id": "PI7DH85"}
    opsgenie = {"key_env": "OPSGENIE_API_KEY", "schedule": "Platform Primary"}
    if rest:
        pagerduty |= {"api_base": rest.base, "events_base": events.base}
    if genie:
        opsgenie |= {"api_base": genie.base}
    return {"pagerduty": pagerduty, "opsgenie": opsgenie}


async def test_config_builds_working_providers_with_secrets_from_the_environment(rest, events, genie):
    providers = providers_from_config(full_section(rest, events, genie), ENVIRON)
    try:
        assert [type(p) for p in providers] == [PagerDutyProvider, OpsgenieProvider]
        assert [p.name for p in providers] == ["pagerduty", "opsgenie"]
        pagerduty, opsgenie = providers
        assert (pagerduty.routing_key, pagerduty.schedule_id, pagerduty.escalation_policy_id) == (
            ROUTING_KEY, "PI7DH85", None)
        assert (opsgenie.schedule, opsgenie.identifier_type) == ("Platform Primary", "name")
        # The fakes refuse a wrong token or key: answers prove the environment's secrets were used.
        assert await pagerduty.on_call_emails() == ["ana@example.com", "tim.wright@example.com"]
        assert await opsgenie.on_call_emails() == ["alice@example.com", "bob@example.com"]
        await pagerduty.trigger("INC-3", "down", "sev2")
        assert events.state == {"INC-3": "trigger"}
    finally:
        for provider in providers:
            await provider.close()


async def test_config_order_is_kept_and_either_provider_may_stand_alone():
    section = full_section()
    providers = providers_from_config({"opsgenie": section["opsgenie"], "pagerduty": section["pagerduty"]}, ENVIRON)
    assert [p.name for p in providers] == ["opsgenie", "pagerduty"]
    only = providers_from_config({"opsgenie": {"key_env": "OPSGENIE_API_KEY", "schedule_id": "d875"}}, ENVIRON)
    assert [(p.name, p.schedule, p.identifier_type) for p in only] == [("opsgenie", "d875", "id")]


@pytest.mark.parametrize("section", [None, {}])
async def test_no_paging_section_means_no_providers(section):
    assert providers_from_config(section, ENVIRON) == []


@pytest.mark.parametrize(("environ", "problem"), [
    ({}, "paging.pagerduty.token_env: environment variable PAGERDUTY_TOKEN is not set"),
    ({"PAGERDUTY_TOKEN": "  "}, "paging.pagerduty.token_env: environment variable PAGERDUTY_TOKEN is not set"),
    ({"PAGERDUTY_TOKEN": TOKEN}, "paging.pagerduty.routing_key_env: environment variable PAGERDUTY_ROUTING_KEY "
                                 "is not set"),
    ({"PAGERDUTY_TOKEN": TOKEN, "PAGERDUTY_ROUTING_KEY": "short"},
     "paging.pagerduty.routing_key_env: environment variable PAGERDUTY_ROUTING_KEY holds 5 characters; an Events "
     "API v2 integration key has 32"),
])
async def test_a_missing_or_wrong_secret_names_the_variable(environ, problem):
    with pytest.raises(ValueError) as caught:
        providers_from_config({"pagerduty": full_section()["pagerduty"]}, environ)
    assert problem in str(caught.value)


async def test_a_secret_pasted_where_the_variable_name_belongs_is_refused_without_echoing_it():
    section = {"opsgenie": {"key_env": KEY, "schedule": "ops-primary"}}
    with pytest.raises(PagingConfigError) as caught:
        providers_from_config(section, ENVIRON)
    assert caught.value.problems[0][0] == ("paging", "opsgenie", "key_env")
    assert "must name an environment variable" in str(caught.value) and KEY not in str(caught.value)


@pytest.mark.parametrize(("section", "path", "message"), [
    ({"pagerduty": {"token_env": "PAGERDUTY_TOKEN", "routing_key_env": "PAGERDUTY_ROUTING_KEY",
                    "schedule": "PI7DH85"}},
     ("paging", "pagerduty", "schedule"), "unknown key (did you mean 'schedule_id'?)"),
    ({"pagerduty": {"token_env": "PAGERDUTY_TOKEN", "routing_key_env": "PAGERDUTY_ROUTING_KEY"}},
     ("paging", "pagerduty"), "give schedule_id or escalation_policy_id (or both)"),
    ({"pagerduty": {"routing_key_env": "PAGERDUTY_ROUTING_KEY", "schedule_id": "P1"}},
     ("paging", "pagerduty"), "token_env is required"),
    ({"pagerduty": dict(full_section()["pagerduty"], api_base="api.pagerduty.com")},
     ("paging", "pagerduty", "api_base"), "must be an http(s) URL"),
    ({"opsgenie": {"key_env": "OPSGENIE_API_KEY", "schedule": "a", "schedule_id": "b"}},
     ("paging", "opsgenie"), "give exactly one of schedule"),
    ({"opsgenie": {"key_env": "OPSGENIE_API_KEY", "schedule": ""}},
     ("paging", "opsgenie", "schedule"), "must not be empty"),
    ({"opsgenie": ["key_env"]}, ("paging", "opsgenie"), "must be a mapping, not a list"),
    ({"pagerdutty": {}}, ("paging", "pagerdutty"), "unknown paging provider (did you mean 'pagerduty'?)"),
    (["pagerduty"], ("paging",), "must be a mapping with pagerduty and/or opsgenie"),
])
async def test_config_problems_name_the_field(section, path, message):
    with pytest.raises(PagingConfigError) as caught:
        providers_from_config(section, ENVIRON)
    assert any(where == path and message in text for where, text in caught.value.problems), caught.value.problems


async def test_every_problem_is_reported_at_once():
    section = {"pagerduty": {"token_env": "NOPE_TOKEN", "routing_key_env": "NOPE_KEY", "schedule_id": "P1"},
               "opsgenie": {"key_env": "NOPE_GENIE", "schedule": "ops"}, "victorops": {}}
    with pytest.raises(PagingConfigError) as caught:
        providers_from_config(section, ENVIRON)
    assert [path for path, _ in caught.value.problems] == [
        ("paging", "pagerduty", "token_env"), ("paging", "pagerduty", "routing_key_env"),
        ("paging", "opsgenie", "key_env"), ("paging", "victorops")]
    assert str(caught.value).startswith("paging.pagerduty.token_env: environment variable NOPE_TOKEN is not set; ")
