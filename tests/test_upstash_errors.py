"""Upstash answering with an error of its own (a quota, a bad token, a 5xx with a JSON
body) means the store cannot serve now: webhooks, crons and the status page answer
503 so the vendor retries, with a log line saying why and no token in it. Redis's
own errors (a script bug) stay StoreErrors. A loopback server speaks Upstash's shapes."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lib.store import Script, StoreError, StoreUnavailable
from lib.store.upstash import UpstashStore
from tests.support.world import SECRETS, world

TOKEN = "upstash-token-AXk9Zq"  # a test value, asserted absent from the logs


class UpstashAnswering:
    """Every POST (/, /pipeline, /multi-exec) gets the same status and JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body, self.hits = status, body, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.hits += 1
                data = server.body if isinstance(server.body, bytes) else json.dumps(server.body).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


DAILY = ("ERR max daily request limit exceeded. Limit: 10000, Usage: 10000. "
         "See https://upstash.com/docs/redis/troubleshooting/max_daily_request_limit for details")
ANSWERS = [
    ("daily quota", 400, {"error": DAILY}, "max daily request limit"),
    ("monthly quota", 400, {"error": "ERR max requests limit exceeded. Limit: 500000, Usage: 500000"},
     "max requests limit"),
    ("unauthorized", 401, {"error": "Unauthorized"}, "HTTP 401: Unauthorized"),
    ("wrongpass", 401, {"error": "WRONGPASS invalid or missing auth token"}, "WRONGPASS"),
    ("quota on a 200", 200, {"error": DAILY}, "max daily request limit"),
    ("rate limited", 429, {"error": "ERR too many requests"}, "HTTP 429"),
    ("5xx with JSON", 500, {"error": "Internal Server Error"}, "HTTP 500: Internal Server Error"),
    ("502 with JSON", 502, {"error": "bad gateway"}, "HTTP 502: bad gateway"),
    ("5xx with HTML", 503, b"<html>unavailable</html>", "HTTP 503"),
]


@pytest.fixture(params=ANSWERS, ids=[a[0] for a in ANSWERS])
def failing(request: pytest.FixtureRequest) -> Iterator[tuple[UpstashStore, str]]:
    _, status, body, said = request.param
    server = UpstashAnswering(status, body)
    store = UpstashStore(server.url, TOKEN, prefix="vigil-test-upstash-errors:")
    yield store, said
    store.close()
    server.close()


def test_every_command_shape_is_unavailable(failing: tuple[UpstashStore, str]) -> None:
    store, said = failing
    for call in (lambda: store.call("GET", "k"), lambda: store.pipeline([["GET", "k"], ["TTL", "k"]]),
                 lambda: store.run(Script("x", "return 1"), [], [])):
        with pytest.raises(StoreUnavailable) as info:
            call()
        assert said in str(info.value) and TOKEN not in str(info.value)
    assert store.ping() is False


ROUTES = [("POST", "/api/webhooks/alerts", "ALERTS_TOKEN"), ("GET", "/api/cron/checks", "CRON_SECRET"),
          ("GET", "/api/cron/escalations", "CRON_SECRET"), ("GET", "/api/status", None)]


def test_webhooks_crons_and_the_status_page_answer_503_and_log_why(failing: tuple[UpstashStore, str]) -> None:
    store, said = failing
    records: list[logging.LogRecord] = []
    catch = logging.Handler(logging.ERROR)
    catch.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("vigil").addHandler(catch)  # it does not propagate to pytest's root handler
    try:
        with world(store) as w:
            for method, path, secret in ROUTES:
                records.clear()
                headers = {"Authorization": f"Bearer {SECRETS[secret]}"} if secret else {}
                body = {"key": "db", "severity": "P0", "title": "Database down"} if method == "POST" else None
                r = w.http.request(method, path, json=body, headers=headers)
                assert r.status_code == 503, (path, r.text)
                lines = [rec.getMessage() for rec in records]
                assert any("store unavailable" in line and said in line for line in lines), (path, lines)
                assert not any(TOKEN in line for line in lines)
            assert w.slack.requests == [] and w.twilio.requests == []
    finally:
        logging.getLogger("vigil").removeHandler(catch)


def test_a_script_error_through_upstash_is_still_a_store_error(upstash_bridge, prefix: str) -> None:
    store = UpstashStore(upstash_bridge.url, upstash_bridge.token, prefix=prefix)
    with pytest.raises(StoreError) as info:
        store.run(Script("bad", "return redis.call('NOPE')"), [], [])
    assert not isinstance(info.value, StoreUnavailable)
