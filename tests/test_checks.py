"""The checks cron end to end: a real loopback target whose answers the tests switch,
a real Redis (directly and through the Upstash REST bridge), the real incident engine."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from lib import clock, runtime, watchdog
from lib.checks import state
from lib.checks.probe import CheckResult, evaluate, lookup, run_checks
from lib.config import Check, Expect, parse_config
from lib.config_schema import validate
from lib.env import Env
from lib.incidents import engine
from lib.models import Reason, Severity
from lib.routes.checks import run
from lib.runtime import Runtime
from lib.store import Store
from tests.support.checks_bench import round_trips_per_run
from tests.support.target import HEALTHY, Target

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
SECRET = "cron-secret-0123456789"
PEOPLE = {
    "oncall": {"name": "On-call", "email": "oncall@example.com", "phone": "+15550000001"},
    "eng_lead": {"name": "Lead", "email": "lead@example.com"},
}
EXPECT = {"status": 200, "json": {"status": "healthy", "database": "connected", "cache": "connected"}}


def at(minute: int, second: int = 7) -> float:
    """A cron run `second`s into `minute` (cron jitter must not matter)."""
    return T0 + minute * 60 + second


@pytest.fixture
def target() -> Iterator[Target]:
    with Target() as t:
        yield t


def make_rt(store: Store, checks: list[dict[str, Any]], **env: Any) -> Runtime:
    cfg = parse_config({"service": "shop", "people": PEOPLE, "checks": checks})
    e = Env(cron_secret=SecretStr(SECRET), public_base_url="https://vigil.test", **env)
    return Runtime(env=e, config=cfg, store=store)


def api(target: Target, **over: Any) -> dict[str, Any]:
    return {"name": "api", "url": target.url(), "timeout": "2s", "expect": EXPECT,
            "runbook": "https://example.com/runbooks/service-down", **over}


def reasons(out: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d["key"], d["reason"]) for d in out["decisions"]]


# -- evaluation (pure) ---------------------------------------------------------------

BODY = json.dumps({**HEALTHY, "checks": {"db": "ok", "queue": {"lag": 3}}, "ready": True}).encode()


@pytest.mark.parametrize(
    ("expect", "status", "body", "latency", "reason"),
    [
        (EXPECT, 200, BODY, 0.1, ""),
        (EXPECT, 503, BODY, 0.1, "status 503 (expected 200)"),
        ({"status": [200, 204]}, 204, b"", 0.1, ""),
        ({"status": [200, 204]}, 500, b"", 0.1, "status 500 (expected 200 or 204)"),
        (EXPECT, 200, json.dumps({**HEALTHY, "database": "disconnected"}).encode(), 0.1,
         "`database` was `disconnected` (expected `connected`)"),
        ({"json": {"checks.db": "ok", "checks.queue.lag": 3, "ready": True}}, 200, BODY, 0.1, ""),
        ({"json": {"checks.cache": "ok"}}, 200, BODY, 0.1, "`checks.cache` is missing (expected `ok`)"),
        ({"json": {"ready": "true"}}, 200, BODY, 0.1, "`ready` was `true` (a boolean, expected a string)"),
        (EXPECT, 200, b"<html>", 0.1, "body is not JSON"),
        (EXPECT, 502, b"<html>bad gateway", 0.1, "status 502 (expected 200)"),
        ({"max_latency": "1s"}, 200, b"", 1.5, "took 1.50 s (limit 1 s)"),
        ({"body_contains": "pong"}, 200, b"ping", 0.1, "body does not contain 'pong'"),
    ],
    ids=["healthy", "503", "status-list", "status-list-miss", "db-disconnected", "dotted-paths", "path-missing",
         "string-is-not-bool", "not-json", "non-json-error-page", "too-slow", "body-contains"],
)
def test_evaluate_says_why_an_answer_fails(expect: dict, status: int, body: bytes, latency: float, reason: str) -> None:
    assert evaluate(validate(Expect, expect), status, body, latency) == reason


def test_lookup_follows_dotted_paths_into_objects_and_lists() -> None:
    data = {"checks": {"db": "ok"}, "items": [{"ok": True}]}
    assert lookup(data, "checks.db") == "ok"
    assert lookup(data, "items.0.ok") is True
    assert lookup(data, "items.1.ok") is not True


# -- probes against a real target ---------------------------------------------------

@pytest.mark.parametrize(
    ("setup", "url", "reason"),
    [
        ({"status": 503}, None, "status 503 (expected 200)"),
        ({"body": {**HEALTHY, "database": "disconnected"}}, None, "`database` was `disconnected` (expected `connected`)"),
        ({"hang": True}, None, "timed out after 0.3 s"),
        ({"delay": 1.0}, None, "timed out after 0.3 s"),
        ({}, "http://127.0.0.1:{closed}/health", "connection refused"),
        ({}, "https://127.0.0.1:{port}/health", "TLS error: wrong version number"),
    ],
    ids=["503", "db-disconnected", "hang", "slow", "refused", "tls"],
)
def test_a_failing_probe_says_why(target: Target, setup: dict, url: str | None, reason: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    target.set(**setup)
    check = Check(name="api", url=(url or target.url()).format(port=target.port, closed=closed),
                  timeout=0.3, expect=validate(Expect, EXPECT))
    [result] = run_checks([check], {}, deadline=5)
    assert (result.ok, result.reason) == (False, reason)


def test_checks_the_run_deadline_cuts_off_are_not_evaluated(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    import lib.checks.probe as probes

    monkeypatch.setattr(probes, "MAX_IN_FLIGHT", 1)  # one at a time: the second waits for a slot
    target.set("/hang", hang=True)
    checks = [Check(name=n, url=target.url("/hang"), timeout=0.3) for n in ("first", "second")]
    started = clock.monotonic()
    first, second = run_checks(checks, {}, deadline=0.5)
    assert clock.monotonic() - started < 2
    assert (first.skipped, first.reason) == (False, "timed out after 0.3 s")
    assert (second.skipped, second.reason) == (True, "not checked: the run's 0.5 s deadline came first")


def test_a_timeout_longer_than_the_run_still_ends_as_a_failure_inside_it(target: Target) -> None:
    target.set(hang=True)
    [result] = run_checks([Check(name="api", url=target.url(), timeout=30)], {}, deadline=0.4)
    assert (result.ok, result.skipped, result.reason) == (False, False, "timed out after 0.38 s")


def test_slow_or_unanswered_checks_are_probed_first_next_run(redis_store: Store, target: Target) -> None:
    target.set("/hang", hang=True)
    rt = make_rt(redis_store, [api(target, name="fine"), api(target, name="stuck", url=target.url("/hang"),
                                                              timeout="300ms")])
    run(rt, at(0), {})
    assert state.claim(redis_store, at(1)).suspects == {"stuck"}
    assert state.claim(redis_store, at(1, 30)).claimed is False


def test_header_secrets_come_from_the_environment_and_never_leak(
    redis_store: Store, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    token = "s3cr3t-t0ken-value"
    rt = make_rt(redis_store, [api(target, headers={"Authorization": "Bearer ${API_TOKEN}"}),
                               api(target, name="other", headers={"X-Key": "${MISSING_VAR}"})])
    target.set(status=401, body={"error": "bad token"})
    with caplog.at_level(logging.DEBUG):
        out = run(rt, at(0), {"API_TOKEN": token})
    assert f"Bearer {token}" in target.seen_auth
    by_name = {r["name"]: r for r in out["results"]}
    assert by_name["other"]["reason"] == "header X-Key: environment variable MISSING_VAR is not set"
    assert token not in json.dumps(out) and token not in caplog.text


# -- the cron run through the incident engine ---------------------------------------

def test_a_healthy_target_checked_every_minute_opens_nothing(store: Store, target: Target) -> None:
    rt = make_rt(store, [api(target)])
    for minute in range(5):
        out = run(rt, at(minute), {})
        assert (out["evaluated"], out["skipped"], out["decisions"]) == (1, False, [])
        assert out["results"][0]["ok"] is True
    assert engine.open_incidents(store) == []


@pytest.mark.parametrize(
    ("answer", "timeout", "reason"),
    [
        ({"status": 503, "body": {"status": "unhealthy"}}, "2s", "status 503 (expected 200)"),
        ({"body": {**HEALTHY, "database": "disconnected"}}, "2s", "`database` was `disconnected`"),
        ({"hang": True}, "300ms", "timed out after 0.3 s"),
    ],
    ids=["503", "db-disconnected", "timeout"],
)
def test_failing_for_two_minutes_opens_one_p0_and_recovery_resolves_it(
    store: Store, target: Target, answer: dict, timeout: str, reason: str
) -> None:
    rt = make_rt(store, [api(target, timeout=timeout)])
    assert run(rt, at(0), {})["decisions"] == []
    target.set(**answer)
    assert run(rt, at(1), {})["decisions"] == []  # first failing slot
    assert run(rt, at(2), {})["decisions"] == []  # 1 minute: not yet
    assert reasons(run(rt, at(3), {})) == [("check:api", "OPENED")]  # 2 minutes
    for minute in (4, 5, 6):
        assert run(rt, at(minute), {})["decisions"] == []  # nothing sent again
    [inc] = engine.open_incidents(store)
    assert (inc.key, inc.severity, inc.title) == ("check:api", Severity.P0, "api is down")
    assert reason in inc.summary and "since 00:01 UTC" in inc.summary
    assert inc.links["runbook"] == "https://example.com/runbooks/service-down"
    assert inc.labels["alertname"] == "ServiceDown"
    target.reset()
    assert reasons(run(rt, at(7), {})) == [("check:api", "RESOLVED")]
    assert engine.open_incidents(store) == []


def test_cron_twice_in_a_minute_evaluates_once(store: Store, target: Target) -> None:
    rt = make_rt(store, [api(target)])
    first = run(rt, at(0, 1), {})
    before = store.round_trips
    second = run(rt, at(0, 50), {})
    assert (first["evaluated"], first["skipped"]) == (1, False)
    assert (second["evaluated"], second["skipped"], second["results"]) == (0, True, [])
    assert store.round_trips - before == 1  # the claim only
    assert target.total_hits() == 1  # the duplicate probed nothing
    assert store.call("BITCOUNT", store.key("checks", "seen", "api", "20260101")) == 1


def test_a_skipped_minute_is_not_counted_and_does_not_break_the_streak(store: Store, target: Target) -> None:
    rt = make_rt(store, [api(target)])
    target.set(status=503)
    assert run(rt, at(0), {})["decisions"] == []
    assert reasons(run(rt, at(2), {})) == [("check:api", "OPENED")]  # minute 1 never ran
    assert store.call("BITCOUNT", store.key("checks", "seen", "api", "20260101")) == 2


def test_a_long_monitoring_gap_restarts_the_failure_streak_and_raises_a_p2(redis_store: Store, target: Target) -> None:
    rt = make_rt(redis_store, [api(target)])
    target.set(status=503)
    run(rt, at(0), {})
    out = run(rt, at(7), {})  # 7 minutes without a run: "failing continuously" is unknown
    assert reasons(out) == [("vigil:monitoring-gap", "OPENED")]
    gap = next(i for i in engine.open_incidents(redis_store) if i.key == "vigil:monitoring-gap")
    assert (gap.severity, gap.title) == (Severity.P2, "Monitoring gap: no check run for 7m")
    assert reasons(run(rt, at(8), {})) == [("vigil:monitoring-gap", "RESOLVED")]
    assert reasons(run(rt, at(9), {})) == [("check:api", "OPENED")]


def test_each_run_records_the_watchdog_tick(redis_store: Store, target: Target) -> None:
    rt = make_rt(redis_store, [api(target)])
    run(rt, at(3), {})
    raw = redis_store.call("GET", watchdog.key(redis_store, "checks"))
    assert raw == f"{at(3):.3f}"
    runs = watchdog.last_runs([raw], at(3) + 30, ("checks",))
    assert runs["checks"]["age_s"] == 30


def test_up_after_needs_that_many_good_runs_to_resolve(redis_store: Store, target: Target) -> None:
    rt = make_rt(redis_store, [api(target, up_after=3, down_after="0s")])
    target.set(status=500)
    assert reasons(run(rt, at(0), {})) == [("check:api", "OPENED")]  # down_after 0: first failure
    target.reset()
    assert run(rt, at(1), {})["decisions"] == []
    assert run(rt, at(2), {})["decisions"] == []
    assert reasons(run(rt, at(3), {})) == [("check:api", "RESOLVED")]


def test_slow_answers_raise_slow_response_time_then_upgrade_then_resolve(redis_store: Store, target: Target) -> None:
    rule = {"window": "2m", "min_slow": 1, "above": {"P1": "300ms", "P0": "800ms"}}
    rt = make_rt(redis_store, [api(target, latency=rule)])
    target.set(delay=0.4)
    assert run(rt, at(0), {})["decisions"] == []  # one slow run is not sustained slowness
    assert reasons(run(rt, at(1), {})) == [("check:api:latency", "OPENED")]
    [inc] = engine.open_incidents(redis_store)
    assert (inc.severity, inc.title) == (Severity.P1, "SlowResponseTime: api")
    target.set(delay=1.0)
    assert run(rt, at(2), {})["decisions"] == []  # one run over 800 ms: still P1
    out = run(rt, at(3), {})
    assert reasons(out) == [("check:api:latency", "UPGRADED")] and out["decisions"][0]["severity"] == "P0"
    target.reset()
    assert reasons(run(rt, at(4), {})) == [("check:api:latency", "RESOLVED")]


def _record(store: Store, cfg: Any, minute: int, **result: Any) -> list[dict[str, Any]]:
    """Record one run; its transitions are then consumed as a decision would consume them."""
    res = CheckResult("api", **{"ok": True, "status": 200, "latency": 0.1, **result})
    recorded = state.record(store, cfg, [res], at(minute))
    engine.apply_many(store, cfg, [], at(minute), settle=[recorded.pending])
    return recorded.transitions


def test_isolated_slow_probes_never_page(redis_store: Store, target: Target) -> None:
    cfg = make_rt(redis_store, [api(target)]).config  # default: 4 of the last 5 minutes over 1 s
    latencies = [0.1, 5.0, 0.1, 1.5, 0.1, 0.1, 2.5, 3.0, 0.1, 0.9, 0.1, 9.0, 9.0, 9.0, 0.1, 0.1]
    for minute, latency in enumerate(latencies):  # at most 3 slow runs in any 5 minutes
        assert _record(redis_store, cfg, minute, latency=latency) == [], minute


def test_a_sustained_slowdown_pages_once_then_upgrades_and_resolves(redis_store: Store, target: Target) -> None:
    cfg = make_rt(redis_store, [api(target)]).config
    for minute, latency in enumerate([0.1, 1.4, 1.6, 1.3]):
        assert _record(redis_store, cfg, minute, latency=latency) == []
    [t] = _record(redis_store, cfg, 4, latency=1.2)  # 4 of the last 5 runs over 1 s
    assert (t["kind"], t["severity"], t["slow"], t["n"]) == ("latency", "P1", 4, 5)
    for minute, latency in enumerate([0.2, 1.5, 1.5], start=5):  # 3 or 4 of 5 slow: still one incident
        assert _record(redis_store, cfg, minute, latency=latency) == [] or minute == 5
    [t] = _record(redis_store, cfg, 8, latency=0.1)
    assert t["severity"] is False and t["slow"] == 3
    [sig] = state.signals(cfg, state.Recorded(1, 0, [t]), at(8), "https://vigil.test")
    assert (sig.key, sig.status) == ("check:api:latency", "resolved")
    for minute, latency in enumerate([0.1, 0.1, 2.5, 2.5, 2.5], start=9):
        assert _record(redis_store, cfg, minute, latency=latency) == []
    [t] = _record(redis_store, cfg, 14, latency=2.6)  # 4 of 5 over 2 s: P0 at once
    assert (t["severity"], t["value"], t["slow"]) == ("P0", 2.0, 4)


def test_skipped_minutes_leave_the_window_by_slot(redis_store: Store, target: Target) -> None:
    cfg = make_rt(redis_store, [api(target)]).config
    for minute in (0, 1, 2):
        _record(redis_store, cfg, minute, latency=1.5)
    out = _record(redis_store, cfg, 6, latency=1.5)  # minutes 0 and 1 are out of 2..6's window
    assert [t for t in out if t["kind"] == "latency"] == []


def test_a_few_failed_minutes_of_a_young_history_are_no_uptime_alert(redis_store: Store, target: Target) -> None:
    cfg = make_rt(redis_store, [api(target)]).config
    for minute in range(60):  # 4 isolated failures in the first hour: 93 % of what was seen
        out = _record(redis_store, cfg, minute, ok=minute % 15 != 7, status=503, reason="status 503")
        assert [t for t in out if t["kind"] == "uptime"] == [], minute


def test_uptime_fires_once_the_window_budget_is_really_spent(redis_store: Store, target: Target, redis_server: Any) -> None:
    import redis

    cfg = make_rt(redis_store, [api(target, down_after="1h")]).config
    raw = redis.Redis.from_url(redis_server.url)
    for day in ("20251231", "20251230"):  # two whole days seen; the 31st was down 432 minutes
        raw.set(redis_store.key("checks", "seen", "api", day), b"\xff" * 180)
        raw.set(redis_store.key("checks", "up", "api", day), b"\xff" * 180)
    for minute in range(432):
        raw.setbit(redis_store.key("checks", "up", "api", "20251231"), 600 + minute, 0)
    # 99 % of 30 days allows 432 minutes down: reached, not exceeded.
    assert _record(redis_store, cfg, 0) == []
    [t] = _record(redis_store, cfg, 1, ok=False, status=503, reason="status 503")  # the 433rd
    assert (t["kind"], t["severity"], t["up"], t["seen"]) == ("uptime", "P1", 2881 - 433 + 1, 2882)
    [sig] = state.signals(cfg, state.Recorded(1, 0, [t]), at(1), "https://vigil.test")
    assert (sig.key, sig.severity, sig.title) == ("check:api:uptime", Severity.P1, "Uptime below target: api")
    assert sig.summary.startswith("30d uptime target 99 % is broken: 433 minutes down (it allows 432); ")
    assert sig.summary.endswith("84.98 % up over 2d observed of the last 30d")


@pytest.mark.parametrize("n", [1, 10, 100])
def test_a_run_costs_at_most_two_round_trips_whatever_the_number_of_checks(
    store: Store, target: Target, n: int
) -> None:
    assert round_trips_per_run(store, target, n) <= 2


def test_the_heartbeat_is_pinged_after_a_run_and_never_fails_it(redis_store: Store, target: Target) -> None:
    rt = make_rt(redis_store, [api(target)], heartbeat_url=SecretStr(target.url("/ping/abc")))
    run(rt, at(0), {})
    assert target.hits.get("/ping/abc") == 1
    rt = make_rt(redis_store, [api(target)], heartbeat_url=SecretStr("http://127.0.0.1:1/ping"))
    assert run(rt, at(1), {})["evaluated"] == 1


def test_the_cron_route_needs_the_secret_and_answers_a_summary(redis_store: Store, target: Target) -> None:
    from api.cron.checks import app

    runtime.install(make_rt(redis_store, [api(target)]))
    clock.freeze(at(5, 30))
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://vigil.test") as client:
            assert client.get("/api/cron/checks").status_code == 401
            r = client.get("/api/cron/checks", headers={"Authorization": f"Bearer {SECRET}"})
            again = client.get("/api/cron/checks", headers={"Authorization": f"Bearer {SECRET}"})
    finally:
        clock.unfreeze()
        runtime.install(None)
    assert r.status_code == 200
    body = r.json()
    assert (body["slot"], body["evaluated"], body["skipped"], body["decisions"]) == ("2026-01-01T00:05:00Z", 1, False, [])
    assert body["results"][0]["name"] == "api"
    assert again.json()["skipped"] is True


def test_decision_reasons_are_engine_reasons(redis_store: Store, target: Target) -> None:
    rt = make_rt(redis_store, [api(target, down_after="0s")])
    target.set(status=503)
    out = run(rt, at(0), {})
    assert out["decisions"][0]["reason"] == Reason.OPENED.value


def nagios_percent_state_change(history: str, entries: int = 21) -> float:
    """Nagios' base/flapping.c over the last `entries` results, oldest first (a short history
    sits at the newest end of the table, as the state changes it has are the most recent)."""
    table = [None] * max(0, entries - len(history)) + list(history[-entries:])
    curved = 0.0
    for x in range(1, entries):
        if table[x - 1] is not None and table[x] != table[x - 1]:
            curved += (x - 1) * (1.25 - 0.75) / (entries - 2) + 0.75
    return curved * 100.0 / (entries - 1)


def _flaps(store: Store, cfg: Any, pattern: str, start: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """Record one run per character ('.' up, 'x' down); the flapping transitions by minute."""
    out = []
    for i, ch in enumerate(pattern):
        for t in _record(store, cfg, start + i, ok=ch == ".", status=200 if ch == "." else 503, reason="status 503"):
            if t["kind"] == "flapping":
                out.append((start + i, t))
    return out


def test_a_check_failing_every_other_run_is_one_flapping_incident_until_stable(redis_store: Store, target: Target) -> None:
    cfg = make_rt(redis_store, [api(target)]).config  # Nagios: 21 results, here flapping above 40 %, stable below 20 %
    pattern = ".x" * 15 + "." * 30
    got = _flaps(redis_store, cfg, pattern)
    pcts = [nagios_percent_state_change(pattern[: i + 1]) for i in range(len(pattern))]
    start = next(i for i, p in enumerate(pcts) if p > 40)
    stop = next(i for i, p in enumerate(pcts) if i > start and p < 20)
    assert [(m, t["firing"]) for m, t in got] == [(start, True), (stop, False)] == [(7, True), (46, False)]
    assert (got[0][1]["changes"], got[0][1]["n"]) == (7, 8) and got[0][1]["value"] == pytest.approx(pcts[start])
    [sig] = state.signals(cfg, state.Recorded(1, 0, [got[0][1]]), at(7), "https://vigil.test")
    assert (sig.key, sig.severity, sig.title, sig.labels["alertname"]) == (
        "check:api:flapping", Severity.P1, "api is flapping", "CheckFlapping")
    assert "7 state changes in the last 8 runs (41 % weighted" in sig.summary


def test_isolated_failures_and_an_outage_are_not_flapping(redis_store: Store, target: Target) -> None:
    cfg = make_rt(redis_store, [api(target, down_after="1h")]).config
    assert _flaps(redis_store, cfg, "....x.......x......x....xxxxxxxxxx........x.........") == []


def test_the_flapping_incident_pages_once_through_the_cron(redis_store: Store, target: Target) -> None:
    rt = make_rt(redis_store, [api(target)])
    opened = []
    for minute in range(40):
        target.set(status=503 if minute % 2 else 200)
        opened += [r for r in reasons(run(rt, at(minute), {})) if r[1] in ("OPENED", "UPGRADED")]
    assert opened == [("check:api:flapping", "OPENED")]  # and never ServiceDown: no two failures in a row
