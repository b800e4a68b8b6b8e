"""The WSGI adapter (lib/web.py), GET /api/v1/health and cron authentication."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lib import clock, log, runtime, watchdog
from lib.config import load_config
from lib.env import Env
from lib.routes import require_cron
from lib.store import Store
from lib.store.redis_backend import RedisStore
from lib.web import HTTPError, Request, Response, json_response, wsgi

CONFIG = Path(__file__).parent / "fixtures" / "config" / "valid.yaml"
NOW = 1_800_000_000.0


def client(app: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://vigil.test")


def echo(req: Request) -> Response:
    return json_response({"method": req.method, "size": len(req.body), "request_id": req.request_id})


def boom(req: Request) -> Response:
    raise RuntimeError("secret-token-in-message")


def teapot(req: Request) -> Response:
    raise HTTPError(400, "bad thing", field="x")


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Vigil's JSON log lines so far, as Vercel would collect them from stderr."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log.JsonFormatter())
    logger = logging.getLogger("vigil")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


# --- adapter ---------------------------------------------------------------


def test_wrong_method_is_405_with_allow_and_json_error() -> None:
    r = client(wsgi(echo, methods=("POST",))).get("/x")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["error"] == "method GET not allowed"
    assert r.headers["x-request-id"]


def test_body_over_1mb_by_content_length_is_413() -> None:
    r = client(wsgi(echo, methods=("POST",))).post("/x", content=b"x" * (1024 * 1024 + 1))
    assert r.status_code == 413
    assert "error" in r.json() and r.headers["x-request-id"]


def test_body_of_exactly_1mb_is_accepted() -> None:
    r = client(wsgi(echo, methods=("POST",))).post("/x", content=b"x" * (1024 * 1024))
    assert r.status_code == 200 and r.json()["size"] == 1024 * 1024


def test_chunked_body_over_1mb_is_413() -> None:
    app = wsgi(echo, methods=("POST",))
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/x", "QUERY_STRING": "",
        "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"x" * (2 * 1024 * 1024)),
    }
    seen: dict[str, Any] = {}
    body = b"".join(app(environ, lambda status, headers: seen.update(status=status, headers=dict(headers))))
    assert seen["status"].startswith("413")
    assert json.loads(body)["error"] and seen["headers"]["X-Request-Id"]


def test_http_error_becomes_json_with_its_status_and_request_id() -> None:
    r = client(wsgi(teapot)).get("/x")
    assert r.status_code == 400
    assert r.json() == {"error": "bad thing", "field": "x"}
    assert r.headers["x-request-id"]


def test_unhandled_error_is_500_json_with_the_request_id_and_a_logged_line(
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    r = client(wsgi(boom)).get("/x", headers={"X-Request-Id": "req-123"})
    assert r.status_code == 500
    assert r.json() == {"error": "internal error", "request_id": "req-123"}
    assert r.headers["x-request-id"] == "req-123"
    assert "secret-token-in-message" not in r.text
    errors = [line for line in log_lines() if line["level"] == "ERROR"]
    assert errors and all(line["request_id"] == "req-123" for line in errors)


def test_every_log_line_of_a_request_carries_its_request_id(log_lines: Callable[[], list[dict[str, Any]]]) -> None:
    def chatty(req: Request) -> Response:
        logging.getLogger("vigil.test").info("working")
        return json_response({})

    r = client(wsgi(chatty)).get("/x")
    [line] = [line for line in log_lines() if line["message"] == "working"]
    assert line["request_id"] == r.headers["x-request-id"]
    assert len(line["request_id"]) == 32


def test_an_unsafe_incoming_request_id_is_replaced() -> None:
    r = client(wsgi(echo)).get("/x", headers={"X-Request-Id": "bad id\nwith newline"})
    assert r.headers["x-request-id"] != "bad id\nwith newline"
    assert r.json()["request_id"] == r.headers["x-request-id"]


# --- cron authentication ------------------------------------------------------


def cron_app(secret: str | None) -> Any:
    env = Env(cron_secret=secret)

    def handle(req: Request) -> Response:  # a placeholder cron route
        require_cron(req, env)
        return json_response({"ran": True})

    return wsgi(handle, methods=("GET",))


CRON_CASES = [
    ("no header", "s3cret-cron-token-123", None, 401),
    ("wrong token", "s3cret-cron-token-123", "Bearer nope", 401),
    ("no scheme", "s3cret-cron-token-123", "s3cret-cron-token-123", 401),
    ("basic scheme", "s3cret-cron-token-123", "Basic s3cret-cron-token-123", 401),
    ("prefix of token", "s3cret-cron-token-123", "Bearer s3cret-cron", 401),
    ("secret unset", None, "Bearer ", 401),
    ("secret unset, None token", None, "Bearer None", 401),
    ("right token", "s3cret-cron-token-123", "Bearer s3cret-cron-token-123", 200),
]


@pytest.mark.parametrize(("secret", "header", "status"), [c[1:] for c in CRON_CASES], ids=[c[0] for c in CRON_CASES])
def test_cron_routes_require_the_cron_secret_bearer(secret: str | None, header: str | None, status: int) -> None:
    headers = {"Authorization": header} if header is not None else {}
    r = client(cron_app(secret)).get("/api/cron/placeholder", headers=headers)
    assert r.status_code == status
    if status == 401:
        assert r.json() == {"error": "missing or wrong bearer token (CRON_SECRET)"}
        assert "s3cret" not in r.text


# --- health -------------------------------------------------------------------


@pytest.fixture
def installed(request: pytest.FixtureRequest) -> Iterator[Any]:
    """install(store, **env) -> the health app with that Runtime installed; the clock frozen at NOW."""
    clock.freeze(NOW)

    def install(store: Store, **env: Any) -> Any:
        runtime.install(runtime.Runtime(env=Env(**env), config=load_config(CONFIG), store=store))
        from api.v1.health import app

        return app

    yield install
    runtime.install(None)
    clock.unfreeze()


def test_health_is_200_healthy_with_the_store_answering(store: Store, installed: Any) -> None:
    r = client(installed(store)).get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy" and body["reasons"] == []
    assert body["store"]["backend"] == store.backend and body["store"]["ok"] is True
    assert isinstance(body["store"]["latency_ms"], float)
    assert body["database"] == "disabled"
    assert body["channels"] == {k: "not configured" for k in ("slack", "email", "sms", "call")}
    assert body["cron"] == {job: None for job in watchdog.JOBS}
    assert body["version"] == "dev"
    assert body["time"] == clock.iso(NOW)


def test_health_costs_one_store_round_trip(store: Store, installed: Any) -> None:
    app = installed(store)
    before = store.round_trips
    client(app).get("/api/v1/health")
    assert store.round_trips - before == 1


def test_health_reports_configured_channels_and_the_short_commit(redis_store: Store, installed: Any) -> None:
    app = installed(redis_store, slack_bot_token="xoxb-1", release="0123456789abcdef")
    body = client(app).get("/api/v1/health").json()
    assert body["channels"]["slack"] == "configured" and body["channels"]["sms"] == "not configured"
    assert body["version"] == "0123456"
    assert "xoxb" not in json.dumps(body)


def test_health_shows_each_cron_jobs_last_run(store: Store, installed: Any) -> None:
    app = installed(store)
    store.pipeline([watchdog.tick_command(store, "checks", NOW - 30), watchdog.tick_command(store, "archive", NOW - 240)])
    body = client(app).get("/api/v1/health").json()
    assert body["cron"]["checks"] == {"last_run": clock.iso(NOW - 30), "age_s": 30.0}
    assert body["cron"]["archive"] == {"last_run": clock.iso(NOW - 240), "age_s": 240.0}
    assert body["cron"]["rules"] is None
    assert body["status"] == "healthy"  # archive runs every 5 minutes: 240 s is on time


def test_health_is_degraded_when_cron_has_not_run_for_over_180s(redis_store: Store, installed: Any) -> None:
    app = installed(redis_store)
    watchdog.tick(redis_store, "checks", NOW - 181)
    r = client(app).get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "degraded"
    assert r.json()["reasons"] == ["cron checks last ran 181s ago (more than 180s)"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_is_503_down_with_the_same_shape_when_the_store_is_unreachable(installed: Any) -> None:
    dead = RedisStore.from_url(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.5)
    r = client(installed(dead)).get("/api/v1/health")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "down" and body["store"]["ok"] is False
    assert set(body) == {"status", "store", "database", "channels", "cron", "version", "time", "reasons"}


def test_health_asks_the_archive_when_supabase_is_configured(
    redis_store: Store, installed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = types.ModuleType("lib.archive.sink")
    archive.status = lambda store, env, now, **limits: {  # type: ignore[attr-defined]
        "database": "error", "backlog_size": 3, "backlog_age": 60.0}
    monkeypatch.setitem(sys.modules, "lib.archive.sink", archive)
    body = client(installed(redis_store, supabase_url="https://db.example.supabase.co")).get("/api/v1/health").json()
    assert body["database"] == "error"
    assert body["archive"] == {"backlog_size": 3, "backlog_age": 60.0}
    assert body["status"] == "degraded" and "database not answering" in body["reasons"]


def test_health_folds_the_archive_status_into_its_one_round_trip(store: Store, installed: Any) -> None:
    from lib.archive import sink

    app = installed(store, supabase_url="https://db.example.supabase.co", supabase_key="service-role-key")
    sink.append(store, [{"at": NOW - 10, "kind": "test"}])
    before = store.round_trips
    body = client(app).get("/api/v1/health").json()
    assert store.round_trips - before == 1
    assert body["database"] == "connected"
    assert body["archive"]["backlog_size"] == 1 and body["archive"]["backlog_age"] == 10.0
    assert "service-role-key" not in json.dumps(body)
