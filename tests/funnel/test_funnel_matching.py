"""Which open incidents a post or an alert relates to, and what a digest shows: the pure core, plain asserts."""
from __future__ import annotations

import json

from bot.alerts.model import Alert, AlertSource, AlertStatus
from bot.incidents.funnel import (
    Candidate, RelatedItem, alert_item, digest, excerpt, incident_labels, incidents_for_alert, incidents_for_post,
    is_due, mentions, post_item, quiet,
)
from bot.incidents.funnel_config import FunnelRule
from bot.mattermost.events import Post

BOT = "b" * 26
DEPLOYS = FunnelRule("deploys", labels=("service",), channels=("deployments",), senders=("deploy-bot",))
ANYONE = FunnelRule("ci", labels=("service", "cluster"), channels=("ci",))
ALERTS = FunnelRule("related-alerts", labels=("service", "cluster"), alerts=True)
CHECKOUT = Candidate(1, "inc1", {"service": "checkout", "cluster": "eu1"})
PAYMENTS = Candidate(2, "inc2", {"service": "payments", "cluster": "eu1"})
BY_HAND = Candidate(3, "inc3", {})


def post(message: str = "", *, channel: str = "deploy-channel", user: str = "u" * 26, **props) -> Post:
    return Post(id="p" * 26, channel_id=channel, user_id=user, message=message, create_at=1000, props=props)


def related(p: Post, *, channel_name: str = "deployments", authors=("deploy-bot",),
            incidents=(CHECKOUT, PAYMENTS, BY_HAND), rules=(DEPLOYS, ANYONE)) -> list[int]:
    found = incidents_for_post(rules, p, channel_name=channel_name, authors=frozenset(authors),
                               incidents=incidents, bot_user_id=BOT)
    return [incident.id for incident, _ in found]


def alert(name: str = "HighLatency", **labels: str) -> Alert:
    return Alert(source=AlertSource.JSON, fingerprint=f"fp-{name}", status=AlertStatus.FIRING, name=name,
                 labels=labels, summary="p99 over 2s")


def test_a_deploy_post_mentioning_the_service_relates_to_that_incident_only():
    assert related(post("Deployed checkout v1.2.3 to prod")) == [1]
    assert related(post("Deployed CHECKOUT v1.2.3")) == [1]
    assert related(post("Deployed payments v9 and checkout v2")) == [1, 2]


def test_the_mention_is_a_whole_word():
    assert mentions("rolled out checkout.", "checkout")
    assert not mentions("rolled out checkouts", "checkout")
    assert not mentions("mycheckout v2", "checkout")
    assert mentions("service web-01 restarted", "web-01")
    assert not mentions("anything", "")


def test_attachment_text_counts():
    ci = post("", **{"attachments": [{"title": "Pipeline #42 passed", "fields": [{"title": "Service", "value": "checkout"}]}]})
    assert related(ci) == [1]


def test_the_sender_must_be_listed_when_the_rule_names_senders():
    assert related(post("Deployed checkout"), authors=("alice",)) == []
    assert related(post("checkout is failing"), channel_name="ci", authors=("alice",)) == [1]


def test_other_channels_unrelated_posts_and_hand_opened_incidents_never_match():
    assert related(post("Deployed checkout"), channel_name="random") == []
    assert related(post("Deployed search v3")) == []
    assert related(post("Deployed checkout"), incidents=(BY_HAND,)) == []


def test_resolved_incidents_the_bots_own_posts_and_posts_in_the_incident_channel_are_left_out():
    assert related(post("Deployed checkout"), incidents=(Candidate(1, "inc1", CHECKOUT.labels, open=False),)) == []
    assert related(post("Deployed checkout", user=BOT)) == []
    assert related(post("Deployed checkout", user=BOT, from_webhook="true")) == [1]   # a webhook the bot owns
    assert related(post("Deployed checkout", channel="inc1")) == []
    assert related(Post(id="s" * 26, channel_id="c", user_id="u", message="checkout", type="system_join_channel"),
                   authors=()) == []


def test_an_alert_relates_when_its_labels_equal_the_incidents_on_every_key():
    def related_alert(a: Alert, own=frozenset()) -> list[int]:
        return [i.id for i, _ in incidents_for_alert((DEPLOYS, ALERTS), a, incidents=(CHECKOUT, PAYMENTS, BY_HAND),
                                                       own=own)]

    assert related_alert(alert(service="checkout", cluster="eu1", pod="x")) == [1]
    assert related_alert(alert(service="checkout", cluster="us1")) == []
    assert related_alert(alert(service="checkout")) == []
    assert related_alert(alert(service="checkout", cluster="eu1"), own=frozenset({1})) == []


def test_incident_labels_come_from_the_opening_alert():
    assert incident_labels(json.dumps({"name": "X", "labels": {"service": "checkout", "empty": ""}})) == \
        {"service": "checkout"}
    assert incident_labels("") == {}
    assert incident_labels("not json") == {}
    assert incident_labels(json.dumps({"labels": "nope"})) == {}


def test_items_have_a_stable_key_a_short_excerpt_and_a_link():
    item = post_item(DEPLOYS, post("\n\nDeployed checkout " + "x" * 200 + "\nsecond line"), channel_name="deployments",
                     author="deploy-bot", permalink="http://mm/ops/pl/" + "p" * 26)
    assert item.key == "post:" + "p" * 26 and item.channel_name == "deployments"
    assert len(item.excerpt) == 120 and item.excerpt.endswith("…") and "second" not in item.excerpt
    fired = alert_item(ALERTS, alert(service="checkout"), at=5, post=None, channel_name="", permalink="")
    assert fired.key == "alert:fp-HighLatency:firing" and fired.excerpt == "HighLatency (firing): p99 over 2s"
    assert excerpt("  a   b  ") == "a b"


def test_a_digest_shows_fifteen_lines_oldest_first_and_quiets_mentions():
    items = [RelatedItem(f"post:{n}", "deploys", at=100 - n, author="ci", excerpt=f"build {n} by @alice")
             for n in range(40)]
    shown = digest(items)
    assert shown.total == 40 and len(shown.items) == 15 and shown.more == 25
    assert shown.items[0].excerpt.startswith("build 39") and "@\u200balice" in shown.items[0].excerpt
    assert quiet("ping @channel and @bob.smith, mail a@b") == "ping @\u200bchannel and @\u200bbob.smith, mail a@\u200bb"


def test_a_window_closes_a_whole_coalesce_period_after_its_first_item():
    assert not is_due(1_000, 30_999, 30)
    assert is_due(1_000, 31_000, 30)
