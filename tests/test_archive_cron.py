"""The archive cron end to end: a P0's life through the real routes, drained to
PostgreSQL through supabase-py and the loopback PostgREST; an outage; the report."""

from __future__ import annotations

import httpx

from lib.store import Store
from tests.support.archive_fixtures import *  # noqa: F403
from tests.support.fake_postgrest import FakePostgrest
from tests.support.postgres import Postgres
from tests.support.target import Target
from tests.support.world import SECRETS, default_config, world

P0 = {"key": "db", "severity": "P0", "title": "Database down"}


def env_for(postgrest: FakePostgrest) -> dict[str, str]:
    return {"SUPABASE_URL": postgrest.url, "SUPABASE_SERVICE_ROLE_KEY": postgrest.service_key,
            "REPORT_TOKEN": "report-token-0123456789"}


def timeline(pg: Postgres) -> list[tuple[str, str]]:
    with pg.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "select incident_id, type from vigil_incident_events order by seq").fetchall()]


def test_a_p0_life_lands_in_postgres_once(redis_store: Store, postgrest: FakePostgrest, pg: Postgres) -> None:
    with world(redis_store, extra_env=env_for(postgrest)) as w:
        w.alert(**P0)
        w.advance(15 * 60)
        w.cron("escalations")
        w.slack.requests.clear()
        incident = w.archive()[0]["incident"]
        assert w.http.post(f"/api/ack?{ack_query(w)}").status_code == 200
        w.alert(**{**P0, "status": "resolved"})
        first = w.cron("archive").json()
        assert first["status"] == "connected" and first["remaining"] == 0 and first["sent"] > 0
        w.cron("archive")
        types = [t for i, t in timeline(pg) if i == incident]
        assert types[0] == "opened" and types.count("opened") == 1
        assert {"notified", "escalated", "acknowledged", "resolved"} <= set(types)
        assert types.count("escalated") == 1 and types.count("acknowledged") == 1
        with pg.connect() as conn:
            status, acked_by = conn.execute(
                "select status, acked_by from vigil_incidents where id = %s", (incident,)).fetchone()
        assert status == "resolved" and acked_by == "On-call engineer"


def ack_query(w) -> str:
    import re

    body = [m for m in w.twilio.messages if m["To"] == "+15550000001"][0]["Body"]
    return re.search(r"/api/ack\?(\S+)", body).group(1)  # type: ignore[union-attr]


def test_supabase_down_for_an_hour_loses_nothing_and_health_says_so(
        redis_store: Store, postgrest: FakePostgrest, pg: Postgres) -> None:
    with world(redis_store, extra_env=env_for(postgrest)) as w:
        postgrest.mode = "error"
        w.alert(**P0)
        for _ in range(13):
            w.advance(5 * 60)
            run = w.cron("archive").json()
        assert run["status"] == "error" and run["remaining"] > 0 and run["alert"]
        health = w.http.get("/api/v1/health").json()
        assert health["database"] == "error" and health["status"] == "degraded"
        backlog = [p for p in w.slack.posts if "Archive backlog" in p["text"]]
        assert len(backlog) == 1 and backlog[0]["text"].startswith("[P2]")
        postgrest.mode = "ok"
        w.advance(5 * 60)
        run = w.cron("archive").json()
        assert run["remaining"] == 0 and "RESOLVED" in run["decisions"]
        types = [t for _, t in timeline(pg)]
        assert types[0] == "opened" and types.count("opened") == 2  # the P0 and the backlog P2, in order
        assert w.http.get("/api/v1/health").json()["database"] == "connected"


def test_hourly_check_rollups_reach_postgres(redis_store: Store, postgrest: FakePostgrest, pg: Postgres) -> None:
    with Target() as target:
        cfg = default_config(checks=[{"name": "api", "url": target.url(), "timeout": "2s"}])
        with world(redis_store, cfg, extra_env=env_for(postgrest)) as w:
            w.advance(3600 - w.now % 3600)  # the top of an hour
            for _ in range(60):
                w.cron("checks")
                w.advance(60)
            w.advance(60)
            assert w.cron("archive").json()["rollups"] >= 1
            with pg.connect() as conn:
                rows = conn.execute("select check_name, up_minutes, total_minutes from vigil_check_rollups").fetchall()
            assert ("api", 60, 60) in rows


def test_report_route_needs_its_token_and_says_where_it_read(redis_store: Store, postgrest: FakePostgrest,
                                                           pg: Postgres) -> None:
    with world(redis_store, extra_env=env_for(postgrest)) as w:
        w.alert(**P0)
        w.advance(120)
        w.alert(**{**P0, "status": "resolved"})
        w.cron("archive")
        assert w.http.get("/api/report").status_code == 401
        r = w.http.get("/api/report?days=7", headers={"Authorization": "Bearer report-token-0123456789"})
        assert r.status_code == 200 and r.json()["source"] == "supabase"
        page = w.http.get("/api/report?days=7&format=html&token=report-token-0123456789")
        assert page.status_code == 200 and "<table" in page.text
        assert w.http.get("/api/report?days=abc", headers={"Authorization": "Bearer report-token-0123456789"}).status_code == 400


def test_report_without_supabase_reads_redis(redis_store: Store) -> None:
    with world(redis_store, extra_env={"REPORT_TOKEN": "report-token-0123456789"}) as w:
        w.alert(**P0)
        r = w.http.get("/api/report", headers={"Authorization": "Bearer report-token-0123456789"})
        assert r.status_code == 200 and r.json()["source"] == "redis"
        assert isinstance(httpx.Response(200, json=r.json()).json(), dict)
        assert SECRETS["ALERTS_TOKEN"] not in r.text
