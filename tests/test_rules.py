"""Metric rules end to end: a real /metrics target on 127.0.0.1, a real Redis, the real
cron route and incident engine, and explicit time (one cron run per minute)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from lib.config_schema import validate
from lib.incidents import engine
from lib.rules import state
from lib.rules.config import Rule
from lib.store import Store
from tests.support.metrics_target import OPENMETRICS, FakeApp, MetricsTarget
from tests.support.world import T0, World, default_config, world

ROOT = Path(__file__).resolve().parent.parent


def decided(store: Store, run: state.Run, now: float) -> None:
    """Consume a run's signals as the cron route's decision does (without deciding them)."""
    engine.apply_many(store, default_config(), [], now, settle=[engine.Pending(state.PENDING, tuple(run.pending))])


def error_rule(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "HighErrorRate", "scrape": url, "window": "5m", "for": "5m",
        "ratio": {"errors": "http_errors_total", "total": "http_requests_total"},
        "above": {"P1": 0.005, "P0": 0.01}, "runbook": "https://example.com/runbooks/high-error-rate", **extra,
    }


def slow_rule(url: str, name: str = "SlowResponseTime") -> dict[str, Any]:
    return {"name": name, "scrape": url, "window": "5m",
            "quantile": {"histogram": "http_request_duration_seconds", "q": 0.95}, "above": {"P1": 1, "P0": 2}}


class Scenario:
    """One app behind a target, one Vigil; `minute()` serves the app's counters and runs the cron."""

    def __init__(self, w: World, target: MetricsTarget, app: FakeApp) -> None:
        self.w, self.target, self.app = w, target, app
        self.minute_no = 0
        self.log: list[dict[str, Any]] = []

    def minute(self, requests: int = 0, error_ratio: float = 0.0, serve: bool = True) -> dict[str, Any]:
        if self.minute_no:
            self.w.advance(60)
        self.app.traffic(requests, error_ratio)
        if serve:
            self.target.set(self.app.render())
        r = self.w.cron("rules")
        assert r.status_code == 200, r.text
        self.log.append(r.json())
        self.minute_no += 1
        return r.json()

    def signals(self) -> list[str]:
        return [s for run in self.log for s in run["signals"]]

    def reasons(self) -> list[str]:
        return [d["reason"] for run in self.log for d in run["decisions"]]


@contextmanager
def scenario(store: Store, *rules: Any, **target_rules: Any) -> Iterator[Scenario]:
    with MetricsTarget() as target:
        cfg = default_config(rules=[r(target.url) if callable(r) else r for r in rules])
        with world(store, cfg) as w:
            assert w.now == T0
            yield Scenario(w, target, FakeApp())


def test_two_percent_errors_from_minute_1_fire_exactly_one_p0_by_minute_6(redis_store: Store) -> None:
    with scenario(redis_store, error_rule) as s:
        s.minute()  # minute 0: the baseline sample
        for _ in range(1, 5):
            s.minute(1000, 0.02)
        assert s.signals() == [] and s.w.slack.posts == []  # minute 4: pending, not firing
        assert s.log[-1]["rules"]["HighErrorRate"] == pytest.approx(0.02)
        s.minute(1000, 0.02)
        run6 = s.minute(1000, 0.02)
        assert run6["signals"] == ["rule:HighErrorRate firing P0"] and s.reasons() == ["OPENED"]
        post = s.w.slack.posts[0]
        assert post["text"].startswith("<!channel> [P0] HighErrorRate")
        assert "error rate 2.0 % &gt; 1 % (P0) for 5m" in json.dumps(post)  # Slack escapes ">"
        for _ in range(3):
            s.minute(1000, 0.02)
        assert len(s.w.slack.posts) == 1 and s.signals() == ["rule:HighErrorRate firing P0"]


def test_unacknowledged_rule_p0_pages_the_cto_at_15_minutes(redis_store: Store) -> None:
    with scenario(redis_store, error_rule) as s:
        s.minute()
        for _ in range(6):
            s.minute(1000, 0.02)  # opens at minute 6
        for _ in range(14):
            s.minute(1000, 0.02)
            s.w.cron("escalations")
        assert not [m for m in s.w.twilio.messages if m["To"] == "+15550000002"]
        s.minute(1000, 0.02)  # minute 21 = opened + 15m
        s.w.cron("escalations")
        assert [m["To"] for m in s.w.twilio.messages].count("+15550000002") == 1
        assert [c["To"] for c in s.w.twilio.calls] == ["+15550000002"]


