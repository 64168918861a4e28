"""The oncall section: schedules, the default escalation, escalation policies, the page limit and polling."""
from __future__ import annotations

from typing import Any

from bot.alerts.rules import parse_duration
from bot.config.model import EscalationLevel, EscalationPolicy, OncallConfig, PageLimit
from bot.config.values import severity
from bot.oncall.schedule_loader import schedules_from_document
from bot.problems import ConfigError, Problem, did_you_mean, kind_of, non_empty_text
from bot.yamlsource import YamlDocument


def oncall_from_document(doc: YamlDocument, problems: list[Problem]) -> OncallConfig:
    """The on-call schedules and the escalation levels (which may name them)."""
    section = doc.data.get("oncall") if isinstance(doc.data, dict) else None
    if section is None:
        return OncallConfig()
    if not isinstance(section, dict):
        problems.append(Problem(doc.where(("oncall",)), "oncall", f"must be a mapping, not {kind_of(section)}"))
        return OncallConfig()
    keys = ["schedules", "escalation", "policies", "page_limit", "poll", "skip_unavailable"]
    for key in section:
        if key not in keys:
            problems.append(Problem(doc.where(("oncall", key)), f"oncall.{key}", "unknown key" + did_you_mean(key, keys)))
    schedules: tuple[Any, ...] = ()
    try:
        schedules = schedules_from_document(doc, ("oncall", "schedules"))
    except ConfigError as exc:
        problems.extend(exc.problems)
    names = {schedule.name for schedule in schedules}
    levels = []
    raw_levels = section.get("escalation") or []
    if not isinstance(raw_levels, list):
        problems.append(Problem(doc.where(("oncall", "escalation")), "oncall.escalation", "must be a list of levels"))
        raw_levels = []
    for index, raw in enumerate(raw_levels):
        path = ("oncall", "escalation", index)
        key = f"oncall.escalation[{index}]"
        try:
            levels.append(_escalation_level(raw, names))
        except ValueError as exc:
            problems.append(Problem(doc.where(path), key, str(exc)))
    policies = []
    for index, raw in enumerate(section.get("policies") or []):
        try:
            policies.append(_escalation_policy(raw, names))
        except ValueError as exc:
            problems.append(Problem(doc.where(("oncall", "policies", index)), f"oncall.policies[{index}]", str(exc)))
    limit = PageLimit()
    if "page_limit" in section:
        raw = section["page_limit"]
        try:
            if not isinstance(raw, dict) or set(raw) - {"count", "per"}:
                raise ValueError("must be a mapping with count and per, like {count: 3, per: 10m}")
            limit = PageLimit(count=int(raw.get("count", 3)), per=parse_duration(raw.get("per", "10m")))
        except ValueError as exc:
            problems.append(Problem(doc.where(("oncall", "page_limit")), "oncall.page_limit", str(exc)))
    poll = 30
    if "poll" in section:
        try:
            poll = parse_duration(section["poll"])
        except ValueError as exc:
            problems.append(Problem(doc.where(("oncall", "poll")), "oncall.poll", str(exc)))
    skip = section.get("skip_unavailable", False)
    if not isinstance(skip, bool):
        problems.append(Problem(doc.where(("oncall", "skip_unavailable")), "oncall.skip_unavailable",
                                "must be true or false"))
        skip = False
    return OncallConfig(schedules=schedules, escalation=tuple(levels), policies=tuple(policies), page_limit=limit,
                        poll=poll, skip_unavailable=skip)


def _escalation_policy(raw: Any, schedules: set[str]) -> EscalationPolicy:
    if not isinstance(raw, dict) or "levels" not in raw or set(raw) - {"name", "match", "levels"}:
        raise ValueError("must be a mapping with name, match ({severities, labels}) and levels")
    match = raw.get("match") or {}
    if not isinstance(match, dict) or set(match) - {"severities", "labels"}:
        raise ValueError("match takes severities (a list of sev1..sev4) and labels (a mapping)")
    severities = frozenset(severity(s) for s in match.get("severities") or [])
    labels = tuple(sorted((str(k), str(v)) for k, v in (match.get("labels") or {}).items()))
    if not isinstance(raw["levels"], list) or not raw["levels"]:
        raise ValueError("levels must be a non-empty list")
    return EscalationPolicy(name=non_empty_text(raw.get("name", "policy")),
                            levels=tuple(_escalation_level(level, schedules) for level in raw["levels"]),
                            severities=severities, labels=labels)


def _escalation_level(raw: Any, schedules: set[str]) -> EscalationLevel:
    if not isinstance(raw, dict) or "to" not in raw or set(raw) - {"to", "after"}:
        raise ValueError("must be a mapping with `to` (schedule:NAME[:LAYER], @user or channel) and `after`")
    to = non_empty_text(raw["to"])
    if to.startswith("schedule:"):
        name, _, layer = to[len("schedule:"):].partition(":")
        if name not in schedules:
            raise ValueError(f"no schedule named {name!r}" + did_you_mean(name, sorted(schedules)))
        if layer and not layer.isdigit():
            raise ValueError(f"the layer in {to!r} must be a number (1 = primary, 2 = secondary...)")
    elif not (to.startswith("@") or to in ("channel", "pagerduty", "opsgenie")):
        raise ValueError(f"`to` must be schedule:NAME[:LAYER], @user, pagerduty, opsgenie or channel, not {to!r}")
    return EscalationLevel(to=to, after=parse_duration(raw["after"]) if "after" in raw else 0)
