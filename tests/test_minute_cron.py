"""The minute cron (`/api/cron/minute`, what vercel.json schedules every minute): the
checks, the metric rules and the escalation sweep in two Redis commands, doing what
the three separate crons do. A quiet minute of one healthy check and two steady
rules costs at most 3 commands with the archive cron (Upstash: 500K a month free)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib import watchdog
from lib.incidents import engine
from lib.store import Script, Store
from tests.support.metrics_target import FakeApp, MetricsTarget
from tests.support.quiet_minute import MINUTES_PER_MONTH, crons, quiet_world
from tests.support.target import Target
from tests.support.world import default_config, world

ROOT = Path(__file__).resolve().parent.parent
ECHO = Script("echo", 'redis.call("SET", ARGV[1] .. "echo", ARGV[2])\nreturn cjson.encode({got = ARGV[2]})\n')
NOTHING = Script("nothing", "local x = ARGV[1]\n")
FAILS = Script("fails", 'redis.call("SET", ARGV[1] .. "fails", "1")\nreturn redis.call("NOSUCHCOMMAND")\n')


def test_scripts_run_together_in_one_command_each_with_its_own_argv(store: Store) -> None:
    before = (store.commands, store.round_trips)
    out = store.run_all([(ECHO, [store.prefix, "one"]), (NOTHING, ["x"]), (ECHO, [store.prefix + "b:", 2])])
    assert out == [{"got": "one"}, None, {"got": "2"}]
    assert (store.commands - before[0], store.round_trips - before[1]) in ((1, 1), (2, 2))  # 2: first EVAL
    assert store.call("GET", store.key("echo")) == "one" and store.call("GET", store.key("b", "echo")) == "2"
    before = store.commands
    store.run_all([(ECHO, [store.prefix, "again"]), (NOTHING, ["x"]), (ECHO, [store.prefix + "b:", 3])])
    assert store.commands - before == 1  # the combined script is cached by the server


def test_a_failing_part_fails_the_command(store: Store) -> None:
    from lib.store import StoreError

    with pytest.raises(StoreError):
        store.run_all([(ECHO, [store.prefix, "one"]), (FAILS, [store.prefix])])


def test_vercel_json_schedules_the_minute_and_the_archive() -> None:
    assert [job for job, _ in crons()] == ["minute", "archive"]
    spec = json.loads((ROOT / "vercel.json").read_text())["crons"]
    assert {c["path"] for c in spec} == {"/api/cron/minute", "/api/cron/archive"}
    for c in spec:
        assert (ROOT / (c["path"].lstrip("/") + ".py")).exists()


@pytest.mark.parametrize("shipped", [False, True], ids=["one-check-two-rules", "shipped-monitoring-yaml"])
def test_a_quiet_minute_costs_at_most_3_commands(redis_store: Store, shipped: bool) -> None:
    with quiet_world(redis_store, shipped=shipped) as q:
        q.run(minutes=6)  # rule windows fill, state settles
        cost = q.measure(minutes=10)
    assert cost["commands"] <= 3, cost
    assert cost["by_job"]["minute"] == 2, cost
    assert cost["commands"] * MINUTES_PER_MONTH <= 130_000, cost


def _rule_config(target: Target, metrics: MetricsTarget) -> dict:
    return {
        "checks": [{"name": "api", "url": target.url(), "timeout": "2s", "down_after": "2m", "severity": "P0"}],
        "rules": [{"name": "HighErrorRate", "scrape": {"url": metrics.url, "timeout": "2s"},
                   "ratio": {"errors": "http_errors_total", "total": "http_requests_total"},
                   "window": "5m", "above": {"P1": 0.005, "P0": 0.01}, "for": "2m"}],
    }


def test_the_minute_does_what_checks_rules_and_escalations_do(store: Store) -> None:
    app = FakeApp()
    with Target() as target, MetricsTarget() as metrics:
        with world(store, default_config(**_rule_config(target, metrics))) as w:
            w.advance(-(w.now % 60))

            def minute(error_ratio: float = 0.0) -> dict:
                app.traffic(1000, error_ratio)
                metrics.set(app.render())
                r = w.cron("minute")
                assert r.status_code == 200, r.text
                w.advance(60)
                return r.json()

            first = minute()
            assert first["checks"]["evaluated"] == 1 and first["rules"]["claimed"] is True

            def opened(minutes: list[dict]) -> set[str]:
                return {d["key"] for m in minutes for d in m["decisions"] if d["reason"] == "OPENED"}

            assert opened([minute(0.007) for _ in range(6)]) == {"rule:HighErrorRate"}  # the rules evaluate (P1)
            target.set(status=503)
            assert opened([minute(0.007) for _ in range(3)]) == {"check:api"}  # the checks record
            assert len(w.twilio.messages) == 1  # the P0 ServiceDown's SMS to on-call, once
            for _ in range(15):  # nobody acknowledges: the sweep in the minute's second command escalates
                minute(0.007)
            assert any("+15550000002" == m["To"] for m in w.twilio.messages)  # the CTO
            assert len(w.twilio.calls) == 1
            runs = watchdog.last_runs(store.call(*watchdog.read_command(store)), w.now)
            assert {job for job, run in runs.items() if run and run["age_s"] < 120} >= {"checks", "rules", "escalations"}


def test_a_duplicate_minute_call_probes_nothing_and_decides_nothing(redis_store: Store) -> None:
    with Target() as target, MetricsTarget() as metrics:
        metrics.set(FakeApp().render())
        with world(redis_store, default_config(**_rule_config(target, metrics))) as w:
            assert w.cron("minute").status_code == 200
            hits = target.total_hits()
            again = w.cron("minute").json()
            assert again["checks"]["skipped"] is True and again["rules"]["claimed"] is False
            assert target.total_hits() == hits and len(metrics.requests) == 1
            assert engine.open_incidents(redis_store) == []


def test_the_minute_evaluates_the_log_rules_like_the_rules_cron(store: Store) -> None:
    from tests.test_logs import ENV, config, line, ndjson, post

    with world(store, config(), extra_env=ENV) as w:
        assert post(w, ndjson([line(w.now + 1 + i) for i in range(57)])).json()["counted"] == 57
        w.advance(60)
        run = w.cron("minute").json()
        assert run["logs"] == ["log:ErrorLogs firing P1"]
        assert [(d["key"], d["reason"]) for d in run["decisions"]] == [("log:ErrorLogs", "OPENED")]
