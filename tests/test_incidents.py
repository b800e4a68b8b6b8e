"""The incident state machine on a real Redis, directly and through the Upstash REST protocol."""

from __future__ import annotations

from lib.config import parse_config
from lib.incidents import engine
from lib.models import Reason, Severity, Signal
from lib.store import Store

T0 = 1_800_000_000.0

CONFIG = parse_config(
    {
        "people": {
            "oncall": {"name": "On-call", "email": "oncall@example.com", "phone": "+15550000001"},
            "eng_lead": {"name": "Lead", "email": "lead@example.com"},
            "cto": {"name": "CTO", "email": "cto@example.com", "phone": "+15550000002"},
        },
        "escalation": {"P0": [{"after": "15m", "notify": {"sms": ["cto"], "call": ["cto"], "email": ["cto"]}}]},
        "silences": [{"key": "check:maintenance*", "reason": "planned work"}],
    }
)


def sig(key: str = "check:api", severity: str = "P0", status: str = "firing", **kw: object) -> Signal:
    return Signal(key=key, severity=Severity(severity), status=status, title=f"{key} is down", source="test", **kw)


def channels(decision) -> list[str]:
    return sorted(f"{s.channel}:{s.to}" for s in decision.sends)


def test_a_p0_opens_once_and_claims_the_runbooks_routing(store: Store) -> None:
    d = engine.apply(store, CONFIG, sig(), T0)
    assert d.reason is Reason.OPENED
    assert d.incident is not None and d.incident.status == "triggered" and d.incident.severity is Severity.P0
    assert channels(d) == ["email:eng_lead", "email:oncall", "slack:#alerts", "sms:oncall"]
    assert [s.mention for s in d.sends if s.channel == "slack"] == ["channel"]
    again = engine.apply(store, CONFIG, sig(), T0 + 60)
    assert again.reason is Reason.DEDUPED and again.sends == []
    assert again.incident is not None and again.incident.occurrences == 2 and again.incident.id == d.incident.id


def test_apply_is_one_round_trip(store: Store) -> None:
    engine.apply(store, CONFIG, sig("warm"), T0)  # the server learns the script
    before = store.round_trips
    engine.apply(store, CONFIG, sig(), T0)
    assert store.round_trips - before == 1
    before = store.round_trips
    engine.apply_many(store, CONFIG, [sig(f"k{i}", "P3") for i in range(20)], T0)
    assert store.round_trips - before == 1


def test_incident_ids_are_short_and_increasing(store: Store) -> None:
    a = engine.apply(store, CONFIG, sig("a"), T0).incident
    b = engine.apply(store, CONFIG, sig("b"), T0).incident
    assert a and b and int(b.id) == int(a.id) + 1 and a.ref == f"#{a.id}"


def test_a_higher_severity_upgrades_and_renotifies(store: Store) -> None:
    first = engine.apply(store, CONFIG, sig(severity="P1"), T0)
    assert channels(first) == ["email:eng_lead", "email:oncall", "slack:#alerts"]
    up = engine.apply(store, CONFIG, sig(severity="P0"), T0 + 120)
    assert up.reason is Reason.UPGRADED and up.incident and up.incident.severity is Severity.P0
    assert "sms:oncall" in channels(up)
    assert engine.apply(store, CONFIG, sig(severity="P1"), T0 + 180).reason is Reason.DEDUPED
    # P0's escalation runs from the upgrade: due at T0+120+15m, not before.
    assert [s for s in engine.sweep(store, CONFIG, T0 + 120 + 899).sends if s.kind == "escalate"] == []
    due = engine.sweep(store, CONFIG, T0 + 120 + 900)
    assert sorted(f"{s.channel}:{s.to}" for s in due.sends if s.kind == "escalate") == ["call:cto", "email:cto", "sms:cto"]


def test_resolve_then_fire_opens_a_new_incident(store: Store) -> None:
    first = engine.apply(store, CONFIG, sig(severity="P2"), T0).incident
    r = engine.apply(store, CONFIG, sig(severity="P2", status="resolved"), T0 + 60)
    assert r.reason is Reason.RESOLVED and r.incident and r.incident.status == "resolved"
    assert engine.apply(store, CONFIG, sig(severity="P2", status="resolved"), T0 + 61).reason is Reason.NOT_OPEN
    second = engine.apply(store, CONFIG, sig(severity="P2"), T0 + 120).incident
    assert first and second and second.id != first.id


def test_unacknowledged_p0_escalates_once_at_15_minutes_even_when_sweeps_race(store: Store) -> None:
    d = engine.apply(store, CONFIG, sig(), T0)
    assert all(s.kind != "escalate" for s in engine.sweep(store, CONFIG, T0 + 899).sends)
    one = engine.sweep(store, CONFIG, T0 + 900)
    two = engine.sweep(store, CONFIG, T0 + 900)
    esc = [s for s in one.sends + two.sends if s.kind == "escalate"]
    assert sorted(f"{s.channel}:{s.to}" for s in esc) == ["call:cto", "email:cto", "sms:cto"]
    assert one.escalated == [{"incident": d.incident.id, "step": 0}] and two.escalated == []


