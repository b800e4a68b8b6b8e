"""A whole Vigil in one process for end-to-end tests: the real api/ entry points
(through httpx's WSGI transport), a real Redis, and loopback fakes of Slack,
Twilio and an SMTP server. Time is explicit: `world.now` is what the clock reads."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx

from lib import clock, runtime
from lib.config import Config, parse_config
from lib.env import Env
from lib.runtime import Runtime
from lib.store import Store
from tests.support.fake_slack import FakeSlack
from tests.support.fake_twilio import FakeTwilio
from tests.support.smtp_sink import SmtpSink

T0 = 1_800_000_000.0  # a Friday, 2027-01-15T08:00:00Z

SECRETS = {
    "CRON_SECRET": "cron-secret-0123456789",
    "ACK_SIGNING_SECRET": "ack-secret-0123456789",
    "ALERTS_TOKEN": "alerts-token-0123456789",
    "SENTRY_CLIENT_SECRET": "sentry-client-secret",
    "VERCEL_WEBHOOK_SECRET": "vercel-webhook-secret",
    "SLACK_SIGNING_SECRET": "slack-signing-secret",
    "METRICS_TOKEN": "metrics-token-0123456789",
}

PEOPLE = {
    "oncall": {"name": "On-call engineer", "email": "oncall@example.com", "phone": "+15550000001"},
    "eng_lead": {"name": "Engineering Lead", "email": "eng-lead@example.com"},
    "cto": {"name": "CTO", "email": "cto@example.com", "phone": "+15550000002"},
}
ESCALATION = {"P0": [{"after": "15m", "notify": {"sms": ["cto"], "call": ["cto"], "email": ["cto"]}}]}


def default_config(**overrides: Any) -> Config:
    return parse_config({"service": "agent-factory", "people": PEOPLE, "escalation": ESCALATION, **overrides})


class Dispatcher:
    """Routes a path to its api/ module's WSGI app, like Vercel (and scripts/dev.py) do."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "/").strip("/")
        try:
            module = importlib.import_module(path.replace("/", "."))
        except ModuleNotFoundError:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error":"no such route"}']
        return module.app(environ, start_response)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class World:
    def __init__(self, store: Store, config: Config, slack: FakeSlack, twilio: FakeTwilio, smtp: SmtpSink,
                 extra_env: dict[str, str] | None = None) -> None:
        self.store, self.slack, self.twilio, self.smtp = store, slack, twilio, smtp
        environ = {
            **SECRETS,
            "PUBLIC_BASE_URL": "https://vigil.test",
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.url,
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_FROM": "+15559990000",
            "TWILIO_API_URL": twilio.url,
            "SMTP_URL": smtp.url,
            "EMAIL_FROM": "Vigil <vigil@example.com>",
            **(extra_env or {}),
        }
        self.env = Env.from_environ(environ)
        self.rt = Runtime(env=self.env, config=config, store=store)
        self.http = httpx.Client(transport=httpx.WSGITransport(app=Dispatcher()), base_url="https://vigil.test")
        self.now = T0
        clock.freeze(T0)
        runtime.install(self.rt)

    @contextmanager
    def served(self) -> Iterator[httpx.Client]:
        """The same entry points on a real socket (wsgiref, as the local server): the answer
        reaches the client before the post-response work ends, as on Vercel."""
        server = make_server("127.0.0.1", 0, Dispatcher(), server_class=_Server, handler_class=_Quiet)
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}", timeout=30) as client:
                yield client
        finally:
            server.shutdown()
            server.server_close()

    def advance(self, seconds: float) -> float:
        self.now = clock.advance(seconds)
        return self.now

    def cron(self, job: str) -> httpx.Response:
        return self.http.get(f"/api/cron/{job}", headers={"Authorization": f"Bearer {SECRETS['CRON_SECRET']}"})

    def alert(self, **body: Any) -> httpx.Response:
        return self.http.post("/api/webhooks/alerts", json=body,
                              headers={"Authorization": f"Bearer {SECRETS['ALERTS_TOKEN']}"})

    def emails_to(self, address: str) -> list[Any]:
        return [m for m in self.smtp.messages if address in str(m["To"])]

    def archive(self) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.store.call("LRANGE", self.store.key("archive"), 0, -1)]


@contextmanager
def world(store: Store, config: Config | None = None, slack_delay: float = 0.0, twilio_delay: float = 0.0,
          smtp_delay: float = 0.0, extra_env: dict[str, str] | None = None) -> Iterator[World]:
    with FakeSlack(delay=slack_delay) as slack, FakeTwilio(delay=twilio_delay) as twilio:
        smtp = SmtpSink(delay=smtp_delay)
        try:
            yield World(store, config or default_config(), slack, twilio, smtp, extra_env)
        finally:
            runtime.install(None)
            clock.unfreeze()
            smtp.close()
