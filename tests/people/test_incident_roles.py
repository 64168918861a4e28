"""Incident roles: the configured set, assigning and handing off, storage as JSON, and the `roles` section."""
from __future__ import annotations

import json

import pytest

from bot.people.roles import (
    DEFAULT_ROLES, Handoff, Role, RoleBook, RoleSet, UnknownRole, roles_from_document,
)
from bot.problems import ConfigError
from bot.yamlsource import parse_yaml


def test_the_default_roles_and_their_titles():
    assert [(r.name, r.title) for r in DEFAULT_ROLES] == [
        ("commander", "Commander"), ("scribe", "Scribe"), ("comms", "Communications lead")]
    assert DEFAULT_ROLES.get("comms").the == "the communications lead"
    assert Role("sre-lead", "SRE lead").the == "the SRE lead"


def test_a_role_set_needs_the_commander_and_unique_names():
    with pytest.raises(ValueError):
        RoleSet((Role("scribe", "Scribe"),))
    with pytest.raises(ValueError):
        RoleSet((Role("commander", "A"), Role("commander", "B")))


def test_roles_are_found_by_name_or_title_in_any_case():
    assert DEFAULT_ROLES.find("Comms").name == "comms"
    assert DEFAULT_ROLES.find(" communications lead ").name == "comms"


def test_an_unknown_role_suggests_the_closest_and_lists_them_all():
    with pytest.raises(UnknownRole) as caught:
        DEFAULT_ROLES.find("comander")
    assert str(caught.value) == ("There is no role 'comander' (did you mean 'commander'?); "
                                 "the roles are commander, scribe and comms.")


def test_assigning_a_vacant_role():
    book, handoff = RoleBook.empty().assign("commander", "u-alice")
    assert handoff == Handoff(DEFAULT_ROLES.get("commander"), None, "u-alice") and handoff.changed
    assert book.holder("commander") == "u-alice"
    assert book.holder("scribe") is None


def test_handing_a_role_over_names_both_people_and_leaves_the_old_book_alone():
    first, _ = RoleBook.empty().assign("commander", "u-alice")
    second, handoff = first.assign("Commander", "u-bob")
    assert (handoff.previous, handoff.new) == ("u-alice", "u-bob")
    assert second.holder("commander") == "u-bob"
    assert first.holder("commander") == "u-alice", "books are values: assign returns a new one"


def test_assigning_the_same_person_again_is_no_change():
    book, _ = RoleBook.empty().assign("scribe", "u-carol")
    again, handoff = book.assign("scribe", "u-carol")
    assert not handoff.changed and again == book


def test_releasing_a_role_leaves_it_vacant():
    book, _ = RoleBook.empty().assign("comms", "u-bob")
    book, handoff = book.release("comms")
    assert (handoff.previous, handoff.new) == ("u-bob", None)
    assert book.holder("comms") is None


def test_one_person_may_hold_several_roles():
    book, _ = RoleBook.empty().assign("commander", "u-alice")
    book, _ = book.assign("scribe", "u-alice")
    book, _ = book.assign("comms", "u-bob")
    assert book.roles_of("u-alice") == {"commander", "scribe"}
    assert book.roles_of("u-carol") == frozenset()
    assert [(role.name, holder) for role, holder in book.assignments()] == [
        ("commander", "u-alice"), ("scribe", "u-alice"), ("comms", "u-bob")]


def test_unknown_roles_and_empty_users_are_refused():
    with pytest.raises(UnknownRole):
        RoleBook.empty().assign("scrib", "u-alice")
    with pytest.raises(UnknownRole):
        RoleBook.empty().holder("boss")
    with pytest.raises(ValueError):
        RoleBook.empty().assign("scribe", "")


def test_json_round_trip():
    book, _ = RoleBook.empty().assign("comms", "u-bob")
    book, _ = book.assign("commander", "u-alice")
    text = book.as_json()
    assert json.loads(text) == {"commander": "u-alice", "comms": "u-bob"}
    assert RoleBook.from_json(text) == book
    assert RoleBook.from_json("") == RoleBook.empty()


def test_json_keeps_roles_that_are_no_longer_configured():
    stored = '{"commander": "u-alice", "liaison": "u-dan"}'
    book = RoleBook.from_json(stored)
    assert book.roles_of("u-dan") == frozenset()
    with pytest.raises(UnknownRole):
        book.holder("liaison")
    book, _ = book.assign("scribe", "u-carol")
    assert json.loads(book.as_json()) == {"commander": "u-alice", "scribe": "u-carol", "liaison": "u-dan"}


@pytest.mark.parametrize("text", ["[]", '{"commander": 3}', '{"commander": ""}', "not json"])
def test_json_that_is_not_a_role_book_is_refused(text):
    with pytest.raises(ValueError):
        RoleBook.from_json(text)


# --- the `roles` section ---

def read(text: str) -> RoleSet:
    return roles_from_document(parse_yaml(text, "config.yaml"))


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        read(text)
    return [str(p) for p in caught.value.problems]


def test_no_section_means_the_default_roles():
    assert read("log_level: INFO\n") == DEFAULT_ROLES
    assert read("roles:\n") == DEFAULT_ROLES


def test_configured_roles_with_titles_in_order():
    roles = read("roles:\n"
                 "  - {name: commander, title: Incident commander}\n"
                 "  - name: ops-liaison\n"
                 "    title: Ops liaison\n"
                 "  - scribe\n"
                 "  - tech_lead\n")
    assert [(r.name, r.title) for r in roles] == [
        ("commander", "Incident commander"), ("ops-liaison", "Ops liaison"), ("scribe", "Scribe"),
        ("tech_lead", "Tech lead")]
    book, _ = RoleBook.empty(roles).assign("ops liaison", "u-dan")
    assert book.holder("ops-liaison") == "u-dan"


def test_the_commander_is_required():
    assert problems("roles:\n  - scribe\n") == [
        "config.yaml:1:1: roles: must include the commander role (name: commander); only its title can change"]


def test_bad_role_entries_are_located():
    found = problems("roles:\n"
                     "  - {name: commander, titel: Boss}\n"
                     "  - name: Scribe\n"
                     "  - name: team\n"
                     "  - {title: No name}\n"
                     "  - commander\n"
                     "  - [x]\n"
                     "  - {name: comms, title: ''}\n")
    assert found == [
        "config.yaml:2:23: roles[0].titel: unknown key (did you mean 'title'?)",
        "config.yaml:3:5: roles[1].name: 'Scribe' is not a role name: use 1-32 lowercase letters, digits, - or _, "
        "starting with a letter",
        "config.yaml:4:5: roles[2].name: 'team' means something else in permissions, so it cannot name a role",
        "config.yaml:5:5: roles[3]: name is required",
        "config.yaml:6:5: roles[4]: the role 'commander' is listed twice",
        "config.yaml:7:5: roles[5]: must be a mapping with name and title, not a list",
        "config.yaml:8:19: roles[6].title: must not be empty",
    ]


def test_roles_must_be_a_list():
    assert problems("roles: {commander: Boss}\n") == [
        "config.yaml:1:1: roles: must be a list of roles, each with a name and a title, not a mapping"]