def test_seven_tenths_of_a_percent_is_p1_and_back_under_half_a_percent_resolves(redis_store: Store) -> None:
    with scenario(redis_store, error_rule) as s:
        s.minute()
        for _ in range(6):
            s.minute(1000, 0.007)
        assert s.signals() == ["rule:HighErrorRate firing P1"]
        assert s.w.slack.posts[0]["text"].startswith("<!here> [P1] HighErrorRate")
        for _ in range(6):
            s.minute(1000, 0.001)
        assert s.signals() == ["rule:HighErrorRate firing P1", "rule:HighErrorRate resolved P1"]
        assert s.reasons() == ["OPENED", "RESOLVED"]


def test_p1_rising_to_p0_upgrades_the_incident_once(redis_store: Store) -> None:
    with scenario(redis_store, error_rule) as s:
        s.minute()
        for _ in range(6):
            s.minute(1000, 0.007)
        for _ in range(10):
            s.minute(1000, 0.03)
        assert s.signals() == ["rule:HighErrorRate firing P1", "rule:HighErrorRate firing P0"]
        assert s.reasons() == ["OPENED", "UPGRADED"]
        assert s.w.slack.posts[-1]["text"].startswith("<!channel> [P0] HighErrorRate")


def test_p95_from_a_histogram_equals_the_value_computed_by_hand(redis_store: Store) -> None:
    with MetricsTarget() as t2, scenario(redis_store, slow_rule, slow_rule(t2.url, "SlowEverything")) as s:
        tail = FakeApp()
        t2.set(tail.render())
        s.minute()
        s.app.observe(0.3, 90)  # 90 in (0.25, 0.5], 10 in (1, 2.5]
        s.app.observe(1.5, 10)
        tail.observe(5.0, 10)  # every observation above the highest finite bound
        t2.set(tail.render())
        run = s.minute()
        # rank 95 of 100 lies 5 into the (1, 2.5] bucket of 10: 1 + 1.5 x 5/10
        assert run["rules"]["SlowResponseTime"] == pytest.approx(1.75)
        assert run["rules"]["SlowEverything"] == pytest.approx(2.5)  # in +Inf: the highest finite bound
        assert sorted(run["signals"]) == ["rule:SlowEverything firing P0", "rule:SlowResponseTime firing P1"]


def test_a_counter_reset_mid_window_raises_nothing(redis_store: Store) -> None:
    with scenario(redis_store, error_rule) as s:
        s.minute()
        for m in range(1, 11):
            if m == 4:
                s.app.restart()  # the target restarted: every counter starts again from 0
            s.minute(1000, 0.001)
        assert s.signals() == [] and s.w.slack.posts == []
        assert all(run["rules"]["HighErrorRate"] == pytest.approx(0.001, abs=2e-4) for run in s.log[1:])


FAILURES = {
    "http-503": lambda t: t.set("oops", status=503),
    "garbage": lambda t: t.set("<html><body>Bad gateway</body></html>"),
    "unparsable-value": lambda t: t.set("http_requests_total one\n"),
    "over-the-limit": lambda t: t.set("# padding\n" * 2000 + "http_requests_total 1\n"),
    "timeout": lambda t: t.hang(),
}


@pytest.mark.parametrize("fail", list(FAILURES), ids=list(FAILURES))
def test_a_failed_scrape_neither_fires_nor_resolves(redis_store: Store, fail: str) -> None:
    rule = error_rule("", scrape=None)
    with scenario(redis_store, lambda url: {**rule, "scrape": {"url": url, "timeout": "300ms", "max_bytes": 4096}}) as s:
        s.minute()
        for _ in range(6):
            s.minute(1000, 0.007)  # firing P1 at minute 6
        FAILURES[fail](s.target)
        for _ in range(6):
            run = s.minute(1000, 0.0, serve=False)  # the app is healthy now, but nobody can see it
            assert run["signals"] == [] and s.target.url in run["scrape_errors"]
            assert run["firing"]["HighErrorRate"] == ["P1"]
        # The stored samples aged out of the window: no data, which is not "resolved".
        assert run["rules"]["HighErrorRate"] is None
        s.target.release()
        assert s.signals() == ["rule:HighErrorRate firing P1"] and s.reasons() == ["OPENED"]


