"""The checks cron feeds /api/metrics: vigil_checks_up per check."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from lib.store import Store
from tests.support.target import Target
from tests.support.world import SECRETS, default_config, world


def test_checks_up_gauge_follows_the_last_run(redis_store: Store) -> None:
    with Target() as target:
        target.set("/down", status=503)
        cfg = default_config(checks=[{"name": "api", "url": target.url("/up")},
                                     {"name": "db", "url": target.url("/down")}])
        with world(redis_store, cfg) as w:
            assert w.cron("checks").status_code == 200
            page = w.http.get("/api/metrics", headers={"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"}).text
            up = {s.labels["check"]: s.value for f in text_string_to_metric_families(page)
                  if f.name == "vigil_checks_up" for s in f.samples}
            assert up == {"api": 1.0, "db": 0.0}


def test_status_page_is_public_by_default_and_full_behind_its_token(redis_store: Store) -> None:
    with world(redis_store, extra_env={"STATUS_TOKEN": "status-token-0123456789"}) as w:
        public = w.http.get("/api/status?format=json")
        assert public.status_code == 200 and public.json()["view"] == "public"
        assert "incidents" not in public.json() and all("last" not in c for c in public.json()["checks"])
        assert w.http.get("/api/status?token=wrong").status_code == 401
        assert w.http.get("/api/status?token=status-token-0123456789").status_code == 200
        ok = w.http.get("/api/status?format=json", headers={"Authorization": "Bearer status-token-0123456789"})
        assert ok.status_code == 200 and ok.json()["view"] == "full" and "incidents" in ok.json()
