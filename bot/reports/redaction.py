"""Redaction: find secrets and personal data in exported text and replace them with `[redacted:<rule>]`.

Built-in rules, applied in this order (custom rules from config run after them):

- `pem_private_key`: a `-----BEGIN ... PRIVATE KEY-----` block through its `-----END ...-----` line, across
  lines; a block with no END (a truncated paste) is redacted through the base64 lines that follow it
  (which may take one more word of prose along: better too much than a key half-shown).
- `url_password`: the password in `scheme://user:password@host`; the scheme, user and host are kept.
- `authorization`: the value of an `Authorization:` header (or `"Authorization": "..."`) that starts with
  an auth scheme (Bearer, Basic, Token, Digest, Negotiate, ApiKey, AWS4-HMAC-SHA256), to the end of the line.
- `bearer_token`: the token after `Bearer` elsewhere; the token must contain a digit, so prose such as
  "bearer of bad news" is left alone (a digit-free token is missed: accepted).
- `aws_access_key_id`: `AKIA`/`ASIA`/`ABIA`/`ACCA` followed by 16 upper-case letters or digits.
- `aws_secret_access_key`: a 40-character key after `aws_secret_access_key` (any case, `=` or `:`, quoted or
  not). A bare 40-character string is not redacted: git commit ids look exactly like that.
- `email`: `local@domain.tld` with a letters-only top-level domain; `@alice` mentions, `user@localhost`
  and the user in `https://user@host` (after a `/`) are kept.
- `ipv6`: eight hex groups, or a compressed form with `::` and at least one group (`fe80::1`, `::1`), also
  with a dotted IPv4 tail (`::ffff:10.0.0.1`). Times (`12:30:45`) and MAC addresses (six groups) are kept.
- `ipv4`: a dotted quad with every octet 0-255 and no leading zeros. Versions with three parts (`1.2.3`),
  five or more parts (`1.2.3.4.5`) or a letter in front (`v1.2.3.4`) are kept; a bare four-part version
  (`1.2.3.4`) is indistinguishable from an address and is redacted.

Every pattern starts at a literal or behind a one-character boundary and uses only bounded or
non-overlapping repetition, so each runs in linear time even on megabytes of hostile input.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

log = logging.getLogger(__name__)

SECRET_GROUP = "secret"
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Rule:
    """One redaction rule; when the pattern has a group named `secret`, only that group is replaced."""

    name: str
    pattern: re.Pattern[str]
    replacement: str = ""
    needles: tuple[str, ...] = ()   # lower-case text one of which any match contains: a cheap pre-check

    def may_match(self, lowered: str) -> bool:
        """Whether the rule can match text whose lower-cased form is `lowered`."""
        return not self.needles or any(needle in lowered for needle in self.needles)

    @property
    def mask(self) -> str:
        """The text that stands in for what the rule found."""
        return self.replacement or f"[redacted:{self.name}]"

    def apply(self, text: str) -> tuple[str, int]:
        """Replace every non-empty match; return the new text and how many were replaced."""
        if self.pattern.search(text) is None:
            return text, 0
        found = 0
        mask = self.mask
        partial = SECRET_GROUP in self.pattern.groupindex

        def swap(match: re.Match[str]) -> str:
            nonlocal found
            start, end = match.span(SECRET_GROUP) if partial else match.span()
            if start >= end:
                return match.group()
            found += 1
            whole, offset = match.group(), match.start()
            return whole[:start - offset] + mask + whole[end - offset:]

        return self.pattern.sub(swap, text), found


class RedactionConfigError(ValueError):
    """A custom redaction rule from config is invalid; the message names the rule."""


class RedactionReport:
    """A running total of redactions per rule (mutable: it accumulates while an export streams)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, counts: Mapping[str, int]) -> None:
        """Add one redaction's counts to the total."""
        self.counts.update(counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        """The total as plain JSON-ready data: {"total": n, "by_rule": {rule: n}}."""
        return {"total": self.total, "by_rule": dict(sorted(self.counts.items()))}


_H = r"[0-9A-Fa-f]{1,4}"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
# PEM body characters; a dash only when it does not start a `-----` line, so a lone BEGIN scans no further
# than the next delimiter (keeping many BEGINs without END linear).
_PEM_BODY = r"(?:[A-Za-z0-9+/=\s:,.\\]|-(?!----))"

BUILTIN_PATTERNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("pem_private_key", ("-----begin",),
     rf"-----BEGIN [A-Z0-9 ]{{0,40}}PRIVATE KEY-----"
     rf"(?:{_PEM_BODY}*?-----END [A-Z0-9 ]{{0,40}}PRIVATE KEY-----|[A-Za-z0-9+/=\r\n\\]*)"),
    ("url_password", ("://",),
     r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@?#]*:(?P<secret>[^\s/@?#]+)@"),
    ("authorization", ("authorization",),
     r"(?i:\bauthorization)[\"']?[ \t]*[:=][ \t]*[\"']?"
     r"(?P<secret>(?i:bearer|basic|token|digest|negotiate|apikey|aws4-hmac-sha256)[ \t]+[^\s\"'][^\r\n\"']*)"),
    ("bearer_token", ("bearer",),
     r"\b[Bb]earer[ \t]+(?=[A-Za-z._~+/-]*[0-9])(?P<secret>[A-Za-z0-9._~+/-]+=*)"),
    ("aws_access_key_id", ("akia", "asia", "abia", "acca"),
     r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    ("aws_secret_access_key", ("secret",),
     r"(?i:aws_?secret_?access_?key)[\"']?[ \t]*[:=][ \t]*[\"']?"
     r"(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
    ("email", ("@",),
     r"(?<![A-Za-z0-9._%+/-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
     r"(?![A-Za-z0-9-])"),
    ("ipv6", (":",),
     rf"(?<![\w:.])(?=[0-9A-Fa-f]{{0,4}}:[0-9A-Fa-f:])(?:"  # the lookahead rejects most positions cheaply
     rf"(?:{_H}:){{6}}{_IPV4}"
     rf"|(?:{_H}(?::{_H}){{0,5}})?::(?:{_H}:){{0,5}}{_IPV4}"
     rf"|(?:{_H}:){{7}}{_H}"
     rf"|{_H}(?::{_H}){{0,6}}::(?:{_H}(?::{_H}){{0,6}})?"
     rf"|::{_H}(?::{_H}){{0,6}}"
     rf")(?![\w:]|\.[0-9])"),
    ("ipv4", (".",),
     rf"(?<![\w.])(?=[0-9]{{1,3}}\.[0-9])"  # the lookahead rejects most positions cheaply
     rf"{_IPV4}(?![\w]|\.[0-9])"),
)

BUILTIN_RULES: tuple[Rule, ...] = tuple(Rule(name, re.compile(pattern), needles=needles)
                                       for name, needles, pattern in BUILTIN_PATTERNS)
BUILTIN_NAMES: frozenset[str] = frozenset(rule.name for rule in BUILTIN_RULES)


def custom_rule(spec: Mapping[str, Any], position: int = 0) -> Rule:
    """Build one rule from config ({name, pattern, replacement?}); raise RedactionConfigError naming it."""
    if not isinstance(spec, Mapping):
        raise RedactionConfigError(f"redaction rule #{position}: expected a mapping with name and pattern")
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RedactionConfigError(
            f"redaction rule #{position}: 'name' must be 1-64 letters, digits, '_', '.' or '-' (got {name!r})")
    unknown = sorted(set(spec) - {"name", "pattern", "replacement"})
    if unknown:
        raise RedactionConfigError(f"redaction rule {name!r}: unknown field(s) {', '.join(unknown)}")
    pattern = spec.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        raise RedactionConfigError(f"redaction rule {name!r}: 'pattern' must be a non-empty string")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise RedactionConfigError(f"redaction rule {name!r}: invalid pattern {pattern!r}: {exc}") from None
    if compiled.fullmatch(""):
        raise RedactionConfigError(f"redaction rule {name!r}: pattern {pattern!r} matches the empty string")
    replacement = spec.get("replacement", "")
    if not isinstance(replacement, str):
        raise RedactionConfigError(f"redaction rule {name!r}: 'replacement' must be a string")
    return Rule(name, compiled, replacement)


def _custom_rules(specs: Iterable[Mapping[str, Any] | Rule]) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    seen = set(BUILTIN_NAMES)
    for position, spec in enumerate(specs, start=1):
        rule = spec if isinstance(spec, Rule) else custom_rule(spec, position)
        if rule.name in seen:
            raise RedactionConfigError(f"redaction rule {rule.name!r}: the name is already used by another rule")
        seen.add(rule.name)
        rules.append(rule)
    return tuple(rules)


@dataclass(frozen=True, init=False)
class Redactor:
    """Apply the built-in rules, then the custom ones, to text and to JSON-like values."""

    rules: tuple[Rule, ...] = field(default=())

    def __init__(self, rules: Iterable[Mapping[str, Any] | Rule] = (), *, builtins: bool = True) -> None:
        object.__setattr__(self, "rules", (BUILTIN_RULES if builtins else ()) + _custom_rules(rules))

    def redact(self, text: str) -> tuple[str, Counter[str]]:
        """Redact one string; return it with the number of replacements per rule."""
        counts: Counter[str] = Counter()
        if not text:
            return text, counts
        lowered = text.lower()
        for rule in self.rules:
            if not rule.may_match(lowered):
                continue
            text, found = rule.apply(text)
            if found:
                counts[rule.name] += found
        return text, counts

    def redact_value(self, value: Any) -> tuple[Any, Counter[str]]:
        """Redact every string inside a JSON-like value (dict keys are kept as they are)."""
        counts: Counter[str] = Counter()
        return self._walk(value, counts), counts

    def _walk(self, value: Any, counts: Counter[str]) -> Any:
        if isinstance(value, str):
            text, found = self.redact(value)
            counts.update(found)
            return text
        if isinstance(value, Mapping):
            return {key: self._walk(item, counts) for key, item in value.items()}
        if isinstance(value, list):
            return [self._walk(item, counts) for item in value]
        if isinstance(value, tuple):
            return tuple(self._walk(item, counts) for item in value)
        return value
