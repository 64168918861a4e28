"""Each built-in redaction rule: what it must catch, what it must leave alone, and linear time on 1 MB."""
from __future__ import annotations

import time

import pytest

from bot.reports.redaction import BUILTIN_NAMES, Redactor

REDACTOR = Redactor()

# (rule, text, secret that must vanish, text that must remain)
CAUGHT = [
    ("email", "mail bob.smith+pager@example.co.uk now.", "bob.smith+pager@example.co.uk", "mail "),
    ("email", "<ops_team@corp-mail.io>", "ops_team@corp-mail.io", "<"),
    ("ipv4", "host 10.0.0.1:8080 down", "10.0.0.1", ":8080 down"),
    ("ipv4", "from 192.168.1.254.", "192.168.1.254", "from "),
    ("ipv4", "cidr 172.16.0.0/12", "172.16.0.0", "/12"),
    ("ipv6", "peer 2001:db8::ff00:42:8329 lost", "2001:db8::ff00:42:8329", "peer "),
    ("ipv6", "full 2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:0db8:0000:0000:0000:ff00:0042:8329", "full "),
    ("ipv6", "link fe80::1%eth0", "fe80::1", "%eth0"),
    ("ipv6", "loopback ::1 only", "::1", "loopback "),
    ("ipv6", "mapped ::ffff:192.0.2.1 here", "::ffff:192.0.2.1", "mapped "),
    ("ipv6", "[2001:db8::1]:443", "2001:db8::1", "]:443"),
    ("bearer_token", "token: Bearer abc123.def-456_ghi", "abc123.def-456_ghi", "token: Bearer "),
    ("bearer_token", "bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.sig", "eyJhbGciOiJIUzI1NiJ9", "bearer "),
    ("authorization", "Authorization: Basic dXNlcjpwYXNz\nnext line", "dXNlcjpwYXNz", "\nnext line"),
    ("authorization", "-H 'Authorization: Bearer tokenwithoutdigits' -X", "tokenwithoutdigits", "' -X"),
    ("authorization", '{"authorization": "Token abcdef"}', "abcdef", '"}'),
    ("aws_access_key_id", "key AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE", " in env"),
    ("aws_access_key_id", "temp ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A", "temp "),
    ("aws_secret_access_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = "),
    ("aws_secret_access_key", 'AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 'AWS_SECRET_ACCESS_KEY="'),
    ("pem_private_key", "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nq83+/xyz==\n"
     "-----END RSA PRIVATE KEY-----\nthanks", "MIIEpAIBAAKCAQEA", "\nthanks"),
    ("pem_private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n-----END OPENSSH PRIVATE KEY-----",
     "b3BlbnNzaC1rZXktdjEA", ""),
    ("pem_private_key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMIIFDjBABgkq\n"
     "-----END ENCRYPTED PRIVATE KEY-----", "MIIFDjBABgkq", ""),
    ("pem_private_key", "truncated paste\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nkqhkiG9w0BA", "MIIEvQIBADANBg",
     "truncated paste\n"),
    ("url_password", "dsn postgres://admin:s3cr3t@db.internal:5432/app", "s3cr3t", "postgres://admin:"),
    ("url_password", "redis://:onlypass@cache:6379", "onlypass", "@cache:6379"),
    ("url_password", "https://deploy:p:a;ss@git.example.com/repo", "p:a;ss", "@git.example.com/repo"),
]

KEPT = [
    "release 1.2.3 is out", "upgrade to v1.2.3.4 today", "version 1.2.3.4.5 of the tool", "at 12:30:45 UTC",
    "12:30:45.123 and 2026.01.02", "octets 256.1.1.1 and 010.0.0.1", "mac 00:1a:2b:3c:4d:5e", "C++ std::vector",
    "ping @alice and @bob", "user@localhost", "email me at alice at example dot com", "the bearer of bad news",
    "Authorization: required for this endpoint", "AKIA is a prefix", "AKIAIOSFODNN7EXAMPL (19 chars)",
    "commit 0123456789abcdef0123456789abcdef01234567", "see https://example.com/a:b@c", "https://user@host.com/x",
    "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK\n-----END CERTIFICATE-----", "ratio 3:2 and 1:1:2", "",
]


@pytest.mark.parametrize("rule, text, secret, kept", CAUGHT)
def test_builtin_rule_redacts_its_secret(rule, text, secret, kept):
    redacted, counts = REDACTOR.redact(text)
    assert secret not in redacted
    assert f"[redacted:{rule}]" in redacted
    assert kept in redacted
    assert counts == {rule: 1}


@pytest.mark.parametrize("text", KEPT)
def test_builtin_rules_leave_lookalikes_alone(text):
    assert REDACTOR.redact(text) == (text, {})


def test_url_password_keeps_user_and_host_and_is_not_mistaken_for_an_email():
    redacted, counts = REDACTOR.redact("amqp://guest:guest@rabbit.example.com/vhost")
    assert redacted == "amqp://guest:[redacted:url_password]@rabbit.example.com/vhost"
    assert counts == {"url_password": 1}


def test_authorization_header_is_counted_once_not_also_as_a_bearer_token():
    redacted, counts = REDACTOR.redact("Authorization: Bearer abc123def456")
    assert redacted == "Authorization: [redacted:authorization]"
    assert counts == {"authorization": 1}


def test_counts_add_up_across_rules_and_repeats():
    text = "a@example.com b@example.com 10.0.0.1 10.0.0.2 fe80::1 AKIAIOSFODNN7EXAMPLE"
    redacted, counts = REDACTOR.redact(text)
    assert counts == {"email": 2, "ipv4": 2, "ipv6": 1, "aws_access_key_id": 1}
    assert redacted.count("[redacted:") == 6


def test_every_builtin_rule_is_exercised():
    assert {rule for rule, *_ in CAUGHT} == BUILTIN_NAMES


HOSTILE = {
    "letters": "a" * 1_000_000,
    "at signs": "a@" * 500_000,
    "local part without at": "x" * 999_999 + "@",
    "dotted digits": "1." * 500_000,
    "colon hex": "a:" * 500_000,
    "double colons": "1::" * 333_333,
    "schemes": "ab://" * 200_000,
    "user and colon": "s://" + "u:" * 499_000,
    "bearer words": "Bearer " * 142_000,
    "authorization": "Authorization: " * 66_000,
    "pem begins": "-----BEGIN PRIVATE KEY-----\nAAAA" * 30_000,
    "aws prefix": "AKIA" * 250_000,
    "emails with dots": "a@" + "b." * 499_000,
    "pem body with dashes": "-----BEGIN PRIVATE KEY-----\n" + "A-" * 499_000,
    "dashes": "-" * 1_000_000,
    "aws secret keys": "aws_secret_access_key=" * 45_000,
    "bearer long": ("Bearer " + "a" * 10_000 + " ") * 100,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_one_megabyte_of_hostile_input_is_redacted_quickly(name):
    text = HOSTILE[name]
    started = time.perf_counter()
    REDACTOR.redact(text)
    # Linear patterns take well under a second; a backtracking one would take hours.
    assert time.perf_counter() - started < 5.0


def test_one_megabyte_of_ordinary_text_with_secrets_keeps_everything_else():
    chunk = "deploy 1.2.3 at 12:30:45 by alice@example.com on 10.1.2.3, all fine.\n"
    text = chunk * (1_000_000 // len(chunk))
    redacted, counts = REDACTOR.redact(text)
    lines = text.count("\n")
    assert counts == {"email": lines, "ipv4": lines}
    assert redacted.count("deploy 1.2.3 at 12:30:45 by [redacted:email] on [redacted:ipv4], all fine.\n") == lines
