"""Permission decisions: every kind of entry, admins, the default policy, and the wording of refusals."""
from __future__ import annotations

import pytest

from bot.people.permissions import (
    DEFAULT_POLICY, Actor, Decision, Entry, Kind, Permission, Policy, Rule, check,
)
from bot.people.roles import DEFAULT_ROLES, Role, RoleBook, RoleSet


def policy(permission: Permission, *entries: Entry, roles: RoleSet = DEFAULT_ROLES) -> Policy:
    return Policy((Rule(permission, entries),), roles)


def actor(**facts) -> Actor:
    return Actor(**{"user_id": "u-dan", "username": "dan", **facts})


ALICE = Entry(Kind.USER, "alice")
COMMANDER = Entry(Kind.ROLE, "commander")
SRE = Entry(Kind.GROUP, "sre")


def test_the_default_policy_lets_anyone_in_the_team_do_anything():
    for permission in Permission:
        assert check(DEFAULT_POLICY, permission, actor(team_member=True), incident="INC-4").allowed
    refused = check(DEFAULT_POLICY, Permission.UPDATE, actor(), incident="INC-4")
    assert refused == Decision(False, "Only members of the team may post updates to INC-4; "
                                      "you are not a member of the team.")


def test_a_permission_without_a_rule_falls_back_to_the_team():
    rules = policy(Permission.RESOLVE, COMMANDER)
    assert check(rules, Permission.ACK, actor(team_member=True)).allowed
    assert not check(rules, Permission.RESOLVE, actor(team_member=True)).allowed


def test_anyone_allows_people_outside_the_team():
    decision = check(policy(Permission.START, Entry(Kind.ANYONE)), Permission.START, actor())
    assert decision == Decision(True, "Anyone may start incidents.")


def test_team():
    rules = policy(Permission.ACK, Entry(Kind.TEAM))
    assert check(rules, Permission.ACK, actor(team_member=True), incident="INC-4") == Decision(
        True, "You may acknowledge INC-4 as a member of the team.")
    assert not check(rules, Permission.ACK, actor(channel_member=True)).allowed


def test_channel_members():
    rules = policy(Permission.UPDATE, Entry(Kind.CHANNEL_MEMBERS))
    assert check(rules, Permission.UPDATE, actor(channel_member=True)).allowed
    assert check(rules, Permission.UPDATE, actor(team_member=True), incident="INC-4") == Decision(
        False, "Only members of the incident channel may post updates to INC-4; "
               "you are not a member of the incident channel.")


def test_channel_members_for_start_means_the_channel_it_is_said_in():
    refused = check(policy(Permission.START, Entry(Kind.CHANNEL_MEMBERS)), Permission.START, actor())
    assert refused.reason == "Only members of this channel may start incidents; you are not a member of this channel."


def test_role():
    rules = policy(Permission.RESOLVE, COMMANDER)
    assert check(rules, Permission.RESOLVE, actor(roles={"commander"}), incident="INC-4") == Decision(
        True, "You may resolve INC-4 as the commander.")
    assert check(rules, Permission.RESOLVE, actor(roles={"scribe"}), incident="INC-4") == Decision(
        False, "Only the commander may resolve INC-4; you are not the commander.")


def test_roles_come_from_the_incident_role_book():
    book, _ = RoleBook.empty().assign("comms", "u-dan")
    rules = policy(Permission.UPDATE, Entry(Kind.ROLE, "comms"))
    assert check(rules, Permission.UPDATE, actor(roles=book.roles_of("u-dan"))).allowed
    assert not check(rules, Permission.UPDATE, actor(user_id="u-eve", roles=book.roles_of("u-eve"))).allowed


def test_refusals_use_the_configured_role_titles():
    roles = RoleSet((Role("commander", "Incident commander"), Role("sre-lead", "SRE lead")))
    rules = policy(Permission.SEVERITY, COMMANDER, Entry(Kind.ROLE, "sre-lead"), roles=roles)
    assert check(rules, Permission.SEVERITY, actor(), incident="INC-9").reason == (
        "Only the incident commander or the SRE lead may change the severity of INC-9; you are none of these.")


def test_user_by_username_in_any_case():
    rules = policy(Permission.RESOLVE, ALICE)
    assert check(rules, Permission.RESOLVE, actor(username="Alice"), incident="INC-4") == Decision(
        True, "You may resolve INC-4 as @alice.")
    assert check(rules, Permission.RESOLVE, actor(), incident="INC-4").reason == (
        "Only @alice may resolve INC-4; you are not @alice.")


def test_group_by_name():
    rules = policy(Permission.ROLES, SRE)
    assert check(rules, Permission.ROLES, actor(groups=["SRE", "dba"]), incident="INC-4") == Decision(
        True, "You may assign roles in INC-4 as a member of sre.")
    assert check(rules, Permission.ROLES, actor(groups=["dba"]), incident="INC-4").reason == (
        "Only members of sre may assign roles in INC-4; you are not a member of sre.")


def test_system_admins_are_always_allowed():
    for rules in (policy(Permission.RESOLVE, ALICE), policy(Permission.RESOLVE, Entry(Kind.ADMINS)), Policy(),
                  Policy((Rule(Permission.RESOLVE, ()),))):
        assert check(rules, Permission.RESOLVE, actor(system_admin=True), incident="INC-4") == Decision(
            True, "You may resolve INC-4 as a system admin.")


def test_admins_alone_means_nobody_else():
    refused = check(policy(Permission.RESOLVE, Entry(Kind.ADMINS)), Permission.RESOLVE,
                    actor(team_member=True, roles={"commander"}), incident="INC-4")
    assert refused.reason == "Only system admins may resolve INC-4; you are not a system admin."


def test_the_first_matching_entry_says_why():
    rules = policy(Permission.RESOLVE, COMMANDER, ALICE, SRE)
    both = actor(username="alice", groups={"sre"})
    assert check(rules, Permission.RESOLVE, both, incident="INC-4").reason == "You may resolve INC-4 as @alice."


def test_the_refusal_names_everyone_allowed():
    rules = policy(Permission.RESOLVE, COMMANDER, ALICE, SRE)
    assert check(rules, Permission.RESOLVE, actor(team_member=True), incident="INC-4") == Decision(
        False, "Only the commander, @alice or members of sre may resolve INC-4; you are none of these.")


def test_without_an_incident_key_the_sentence_still_reads():
    refused = check(policy(Permission.ACK, COMMANDER), Permission.ACK, actor())
    assert refused.reason == "Only the commander may acknowledge an incident; you are not the commander."


@pytest.mark.parametrize("permission", list(Permission))
def test_every_permission_has_a_phrase(permission):
    assert permission.doing("INC-1")


def test_actor_facts_are_normalised():
    someone = Actor("u-1", "@Alice", groups=["SRE "], roles=["commander"])
    assert (someone.username, someone.groups, someone.roles) == ("alice", {"sre"}, {"commander"})
