"""Custom redaction rules from config, their validation, counts, JSON-like values and the running report."""
from __future__ import annotations

import re

import pytest

from bot.reports.redaction import BUILTIN_RULES, RedactionConfigError, RedactionReport, Redactor, Rule


def test_custom_rule_uses_default_or_given_replacement():
    redactor = Redactor([
        {"name": "ticket", "pattern": r"SEC-\d{4}"},
        {"name": "employee", "pattern": r"EMP\d+", "replacement": "<employee>"},
    ])
    text, counts = redactor.redact("see SEC-1234 and SEC-9999 about EMP42")
    assert text == "see [redacted:ticket] and [redacted:ticket] about <employee>"
    assert counts == {"ticket": 2, "employee": 1}


def test_custom_replacement_is_literal_text_not_a_template():
    redactor = Redactor([{"name": "x", "pattern": r"(abc)", "replacement": r"\1 and \g<0>"}])
    assert redactor.redact("abc")[0] == r"\1 and \g<0>"


def test_custom_rule_with_a_secret_group_keeps_the_rest_of_the_match():
    redactor = Redactor([{"name": "api_key", "pattern": r"api_key=(?P<secret>\w+)"}])
    assert redactor.redact("GET /x?api_key=abc123&y=1") == ("GET /x?api_key=[redacted:api_key]&y=1", {"api_key": 1})


def test_custom_rules_run_after_the_builtins_and_see_their_output():
    redactor = Redactor([{"name": "masked", "pattern": r"\[redacted:email\]"}])
    assert redactor.redact("a@example.com") == ("[redacted:masked]", {"email": 1, "masked": 1})


def test_builtins_can_be_switched_off():
    redactor = Redactor([{"name": "only", "pattern": "secret"}], builtins=False)
    assert redactor.redact("secret a@example.com") == ("[redacted:only] a@example.com", {"only": 1})
    assert Redactor(builtins=False).redact("a@example.com") == ("a@example.com", {})


def test_rule_objects_are_accepted_as_they_are():
    rule = Rule("upper", re.compile(r"[A-Z]{5,}"), "#")
    assert Redactor([rule], builtins=False).redact("quiet LOUDER") == ("quiet #", {"upper": 1})


def test_zero_width_matches_are_ignored():
    redactor = Redactor([Rule("edge", re.compile(r"(?=x)"))], builtins=False)
    assert redactor.redact("xyz") == ("xyz", {})


@pytest.mark.parametrize("spec, message", [
    ({"name": "bad", "pattern": "(unclosed"}, "redaction rule 'bad': invalid pattern '(unclosed'"),
    ({"name": "greedy", "pattern": "a*"}, "redaction rule 'greedy': pattern 'a*' matches the empty string"),
    ({"name": "nopattern"}, "redaction rule 'nopattern': 'pattern' must be a non-empty string"),
    ({"name": "num", "pattern": 5}, "redaction rule 'num': 'pattern' must be a non-empty string"),
    ({"name": "rep", "pattern": "x", "replacement": 1}, "redaction rule 'rep': 'replacement' must be a string"),
    ({"name": "typo", "pattern": "x", "replace": "y"}, "redaction rule 'typo': unknown field(s) replace"),
    ({"name": "email", "pattern": "x"}, "redaction rule 'email': the name is already used"),
    ({"pattern": "x"}, "redaction rule #2: 'name' must be"),
    ({"name": "has space", "pattern": "x"}, "redaction rule #2: 'name' must be"),
    ("just a string", "redaction rule #2: expected a mapping"),
])
def test_invalid_custom_rules_are_refused_naming_the_rule(spec, message):
    with pytest.raises(RedactionConfigError) as refused:
        Redactor([{"name": "fine", "pattern": "ok"}, spec])
    assert str(refused.value).startswith(message)


def test_duplicate_custom_names_are_refused():
    with pytest.raises(RedactionConfigError, match="'dup': the name is already used"):
        Redactor([{"name": "dup", "pattern": "a"}, {"name": "dup", "pattern": "b"}])


def test_config_error_is_a_value_error():
    assert issubclass(RedactionConfigError, ValueError)


def test_redact_value_recurses_into_dicts_and_lists_keeping_keys_and_scalars():
    redactor = Redactor()
    value = {
        "alice@example.com": "owner alice@example.com",
        "hosts": ["10.0.0.1", {"v6": "fe80::1", "port": 22}],
        "pair": ("AKIAIOSFODNN7EXAMPLE", None),
        "ok": True, "ratio": 1.5, "note": "",
    }
    cleaned, counts = redactor.redact_value(value)
    assert cleaned == {
        "alice@example.com": "owner [redacted:email]",
        "hosts": ["[redacted:ipv4]", {"v6": "[redacted:ipv6]", "port": 22}],
        "pair": ("[redacted:aws_access_key_id]", None),
        "ok": True, "ratio": 1.5, "note": "",
    }
    assert counts == {"email": 1, "ipv4": 1, "ipv6": 1, "aws_access_key_id": 1}
    assert value["hosts"][0] == "10.0.0.1"  # the input is not changed


def test_redact_value_on_a_plain_string_and_a_scalar():
    redactor = Redactor()
    assert redactor.redact_value("x@example.org") == ("[redacted:email]", {"email": 1})
    assert redactor.redact_value(7) == (7, {})


def test_report_keeps_a_running_total():
    redactor, report = Redactor(), RedactionReport()
    for text in ("a@example.com", "10.0.0.1 and b@example.com", "nothing here"):
        report.add(redactor.redact(text)[1])
    report.add(redactor.redact_value({"k": ["fe80::1"]})[1])
    assert report.total == 4
    assert report.counts == {"email": 2, "ipv4": 1, "ipv6": 1}
    assert report.as_dict() == {"total": 4, "by_rule": {"email": 2, "ipv4": 1, "ipv6": 1}}


def test_builtin_patterns_are_compiled_once():
    assert all(isinstance(rule.pattern, re.Pattern) for rule in BUILTIN_RULES)
    assert Redactor().rules[:len(BUILTIN_RULES)] == BUILTIN_RULES
