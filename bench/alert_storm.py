"""An Alertmanager storm against the bot running as its own process: python3 bench/alert_storm.py [--posts 2000]

The sandbox runs here, rate limited like Mattermost (10/s, burst 100) unless --no-rate-limit. N webhook posts
(`[FIRING:1] <alertname> <instance> (node critical)`) over F fingerprints and A alert names go into `alerts`,
where the rule `page` opens one incident per alert name. It prints throughput, incidents, setup latency, the
bot's REST calls and its CPU and memory. It asserts nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.alerts.parsers import default_parsers, recognise  # noqa: E402
from bot.mattermost.events import Post  # noqa: E402
from bot.sandbox import Sandbox  # noqa: E402
from bot.sandbox.slack import typed_attachments  # noqa: E402

ALERT_NAMES = ("InstanceDown", "HighLatency", "HighErrorRate", "DiskWillFillIn4Hours", "HighMemoryUsage",
               "HighCPUUsage", "TargetMissing", "NodeFilesystemReadOnly", "NodeNetworkReceiveErrs", "ClockSkew",
               "KubePodCrashLooping", "KubeNodeNotReady", "PostgresDown", "RedisDown", "CertificateExpiring",
               "TooManyRestarts", "QueueBacklog", "ReplicationLag", "Http5xxSpike", "DnsFailures")
TOKEN_ENV = "BENCH_BOT_TOKEN"
ID_SEGMENT = re.compile(r"/[a-z0-9]{26}(?=/|$)")
NAME_SEGMENT = re.compile(r"/name/[^/]+")


class TimedLog(list):
    """The sandbox's request log, also noting when each request was answered."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item) -> None:
        self.times.append(time.monotonic())
        super().append(item)


class OverflowCounter(logging.Handler):
    """Counts the hub's "send queue full, closing connection" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "send queue full" in record.getMessage():
            self.count += 1


def record_wall_times(sb: Sandbox) -> dict[str, int]:
    """Note each post's wall-clock creation time: under a storm the sandbox's create_at runs ahead of the clock,
    because it keeps create_at strictly increasing per channel (1 ms per post)."""
    wall: dict[str, int] = {}
    insert = sb.core.posting.insert_post

    def timed(*args, **kwargs) -> dict:
        post = insert(*args, **kwargs)
        wall[post["id"]] = int(time.time() * 1000)
        return post
    sb.core.posting.insert_post = timed
    return wall


def alert_name(index: int) -> str:
    return ALERT_NAMES[index] if index < len(ALERT_NAMES) else f"SyntheticAlert{index:03d}"


def payloads(fingerprints: int, alertnames: int) -> list[dict]:
    """One Alertmanager Slack payload per fingerprint: group_by [alertname, instance] puts both in the title."""
    found = []
    for f in range(fingerprints):
        name, instance = alert_name(f % alertnames), f"node-{f // alertnames:04d}:9100"
        title = f"[FIRING:1] {name} {instance} (node critical)"
        link = "http://alertmanager.example.com:9093/#/alerts?receiver=mattermost"
        found.append({"username": "AlertManager", "text": "", "attachments": [
            {"fallback": f"{title} | {link}", "color": "danger", "title": title, "title_link": link, "text": ""}]})
    return found


def check_payloads(items: list[dict]) -> tuple[int, int, set[str]]:
    """Parse each payload as the webhook would post it; return (fingerprints, alert names, severities)."""
    parsers = default_parsers()
    fingerprints, names, severities = set(), set(), set()
    for i, payload in enumerate(items):
        post = Post.from_json({"id": f"check{i}", "channel_id": "c", "user_id": "u", "message": "",
                               "type": "slack_attachment", "props": {
                                   "from_webhook": "true", "override_username": payload["username"],
                                   "attachments": typed_attachments(payload["attachments"])}})
        for alert in recognise(post, parsers).alerts:
            fingerprints.add(alert.fingerprint)
            names.add(alert.name)
            severities.add(alert.severity.value)
    return len(fingerprints), len(names), severities


def config_text(url: str, team: str) -> str:
    return (f"mattermost:\n  url: {url}\n  token: ${{{TOKEN_ENV}}}\n  team: {team}\n"
            f"storage:\n  path: state/bot.sqlite\nplaybooks:\n  dir: {ROOT / 'playbooks'}\n"
            "alerts:\n  channels: [alerts]\n  rules:\n    - name: page\n      match: {severity: critical}\n"
            "      action: open_incident\n      group_by: [alertname]\nlog_level: INFO\n")


def query(db_path: Path, sql: str) -> list[tuple]:
    """Read the bot's WAL database without writing to it."""
    if not db_path.exists():
        return []
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []   # the schema is not there yet
    finally:
        conn.close()


