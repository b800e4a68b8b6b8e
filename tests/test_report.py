"""Reports: the same seeded incidents through Supabase (archive -> PostgreSQL ->
vigil_report) and from Redis-style dicts give the MTTA/MTTR computed by hand."""

from __future__ import annotations

from typing import Any

import pytest

from lib.archive import report, sink
from lib.env import Env
from lib.store import Store
from tests.support.archive_fixtures import *  # noqa: F403
from tests.support.postgres import Postgres

NOW = 1_800_000_000.0
DAY = 86400.0
T = NOW - 10 * DAY  # inside a 30-day window
CTO = [{"channel": "sms", "to": "cto"}, {"channel": "call", "to": "cto"}, {"channel": "email", "to": "cto"}]

# id, key, severity, source, opened, ack after, resolve after, false positive, escalated after, labels
SEED: list[tuple[Any, ...]] = [
    ("1", "check:api", "P0", "checks", T, 960, 3600, None, 900, {}),
    ("2", "check:api", "P0", "checks", T + DAY, 300, 1200, None, None, {}),
    ("3", "sentry:issue:11", "P1", "sentry", T + 2 * DAY, 60, 600, None, None, {}),
    ("4", "sentry:issue:12", "P1", "sentry", T + 3 * DAY, None, 900, "known flaky test", None, {}),
    ("5", "am:abc", "P2", "alertmanager", T + 4 * DAY, 30, 90, "noise", None, {"alertname": "HighLatency"}),
    ("6", "am:def", "P2", "alertmanager", T + 5 * DAY, None, 300, None, None, {"alertname": "HighLatency"}),
    ("7", "rule:DiskFull", "P3", "rules", T + 6 * DAY, None, None, None, None, {}),
    ("0", "check:api", "P0", "checks", NOW - 40 * DAY, 10, 20, None, None, {}),  # before the window
]
HOUR = NOW - 5 * 3600
ROLLUPS = [
    {"check": "api", "hour": HOUR, "up_minutes": 60, "total_minutes": 60, "p50": 0.1, "p95": 0.2, "p99": 0.3},
    {"check": "api", "hour": HOUR + 3600, "up_minutes": 50, "total_minutes": 60, "p50": 0.5, "p95": 2.0, "p99": 3.0},
    # a later rollup of the same hour replaces the one before
    {"check": "api", "hour": HOUR + 3600, "up_minutes": 57, "total_minutes": 60, "p50": 0.3, "p95": 0.9, "p99": 1.5},
    {"check": "www", "hour": HOUR, "up_minutes": 30, "total_minutes": 30, "p50": None, "p95": None, "p99": None},
]


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, key, sev, src, opened, ack, res, fp, esc, labels in SEED:
        def e(etype: str, at: float, inc: str = i, **data: Any) -> None:
            out.append({"id": f"{inc}:{etype}", "type": etype, "at": at, "incident": inc, "data": data})
        e("opened", opened, key=key, severity=sev, title=key, summary="", source=src, labels=labels, links={},
          opened_at=opened)
        e("notified", opened + 2, channel="slack", to="#alerts", address="#alerts", kind="trigger", ok=True,
          detail="ok", attempt=1)
        if esc is not None:
            e("escalated", opened + esc, step=0, notify=["sms:cto", "call:cto", "email:cto"])
        if ack is not None:
            e("acknowledged", opened + ack, by="oncall", via="link")
        if fp is not None:
            e("false_positive", opened + res - 1, by="oncall", reason=fp)
        if res is not None:
            e("resolved", opened + res, by="oncall", via="slack")
    for n, r in enumerate(ROLLUPS):
        out.append({"id": f"rollup:{r['check']}:{r['hour']:.0f}:{n}", "type": "check_rollup",
                    "at": r["hour"] + 3600 + n, "data": r})
    return out


def redis_incidents() -> list[dict[str, Any]]:
    return [
        {"id": i, "key": key, "severity": sev, "source": src, "labels": labels, "opened_at": opened,
         "last_seen": opened, "status": "resolved" if res is not None else "acknowledged" if ack else "triggered",
         "acked_at": None if ack is None else opened + ack, "resolved_at": None if res is None else opened + res,
         "false_positive": fp, "steps_done": [] if esc is None else [0],
         "escalation": [{"after": 900.0, "sends": CTO}] if sev == "P0" else []}
        for i, key, sev, src, opened, ack, res, fp, esc, labels in SEED
    ]


