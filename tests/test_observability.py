"""Vigil's own errors reach Sentry, flushed before the response returns (nothing
runs after it on Vercel). A loopback server stands in for Sentry's ingest."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from lib import observability
from lib.web import json_response, wsgi


class FakeSentry:
    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                sink.envelopes.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSentry]:
    fake = FakeSentry()
    monkeypatch.setenv("SENTRY_DSN", fake.dsn)
    monkeypatch.setenv("VERCEL_GIT_COMMIT_SHA", "abc123")
    monkeypatch.setenv("VERCEL_ENV", "preview")
    observability.reset_for_tests()
    yield fake
    import sentry_sdk

    sentry_sdk.init(dsn=None)
    observability.reset_for_tests()
    fake.close()


def boom(req: Any) -> Any:
    if req.query.get("ok"):
        return json_response({"ok": True})
    raise RuntimeError("kaput-7f3a")


def test_an_unhandled_error_is_in_sentry_before_the_500_returns(sentry: FakeSentry) -> None:
    http = httpx.Client(transport=httpx.WSGITransport(app=wsgi(boom)), base_url="http://t")
    r = http.get("/")
    assert r.status_code == 500 and r.json()["request_id"] == r.headers["x-request-id"]
    sent = b"\n".join(sentry.envelopes)  # already flushed: no waiting here
    assert b"kaput-7f3a" in sent and b'"release":"abc123"' in sent and b'"environment":"preview"' in sent


def test_no_dsn_no_sentry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    observability.reset_for_tests()
    assert observability.init() is False
    http = httpx.Client(transport=httpx.WSGITransport(app=wsgi(boom)), base_url="http://t")
    assert http.get("/").status_code == 500


SECRET_BITS = ["chk-pa55word", "tok-9f8e7d", "smtp-pa55word", "hdr-b3arer-xyz", "ack-secret-0123456789"]


def test_no_sentry_event_carries_a_secret(sentry: FakeSentry, monkeypatch: pytest.MonkeyPatch, redis_store) -> None:
    """The issue's case: a 500 while a secret-bearing config and the WSGI environ (which
    wsgiref and Vercel fill from os.environ) are local variables of the failing frames."""
    import io
    import sys

    from lib import runtime
    from lib.env import Env
    from tests.support.world import default_config

    monkeypatch.setenv("SMTP_URL", "smtp://vigil:smtp-pa55word@mail.example.com:587")
    monkeypatch.setenv("ACK_SIGNING_SECRET", "ack-secret-0123456789")
    monkeypatch.setenv("HEALTH_HEADER", "hdr-b3arer-xyz")
    config = default_config(checks=[{
        "name": "api", "url": "https://bot:chk-pa55word@api.example.com/health?token=tok-9f8e7d",
        "headers": {"X-Health": "${HEALTH_HEADER}"},
    }])
    runtime.install(runtime.Runtime(env=Env.from_environ(), config=config, store=redis_store))
    ingest = sentry.dsn.replace("publickey@", "")

    def crash(req: Any) -> Any:
        rt = runtime.get()
        probe_url = rt.config.checks[0].url
        httpx.get(f"{ingest}/ping?token=tok-9f8e7d")  # an httpx breadcrumb with the query string
        raise RuntimeError(f"kaput-7f3a probing {probe_url} with Bearer hdr-b3arer-xyz")

    environ = {**dict(__import__("os").environ), "REQUEST_METHOD": "GET", "PATH_INFO": "/api/x",
               "QUERY_STRING": "i=1&e=1&s=ack-secret-0123456789", "wsgi.input": io.BytesIO(b""),
               "wsgi.errors": sys.stderr, "HTTP_AUTHORIZATION": "Bearer hdr-b3arer-xyz"}
    try:
        status: list[str] = []
        wsgi(crash)(environ, lambda s, h, exc_info=None: status.append(s))
    finally:
        runtime.install(None)
    assert status[0].startswith("500")
    sent = b"\n".join(sentry.envelopes)
    assert b"kaput-7f3a" in sent and b"RuntimeError" in sent and b"api.example.com/health" in sent
    assert [s for s in SECRET_BITS if s.encode() in sent] == []


# Runs in a fresh interpreter (the SDK sets itself up once per process): the first event
# of an instance, and what starting the SDK spawned.
_FIRST_EVENT = """
import json, sys
spawned = []
sys.addaudithook(lambda event, args: spawned.append(repr(args[1])) if event == "subprocess.Popen" else None)
import sentry_sdk
from lib import observability
observability.message("first event of an instance")
observability.flush()
client = sentry_sdk.get_client()
print(json.dumps({"spawned": spawned, "release": client.options["release"], "integrations": sorted(client.integrations)}))
"""


def test_sentry_starts_without_a_git_subprocess_or_auto_enabled_integrations() -> None:
    """PLATFORM.md 0: the SDK's defaults add ~120 ms to the first event of an instance (41
    auto-enabling integrations tried, `git rev-parse HEAD` run for the release); ~16 ms lean."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    fake = FakeSentry()
    try:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "SENTRY_DSN": fake.dsn}  # no commit given
        out = subprocess.run([sys.executable, "-c", _FIRST_EVENT], cwd=root, env=env, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        started = json.loads(out.stdout.strip().splitlines()[-1])
        assert b"first event of an instance" in b"\n".join(fake.envelopes)
    finally:
        fake.close()
    assert started["spawned"] == [] and started["release"] == "dev"
    assert "httpx" in started["integrations"]
    assert "redis" not in started["integrations"]  # redis-py is installed: auto-enabling would take it
