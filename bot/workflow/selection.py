"""Pick the playbook an incident gets by itself, from the playbooks' `applies_to`."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from bot.incidents.model import Severity
from bot.workflow.model import Playbook


def select_playbook(playbooks: Mapping[str, Playbook] | Iterable[Playbook], *, rule_name: str | None,
                    severity: Severity | None, labels: Mapping[str, str]) -> Playbook | None:
    """Return the first playbook, by file name, whose `applies_to` fits the incident; None when none does.

    `rule_name` is the alert rule that opened the incident (None when a person opened it); `labels` are the
    alert's labels (empty without an alert). Playbooks without `applies_to` are only ever chosen by name.
    """
    candidates = playbooks.values() if isinstance(playbooks, Mapping) else playbooks
    for playbook in sorted(candidates, key=lambda p: (Path(p.file).name, p.name)):
        if playbook.applies_to is not None and playbook.applies_to.matches(
                rule_name=rule_name, severity=severity, labels=labels):
            return playbook
    return None
