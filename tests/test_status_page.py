"""/api/status: exact uptime and percentiles from a seeded history, the states, JSON
and HTML, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
import redis
from pydantic import SecretStr

from lib import clock, runtime
from lib.checks import status_page
from lib.checks.history import BUCKETS, bucket_of
from lib.config import parse_config
from lib.env import Env
from lib.incidents import dispatch, engine
from lib.models import Severity, Signal
from lib.runtime import Runtime
from lib.store import Store

NOW = 1769860830.0  # 2026-01-31T12:00:30Z: minute 720 of the day
MOD = 720
CHROMIUM = "/usr/bin/chromium"


def make_rt(store: Store, names: tuple[str, ...] = ("api", "web", "jobs", "new")) -> Runtime:
    checks = [{"name": n, "url": f"https://{n}.example.com/health"} for n in names]
    people = {"oncall": {"email": "oncall@example.com", "phone": "+15550000001"}, "eng_lead": {"email": "l@example.com"}}
    cfg = parse_config({"service": "shop", "people": people, "checks": checks})
    return Runtime(env=Env(cron_secret=SecretStr("x" * 20)), config=cfg, store=store)


def bits(raw: redis.Redis, key: str, minutes: range | list[int], value: int = 1) -> None:
    pipe = raw.pipeline()
    for m in minutes:
        pipe.setbit(key, m, value)
    pipe.execute()


def day(store: Store, kind: str, name: str, d: str) -> str:
    return store.key("checks", kind, name, d)


@pytest.fixture
def seeded(redis_store: Store, redis_server: Any) -> Store:
    """A known history for `api`; states for `web` (down), `jobs` (pending); `new` has none."""
    raw = redis.Redis.from_url(redis_server.url)
    full = b"\xff" * 180
    # Today, 2026-01-31: minutes 0..720 seen, 10 of them down.
    bits(raw, day(redis_store, "seen", "api", "20260131"), range(MOD + 1))
    bits(raw, day(redis_store, "up", "api", "20260131"), [m for m in range(MOD + 1) if not 100 <= m < 110])
    # The 6 days before: whole days; the 30th was down 60 minutes, all after 12:00.
    for d in ("20260130", "20260129", "20260128", "20260127", "20260126", "20260125"):
        raw.set(day(redis_store, "seen", "api", d), full)
        raw.set(day(redis_store, "up", "api", d), full)
    bits(raw, day(redis_store, "up", "api", "20260130"), range(1000, 1060), 0)
    # 7 days ago: 20 minutes down before 12:00 (outside the 7-day window) and 20 after.
    raw.set(day(redis_store, "seen", "api", "20260124"), full)
    raw.set(day(redis_store, "up", "api", "20260124"), full)
    bits(raw, day(redis_store, "up", "api", "20260124"), [*range(100, 120), *range(800, 820)], 0)
    # 30 days ago (2026-01-01): seen all day, 5 minutes down at the very end.
    raw.set(day(redis_store, "seen", "api", "20260101"), full)
    raw.set(day(redis_store, "up", "api", "20260101"), full)
    bits(raw, day(redis_store, "up", "api", "20260101"), range(1435, 1440), 0)
    # Latency: 90 answers at 100 ms this hour, 8 at 500 ms an hour ago, 2 at 2 s five hours
    # ago; 100 at 9 s 30 hours ago are outside the 24 hours.
    for hour, latency, count in (("2026013112", 0.1, 90), ("2026013111", 0.5, 8), ("2026013107", 2.0, 2),
                                 ("2026013006", 9.0, 100)):
        raw.hset(redis_store.key("checks", "lat", "api", hour), str(bucket_of(latency)), count)
    state = redis_store.key("checks", "state")
    last = {"ok": True, "status": 200, "latency": 0.1, "reason": "", "at": NOW - 20}
    raw.hset(state, "api", json.dumps({"slot": int(NOW // 60), "last": last}))
    bad = {"ok": False, "status": 503, "reason": "status 503 (expected 200)", "at": NOW - 20}
    down = int(NOW // 60) - 3  # 11:57, the first failure of the streak that opened the incident
    raw.hset(state, "web", json.dumps({"slot": 1, "down": True, "down_since": down, "ff": down, "last": bad}))
    raw.hset(state, "jobs", json.dumps({"slot": 1, "ff": int(NOW // 60), "last": bad}))
    return redis_store


def test_uptime_windows_are_exact_minute_windows(seeded: Store) -> None:
    doc = status_page.read(seeded, make_rt(seeded).config, NOW)
    api = doc["checks"][0]
    # 24h: today's 721 minutes (711 up) + the 30th after 12:00 (719, 60 down)
    # 7d: + 5 whole days + the 24th after 12:00 (719, 20 down)
    # 30d: today + the 30th..24th whole (40 down on the 24th), nothing for the 23rd..2nd,
    #      + the 1st after 12:00 (719, 5 down)
    assert api["uptime"] == {
        "24h": round(100 * 1370 / 1440, 4),
        "7d": round(100 * 9990 / 10080, 4),
        "30d": round(100 * (711 + 8580 + 1400 + 714) / (721 + 8640 + 1440 + 719), 4),
    }
    assert api["observed"] == {
        "24h": {"up_minutes": 1370, "observed_minutes": 1440, "window_minutes": 1440},
        "7d": {"up_minutes": 9990, "observed_minutes": 10080, "window_minutes": 10080},
        "30d": {"up_minutes": 711 + 8580 + 1400 + 714, "observed_minutes": 721 + 8640 + 1440 + 719,
                "window_minutes": 43200},
    }
    html = status_page.render(doc)
    assert "<dd>99.00 % (of 8d seen)</dd>" in html  # 30 days, only 8 of them observed
    assert "<dd>95.14 %</dd>" in html  # 24 hours, all observed
    days = api["days"]
    assert len(days) == 30 and days[-1] == {"date": "2026-01-31", "up": 711, "seen": 721, "uptime": round(100 * 711 / 721, 4)}
    assert days[-2] == {"date": "2026-01-30", "up": 1380, "seen": 1440, "uptime": round(100 * 1380 / 1440, 4)}
    assert days[0]["date"] == "2026-01-02" and days[0]["uptime"] is None


def test_percentiles_come_from_the_last_24_hours_of_the_histogram(seeded: Store) -> None:
    api = status_page.read(seeded, make_rt(seeded).config, NOW)["checks"][0]
    assert api["latency"] == {"p50": 0.1, "p95": 0.5, "p99": 2.0, "samples": 100}
    assert {0.1, 0.5, 2.0} <= set(BUCKETS)  # bucket bounds: exact values, no rounding


def test_each_check_has_a_state(seeded: Store) -> None:
    doc = status_page.read(seeded, make_rt(seeded).config, NOW)
    states = {c["name"]: c["state"] for c in doc["checks"]}
    assert states == {"api": "up", "web": "down", "jobs": "pending", "new": "unknown"}
    web = doc["checks"][1]
    assert web["last"]["reason"] == "status 503 (expected 200)" and web["since"] == "2026-01-31T11:57:00Z"
    assert doc["status"] == "down"
    # State written before down_since was kept names the open slot (down_at): still shown.
    old = {**json.loads(seeded.call("HGET", seeded.key("checks", "state"), "web")), "down_at": int(NOW // 60) - 1}
    del old["down_since"]
    seeded.call("HSET", seeded.key("checks", "state"), "web", json.dumps(old))
    assert status_page.read(seeded, make_rt(seeded).config, NOW)["checks"][1]["since"] == "2026-01-31T11:59:00Z"
    later = status_page.read(seeded, make_rt(seeded).config, NOW + 3600)  # no results for an hour
    assert {c["state"] for c in later["checks"]} == {"unknown"}


def _open_incident(rt: Runtime, title: str) -> str:
    [d] = dispatch.handle(rt, [Signal(key="check:web", severity=Severity.P0, title=title, source="checks")], NOW)
    assert d.incident is not None
    return d.incident.id


def test_open_incidents_are_listed_with_their_ack_state(seeded: Store) -> None:
    rt = make_rt(seeded)
    first = _open_incident(rt, "web is down")
    engine.acknowledge(seeded, first, by="alice", via="slack", now=NOW + 5)
    doc = status_page.read(seeded, rt.config, NOW + 10)
    [inc] = doc["incidents"]
    assert (inc["id"], inc["severity"], inc["status"], inc["acked_by"]) == (f"#{first}", "P0", "acknowledged", "alice")
    assert "acknowledged by alice" in status_page.render(doc)


@pytest.fixture
def status_client(seeded: Store) -> Iterator[httpx.Client]:
    from api.status import app

    runtime.install(make_rt(seeded))
    clock.freeze(NOW)
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://vigil.test") as client:
            yield client
    finally:
        clock.unfreeze()
        runtime.install(None)


def test_json_for_programs_and_html_for_people(status_client: httpx.Client) -> None:
    as_json = status_client.get("/api/status", headers={"Accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json" and as_json.json()["service"] == "shop"
    assert status_client.get("/api/status?format=json").json()["checks"][0]["name"] == "api"
    page = status_client.get("/api/status", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!doctype html>") and 'id="check-api"' in page.text
    assert "example.com" not in page.text and "<script" not in page.text  # no check URLs, no scripts


def test_the_page_escapes_what_it_shows(seeded: Store) -> None:
    rt = make_rt(seeded)
    _open_incident(rt, "<script>alert(1)</script> web is down")
    html = status_page.render(status_page.read(seeded, rt.config, NOW))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.browser
def test_the_page_renders_in_headless_chromium_without_console_errors(seeded: Store) -> None:
    from api.status import app

    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is not installed: apt-get install -y chromium"
    base = make_rt(seeded)
    rt = Runtime(env=Env(cron_secret=SecretStr("x" * 20), status_token=SecretStr("t" * 20)), config=base.config,
                 store=seeded)
    _open_incident(rt, "web is down")
    runtime.install(rt)
    clock.freeze(NOW)
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    profile = tempfile.mkdtemp(prefix="vigil-chromium-")
    try:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", "--dump-dom", f"http://127.0.0.1:{server.server_port}/api/status?token={'t' * 20}"],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
        clock.unfreeze()
        runtime.install(None)
        shutil.rmtree(profile, ignore_errors=True)
    dom = proc.stdout
    for name in ("api", "web", "jobs", "new"):
        assert f'id="check-{name}"' in dom
    assert "web is down" in dom and dom.count('class="bar ') == 4 * 30
    console = [line for line in proc.stderr.splitlines() if "Uncaught" in line or "CONSOLE" in line]
    assert console == [], console
