"""The status page in a real headless Chromium: 390 px (a phone) and 1280 px, light and
dark, public and full view, with assertions on what is visible. Screenshots go to
$VIGIL_SCREENSHOTS when set (to look at them), else to the test's tmp dir."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import redis
from pydantic import SecretStr

from lib import clock, runtime
from lib.checks.history import bucket_of, hour_of
from lib.env import Env
from lib.incidents import dispatch, engine
from lib.models import Severity, Signal
from lib.runtime import Runtime
from lib.store import Store
from tests.support.browser import Chromium
from tests.test_status_page import NOW, _open_incident, bits, day, make_rt, seeded  # noqa: F401

TOKEN = "status-token-0123456789"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    with Chromium() as b:
        yield b


@pytest.fixture
def site(seeded: Store, redis_server: Any) -> Iterator[str]:  # noqa: F811
    """The real /api/status behind a loopback server: `api` had a 4-minute outage 20 minutes
    ago (acknowledged by alice, resolved, with a postmortem), `web` is down now."""
    from api.status import app

    raw = redis.Redis.from_url(redis_server.url)
    bits(raw, day(seeded, "up", "api", "20260131"), range(700, 704), 0)
    for h in range(1, 24):  # a day of response times for the chart: slower in the afternoon
        hour = hour_of(int(NOW // 60) - 60 * h)
        raw.hset(seeded.key("checks", "lat", "api", hour), str(bucket_of(0.08 + 0.01 * (h % 12))), 60)
    base = make_rt(seeded)
    rt = Runtime(env=Env(cron_secret=SecretStr("x" * 20), status_token=SecretStr(TOKEN)), config=base.config,
                 store=seeded)
    [d] = dispatch.handle(rt, [Signal(key="check:api", severity=Severity.P0, title="api is down",
                                      source="checks")], NOW - 1200)
    past = d.incident.id if d.incident else ""
    engine.acknowledge(seeded, past, by="alice", via="slack", now=NOW - 1100)
    engine.resolve(seeded, rt.config, past, "checks", "checks", NOW - 960)
    engine.attach_postmortem(seeded, past, "https://example.com/postmortems/api-outage", "alice", NOW - 900)
    current = _open_incident(rt, "web is down: database was disconnected")
    assert current != past
    runtime.install(rt)
    clock.freeze(NOW)
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/status"
    finally:
        server.shutdown()
        server.server_close()
        clock.unfreeze()
        runtime.install(None)


def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("VIGIL_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


LAYOUT = """(() => {
  const vis = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const times = [...document.querySelectorAll('time')];
  return {
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    wrapped_times: times.filter(t => t.getClientRects().length !== 1 ||
        t.getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(t).lineHeight || 20)).length,
    times: times.length,
    hover: times.every(t => t.title === t.getAttribute('datetime')),
    runs: [...document.querySelectorAll('section.check')].map(s => [...s.querySelectorAll('.run')].filter(vis).length),
    down_run: (() => { const d = document.querySelector('#check-api .run.down');
                       return d ? getComputedStyle(d).backgroundColor : null; })(),
    body_bg: getComputedStyle(document.body).backgroundColor,
    body_fg: getComputedStyle(document.body).color,
    text: document.body.innerText,
    chart: (() => { const p = document.querySelector('#check-api .chart polyline');
                    return p ? p.getBoundingClientRect().width : 0; })(),
    acked_col: (() => { const c = [...document.querySelectorAll('td.wide')].find(td => td.innerText === 'alice');
                        return c ? vis(c) : null; })(),
    postmortem: (() => { const a = document.querySelector('a[href*="postmortems/api-outage"]');
                         return a ? vis(a) : null; })(),
  };
})()"""

VIEWS = [(w, dark) for w in (390, 1280) for dark in (False, True)]


@pytest.mark.parametrize(("width", "dark"), VIEWS, ids=[f"{w}px-{'dark' if d else 'light'}" for w, d in VIEWS])
def test_full_view_shows_runs_chart_and_history_without_wrapping(
    browser: Chromium, site: str, tmp_path: Path, width: int, dark: bool
) -> None:
    page = browser.open(f"{site}?token={TOKEN}", width=width, dark=dark)
    page.screenshot(shots(tmp_path) / f"status-full-{width}-{'dark' if dark else 'light'}.png")
    got = page.evaluate(LAYOUT)
    assert got["overflow"] <= 0, "the page scrolls sideways"
    assert got["times"] >= 6 and got["wrapped_times"] == 0 and got["hover"]
    assert got["runs"] == [90, 90, 90, 90]  # every check: its last 90 runs, each bar visible
    assert got["down_run"] == "rgb(240, 68, 56)"  # the outage 20 minutes ago, in red
    assert got["body_bg"] == ("rgb(16, 19, 26)" if dark else "rgb(246, 247, 249)")
    assert got["body_fg"] == ("rgb(230, 232, 236)" if dark else "rgb(29, 35, 48)")
    text = got["text"]
    assert "Failing: status 503 (expected 200) since 11:57 UTC" in text
    assert "web is down: database was disconnected" in text and "not acknowledged" in text
    assert "last 30 days" in text.lower() and "api is down" in text and "20m ago" in text
    assert got["chart"] > 100  # the response-time line is drawn
    assert got["postmortem"] is (width > 560) and got["acked_col"] is (width > 560)  # phone: fewer columns
    assert page.console_errors() == []


@pytest.mark.parametrize(("width", "dark"), VIEWS[::3], ids=["390px-light", "1280px-dark"])
def test_public_view_shows_states_and_uptime_only(
    browser: Chromium, site: str, tmp_path: Path, width: int, dark: bool
) -> None:
    page = browser.open(site, width=width, dark=dark)
    page.screenshot(shots(tmp_path) / f"status-public-{width}-{'dark' if dark else 'light'}.png")
    got = page.evaluate(LAYOUT)
    assert got["overflow"] <= 0 and got["wrapped_times"] == 0
    assert got["runs"] == [90, 90, 90, 90]
    text = got["text"]
    for name in ("api", "web", "jobs", "new"):
        assert name in text
    assert "94.86 %" in text and "down" in text
    for internal in ("status 503", "database was disconnected", "api is down", "OPEN INCIDENTS", "alice", "p95"):
        assert internal not in text
    assert "need the status token" in text