def test_a_failed_scrape_keeps_a_pending_rule_pending(redis_store: Store) -> None:
    with scenario(redis_store, error_rule) as s:
        s.minute()
        s.minute(1000, 0.02)  # pending from minute 1
        s.target.set("garbage here", status=200)
        for _ in range(3):  # minutes 2-4 fail
            assert s.minute(1000, 0.02, serve=False)["signals"] == []
        assert s.minute(1000, 0.02)["signals"] == []  # minute 5: held 4m
        assert s.minute(1000, 0.02)["signals"] == ["rule:HighErrorRate firing P0"]  # minute 6: held since minute 1


def test_a_target_failing_for_10_minutes_raises_one_p2_that_says_why_then_resolves(redis_store: Store) -> None:
    with scenario(redis_store, error_rule) as s:
        s.target.set("down", status=503)
        for _ in range(10):
            s.minute(serve=False)
        assert s.signals() == []
        where = s.target.url.removeprefix("http://")
        assert s.minute(serve=False)["signals"] == [f"scrape:{where} firing P2"]  # minute 10
        s.minute(serve=False)
        post = s.w.slack.posts[0]
        assert "[P2] Scrape failing: " + where in post["text"] and "HTTP 503" in json.dumps(post)
        s.minute()
        assert s.signals() == [f"scrape:{where} firing P2", f"scrape:{where} resolved P2"]
        assert s.reasons() == ["OPENED", "RESOLVED"]


def test_the_cron_route_needs_the_cron_secret(redis_store: Store) -> None:
    with scenario(redis_store, error_rule) as s:
        assert s.w.http.get("/api/cron/rules").status_code == 401
        assert s.target.requests == []


# --- the run without the engine: round trips, requests, auth, kinds ------------------------------


def load_scripts(store: Store) -> None:
    for script in (state.BEGIN, state.COMMIT):
        store.call("SCRIPT", "LOAD", script.source)


def many_rules(urls: list[str], n: int) -> list[Rule]:
    kinds = [
        {"ratio": {"errors": "http_errors_total", "total": "http_requests_total"}, "above": {"P1": 0.5}},
        {"quantile": {"histogram": "http_request_duration_seconds", "q": 0.95}, "above": {"P1": 10}},
        {"gauge": "pool_active", "above": {"P1": 100}},
        {"gauge_ratio": {"value": "pool_active", "max": "pool_max"}, "above": {"P1": 0.85}},
        {"baseline": {"counter": 'http_requests_total{code="200"}'}, "above": {"P2": 2}},
    ]
    return [validate(Rule, {"name": f"r{i}", "scrape": urls[i % len(urls)], **kinds[i % len(kinds)]})
            for i in range(n)]


@pytest.mark.parametrize("n", [1, 10, 50])
def test_a_cron_run_takes_at_most_two_round_trips_and_one_request_per_url(store: Store, n: int) -> None:
    with MetricsTarget() as a, MetricsTarget() as b:
        app = FakeApp()
        app.gauges = {"pool_active": 10, "pool_max": 60}
        rules = many_rules([a.url, b.url] if n > 1 else [a.url], n)
        load_scripts(store)
        for minute in range(4):
            app.traffic(1000, 0.001)
            a.set(app.render())
            b.set(app.render())
            before = store.round_trips
            run = state.run(store, rules, T0 + 60 * minute, {})
            assert store.round_trips - before <= 2 and run.round_trips <= 2
            assert run.committed and run.signals == []
        assert len(a.requests) == 4 and len(b.requests) == (4 if n > 1 else 0)


def test_a_second_run_in_the_same_minute_scrapes_and_changes_nothing(redis_store: Store) -> None:
    with MetricsTarget() as t:
        t.set(FakeApp().render())
        rules = [validate(Rule, error_rule(t.url))]
        assert state.run(redis_store, rules, T0 + 5, {}).claimed
        again = state.run(redis_store, rules, T0 + 50, {})
        assert not again.claimed and len(t.requests) == 1


