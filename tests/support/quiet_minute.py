"""What a quiet minute costs in Redis commands (Upstash bills every command: 500K a
month free). A quiet minute: every cron of vercel.json called as scheduled, every
check healthy, every metric rule steady, nothing open, nothing due.

    with quiet_world(store, config) as q:
        q.run(minutes=6)                  # warm-up: rule windows fill, state settles
        cost = q.measure(minutes=10)      # {"commands": 2.9, "round_trips": ..., "by_job": {...}}

The crons are the real api/ entry points (tests.support.world); the checked service
and the scraped /metrics are loopback servers; time moves only when `run` moves it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from lib.config import Config, parse_config
from lib.cronexpr import Schedule
from lib.store import Store
from tests.support.metrics_target import FakeApp, MetricsTarget
from tests.support.target import Target
from tests.support.world import PEOPLE, World, world

ROOT = Path(__file__).resolve().parents[2]
MINUTES_PER_MONTH = 30 * 24 * 60
SCRAPE_ENV = {"APP_METRICS_TOKEN": "app-metrics-token", "SUPABASE_METRICS_KEY": "supabase-metrics-key"}
# The gauges the shipped rules read from Supabase's Metrics API, steady and far from their tiers.
SUPABASE_GAUGES = {"pg_stat_database_num_backends": 10, "max_connections_connection_count": 100,
                   'pg_database_size_bytes{datname="postgres"}': 1e9}


def crons() -> list[tuple[str, Schedule]]:
    """vercel.json's crons: (job, schedule)."""
    spec = json.loads((ROOT / "vercel.json").read_text())["crons"]
    return [(c["path"].rsplit("/", 1)[1], Schedule.parse(c["schedule"])) for c in spec]


def issue_config(check_url: str, metrics_url: str) -> Config:
    """Issue 15's quiet minute: one healthy check and two steady metric rules."""
    scrape = {"url": metrics_url, "timeout": "5s"}
    return parse_config({
        "service": "quiet", "people": PEOPLE,
        "checks": [{"name": "api", "url": check_url, "timeout": "5s", "down_after": "2m", "severity": "P0"}],
        "rules": [
            {"name": "HighErrorRate", "scrape": scrape, "ratio": {"errors": "http_errors_total",
             "total": "http_requests_total"}, "window": "5m", "above": {"P1": 0.005, "P0": 0.01}, "for": "5m"},
            {"name": "SlowResponseTime", "scrape": scrape, "quantile": {"histogram": "http_request_duration_seconds",
             "q": 0.95}, "window": "5m", "above": {"P1": 1, "P0": 2}, "for": "5m"},
        ],
    })


def shipped_config(check_url: str, metrics_url: str, path: Path = ROOT / "monitoring.yaml") -> Config:
    """The shipped monitoring.yaml with every check and scrape pointed at the loopback servers."""
    raw = yaml.safe_load(path.read_text())
    for check in raw.get("checks") or []:
        check["url"] = check_url
    for rule in raw.get("rules") or []:
        rule["scrape"] = {**rule["scrape"], "url": metrics_url}
    return parse_config(raw)


class Quiet:
    def __init__(self, w: World, app: FakeApp, metrics: MetricsTarget) -> None:
        self.w, self.app, self.metrics = w, app, metrics
        self.jobs = crons()
        self.minute = 0

    def _tick(self) -> dict[str, int]:
        """One minute: steady traffic on the app, then every cron due at this minute."""
        self.app.traffic(1000, error_ratio=0.0005)
        self.app.observe(0.08, 1000)
        self.metrics.set(self.app.render())
        spent: dict[str, int] = {}
        for job, schedule in self.jobs:
            if not schedule.matches(self.w.now):
                continue
            before = self.w.store.commands
            r = self.w.cron(job)
            assert r.status_code == 200, (job, r.status_code, r.text)
            body = r.json()
            assert not body.get("decisions"), (job, body)  # quiet: nothing opens, nothing resolves
            if job == "minute":  # and the minute did its work: checks recorded, rules committed
                assert body["checks"]["evaluated"] and body["rules"]["committed"], body
            spent[job] = self.w.store.commands - before
        self.w.advance(60)
        self.minute += 1
        return spent

    def run(self, minutes: int) -> None:
        for _ in range(minutes):
            self._tick()

    def measure(self, minutes: int) -> dict[str, Any]:
        commands0, trips0 = self.w.store.commands, self.w.store.round_trips
        by_job: dict[str, int] = {}
        for _ in range(minutes):
            for job, n in self._tick().items():
                by_job[job] = by_job.get(job, 0) + n
        per_minute = (self.w.store.commands - commands0) / minutes
        return {
            "commands": round(per_minute, 2),
            "round_trips": round((self.w.store.round_trips - trips0) / minutes, 2),
            "per_month": round(per_minute * MINUTES_PER_MONTH),
            "by_job": {job: round(n / minutes, 2) for job, n in by_job.items()},
        }


@contextmanager
def quiet_world(store: Store, shipped: bool = False) -> Iterator[Quiet]:
    app = FakeApp()
    app.gauges.update(SUPABASE_GAUGES)
    saved = {k: os.environ.get(k) for k in SCRAPE_ENV}
    os.environ.update(SCRAPE_ENV)  # the rules cron reads scrape credentials from the process environment
    try:
        with Target() as target, MetricsTarget() as metrics:
            metrics.set(app.render())
            config = (shipped_config if shipped else issue_config)(target.url(), metrics.url)
            with world(store, config) as w:
                w.advance(-(w.now % 300))  # start on a 5-minute boundary, as the archive cron's schedule counts
                yield Quiet(w, app, metrics)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
