"""What a custom command does: the playbook integrations (HTTP, allow-listed commands, MQTT) run for a chat user.

Each function renders its arguments with the command's template context and returns an `Outcome`: ok or not,
a one-line summary for the timeline, what the answer template sees, and a default message.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from bot.workflow.actions.common import one_line
from bot.workflow.actions.external import COMMAND_OUTPUT_MAX, MQTT_TIMEOUT, _shown_url, command_output_block
from bot.workflow.context import Integrations
from bot.workflow.integrations.commands import run_allowed
from bot.workflow.integrations.http_call import http_request
from bot.workflow.integrations.mqtt_publish import PublishError, publish_event
from bot.workflow.model import thaw

MAX_ANSWER_BODY = 512 * 1024    # characters of an HTTP answer kept for the reply template


@dataclass(frozen=True)
class Outcome:
    ok: bool
    summary: str
    seen: Mapping[str, Any] = field(default_factory=dict)   # names the reply template sees: response, output
    message: str = ""                                        # what to answer without a reply template


Render = Callable[[str], str]
RenderData = Callable[[Any], Any]


async def http(args: Mapping[str, Any], render: Render, render_data: RenderData, key: str) -> Outcome:
    """Send the request; the reply template sees `response` (status, ok, json, text)."""
    method, url = args["method"], render(args["url"]).strip()
    headers = {name: str(value) for name, value in render_data(thaw(args["headers"])).items()}
    if not any(name.lower() == "idempotency-key" for name in headers):
        headers["Idempotency-Key"] = key
    body = render_data(thaw(args["json"])) if "json" in args else None
    outcome = await http_request(method, url, headers=headers, json_body=body, timeout=args["timeout"],
                                 expect=args["expect"] or None, max_body=MAX_ANSWER_BODY)
    shown = _shown_url(url)
    response = {"status": outcome.status, "ok": outcome.ok, "text": outcome.body_excerpt,
                "json": _json_or_none(outcome.body_excerpt)}
    arrow = f" → {outcome.status}" if outcome.status is not None else ""
    if outcome.ok:
        return Outcome(True, f"{method} {shown}{arrow}", {"response": response}, f"{method} {shown}{arrow}")
    reason = outcome.error
    detail = _error_detail(response)
    return Outcome(False, one_line(f"{method} {shown}{arrow} failed: {reason}{detail}"), {"response": response})


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _error_detail(response: Mapping[str, Any]) -> str:
    """A short reason from an error body: its `error`/`message` field, or its first line."""
    body = response["json"]
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str) and body[key].strip():
                return f" ({one_line(body[key], 160)})"
    text = (response["text"] or "").strip()
    return f" ({one_line(text.splitlines()[0], 160)})" if text else ""


async def run_command(args: Mapping[str, Any], render: Render, integrations: Integrations) -> Outcome:
    """Run an allow-listed command; the answer is its output (`output.text`, `output.exit_code` for templates)."""
    name = args["command"]
    allow_list = integrations.commands
    entry = allow_list.get(name) if allow_list is not None else None
    if entry is None:
        return Outcome(False, f"{name!r} is not on the bot's command allow-list")
    argv = [render(source) for source in args["args"]]
    outcome = await run_allowed(allow_list, name, argv, timeout=min(args["timeout"], entry.timeout),
                                max_output=COMMAND_OUTPUT_MAX)
    if outcome.refused_reason:
        return Outcome(False, one_line(f"refused {name}: {outcome.refused_reason}"))
    if outcome.error and not outcome.timed_out:
        return Outcome(False, one_line(f"{name} did not run: {outcome.error}"))
    status = outcome.error if outcome.timed_out else f"exit {outcome.exit_code}"
    seen = {"output": {"text": outcome.output, "exit_code": outcome.exit_code}}
    return Outcome(outcome.ok, one_line(f"ran {name} ({status})"), seen,
                   command_output_block([*entry.argv, *argv], outcome.output))


async def publish(args: Mapping[str, Any], render: Render, render_data: RenderData, integrations: Integrations,
                  incident: Mapping[str, Any] | None) -> Outcome:
    """Publish the payload as JSON (a mapping gets the incident, when there is one)."""
    mqtt = integrations.mqtt
    if mqtt is None:
        return Outcome(False, "MQTT is not configured (integrations.mqtt)")
    topic = render(args["topic"]).strip()
    payload: Any = render_data(thaw(args["payload"])) if args["payload"] not in ("", None) else {}
    if isinstance(payload, dict) and incident is not None and "incident" not in payload:
        payload = {"incident": dict(incident), **payload}
    try:
        await publish_event(mqtt.host, mqtt.port, topic, payload, qos=args["qos"],
                            username=getattr(mqtt, "username", None), password=getattr(mqtt, "password", None),
                            timeout=MQTT_TIMEOUT)
    except PublishError as exc:
        return Outcome(False, one_line(f"publish to {topic} failed: {exc}"))
    return Outcome(True, f"published to {topic}", {}, f"Published to `{topic}`.")
