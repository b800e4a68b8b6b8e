"""A vendor's Retry-After (Slack's 429, Twilio's) sets the outbox's next attempt when it is
longer than our own backoff: a Slack 429 asking for 300 s is not retried after 60 s."""

from __future__ import annotations

import pytest

from lib.channels.base import MAX_RETRY_AFTER, classify, retry_after_seconds
from lib.store import Store
from tests.support.world import world


def test_slack_429_with_retry_after_300_is_retried_after_300_seconds_not_60(redis_store: Store) -> None:
    with world(redis_store) as w:
        w.slack.fail_next(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "300"})
        assert w.alert(key="db", severity="P0", title="Database down").status_code == 200
        assert w.slack.posts == []  # the one attempt was rate-limited
        w.advance(61)
        assert w.cron("escalations").json()["sent"] == 0
        w.advance(120)  # 181 s: past our second backoff step too
        assert w.cron("escalations").json()["sent"] == 0
        assert w.slack.posts == []
        w.advance(120)  # 301 s
        assert w.cron("escalations").json()["sent"] == 1
        assert [p["text"][:30] for p in w.slack.posts] == ["<!channel> [P0] Database down"]


def test_twilio_retry_after_is_honoured_too(redis_store: Store) -> None:
    with world(redis_store) as w:
        w.twilio.fail_next(status=503, headers={"Retry-After": "240"})
        w.alert(key="db", severity="P0", title="Database down")
        assert w.twilio.messages == []
        w.advance(61)
        w.cron("escalations")
        assert w.twilio.messages == []
        w.advance(180)
        w.cron("escalations")
        assert len(w.twilio.messages) == 1


def test_a_short_retry_after_keeps_our_backoff(redis_store: Store) -> None:
    with world(redis_store) as w:
        w.slack.fail_next(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"})
        w.alert(key="db", severity="P0", title="Database down")
        w.advance(30)
        assert w.cron("escalations").json()["sent"] == 0  # not before our 60 s
        w.advance(31)
        assert w.cron("escalations").json()["sent"] == 1


@pytest.mark.parametrize(("header", "seconds"), [
    ("300", 300.0), (" 30 ", 30.0), ("0", 0.0), ("999999999", MAX_RETRY_AFTER), (None, None), ("", None),
    ("Wed, 21 Oct 2026 07:28:00 GMT", None), ("\u00b2", None), ("-5", None), ("1.5", None), ("9" * 5000, None),
])
def test_retry_after_is_read_as_bounded_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds
    assert classify(429, "ratelimited", header).retry_after == seconds
