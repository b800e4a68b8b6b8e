"""Every api/ entry point served by Vercel's own Python runtime (`vercel_runtime.dev`,
the version @vercel/python installs) on Python 3.12, with real requests: what
production runs, not our WSGI adapter under httpx. The store is the real Redis
through the Upstash REST bridge, the checked service a loopback server."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from lib import clock, config_snapshot
from lib.config import load_config
from lib.signing import sign_link
from lib.store.redis_backend import RedisStore
from tests.support.redis_server import RedisServer
from tests.support.target import Target
from tests.support.upstash_bridge import UpstashBridge
from tests.support.vercel_runtime import ROOT, VercelRuntime, python312
from tests.support.world import SECRETS

FIX = Path(__file__).parent / "fixtures"
ENTRIES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "api").rglob("*.py"))
CRON = {"Authorization": f"Bearer {SECRETS['CRON_SECRET']}"}
CONFIG = """\
service: runtime-test
people:
  oncall: {{name: On-call engineer, email: oncall@example.com, phone: "+15550000001"}}
routing:
  P0: {{slack: {{channel: "#alerts", mention: channel}}, sms: [oncall], email: [oncall]}}
  P1: {{slack: {{channel: "#alerts", mention: here}}, email: [oncall]}}
checks:
  - {{name: api, url: "{url}", timeout: 5s, down_after: 2m, severity: P0}}