def check_by_hand(r: dict[str, Any]) -> None:
    sev = r["severity"]
    assert (sev["P0"]["mtta_s"], sev["P0"]["mttr_s"]) == ((960 + 300) / 2, (3600 + 1200) / 2)
    assert (sev["P1"]["mtta_s"], sev["P1"]["mttr_s"]) == (60.0, (600 + 900) / 2)
    assert (sev["P2"]["mtta_s"], sev["P2"]["mttr_s"]) == (30.0, (90 + 300) / 2)
    assert sev["P3"] == {"incidents": 1, "acknowledged": 0, "resolved": 0, "false_positives": 0,
                         "mtta_s": None, "mttr_s": None}
    assert r["overall"] == {"incidents": 7, "mtta_s": (960 + 300 + 60 + 30) / 4,
                            "mttr_s": round((3600 + 1200 + 600 + 900 + 90 + 300) / 6, 1)}
    assert r["by_source"] == {"alertmanager": {"P2": 2}, "checks": {"P0": 2}, "rules": {"P3": 1},
                              "sentry": {"P1": 2}}
    assert r["escalations"] == {"count": 1, "events": [
        {"incident": "1", "severity": "P0", "step": 0, "notify": ["sms:cto", "call:cto", "email:cto"]}]}
    assert r["false_positive_rate"] == [
        {"rule": "alertname:HighLatency", "incidents": 2, "false_positives": 1, "rate": 0.5},
        {"rule": "sentry:issue", "incidents": 2, "false_positives": 1, "rate": 0.5},
        {"rule": "check:api", "incidents": 2, "false_positives": 0, "rate": 0.0},
        {"rule": "rule:DiskFull", "incidents": 1, "false_positives": 0, "rate": 0.0},
    ]
    assert r["noisiest"][0] == {"key": "check:api", "incidents": 2, "false_positives": 0}
    assert [k["key"] for k in r["noisiest"][1:]] == ["am:abc", "am:def", "rule:DiskFull", "sentry:issue:11",
                                                      "sentry:issue:12"]
    assert r["uptime"] == {
        "api": {"uptime_pct": 97.5, "up_minutes": 117, "total_minutes": 120, "p50_s": 0.2, "p95_max_s": 0.9,
                "p99_max_s": 1.5},
        "www": {"uptime_pct": 100.0, "up_minutes": 30, "total_minutes": 30, "p50_s": None, "p95_max_s": None,
                "p99_max_s": None},
    }


def test_report_from_supabase_matches_values_computed_by_hand(
        archive_env: Env, redis_store: Store, pg: Postgres) -> None:
    sink.append(redis_store, events())
    assert sink.drain(redis_store, archive_env, NOW, batch=7, backoff=()).remaining == 0
    r = report.build_report(NOW, 30, archive_env)
    assert r["source"] == "supabase"
    assert r["window"] == {"since": "2026-12-16T08:00:00Z", "until": "2027-01-15T08:00:00Z", "days": 30}
    check_by_hand(r)


def test_report_from_redis_matches_the_same_values(archive_env: Env) -> None:
    r = report.build_report(NOW, 30, redis_incidents(), rollups=ROLLUPS)
    assert r["source"] == "redis"
    check_by_hand(r)


def test_both_sources_give_the_same_report(archive_env: Env, redis_store: Store, pg: Postgres) -> None:
    sink.append(redis_store, events())
    sink.drain(redis_store, archive_env, NOW, backoff=())
    from_db = report.build_report(NOW, 30, archive_env)
    from_redis = report.build_report(NOW, 30, redis_incidents(), rollups=ROLLUPS)
    assert {**from_db, "source": "-"} == {**from_redis, "source": "-"}


def test_an_empty_window_reports_zeros_not_errors(archive_env: Env) -> None:
    r = report.build_report(NOW, 7, archive_env)
    assert r["overall"] == {"incidents": 0, "mtta_s": None, "mttr_s": None}
    assert r["escalations"] == {"count": 0, "events": []} and r["uptime"] == {}
    assert "None in this window." in report.render_html(r)


def test_without_supabase_the_caller_must_pass_incidents() -> None:
    with pytest.raises(ValueError, match="pass the incidents from Redis"):
        report.build_report(NOW, 30, Env())


def test_rule_of_matches_the_sql_function(pg: Postgres) -> None:
    cases = [("check:api", {}), ("am:1f2e", {"alertname": "HighLatency"}), ("sentry:issue:99", {}),
             ("rule:HighErrorRate", {"team": "x"}), ("vercel:deploy:prj_1:production", {})]
    with pg.connect() as conn:
        for key, labels in cases:
            from psycopg.types.json import Jsonb

            [(sql_rule,)] = conn.execute("SELECT vigil_rule_of(%s, %s)", (key, Jsonb(labels))).fetchall()
            assert sql_rule == report.rule_of(key, labels)


def test_html_report_is_escaped_and_needs_no_script() -> None:
    incs = redis_incidents()
    incs[0]["key"] = "<script>alert(1)</script>"
    page = report.render_html(report.build_report(NOW, 30, incs, rollups=ROLLUPS))
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<td>P0</td><td>2</td><td>2</td><td>10.5 min</td>" in page  # MTTA 630 s
    assert "97.500 %" in page
