"""The `permissions` section: every entry form, located problems with suggestions, and roles read alongside."""
from __future__ import annotations

import pytest

from bot.people.permissions import (
    DEFAULT_POLICY, Actor, Entry, Kind, Permission, Policy, check, permissions_from_document,
)
from bot.people.roles import DEFAULT_ROLES
from bot.people.settings import PeopleConfig, people_from_document
from bot.problems import ConfigError
from bot.yamlsource import YamlSourceError, parse_yaml

EXAMPLE = """\
mattermost:
  team: ops
permissions:
  start: anyone                   # anyone | team | channel-members | admins | a list
  resolve: [commander, "@alice", "group:sre"]
  severity: [commander, "group:sre"]
  roles: [commander, "@lead"]
  update: [channel-members]
  ack: anyone
"""


def read(text: str) -> Policy:
    return permissions_from_document(parse_yaml(text, "config.yaml"))


def problems(text: str, reader=read) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        reader(text)
    return [str(p) for p in caught.value.problems]


def test_the_example_section():
    policy = read(EXAMPLE)
    assert policy.entries(Permission.START) == (Entry(Kind.ANYONE),)
    assert policy.entries(Permission.RESOLVE) == (
        Entry(Kind.ROLE, "commander"), Entry(Kind.USER, "alice"), Entry(Kind.GROUP, "sre"))
    assert policy.entries(Permission.ROLES) == (Entry(Kind.ROLE, "commander"), Entry(Kind.USER, "lead"))
    assert policy.entries(Permission.UPDATE) == (Entry(Kind.CHANNEL_MEMBERS),)
    refused = check(policy, Permission.RESOLVE, Actor("u-1", "bob", team_member=True), incident="INC-4")
    assert refused.reason == "Only the commander, @alice or members of sre may resolve INC-4; you are none of these."


def test_no_section_or_an_empty_one_is_the_default_policy():
    assert read("log_level: INFO\n") == DEFAULT_POLICY
    assert read("permissions:\n") == DEFAULT_POLICY


def test_other_entry_spellings():
    policy = read("permissions:\n"
                  "  resolve: [\"user:Alice\", Commander, TEAM, admins]\n"
                  "  ack: channel-members\n"
                  "  Update: \"group:on-call.eu\"\n")
    assert policy.entries(Permission.RESOLVE) == (
        Entry(Kind.USER, "alice"), Entry(Kind.ROLE, "commander"), Entry(Kind.TEAM), Entry(Kind.ADMINS))
    assert policy.entries(Permission.ACK) == (Entry(Kind.CHANNEL_MEMBERS),)
    assert policy.entries(Permission.UPDATE) == (Entry(Kind.GROUP, "on-call.eu"),)


def test_an_unknown_action_suggests_the_closest():
    assert problems("permissions:\n  start: anyone\n  reslove: [commander]\n") == [
        "config.yaml:3:3: permissions.reslove: unknown action 'reslove' (did you mean 'resolve'?); "
        "the actions are start, ack, update, resolve, severity, roles, run"]


def test_bad_entries_are_located_one_by_one():
    found = problems("permissions:\n"
                     "  resolve:\n"
                     "    - comander\n"
                     "    - \"@\"\n"
                     "    - \"group:SRE team\"\n"
                     "    - 42\n"
                     "    - commander\n"
                     "  ack: evryone\n"
                     "  update: []\n"
                     "  severity: {commander: yes}\n"
                     "  roles: [anyone, commander]\n"
                     "  start: [team, team]\n")
    choices = 'anyone, team, channel-members, admins, a role (commander, scribe, comms), "@username" or "group:name"'
    assert found == [
        "config.yaml:3:7: permissions.resolve[0]: 'comander' is not a role or a keyword (did you mean 'commander'?); "
        f"use {choices}",
        "config.yaml:4:7: permissions.resolve[1]: '@' names no username",
        "config.yaml:5:7: permissions.resolve[2]: 'group:SRE team': 'sre team' is not a Mattermost group name",
        f"config.yaml:6:7: permissions.resolve[3]: must be text ({choices}), not a number",
        "config.yaml:8:3: permissions.ack: 'evryone' is not a role or a keyword (did you mean 'anyone'?); "
        f"use {choices}",
        "config.yaml:9:3: permissions.update: must not be empty (to allow only system admins, write admins)",
        f"config.yaml:10:3: permissions.severity: must be one entry or a list of them ({choices}), not a mapping",
        "config.yaml:11:3: permissions.roles: anyone already allows everybody, so the other entries do nothing; "
        "remove them",
        "config.yaml:12:17: permissions.start[1]: 'team' is listed twice",
    ]


def test_the_section_must_be_a_mapping():
    assert problems("permissions: [commander]\n") == [
        "config.yaml:1:1: permissions: must be a mapping of action to who may do it, not a list"]


def test_an_unquoted_at_sign_is_a_yaml_error_that_names_the_line():
    with pytest.raises(YamlSourceError) as caught:
        parse_yaml("permissions:\n  resolve: [commander, @alice]\n", "config.yaml")
    assert str(caught.value).startswith("config.yaml:2:")


# --- roles and permissions together ---

def people(text: str) -> PeopleConfig:
    return people_from_document(parse_yaml(text, "config.yaml"))


def test_no_sections_at_all():
    assert people("log_level: INFO\n") == PeopleConfig(DEFAULT_ROLES, DEFAULT_POLICY)


def test_role_entries_are_checked_against_the_configured_roles():
    config = people("roles:\n"
                    "  - {name: commander, title: Incident commander}\n"
                    "  - {name: sre-lead, title: SRE lead}\n"
                    "permissions:\n"
                    "  severity: [sre-lead, commander]\n")
    refused = check(config.permissions, Permission.SEVERITY, Actor("u-1", "bob"), incident="INC-2")
    assert refused.reason == ("Only the SRE lead or the incident commander may change the severity of INC-2; "
                              "you are none of these.")
    assert problems("roles: [commander]\npermissions:\n  resolve: [scribe]\n", people) == [
        "config.yaml:3:13: permissions.resolve[0]: 'scribe' is not a role or a keyword; use anyone, team, "
        'channel-members, admins, a role (commander), "@username" or "group:name"']


def test_problems_in_both_sections_are_reported_together_by_line():
    found = problems("permissions:\n  resolve: [tech-lead]\nroles:\n  - tech-lead\n  - {name: x, tittle: X}\n", people)
    assert [p.split(": ")[0] for p in found] == ["config.yaml:3:1", "config.yaml:5:15"]
    assert "must include the commander role" in found[0] and "did you mean 'title'" in found[1]
