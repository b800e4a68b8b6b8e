"""Messages agree with each other (issue 16.7): a tier that is already crossed but still
pending is said, and Slack's backticks stay in Slack."""

from __future__ import annotations

from lib.channels.base import Message
from lib.channels.email import plain_text
from lib.channels.slack import Slack
from lib.checks.status_html import render
from lib.env import Env
from lib.models import Severity
from lib.rules.config import Rule
from lib.rules.signals import explain
from lib.text import plain

REASON = "`database` was `disconnected` (expected `connected`)"


def test_a_value_above_the_p0_tier_says_the_p0_tier_is_pending() -> None:
    rule = Rule.model_validate({"name": "HighErrorRate", "scrape": "https://x.test/metrics",
                                "ratio": {"errors": "e", "total": "t"}, "above": {"P1": 0.005, "P0": 0.01},
                                "for": "2m"})
    assert explain(rule, 0.012, Severity.P1) == (
        "error rate 1.2 % > 0.5 % (P1); also > 1 % (P0): pending, it must hold 2m")
    assert explain(rule, 0.007, Severity.P1) == "error rate 0.7 % > 0.5 % (P1)"
    assert explain(rule, 0.012, Severity.P0) == "error rate 1.2 % > 1 % (P0)"


def test_backticks_stay_in_slack_and_plain_text_shows_the_words() -> None:
    assert plain(REASON) == "database was disconnected (expected connected)"
    msg = Message(kind="trigger", incident_id="7", severity=Severity.P0, title="api is down", summary=REASON)
    assert "`" not in plain_text(msg) and "database was disconnected" in plain_text(msg)
    slack = Slack(Env())
    assert "`database`" in str(slack.blocks(msg))  # Slack renders them as code


def test_the_status_page_shows_reasons_without_backticks() -> None:
    check = {"name": "api", "state": "down", "since": "2026-01-31T11:57:00Z", "uptime": {"24h": None, "7d": None,
             "30d": None}, "observed": {}, "days": [], "runs": [], "latency": {"p50": None, "p95": None, "p99": None},
             "response_times": [],
             "last": {"ok": False, "status": 503, "latency": 0.1, "reason": REASON, "at": "2026-01-31T12:00:10Z"}}
    doc = {"service": "shop", "generated_at": "2026-01-31T12:00:30Z", "status": "down", "checks": [check],
           "incidents": [], "history": [], "view": "full"}
    page = render(doc)
    assert "`" not in page and "Failing: database was disconnected (expected connected) since" in page
    assert '<time datetime="2026-01-31T11:57:00Z" title="2026-01-31T11:57:00Z">11:57 UTC</time>' in page
