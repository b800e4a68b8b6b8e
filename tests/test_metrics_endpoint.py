"""GET /api/metrics: Vigil's own counters, kept in Redis, following real traffic."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from lib import metrics, runtime
from lib.env import Env
from lib.runtime import Runtime
from lib.store import Store
from tests.support.metrics_target import FakeApp, MetricsTarget
from tests.support.world import SECRETS, World, default_config, world

AUTH = {"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"}


def scrape(w: World, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = w.http.get("/api/metrics", headers={**AUTH, **headers})
    assert r.status_code == 200, r.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(r.text)
        for s in fam.samples
    }


def test_metrics_follow_real_traffic(store: Store) -> None:
    with MetricsTarget() as target:
        target.set(FakeApp().render())
        cfg = default_config(rules=[{"name": "Up", "scrape": target.url, "gauge": "http_errors_total",
                                     "above": {"P3": 1e9}}])
        with world(store, cfg) as w:
            before = scrape(w)
            assert before[("vigil_outbox_depth", ())] == 0
            assert before[("vigil_incidents_open", (("severity", "P0"), ("status", "triggered")))] == 0
            w.alert(key="api-down", severity="P0", title="API is down")
            for _ in range(3):
                assert w.cron("rules").status_code == 200
                w.advance(60)
            w.cron("rules")  # a duplicate in the same minute is not a run
            m = scrape(w)
            assert m[("vigil_incidents_open", (("severity", "P0"), ("status", "triggered")))] == 1
            assert m[("vigil_incidents_opened_total", (("severity", "P0"),))] == 1
            assert m[("vigil_notifications_sent_total", (("channel", "slack"),))] == 1
            assert m[("vigil_notifications_sent_total", (("channel", "sms"),))] == 1
            assert m[("vigil_cron_runs_total", (("job", "rules"),))] == 4
            assert m[("vigil_cron_lag_seconds", (("job", "rules"),))] == 0
            assert m[("vigil_cron_last_run_timestamp_seconds", (("job", "rules"),))] == w.now
            assert m[("vigil_rule_scrapes_total", (("outcome", "ok"),))] == 4
            assert m[("vigil_rule_value", (("rule", "Up"),))] == 100


def test_counters_and_gauges_from_other_code_render_with_their_labels(store: Store) -> None:
    with world(store) as w:
        store.pipeline([
            *metrics.incr_commands(store, "webhooks", {"source": "sentry", "outcome": "accepted"}),
            *metrics.incr_commands(store, "webhooks", {"source": "sentry", "outcome": "accepted"}),
            *metrics.incr_commands(store, "webhooks", {"source": "vercel|x", "outcome": "bad signature"}),
            *metrics.set_commands(store, "checks_up", {"check": "api"}, 1),
            *metrics.set_commands(store, "checks_up", {"check": "db"}, 0),
        ])
        metrics.incr(store, "notifications_failed", {"channel": "email"}, by=3)
        m = scrape(w)
        assert m[("vigil_webhooks_total", (("outcome", "accepted"), ("source", "sentry")))] == 2
        assert m[("vigil_webhooks_total", (("outcome", "bad signature"), ("source", "vercel|x")))] == 1
        assert m[("vigil_checks_up", (("check", "api"),))] == 1 and m[("vigil_checks_up", (("check", "db"),))] == 0
        assert m[("vigil_notifications_failed_total", (("channel", "email"),))] == 3


def test_rendering_reads_the_store_in_one_round_trip(store: Store) -> None:
    metrics.read(store)  # the server learns the script
    before = store.round_trips
    metrics.render(store)
    assert store.round_trips - before == 1


def test_an_unknown_label_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="has no label 'chanel'"):
        metrics.field_of("notifications_sent", {"chanel": "slack"})


def test_openmetrics_when_the_scraper_asks_for_it(store: Store) -> None:
    with world(store) as w:
        r = w.http.get("/api/metrics", headers={**AUTH, "Accept": "application/openmetrics-text; version=1.0.0"})
        assert r.headers["content-type"].startswith("application/openmetrics-text")
        names = {fam.name for fam in parse_openmetrics(r.text)}
        assert {"vigil_cron_runs", "vigil_incidents_open", "vigil_outbox_depth"} <= names


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}], ids=["missing", "wrong"])
def test_a_set_metrics_token_is_required(store: Store, headers: dict[str, str]) -> None:
    with world(store) as w:
        assert w.http.get("/api/metrics", headers=headers).status_code == 401


def test_without_a_metrics_token_the_endpoint_is_open(store: Store) -> None:
    from tests.support.world import Dispatcher

    runtime.install(Runtime(env=Env.from_environ({}), config=default_config(), store=store))
    try:
        client = httpx.Client(transport=httpx.WSGITransport(app=Dispatcher()), base_url="https://vigil.test")
        r = client.get("/api/metrics")
        assert r.status_code == 200 and "vigil_outbox_depth 0.0" in r.text
    finally:
        runtime.install(None)