def proc_usage(pid: int) -> tuple[int, float]:
    """Peak RSS in kB (VmHWM) and CPU seconds (utime + stime) of a live process."""
    hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return hwm, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def template(path: str) -> str:
    return ID_SEGMENT.sub("/{id}", NAME_SEGMENT.sub("/name/{name}", path))


def peak_per_second(times: list[float]) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


class Watch:
    """Samples the bot's websocket presence and handled-post count while the storm runs."""

    def __init__(self, sb: Sandbox, bot_id: str, db_path: Path):
        self.sb, self.bot_id, self.db_path = sb, bot_id, db_path
        self.handled = 0
        self.drops = 0
        self.online = True

    async def presence(self) -> None:
        while True:
            online = self.bot_id in self.sb.core.hub.online_user_ids()
            if self.online and not online:
                self.drops += 1
            self.online = online
            await asyncio.sleep(0.01)

    async def count_handled(self) -> int:
        rows = await asyncio.to_thread(query, self.db_path, "SELECT COUNT(*) FROM alert_posts")
        self.handled = rows[0][0] if rows else 0
        return self.handled


async def start_bot(work: Path, url: str, team: str, token: str) -> asyncio.subprocess.Process:
    config = work / "config.yaml"
    config.write_text(config_text(url, team))
    env = dict(os.environ, **{TOKEN_ENV: token, "PYTHONPATH": str(ROOT)})
    log = open(work / "bot.log", "ab")
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", "--config", str(config),
                                                cwd=str(work), env=env, stdout=log, stderr=log)


