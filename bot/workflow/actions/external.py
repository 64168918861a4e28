"""Actions that reach outside Mattermost: HTTP calls, allow-listed commands, video calls, containers, MQTT."""
from __future__ import annotations

import logging
import re
import shlex
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from bot.incidents.model import Incident
from bot.workflow.actions.common import POST_MAX, failed, one_line, post_as_step, reports_failures
from bot.workflow.context import Integrations, StepContext, StepResult
from bot.workflow.integrations.commands import run_allowed
from bot.workflow.integrations.docker import DockerClient, DockerError
from bot.workflow.integrations.http_call import http_request
from bot.workflow.integrations.mqtt_publish import PublishError, publish_event
from bot.workflow.integrations.zoom import ZoomError, jitsi_link
from bot.workflow.model import thaw

log = logging.getLogger(__name__)

BODY_EXCERPT_MAX = 1000       # characters of an HTTP answer kept in the step's detail
COMMAND_OUTPUT_MAX = 12000    # bytes of command output kept, so the posted block stays under Mattermost's limit
MQTT_TIMEOUT = 5.0
_CONTAINER_NAME_JUNK = re.compile(r"[^a-zA-Z0-9_.-]+")


# -- http

def _shown_url(url: str) -> str:
    """The URL without credentials or query string, for summaries (tokens often travel in either)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:100]
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@reports_failures
async def http(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Call an HTTP endpoint with an Idempotency-Key (the step's key) unless the step sets its own."""
    method, url = args["method"], ctx.render(args["url"]).strip()
    headers = {name: str(value) for name, value in ctx.render_data(thaw(args["headers"])).items()}
    if not any(name.lower() == "idempotency-key" for name in headers):
        headers["Idempotency-Key"] = ctx.key
    body = ctx.render_data(thaw(args["json"])) if "json" in args else None
    outcome = await http_request(method, url, headers=headers, json_body=body, timeout=args["timeout"],
                                 expect=args["expect"] or None, max_body=BODY_EXCERPT_MAX)
    shown = _shown_url(url)
    detail = {"method": method, "url": shown, "status": outcome.status, "body_excerpt": outcome.body_excerpt,
              "elapsed_ms": outcome.elapsed_ms}
    if outcome.ok:
        return StepResult(ok=True, summary=f"{method} {shown} → {outcome.status}", detail=detail)
    arrow = f" → {outcome.status}" if outcome.status is not None else ""
    return StepResult(ok=False, summary=one_line(f"{method} {shown}{arrow} failed: {outcome.error}"),
                      detail=detail | {"error": outcome.error})


# -- run_command

def _code_block(text: str) -> str:
    """`text` in a fenced block whose fence is longer than any run of backticks inside (CommonMark)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text.rstrip()}\n{fence}"


@reports_failures
async def run_command(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Run an allow-listed command and hand back its output as a code block to post in the channel."""
    name = args["command"]
    allow_list = ctx.integrations.commands
    entry = allow_list.get(name) if allow_list is not None else None
    if entry is None:
        why = "" if allow_list is not None else " (no command allow-list is configured)"
        return failed(f"{name!r} is not on the allow-list{why}", command=name)
    argv = [ctx.render(source) for source in args["args"]]
    # The playbook may ask for less time than the allow-list entry grants, never more.
    timeout = min(args["timeout"], entry.timeout)
    outcome = await run_allowed(allow_list, name, argv, timeout=timeout, max_output=COMMAND_OUTPUT_MAX)
    detail = {"command": name, "args": argv, "exit_code": outcome.exit_code, "timed_out": outcome.timed_out}
    if outcome.refused_reason:
        return failed(f"refused {name}: {outcome.refused_reason}", **detail)
    if outcome.error and not outcome.timed_out:
        return failed(f"{name} did not run: {outcome.error}", **detail)
    status = outcome.error if outcome.timed_out else f"exit {outcome.exit_code}"
    return StepResult(ok=outcome.ok, summary=one_line(f"ran {name} ({status})"), detail=detail,
                      message=command_output_block([*entry.argv, *argv], outcome.output))


def command_output_block(argv: list[str], output: str) -> str:
    """A command line and its output as one code block, cut to fit in a post."""
    line = shlex.join(argv)
    output = output.rstrip() or "(no output)"
    room = POST_MAX - len(line) - 64  # the fences, the prompt and a truncation note
    if len(output) > room:
        output = output[:max(room, 0)] + "\n… (cut to fit one post)"
    return _code_block(f"$ {line}\n{output}")


# -- meeting

