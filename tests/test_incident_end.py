"""Every incident can end: a source that never says "resolved" ends its incidents after a
quiet period, every other open incident after its expiry, so a new spike pages again and
Redis cannot grow without bound. Real Redis, the real engine and crons, pages counted."""

from __future__ import annotations

from lib.incidents import dispatch, engine
from lib.models import Reason, Severity, Signal
from lib.store import Store
from tests.support.world import World, default_config, world

HOUR = 3600.0


def spike(w: World, n: int = 11) -> list[Reason]:
    """`n` Sentry error events within a minute (more than 10 a minute is a spike)."""
    sig = Signal(key="sentry:errors:web", severity=Severity.P1, title="Error spike in web", source="sentry",
                 burst=10, burst_window=60.0)
    return [d.reason for d in dispatch.handle(w.rt, [sig] * n, w.now)]


def test_an_error_spike_ends_after_an_hour_without_errors_and_a_later_spike_pages_again(store: Store) -> None:
    with world(store) as w:
        assert spike(w)[-1] == Reason.OPENED
        assert len(w.slack.posts) == 1
        [inc] = engine.open_incidents(store)
        dispatch.follow_up(w.rt, engine.acknowledge(store, inc.id, "alice", "link", w.now), w.now)
        w.advance(40 * 60)
        spike(w, 3)  # errors again: the spike goes on, and so does its hour
        w.advance(59 * 60)
        assert w.cron("escalations").json()["ended"] == []
        w.advance(2 * 60)
        assert w.cron("escalations").json()["ended"] == [{"incident": inc.id, "why": "quiet period"}]
        done = engine.get(store, inc.id)
        assert done is not None and (done.status, done.resolved_by) == ("resolved", "Vigil (quiet period)")
        assert len(w.slack.updates) == 2 and "Resolved" in str(w.slack.updates[-1])  # acked, then resolved
        w.advance(2 * 86400)
        assert spike(w)[-1] == Reason.OPENED  # a new spike, days later, is a new incident
        assert len(w.slack.posts) == 3  # announcement, resolve thread reply, the new announcement


def test_a_plain_alert_that_is_never_resolved_ends_after_a_quiet_day(store: Store) -> None:
    with world(store) as w:
        body = {"key": "disk-full", "severity": "P2", "title": "Disk full on db-1"}
        assert w.alert(**body).json()["decisions"][0]["reason"] == "OPENED"
        w.advance(12 * HOUR)
        assert w.alert(**body).json()["decisions"][0]["reason"] == "DEDUPED"  # still firing
        w.advance(23 * HOUR)
        assert w.cron("escalations").json()["ended"] == []
        w.advance(2 * HOUR)
        [ended] = w.cron("escalations").json()["ended"]
        assert ended["why"] == "quiet period"
        assert w.alert(**body).json()["decisions"][0]["reason"] == "OPENED"


def test_any_open_incident_expires_and_then_leaves_redis(store: Store) -> None:
    cfg = default_config(settings={"expire_after": "7d"})
    with world(store, cfg) as w:
        sig = Signal(key="rule:QueueBacklog", severity=Severity.P3, title="Queue backlog", source="rules")
        [d] = dispatch.handle(w.rt, [sig], w.now)
        assert d.incident is not None and store.call("TTL", store.key("inc", d.incident.id)) == -1
        w.advance(7 * 86400 + 60)
        assert w.cron("escalations").json()["ended"] == [{"incident": d.incident.id, "why": "expiry"}]
        assert engine.open_incidents(store) == []
        assert 0 < store.call("TTL", store.key("inc", d.incident.id)) <= 30 * 86400
        assert store.call("ZCARD", store.key("ends")) == 0


def test_a_source_that_resolves_ends_its_incident_and_the_sweep_leaves_it_alone(store: Store) -> None:
    with world(store) as w:
        body = {"key": "api-down", "severity": "P1", "title": "API is down"}
        w.alert(**body)
        assert w.alert(**{**body, "status": "resolved"}).json()["decisions"][0]["reason"] == "RESOLVED"
        assert store.call("ZCARD", store.key("ends")) == 0
        w.advance(2 * 86400)
        assert w.cron("escalations").json()["ended"] == []


def test_every_default_key_pattern_has_a_quiet_period_at_least_a_minute() -> None:
    settings = default_config().settings
    assert settings.resolve_quiet == {"sentry:errors:*": 3600.0, "sentry:issue:*": 86400.0, "alerts:*": 86400.0}
    assert engine.ends_of(default_config(), "check:api") == {"after": 30 * 86400.0, "why": "expiry"}
    assert engine.ends_of(default_config(), "sentry:errors:web") == {"after": 3600.0, "why": "quiet period"}
