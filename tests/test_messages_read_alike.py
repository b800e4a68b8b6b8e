"""Messages agree with each other (issue 16.7): a tier that is already crossed but still
pending is said, Slack's backticks stay in Slack, and the page, the status page and the
resolve name the same instant: the first failure."""

from __future__ import annotations

import pytest

from lib.channels.base import Message
from lib.channels.email import plain_text
from lib.channels.slack import Slack
from lib.checks import state, status_page
from lib.checks.status_html import render
from lib.config_schema import validate
from lib.env import Env
from lib.incidents import engine, messages
from lib.models import Send, Severity, Signal
from lib.routes.checks import run
from lib.rules.config import Rule
from lib.rules.signals import explain
from lib.store import Store
from lib.text import plain
from tests.support.target import Target
from tests.test_checks import api, at, make_rt, reasons, target  # noqa: F401

REASON = "`database` was `disconnected` (expected `connected`)"


def test_a_value_above_the_p0_tier_says_the_p0_tier_is_pending() -> None:
    rule = validate(Rule, {"name": "HighErrorRate", "scrape": "https://x.test/metrics",
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


def test_the_page_and_the_status_page_name_the_same_instant_the_first_failure(
    redis_store: Store, target: Target, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    """Failing from minute 1, opened at minute 3 (down_after 2m): everything says 00:01."""
    rt = make_rt(redis_store, [api(target, down_after="2m")])
    run(rt, at(0), {})
    target.set(status=503)
    assert [run(rt, at(m), {})["decisions"] for m in (1, 2)] == [[], []]
    assert reasons(run(rt, at(3), {})) == [("check:api", "OPENED")]
    [inc] = engine.open_incidents(redis_store)
    assert inc.opened_at == at(3)
    email = Send(id="1", incident=inc.id, channel="email", to="oncall", address="oncall@example.com")
    page = messages.render(rt.env, rt.config, inc, email, at(3))
    assert "failing since 00:01 UTC (2m)" in plain_text(page)
    assert "failing since 00:01 UTC (2m)" in str(Slack(Env()).blocks(page))

    run(rt, at(4), {})  # still failing, still the same instant
    doc = status_page.read(redis_store, rt.config, at(4, 30))
    [check] = doc["checks"]
    assert (check["state"], check["since"]) == ("down", "2026-01-01T00:01:00Z")
    html = status_page.render(doc)
    assert "Failing: status 503 (expected 200) since " in html
    assert '<time datetime="2026-01-01T00:01:00Z" title="2026-01-01T00:01:00Z">00:01 UTC</time>' in html

    sent: list[Signal] = []
    signals = state.signals
    monkeypatch.setattr(state, "signals", lambda *a: sent.extend(signals(*a)) or sent)
    target.reset()
    assert reasons(run(rt, at(5), {})) == [("check:api", "RESOLVED")]
    assert [s.summary.split("; ")[-1] for s in sent] == ["it was down since 00:01 UTC (4m)"]