@reports_failures
async def meeting(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Start a Jitsi room or a Zoom meeting, post its link in the incident channel and pin it."""
    topic = " ".join(ctx.render(args["topic"]).split()) or ctx.incident.key
    detail: dict[str, Any] = {"provider": args["provider"]}
    if args["provider"] == "zoom":
        if ctx.integrations.zoom is None:
            return failed("Zoom is not configured", **detail)
        try:
            created = await ctx.integrations.zoom().create_meeting(topic)
        except ZoomError as exc:
            return failed(f"Zoom: {exc}", **detail)
        url = created.join_url
        detail["meeting_id"] = created.id
    else:
        url = jitsi_link(ctx.incident.key, ctx.integrations.jitsi_base)
    detail["url"] = url
    channel = {"id": ctx.incident.channel_id, "type": ""}
    posted = await post_as_step(ctx, channel, f":movie_camera: **{topic}**: join the call at {url}")
    detail["post_id"] = posted.id
    await ctx.chat.pin_post(posted.id)
    name = "Zoom meeting" if args["provider"] == "zoom" else "Jitsi call"
    return StepResult(ok=True, summary=f"started a {name}: {url}", detail=detail)


# -- container

def default_container_name(incident: Incident, step_id: str) -> str:
    """incident-bot-<incident key>-<step id>, in the characters Docker accepts."""
    raw = f"incident-bot-{incident.key.lower()}-{step_id}"
    return _CONTAINER_NAME_JUNK.sub("-", raw)[:128]


@reports_failures
async def container(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Create and start a container labelled with the incident; `container_cleanup` removes it later."""
    if not ctx.integrations.docker_url:
        return failed("Docker is not configured")
    name = ctx.render(args["name"]).strip() if args["name"] else default_container_name(ctx.incident, ctx.step_id)
    image = args["image"]
    env = {key: str(value) for key, value in ctx.render_data(thaw(args["env"])).items()}
    command = list(args["command"]) or None
    detail: dict[str, Any] = {"container_name": name, "image": image}
    try:
        async with DockerClient(ctx.integrations.docker_url) as docker:
            started = await docker.create_and_start(name, image, env=env, command=command,
                                                    incident_key=ctx.incident.key)
    except DockerError as exc:
        if exc.status == 409 and not args["name"]:
            # Our own default name: an earlier attempt of this step created it before the bot lost track.
            return StepResult(ok=True, summary=f"container {name} already exists (an earlier attempt)",
                              detail=detail | {"container_id": "", "existing": True})
        return failed(str(exc), **detail)
    except ValueError as exc:  # a docker_url the client cannot use
        return failed(f"Docker is misconfigured: {exc}", **detail)
    detail["container_id"] = started.id
    if started.warnings:
        detail["warnings"] = list(started.warnings)
    return StepResult(ok=True, summary=f"started container {name} ({image})", detail=detail)


async def container_cleanup(integrations: Integrations, incident: Incident,
                            step_details: Iterable[Mapping[str, Any]]) -> StepResult:
    """Remove the containers the incident's `container` steps started, named in their recorded details.

    `step_details` is every recorded detail of the incident's steps (and task actions); those without a
    `container_name` are skipped. A container already gone counts as removed.
    """
    names = list(dict.fromkeys(d["container_name"] for d in step_details if d.get("container_name")))
    if not names:
        return StepResult(ok=True, summary="no containers to remove", detail={"removed": [], "failed": {}})
    if not integrations.docker_url:
        return failed(f"Docker is not configured; left {', '.join(names)}", removed=[], failed={})
    removed: list[str] = []
    problems: dict[str, str] = {}
    try:
        async with DockerClient(integrations.docker_url) as docker:
            for name in names:
                try:
                    await docker.remove(name)
                    removed.append(name)
                except DockerError as exc:
                    problems[name] = str(exc)
    except ValueError as exc:
        return failed(f"Docker is misconfigured: {exc}", removed=[], failed={})
    for name, reason in problems.items():
        log.warning("could not remove container %s of %s: %s", name, incident.key, reason)
    summary = f"removed container{'s' if len(removed) != 1 else ''} {', '.join(removed)}" if removed else ""
    if problems:
        summary = "; ".join(filter(None, [summary, "could not remove " + ", ".join(problems)]))
    return StepResult(ok=not problems, summary=one_line(summary), detail={"removed": removed, "failed": problems})


# -- publish

def incident_summary(incident: Incident) -> dict[str, Any]:
    """The incident as events carry it."""
    return {"key": incident.key, "id": incident.id, "title": incident.title,
            "severity": incident.severity.value, "status": incident.status.value}


@reports_failures
async def publish(ctx: StepContext, args: Mapping[str, Any]) -> StepResult:
    """Publish the payload as JSON; a mapping gets an `incident` entry unless it has one, no payload is just that.

    Text, lists and numbers are sent as they are (JSON-encoded), without the incident.
    """
    mqtt = ctx.integrations.mqtt
    if mqtt is None:
        return failed("MQTT is not configured")
    topic = ctx.render(args["topic"]).strip()
    raw = args["payload"]
    if raw == "" or raw is None:
        payload: Any = {"incident": incident_summary(ctx.incident)}
    else:
        payload = ctx.render_data(thaw(raw))
        if isinstance(payload, dict) and "incident" not in payload:
            payload = {"incident": incident_summary(ctx.incident), **payload}
    qos = args["qos"]
    detail = {"topic": topic, "qos": qos}
    try:
        # No client id of ours: reusing the alert subscriber's would make the broker drop that session.
        await publish_event(mqtt.host, mqtt.port, topic, payload, qos=qos,
                            username=getattr(mqtt, "username", None), password=getattr(mqtt, "password", None),
                            timeout=MQTT_TIMEOUT)
    except PublishError as exc:
        return failed(str(exc), **detail)
    return StepResult(ok=True, summary=f"published to {topic} (qos {qos})", detail=detail)