def test_acknowledge_stops_the_escalation_and_is_idempotent(store: Store) -> None:
    d = engine.apply(store, CONFIG, sig(), T0)
    assert d.incident
    a = engine.acknowledge(store, d.incident.id, "alice", "link", T0 + 60)
    assert a.reason is Reason.ACKNOWLEDGED and a.incident and a.incident.acked_by == "alice"
    assert engine.acknowledge(store, d.incident.id, "bob", "slack", T0 + 61).reason is Reason.ALREADY_ACKNOWLEDGED
    assert [s for s in engine.sweep(store, CONFIG, T0 + 3600).sends if s.kind == "escalate"] == []
    assert [s for s in engine.sweep(store, CONFIG, T0 + 3600).sends if s.channel in ("sms", "call")] == []


def test_an_ack_racing_a_resolve_never_reopens(store: Store) -> None:
    d = engine.apply(store, CONFIG, sig(), T0)
    assert d.incident
    engine.apply(store, CONFIG, sig(status="resolved"), T0 + 30)
    a = engine.acknowledge(store, d.incident.id, "alice", "link", T0 + 31)
    assert a.reason is Reason.ALREADY_RESOLVED and a.incident and a.incident.status == "resolved"
    assert engine.open_incidents(store) == []


def test_nothing_due_sweep_is_one_round_trip(store: Store) -> None:
    engine.sweep(store, CONFIG, T0)
    before = store.round_trips
    assert engine.sweep(store, CONFIG, T0 + 60).sends == []
    assert store.round_trips - before == 1


def test_failed_delivery_is_retried_with_backoff_then_done(store: Store) -> None:
    d = engine.apply(store, CONFIG, sig(severity="P3"), T0)
    (slack,) = d.sends
    engine.complete(store, CONFIG, [{"id": slack.id, "ok": False, "retryable": True, "detail": "HTTP 500"}], T0)
    assert engine.sweep(store, CONFIG, T0 + 59).sends == []
    retry = engine.sweep(store, CONFIG, T0 + 60).sends
    assert [s.id for s in retry] == [slack.id] and retry[0].attempt == 2
    engine.complete(
        store, CONFIG, [{"id": slack.id, "ok": True, "ref": {"channel": "C1", "ts": "1.2"}}], T0 + 60
    )
    assert engine.sweep(store, CONFIG, T0 + 10_000).sends == []
    inc = engine.get(store, d.incident.id)
    assert inc and inc.slack == {"channel": "C1", "ts": "1.2"}


def test_a_lease_expiry_retries_a_delivery_whose_sender_died(store: Store) -> None:
    d = engine.apply(store, CONFIG, sig(severity="P3"), T0)
    assert engine.sweep(store, CONFIG, T0 + engine.LEASE - 1).sends == []
    assert [s.id for s in engine.sweep(store, CONFIG, T0 + engine.LEASE).sends] == [d.sends[0].id]


def test_permanent_failures_are_not_retried(store: Store) -> None:
    d = engine.apply(store, CONFIG, sig(severity="P3"), T0)
    engine.complete(store, CONFIG, [{"id": d.sends[0].id, "ok": False, "permanent": True}], T0)
    assert engine.sweep(store, CONFIG, T0 + 10_000).sends == []


def test_the_same_delivery_twice_changes_nothing(store: Store) -> None:
    first = engine.apply(store, CONFIG, sig(delivery_id="req-1"), T0)
    dup = engine.apply(store, CONFIG, sig(delivery_id="req-1"), T0 + 1)
    assert first.reason is Reason.OPENED and dup.reason is Reason.DUPLICATE
    inc = engine.get(store, first.incident.id)
    assert inc and inc.occurrences == 1


def test_a_burst_signal_opens_only_past_its_count(store: Store) -> None:
    reasons = [engine.apply(store, CONFIG, sig("sentry:errors:web", "P1", burst=10), T0 + i).reason for i in range(11)]
    assert reasons[:10] == [Reason.BELOW_THRESHOLD] * 10 and reasons[10] is Reason.OPENED


def test_config_silence_and_false_positive_silence(store: Store) -> None:
    assert engine.apply(store, CONFIG, sig("check:maintenance-db"), T0).reason is Reason.SILENCED
    d = engine.apply(store, CONFIG, sig(), T0)
    fp = engine.resolve(store, CONFIG, d.incident.id, "alice", "slack", T0 + 10, false_positive="flaky probe")
    assert fp.reason is Reason.RESOLVED and fp.incident and fp.incident.false_positive == "flaky probe"
    assert engine.apply(store, CONFIG, sig(), T0 + 20).reason is Reason.SILENCED
    assert engine.apply(store, CONFIG, sig(), T0 + 10 + 3599).reason is Reason.SILENCED
    assert engine.apply(store, CONFIG, sig(), T0 + 10 + 3600).reason is Reason.OPENED


def test_archive_events_are_appended_in_the_same_round_trip(store: Store) -> None:
    import json

    d = engine.apply(store, CONFIG, sig(), T0)
    engine.acknowledge(store, d.incident.id, "alice", "link", T0 + 60)
    engine.apply(store, CONFIG, sig(status="resolved"), T0 + 120)
    events = [json.loads(e) for e in store.call("LRANGE", store.key("archive"), 0, -1)]
    assert [e["type"] for e in events] == ["opened", "acknowledged", "resolved"]
    assert events[1]["data"] == {"by": "alice", "via": "link"}