sources: {{sentry: {{}}, vercel: {{}}}}
"""


class Deployment:
    """One served runtime per api/ file, sharing one environment, as a deployment does."""

    def __init__(self, servers: dict[str, VercelRuntime], target: Target, store: RedisStore) -> None:
        self.servers, self.target, self.store = servers, target, store
        self.http = httpx.Client(timeout=30)

    def url(self, route: str) -> str:
        return self.servers[f"{route.split('?')[0].lstrip('/')}.py"].url + route

    def get(self, route: str, **kw: object) -> httpx.Response:
        return self.http.get(self.url(route), **kw)  # type: ignore[arg-type]

    def post(self, route: str, **kw: object) -> httpx.Response:
        return self.http.post(self.url(route), **kw)  # type: ignore[arg-type]

    def sentry(self, raw: bytes, secret: str = SECRETS["SENTRY_CLIENT_SECRET"]) -> httpx.Response:
        sig = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        return self.post("/api/webhooks/sentry", content=raw, headers={
            "Content-Type": "application/json", "Sentry-Hook-Resource": "issue", "Sentry-Hook-Signature": sig,
            "Sentry-Hook-Timestamp": str(int(clock.now())), "Request-ID": hashlib.md5(raw).hexdigest()})


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,
               upstash_bridge: UpstashBridge) -> Iterator[Deployment]:
    python312()  # fails with the install command when .venv312 is missing
    prefix = f"vigil-test-vr-{hashlib.md5(str(tmp_path_factory.getbasetemp()).encode()).hexdigest()[:10]}:"
    store = RedisStore.from_url(redis_server.url, prefix=prefix)
    with Target() as target:
        config = tmp_path_factory.mktemp("vr") / "monitoring.yaml"
        config.write_text(CONFIG.format(url=target.url()))
        config_snapshot.write(config, load_config(config, snapshot=False))  # as a deployment ships it
        env = {**SECRETS, "MONITORING_CONFIG": str(config), "PUBLIC_BASE_URL": "https://vigil.test",
               "UPSTASH_REDIS_REST_URL": upstash_bridge.url, "UPSTASH_REDIS_REST_TOKEN": upstash_bridge.token,
               "VIGIL_KEY_PREFIX": prefix}
        servers = {entry: VercelRuntime(entry, env) for entry in ENTRIES}
        try:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(VercelRuntime.start, servers.values()))
            yield Deployment(servers, target, store)
        finally:
            for server in servers.values():
                server.stop()
            store.delete_prefix()
            store.close()


def test_the_runtime_is_vercels_on_python_3_12() -> None:
    out = json.loads(__import__("subprocess").run(
        [str(python312()), "-c", "import sys, json, importlib.metadata as m; "
         "print(json.dumps([sys.version_info[:2], m.version('vercel-runtime')]))"],
        capture_output=True, text=True, check=True).stdout)
    pinned = (ROOT / "requirements-vercel.txt").read_text().split("vercel-runtime==")[1].split()[0]
    assert out == [[3, 12], pinned]
    assert (ROOT / ".python-version").read_text().strip() == "3.12"  # what Vercel builds with


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_entry_point_is_served_and_refuses_a_stranger_without_a_500(deployment: Deployment, entry: str) -> None:
    route = "/" + entry.removesuffix(".py")
    r = deployment.get(route)
    assert r.status_code < 500, (r.status_code, r.text, deployment.servers[entry].output()[-2000:])
    assert r.headers["X-Request-Id"]


def test_health_answers_with_the_store_through_upstash(deployment: Deployment) -> None:
    r = deployment.get("/api/v1/health")
    assert r.status_code == 200, r.text
    assert r.json()["store"]["backend"] == "upstash" and r.json()["store"]["ok"] is True


def test_the_functions_read_the_config_from_its_snapshot(deployment: Deployment) -> None:
    """Python 3.12 under Vercel's runtime reads the snapshot the tests wrote under 3.11: a stale,
    unreadable or misfitting one would be logged by the function that loaded it."""
    assert deployment.sentry(b'{"action": "created"}', secret="not-the-secret").status_code == 401  # loads it
    assert "warnings" not in deployment.get("/api/v1/health").json()
    for entry in ("api/webhooks/sentry.py", "api/v1/health.py"):
        assert "config snapshot" not in deployment.servers[entry].output()


def test_sentry_webhook_is_verified_over_its_raw_bytes(deployment: Deployment) -> None:
    # The fixture's own bytes (indented, key order kept): Sentry signs exactly what it sends.
    raw = (FIX / "sentry" / "issue_created.json").read_bytes()
    assert b"\n  " in raw
    r = deployment.sentry(raw)
    assert r.status_code == 200, r.text
    assert r.json()["decisions"][0]["reason"] == "OPENED"
    assert deployment.sentry(raw, secret="not-the-secret").status_code == 401
    compact = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    sig = hmac.new(SECRETS["SENTRY_CLIENT_SECRET"].encode(), raw, hashlib.sha256).hexdigest()
    r = deployment.post("/api/webhooks/sentry", content=compact, headers={
        "Content-Type": "application/json", "Sentry-Hook-Resource": "issue", "Sentry-Hook-Signature": sig})
    assert r.status_code == 401  # same JSON, other bytes


def test_vercel_webhook_is_verified_and_opens_an_incident(deployment: Deployment) -> None:
    event = json.loads((FIX / "vercel" / "deployment_error_production.json").read_text())
    raw = json.dumps({**event, "createdAt": int(clock.now() * 1000)}, indent=1).encode()  # fresh: no replay
    sig = hmac.new(SECRETS["VERCEL_WEBHOOK_SECRET"].encode(), raw, hashlib.sha1).hexdigest()
    headers = {"Content-Type": "application/json", "x-vercel-signature": sig}
    r = deployment.post("/api/webhooks/vercel", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["decisions"][0]["reason"] in ("OPENED", "DEDUPED")
    assert deployment.post("/api/webhooks/vercel", content=raw + b" ", headers=headers).status_code == 401


def test_cron_runs_with_the_bearer_and_refuses_without(deployment: Deployment) -> None:
    before = sum(deployment.target.hits.values())
    assert deployment.get("/api/cron/checks").status_code == 401
    assert deployment.get("/api/cron/checks", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert sum(deployment.target.hits.values()) == before  # refused before probing anything
    r = deployment.get("/api/cron/checks", headers={**CRON, "User-Agent": "vercel-cron/1.0"})
    assert r.status_code == 200, r.text
    assert sum(deployment.target.hits.values()) == before + 1


def _open_p0(deployment: Deployment, key: str) -> str:
    r = deployment.post("/api/webhooks/alerts", json={"key": key, "severity": "P0", "title": f"{key} is down"},
                        headers={"Authorization": f"Bearer {SECRETS['ALERTS_TOKEN']}"})
    assert r.status_code == 200, r.text
    return r.json()["decisions"][0]["incident"].lstrip("#")


def test_ack_page_get_changes_nothing_and_post_acknowledges(deployment: Deployment) -> None:
    incident = _open_p0(deployment, "vr-ack")
    link = sign_link(SECRETS["ACK_SIGNING_SECRET"], "", incident, int(clock.now()) + 3600, "oncall")
    page = deployment.get(link)
    assert page.status_code == 200 and "<form" in page.text and "text/html" in page.headers["Content-Type"]
    assert "acknowledged by" not in page.text
    query = link.split("?", 1)[1]
    done = deployment.post("/api/ack", content=query, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "<h1>Acknowledged</h1>" in done.text, done.text
    assert "acknowledged by On-call engineer" in deployment.get(link).text


def test_slack_button_form_body_acknowledges(deployment: Deployment) -> None:
    incident = _open_p0(deployment, "vr-slack")
    payload = {"type": "block_actions", "user": {"id": "U1", "username": "alice", "name": "alice"},
               "actions": [{"action_id": "ack", "value": incident, "type": "button"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(clock.now()))
    sig = "v0=" + hmac.new(SECRETS["SLACK_SIGNING_SECRET"].encode(), f"v0:{ts}:".encode() + body,
                           hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts}
    r = deployment.post("/api/slack/actions", content=body, headers={**headers, "X-Slack-Signature": sig})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [{"action": "ack", "incident": incident, "result": "ACKNOWLEDGED"}]
    r = deployment.post("/api/slack/actions", content=body, headers={**headers, "X-Slack-Signature": "v0=00"})
    assert r.status_code == 401


def test_a_body_over_1_mb_is_refused_with_413(deployment: Deployment) -> None:
    r = deployment.post("/api/webhooks/sentry", content=b"{" + b" " * (1024 * 1024) + b"}",
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"].startswith("body over")


def test_the_alerts_route_takes_a_group_over_1_mb_and_refuses_over_4_mb_with_413(deployment: Deployment) -> None:
    """Alertmanager groups run past 1 MB (1,500 alerts: 1.5 MB); over the route's 4 MB a
    notification is refused with 413, counted and raising its own incident (issue 13)."""
    auth = {"Content-Type": "application/json", "Authorization": f"Bearer {SECRETS['ALERTS_TOKEN']}"}
    big = b'{"key": "big-group", "severity": "P3", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert deployment.post("/api/webhooks/alerts", content=big, headers=auth).status_code == 200
    r = deployment.post("/api/webhooks/alerts", content=b"{" + b" " * (4 * 1024 * 1024) + b"}", headers=auth)
    assert r.status_code == 413, r.text
    assert "over the 4.0 MB limit" in r.json()["error"]