async def wait_until(check, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(interval)
    return False


async def run(args: argparse.Namespace) -> None:
    items = payloads(args.fingerprints, args.alertnames)
    fingerprints, names, severities = check_payloads(items)
    print(f"payloads: {args.posts} posts over {fingerprints} distinct fingerprints and {names} alert names "
          f"(severity {', '.join(sorted(severities))}), checked with bot.alerts.parsers.recognise")

    overflow = OverflowCounter()
    hub_log = logging.getLogger("bot.sandbox.hub")
    hub_log.addHandler(overflow)
    hub_log.propagate = False
    sb = Sandbox(rate_limit=args.rate_limit, per_sec=10, burst=100)
    sb.runtime.request_log = TimedLog()
    wall = record_wall_times(sb)
    url = await sb.start(port=0)
    team = sb.create_team("ops", "Ops")
    monitoring = sb.create_user("monitoring")
    bot_user, token = sb.create_bot("incident-bot", "Incident Bot")
    for user in (monitoring, bot_user):
        sb.add_team_member(team["id"], user["id"])
    alerts = sb.create_channel(team["id"], "alerts", "Alerts", creator_id=monitoring["id"])
    hook = sb.create_incoming_hook(alerts["id"], monitoring["id"], "Alertmanager")

    work = Path(tempfile.mkdtemp(prefix="alert-storm-"))
    db_path = work / "state" / "bot.sqlite"
    proc = await start_bot(work, url, team["name"], token)
    watch = Watch(sb, bot_user["id"], db_path)
    log = sb.request_log
    try:
        async def ready() -> bool:
            if proc.returncode is not None:
                raise RuntimeError(f"the bot exited with {proc.returncode}; see {work / 'bot.log'}")
            quiet = bool(log.times) and time.monotonic() - log.times[-1] > 1.0
            return bot_user["id"] in sb.core.hub.online_user_ids() and quiet
        started = time.monotonic()
        if not await wait_until(ready, 60):
            raise RuntimeError(f"the bot did not connect within 60 s; see {work / 'bot.log'}")
        print(f"bot: pid {proc.pid}, connected after {time.monotonic() - started:.1f}s "
              f"({len(log)} startup requests), log {work / 'bot.log'}")
        startup_requests = len(log)
        presence = asyncio.create_task(watch.presence())

        first_at = time.monotonic()
        for i in range(args.posts):
            post = sb.core.webhooks.execute(hook["id"], items[i % len(items)])
            if (i + 1) % args.batch == 0:
                await asyncio.sleep(0)
        injected_s = time.monotonic() - first_at
        skew = (post["create_at"] - wall[post["id"]]) / 1000
        print(f"injected: {args.posts} posts in {injected_s:.2f}s ({args.posts / injected_s:,.0f}/s, "
              f"batches of {args.batch}); the last one's create_at is {skew:.1f}s ahead of the clock")

        last_report = time.monotonic()

        async def all_handled() -> bool:
            nonlocal last_report
            if proc.returncode is not None:
                raise RuntimeError(f"the bot exited with {proc.returncode}; see {work / 'bot.log'}")
            done = await watch.count_handled() >= args.posts
            if time.monotonic() - last_report >= 5:
                last_report = time.monotonic()
                print(f"  ... {time.monotonic() - first_at:5.0f}s: {watch.handled} handled, {len(log)} requests, "
                      f"{sum(1 for r in log if r[2] == 429)} x 429", file=sys.stderr)
            return done
        finished = await wait_until(all_handled, args.timeout)
        handled_s = time.monotonic() - first_at
        storm_requests = len(log)
        async def settled() -> bool:   # incident setups finished and no REST call for 3 s
            unfinished = await asyncio.to_thread(query, db_path, "SELECT COUNT(*) FROM incidents WHERE setup_done = 0")
            return bool(unfinished) and unfinished[0][0] == 0 and time.monotonic() - log.times[-1] > 3.0
        await wait_until(settled, 120, 0.2)
        presence.cancel()
        hwm_kb, cpu_s = proc_usage(proc.pid)

        rate = watch.handled / handled_s
        print(f"handled: {watch.handled}/{args.posts} alert posts in {handled_s:.2f}s from the first post "
              f"({rate:,.0f} alerts/s){'' if finished else f'  TIMED OUT after {args.timeout:.0f}s'}")
        incidents = query(db_path, "SELECT id, alert_group, origin_post_id, link_post_id, header_post_id, setup_done "
                                   "FROM incidents ORDER BY id")
        twice = query(db_path, "SELECT alert_group, COUNT(*) FROM incidents GROUP BY alert_group HAVING COUNT(*) > 1")
        print(f"incidents: {len(incidents)} opened (expected {names}), "
              f"{len(twice)} alert group(s) opened twice{': ' + str(twice) if twice else ''}, "
              f"{sum(1 for row in incidents if not row[5])} setup(s) unfinished")
        state_posts = sb.core.state.posts
        by_clock, by_stamps = [], []
        for _, _, origin, link, header, _ in incidents:
            if origin in state_posts and link in state_posts and header in state_posts:
                pinned_at = state_posts[header]["update_at"]   # set from the clock when pinned
                by_clock.append((max(wall[link], pinned_at) - wall[origin]) / 1000)
                by_stamps.append((max(state_posts[link]["create_at"], pinned_at)
                                  - state_posts[origin]["create_at"]) / 1000)
        for label, values in (("wall clock", by_clock), ("sandbox create_at/update_at", by_stamps)):
            if values:
                print(f"incident ready (first alert post -> link reply and pinned header, {label}), "
                      f"n={len(values)}: first incident {values[0]:.2f}s  p50 {percentile(values, 50):.2f}s  "
                      f"p99 {percentile(values, 99):.2f}s  max {max(values):.2f}s")

        upgrades = sum(1 for r in log if r[2] == 101)
        print(f"websocket: {overflow.count} send-queue overflow(s) closed the bot's connection, "
              f"{watch.drops} offline flap(s) seen, {upgrades} upgrade(s) in all (1 at start)")
        limit = f"server limit {'10/s, burst 100' if args.rate_limit else 'off'}"
        print(f"REST: {len(log)} requests by the bot ({startup_requests} at start, "
              f"{storm_requests - startup_requests} until all handled, {len(log) - storm_requests} after), "
              f"{sum(1 for r in log if r[2] == 429)} x 429, peak {peak_per_second(log.times)} in 1 s ({limit})")
        by_route = Counter((method, template(path)) for method, path, _ in log)
        for (method, path), count in by_route.most_common():
            print(f"  {count:6d}  {method:6s} {path}")
        statuses = Counter(status for _, _, status in log)
        print("  statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
        print(f"bot process: peak RSS {hwm_kb / 1024:.1f} MiB (VmHWM), CPU {cpu_s:.2f}s user+sys "
              f"({cpu_s / handled_s * 100:.0f}% of one core over the storm)")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await sb.stop()


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--posts", type=int, default=20_000, help="alert posts to inject (default 20000)")
    cli.add_argument("--fingerprints", type=int, default=200, help="distinct alerts (default 200)")
    cli.add_argument("--alertnames", type=int, default=20, help="distinct alert names = incidents (default 20)")
    cli.add_argument("--rate-limit", action=argparse.BooleanOptionalAction, default=True,
                     help="limit the bot's REST calls like Mattermost, 10/s burst 100 (default on)")
    cli.add_argument("--batch", type=int, default=50, help="posts injected between event-loop yields (default 50)")
    cli.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the bot (default 1800)")
    args = cli.parse_args()
    if args.fingerprints % args.alertnames:
        cli.error("--fingerprints must be a multiple of --alertnames")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
