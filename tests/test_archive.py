"""The archive: Redis outbox -> supabase-py -> loopback PostgREST -> real PostgreSQL
with the schema of supabase/migrations."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from lib.archive import sink
from lib.config import parse_config
from lib.env import Env
from lib.incidents import engine
from lib.models import Severity, Signal
from lib.store import Store
from tests.support.archive_fixtures import *  # noqa: F403
from tests.support.fake_postgrest import FakePostgrest
from tests.support.postgres import ROOT, Postgres

T0 = 1_800_000_000.0
FAST: dict[str, Any] = {"backoff": (), "sleep": lambda s: None}
CONFIG = parse_config(
    {
        "people": {
            "oncall": {"name": "On-call", "email": "oncall@example.com", "phone": "+15550000001"},
            "eng_lead": {"name": "Lead", "email": "lead@example.com"},
            "cto": {"name": "CTO", "email": "cto@example.com", "phone": "+15550000002"},
        },
        "escalation": {"P0": [{"after": "15m", "notify": {"sms": ["cto"], "call": ["cto"], "email": ["cto"]}}]},
    }
)


def ev(i: int, at: float = T0, incident: str | None = None, etype: str = "opened", **data: Any) -> dict[str, Any]:
    inc = incident or str(i)
    if etype == "opened":
        data = {"key": f"check:c{i % 3}", "severity": "P2", "title": f"c{i} down", "summary": "", "source": "checks",
                "labels": {}, "links": {}, "opened_at": at, **data}
    return {"id": f"{inc}:{etype}:{i}" if etype != "opened" else f"{inc}:opened", "type": etype, "at": at,
            "incident": inc, "data": data}


def rows(pg: Postgres, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with pg.connect() as conn:
        return conn.execute(query, args).fetchall()  # type: ignore[arg-type]


def timeline(pg: Postgres) -> list[str]:
    return [r[0] for r in rows(pg, "SELECT id FROM vigil_incident_events ORDER BY seq")]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def p0_timeline(store: Store) -> str:
    """A P0 through the real engine: opened, paged, escalated to the CTO, acked, resolved, postmortem."""
    d = engine.apply(store, CONFIG, Signal(key="check:api", severity=Severity.P0, title="api down",
                                              source="checks"), T0)
    assert d.incident is not None
    first = [{"id": s.id, "ok": s.channel != "email", "retryable": True, "detail": "ok" if s.channel != "email"
              else "SMTP 451"} for s in d.sends]
    engine.complete(store, CONFIG, first, T0 + 1)
    retry = engine.sweep(store, CONFIG, T0 + 61).sends
    engine.complete(store, CONFIG, [{"id": s.id, "ok": True} for s in retry], T0 + 62)
    esc = engine.sweep(store, CONFIG, T0 + 900)
    assert esc.escalated
    engine.complete(store, CONFIG, [{"id": s.id, "ok": True} for s in esc.sends], T0 + 901)
    engine.acknowledge(store, d.incident.id, "cto", "link", T0 + 960)
    engine.resolve(store, CONFIG, d.incident.id, "cto", "slack", T0 + 1800)
    engine.attach_postmortem(store, d.incident.id, "https://docs.example.com/pm/1", "cto", T0 + 7200)
    return d.incident.id


# -- schema ----------------------------------------------------------------------------------


def test_migrations_apply_in_order_and_lock_out_the_public_roles(pg: Postgres) -> None:
    assert [p.name for p in sorted((ROOT / "supabase" / "migrations").glob("*.sql"))] == [
        "20261128000001_vigil_archive.sql", "20261128000002_vigil_record.sql", "20261128000003_vigil_report.sql"]
    tables = ["vigil_incidents", "vigil_incident_events", "vigil_check_rollups", "vigil_rejected_events"]
    for t in tables:
        [(rls,)] = rows(pg, "SELECT relrowsecurity FROM pg_class WHERE relname = %s", t)
        assert rls is True, t
        for role in ("anon", "authenticated"):
            [(can,)] = rows(pg, "SELECT has_table_privilege(%s, %s, 'SELECT, INSERT, UPDATE, DELETE')", role, t)
            assert can is False, (role, t)
    assert rows(pg, "SELECT * FROM pg_policies WHERE tablename LIKE 'vigil%%'") == []
    for fn in ("vigil_record(jsonb)", "vigil_report(timestamptz, timestamptz)"):
        for role, expected in (("anon", False), ("authenticated", False), ("service_role", True)):
            [(can,)] = rows(pg, "SELECT has_function_privilege(%s, %s, 'EXECUTE')", role, fn)
            assert can is expected, (role, fn)


def test_migrations_apply_again_without_error(pg: Postgres) -> None:
    from tests.support.postgres import apply_migrations

    apply_migrations(pg.dsn)  # `if not exists` / `or replace`: a re-run is harmless


def test_the_anon_key_and_a_wrong_key_are_refused(postgrest: FakePostgrest, redis_store: Store) -> None:
    from postgrest.exceptions import APIError

    anon = sink.supabase_client(Env(supabase_url=postgrest.url, supabase_key=postgrest.anon_key), 5.0)
    with pytest.raises(APIError) as err:
        anon.rpc("vigil_record", {"events": [ev(1)]}).execute()
    assert err.value.code == "42501"  # permission denied for function vigil_record
    sink.append(redis_store, [ev(1)])
    bad = Env(supabase_url=postgrest.url, supabase_key="sb_secret_wrong-0123456789")
    r = sink.drain(redis_store, bad, T0, **FAST)
    assert r.status == "error" and r.sent == 0 and r.remaining == 1
    assert "PGRST301" in (r.error or "") and "wrong-0123456789" not in (r.error or "")
    assert "wrong-0123456789" not in json.dumps(sink.status(redis_store, bad, T0))
    assert postgrest.calls == 0


def test_drain_posts_rpc_vigil_record_with_apikey_and_bearer(postgrest: FakePostgrest, archive_env: Env,
                                                             redis_store: Store) -> None:
    sink.append(redis_store, [ev(1), ev(2)])
    r = sink.drain(redis_store, archive_env, T0 + 5, **FAST)
    assert (r.sent, r.new, r.remaining, r.status, r.error) == (2, 2, 0, "connected", None)
    [req] = postgrest.requests
    assert req["path"] == "/rest/v1/rpc/vigil_record"
    assert req["headers"]["apikey"] == postgrest.service_key
    assert req["headers"]["authorization"] == f"Bearer {postgrest.service_key}"
    assert req["headers"]["user-agent"].startswith("Vigil/")


# -- exactly once ------------------------------------------------------------------------------


def test_a_p0_full_timeline_lands_in_postgres_exactly_once(store: Store, pg: Postgres, archive_env: Env) -> None:
    inc = p0_timeline(store)
    events = [json.loads(e) for e in store.call("LRANGE", sink.outbox_key(store), 0, -1)]
    types = [e["type"] for e in events]
    assert types[0] == "opened" and "escalated" in types and types[-1] == "postmortem"
    r = sink.drain(store, archive_env, T0 + 7300, **FAST)
    assert (r.sent, r.new, r.remaining) == (len(events), len(events), 0)
    assert timeline(pg) == [e["id"] for e in events]
    sink.append(store, events)  # the whole timeline once more, as after a lost reply
    again = sink.drain(store, archive_env, T0 + 7400, **FAST)
    assert (again.sent, again.new) == (len(events), 0)
    assert timeline(pg) == [e["id"] for e in events]
    [row] = rows(pg, "SELECT status, severity, key, acked_by, acked_via, extract(epoch FROM acked_at), "
                     "extract(epoch FROM resolved_at), postmortem_url, escalations, notifications, "
                     "notifications_failed, extract(epoch FROM opened_at) FROM vigil_incidents WHERE id = %s", inc)
    notified = [e for e in events if e["type"] == "notified"]
    assert row == ("resolved", "P0", "check:api", "cto", "link", T0 + 960, T0 + 1800,
                   "https://docs.example.com/pm/1", 1, len(notified),
                   sum(1 for e in notified if not e["data"]["ok"]), T0)
    [(esc,)] = rows(pg, "SELECT data FROM vigil_incident_events WHERE type = 'escalated'")
    assert esc == {"step": 0, "notify": ["sms:cto", "call:cto", "email:cto"]}


def test_two_overlapping_drains_never_send_the_same_batch(postgrest: FakePostgrest, archive_env: Env,
                                                          redis_store: Store, pg: Postgres) -> None:
    sink.append(redis_store, [ev(i) for i in range(30)])
    postgrest.mode, postgrest.delay = "slow", 0.5
    first: list[sink.DrainResult] = []
    t = threading.Thread(target=lambda: first.append(sink.drain(redis_store, archive_env, T0, batch=10, **FAST)))
    t.start()
    while not postgrest.requests:
        time.sleep(0.01)
    second = sink.drain(redis_store, archive_env, T0, batch=10, **FAST)
    t.join()
    assert second.status == "busy" and second.sent == 0
    assert first[0].sent == 30 and first[0].remaining == 0
    assert len(postgrest.requests) == 3 and postgrest.calls == 3
    assert len(timeline(pg)) == 30


def test_a_drain_whose_lock_expired_trims_nothing_of_what_the_next_one_owns(
        postgrest: FakePostgrest, archive_env: Env, redis_store: Store, pg: Postgres) -> None:
    sink.append(redis_store, [ev(i) for i in range(30)])
    postgrest.mode, postgrest.delay = "slow", 0.6
    first: list[sink.DrainResult] = []
    short = {"batch": 10, "lock_ms": 200, **FAST}  # shorter than its request: as if the function froze
    t = threading.Thread(target=lambda: first.append(sink.drain(redis_store, archive_env, T0, **short)))
    t.start()
    time.sleep(0.3)  # the first drain's lock has expired while its request is still out
    second = sink.drain(redis_store, archive_env, T0, batch=10, max_batches=1, **FAST)
    t.join()
    assert first[0].error == "lock lost" and first[0].sent == 0
    assert second.sent == 10
    assert int(redis_store.call("LLEN", sink.outbox_key(redis_store))) == 20  # the first drain trimmed nothing
    assert len(timeline(pg)) == 10  # both sent the first batch; PostgreSQL kept it once


def test_a_batch_retried_after_a_timeout_is_recorded_once(postgrest: FakePostgrest, archive_env: Env,
                                                          redis_store: Store, pg: Postgres) -> None:
    sink.append(redis_store, [ev(i) for i in range(5)])
    postgrest.mode, postgrest.delay = "commit_then_hang", 1.5
    timed_out = sink.drain(redis_store, archive_env, T0, timeout=0.5, attempts=1, **FAST)
    assert timed_out.status == "error" and "Timeout" in (timed_out.error or "") and timed_out.remaining == 5
    assert len(timeline(pg)) == 5  # it had committed all the same
    assert sink.status(redis_store, archive_env, T0)["database"] == "error"
    postgrest.mode = "ok"
    r = sink.drain(redis_store, archive_env, T0 + 60, timeout=0.5, **FAST)
    assert (r.sent, r.new, r.remaining, r.status) == (5, 0, 0, "connected")
    assert len(timeline(pg)) == 5


def test_retries_within_one_drain_absorb_a_timeout(postgrest: FakePostgrest, archive_env: Env,
                                                   redis_store: Store, pg: Postgres) -> None:
    sink.append(redis_store, [ev(i) for i in range(5)])
    postgrest.mode, postgrest.delay = "commit_then_hang", 0.8
    r = sink.drain(redis_store, archive_env, T0, timeout=0.3, attempts=2,
                      sleep=lambda s: setattr(postgrest, "mode", "ok"), backoff=(0.0,))
    assert (r.sent, r.new, r.remaining, r.error) == (5, 0, 0, None)
    assert postgrest.calls == 2 and len(timeline(pg)) == 5


def test_supabase_unreachable_for_an_hour_loses_nothing_and_drains_in_order_after(
        store: Store, archive_env: Env, pg: Postgres) -> None:
    down = Env(supabase_url=f"http://127.0.0.1:{closed_port()}", supabase_key=archive_env.supabase_key)
    sent: list[dict[str, Any]] = []
    for tick in range(14):  # every 5 minutes for 65 minutes
        now = T0 + 300 * tick
        batch = [ev(10 * tick + j, at=now) for j in range(10)]
        sink.append(store, batch)
        sent += batch
        r = sink.drain(store, down, now + 1, timeout=0.5, batch=25, **FAST)
        assert r.status == "error" and r.sent == 0 and r.remaining == len(sent)
        assert "ConnectError" in (r.error or "")
        health = sink.status(store, down, now + 1)
        assert health["database"] == "error" and health["backlog_size"] == len(sent)
        assert health["backlog_age"] == 300 * tick + 1
        assert ("alert" in health) is (300 * tick + 1 > 3600) and (r.alert is not None) is (300 * tick + 1 > 3600)
    back = sink.drain(store, archive_env, T0 + 3901, batch=25, **FAST)
    assert (back.sent, back.new, back.remaining, back.status, back.alert) == (140, 140, 0, "connected", None)
    assert timeline(pg) == [e["id"] for e in sent]
    assert sink.status(store, archive_env, T0 + 3902) == {
        "database": "connected", "backlog_size": 0, "backlog_age": None, "last_drain_age": 1.0}


def test_max_batches_bounds_one_run_and_reports_the_rest(archive_env: Env, redis_store: Store) -> None:
    sink.append(redis_store, [ev(i, at=T0) for i in range(25)])
    r = sink.drain(redis_store, archive_env, T0 + 10, batch=10, max_batches=2, alert_size=4, **FAST)
    assert (r.sent, r.remaining, r.backlog_age) == (20, 5, 10.0)
    assert r.alert == "archive backlog: 5 events (more than 4)"
    assert sink.status(redis_store, archive_env, T0 + 10)["database"] == "connected"


def test_malformed_events_are_set_aside_without_blocking_the_outbox(archive_env: Env, redis_store: Store,
                                                                    pg: Postgres) -> None:
    outbox = sink.outbox_key(redis_store)
    redis_store.call("RPUSH", outbox, "not json", json.dumps({"id": "x", "type": "exploded", "at": T0}))
    sink.append(redis_store, [ev(1)])
    r = sink.drain(redis_store, archive_env, T0, **FAST)
    assert (r.sent, r.new, r.remaining) == (3, 1, 0)
    assert timeline(pg) == ["1:opened"]
    assert len(rows(pg, "SELECT payload FROM vigil_rejected_events")) == 2


def test_check_rollups_upsert_by_check_and_hour(archive_env: Env, redis_store: Store, pg: Postgres) -> None:
    hour = T0 - 3600

    def rollup(at: float, up: int) -> dict[str, Any]:
        return {"id": f"rollup:api:{hour:.0f}:{at:.0f}", "type": "check_rollup", "at": at,
                "data": {"check": "api", "hour": hour, "up_minutes": up, "total_minutes": 60,
                         "p50": 0.1, "p95": 0.2, "p99": 0.4}}

    sink.append(redis_store, [rollup(T0, 50), rollup(T0 + 60, 58), rollup(T0, 50)])
    r = sink.drain(redis_store, archive_env, T0 + 70, **FAST)
    assert r.new == 2  # the first, then the newer one; the repeat of the first changes nothing
    assert rows(pg, "SELECT check_name, extract(epoch FROM hour), up_minutes, p99 FROM vigil_check_rollups") == [
        ("api", hour, 58, 0.4)]


# -- disabled, health, import cost ----------------------------------------------------------------


def test_without_supabase_the_archive_says_disabled_and_keeps_the_outbox_bounded(store: Store) -> None:
    env = Env()
    assert sink.status(store, env, T0)["database"] == "disabled"
    sink.append(store, [ev(i) for i in range(sink.DISABLED_KEEP + 50)])
    r = sink.drain(store, env, T0)
    assert (r.status, r.sent, r.remaining) == ("disabled", 0, sink.DISABLED_KEEP)
    newest = json.loads(store.call("LINDEX", sink.outbox_key(store), -1))
    assert newest["incident"] == str(sink.DISABLED_KEEP + 49)


def test_status_is_one_round_trip_and_health_can_fold_it_into_its_pipeline(store: Store, archive_env: Env) -> None:
    sink.append(store, [ev(1, at=T0 - 30)])
    before = store.round_trips
    out = sink.status(store, archive_env, T0)
    assert store.round_trips - before == 1
    assert out == {"database": "connected", "backlog_size": 1, "backlog_age": 30.0}
    replies = store.pipeline(sink.status_commands(store))
    assert sink.status_from(replies, archive_env, T0) == out


def test_importing_lib_archive_does_not_import_supabase() -> None:
    code = ("import sys, lib.archive.sink, lib.archive.report; "
            "print(sorted(m for m in ('supabase', 'postgrest', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_events_before_their_opened_event_keep_what_is_known(archive_env: Env, redis_store: Store,
                                                              pg: Postgres) -> None:
    sink.append(redis_store, [ev(1, T0 + 60, "9", "acknowledged", by="bob", via="slack"),
                                 ev(2, T0 + 90, "9", "upgraded", severity="P0", **{"from": "P2"})])
    sink.drain(redis_store, archive_env, T0 + 100, **FAST)
    assert rows(pg, "SELECT status, severity, opened_at, acked_by FROM vigil_incidents") == [
        ("acknowledged", "P0", None, "bob")]
    sink.append(redis_store, [ev(9, T0)])  # the opened event, late
    sink.drain(redis_store, archive_env, T0 + 200, **FAST)
    assert rows(pg, "SELECT status, severity, extract(epoch FROM opened_at), key FROM vigil_incidents") == [
        ("acknowledged", "P0", T0, "check:c0")]