def test_supabase_basic_auth_comes_from_the_environment_and_never_shows(redis_store: Store) -> None:
    with MetricsTarget() as t:
        app = FakeApp()
        app.gauges = {"pg_stat_database_num_backends": 58, "max_connections_connection_count": 60}
        t.set(app.render())
        rule = validate(Rule, {
            "name": "DatabaseConnectionPoolHigh",
            "scrape": {"url": t.url, "auth": {"basic_user": "service_role", "basic_password_env": "SB_SECRET"}},
            "gauge_ratio": {"value": "pg_stat_database_num_backends", "max": "max_connections_connection_count"},
            "above": {"P1": 0.85, "P0": 0.95},
        })
        missing = state.run(redis_store, [rule], T0, {})
        assert "SB_SECRET is not set" in missing.errors[t.url] and t.requests == []
        run = state.run(redis_store, [rule], T0 + 60, {"SB_SECRET": "sb_secret_abc"})
        sent = t.requests[0]["headers"]["Authorization"]
        assert sent == "Basic " + base64.b64encode(b"service_role:sb_secret_abc").decode()
        assert run.signals[0].severity.value == "P0" and "usage 96.7 % > 95 % (P0)" in run.signals[0].summary
        t.set("nope", status=401)
        failed = state.run(redis_store, [rule], T0 + 120, {"SB_SECRET": "sb_secret_abc"})
        assert "sb_secret_abc" not in json.dumps(failed.summary())


def test_label_matchers_pick_the_provider(redis_store: Store) -> None:
    with MetricsTarget() as t:
        rules = [validate(Rule, {
            "name": f"{p}SuccessRate", "scrape": t.url, "labels": {"provider": p.lower()},
            "ratio": {"success": 'llm_requests_total{outcome="success"}', "total": "llm_requests_total"},
            "below": {"P1": 0.95},
        }) for p in ("OpenAI", "Anthropic")]
        counts = {"openai": [10000.0, 100.0], "anthropic": [10000.0, 100.0]}
        for minute, (oa, an) in enumerate([(None, None), (0.90, 0.99), (0.90, 0.99)]):
            for provider, ok in (("openai", oa), ("anthropic", an)) if minute else ():
                counts[provider][0] += 1000 * ok
                counts[provider][1] += 1000 * (1 - ok)
            t.set("# TYPE llm_requests counter\n" + "".join(
                f'llm_requests_total{{provider="{p}",outcome="{o}"}} {c[i]}\n'
                for p, c in counts.items() for i, o in enumerate(("success", "error"))))
            run = state.run(redis_store, rules, T0 + 60 * minute, {})
        assert run.values["OpenAISuccessRate"] == pytest.approx(0.90)
        assert run.values["AnthropicSuccessRate"] == pytest.approx(0.99)


def test_request_rate_against_its_own_hourly_baseline(redis_store: Store) -> None:
    rule = validate(Rule, {"name": "RequestRateSpike", "scrape": "http://placeholder/metrics",
                                "baseline": {"counter": "http_requests_total", "baseline": "1h"}, "above": {"P2": 2}})
    with MetricsTarget() as t:
        rule = replace(rule, scrape=t.url)
        app, fired = FakeApp(), []
        for minute in range(64):
            app.traffic(5000 if minute >= 61 else 1000)
            t.set(app.render())
            run = state.run(redis_store, [rule], T0 + 60 * minute, {})
            decided(redis_store, run, T0 + 60 * minute)
            if minute < 53:
                assert run.values["RequestRateSpike"] is None  # not 90 % of an hour of samples yet
            fired += [(minute, s.status) for s in run.signals]
        assert fired == [(62, "firing")]  # (2 x 1000 + 2 x 5000)/4 a minute against ~1135: 2.6x


def test_openmetrics_pages_are_parsed_by_the_openmetrics_parser(redis_store: Store) -> None:
    with MetricsTarget() as t:
        app, rules = FakeApp(), [validate(Rule, error_rule(t.url, **{"for": "0s"}))]
        for minute in range(2):
            app.traffic(1000, 0.02)
            t.set(app.render(openmetrics=True), content_type=OPENMETRICS)
            run = state.run(redis_store, rules, T0 + 60 * minute, {})
        assert run.values["HighErrorRate"] == pytest.approx(0.02) and run.errors == {}
        t.set(app.render(openmetrics=False), content_type=OPENMETRICS)  # no "# EOF": not OpenMetrics
        assert t.url in state.run(redis_store, rules, T0 + 120, {}).errors


def test_the_example_rules_are_valid_config() -> None:
    data = yaml.safe_load((ROOT / "config" / "rules.example.yaml").read_text())
    cfg = default_config(rules=data["rules"])
    names = {r.name for r in cfg.rules}
    assert {"HighErrorRate", "SlowResponseTime", "DatabaseConnectionPoolHigh", "SlowQueries",
            "DatabaseSizeHigh", "OpenAISuccessRate", "AnthropicSuccessRate", "RequestRateSpike"} <= names
