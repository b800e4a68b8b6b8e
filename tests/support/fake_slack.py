"""A loopback Slack Web API (chat.postMessage, chat.update) for tests: a real HTTP server
on 127.0.0.1 that checks the bearer token and answers as Slack does (HTTP 200 with `ok`).

    with FakeSlack() as slack:
        env = Env(slack_bot_token=SecretStr(slack.token), slack_api_url=slack.url)
        ...
        assert slack.posts[0]["text"].startswith("<!channel> [P0]")

`LoopbackFake` is the shared machinery (also used by fake_twilio): every request is
recorded in `.requests`, `.fail_next()` queues failures, `.delay` slows every answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any, dict[str, str]]


class LoopbackFake:
    """A threaded HTTP server on a free port; subclasses implement `parse` and `answer`."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._failures: list[Answer] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # type: ignore[method-assign]  # clients that time out
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits for the loop to notice (0.5 s by default).
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    # -- for subclasses ---------------------------------------------------------------------

    def parse(self, path: str, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def answer(self, record: dict[str, Any]) -> Answer:
        raise NotImplementedError

    def default_failure(self, status: int) -> tuple[Any, dict[str, str]]:
        return {"error": f"HTTP {status}"}, {}

    # -- for tests --------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """The next `n` requests get `status` with `body` (a dict is sent as JSON; None: the vendor's usual)."""
        default_body, default_headers = self.default_failure(status)
        answer = (status, default_body if body is None else body, headers if headers is not None else default_headers)
        with self._lock:
            self._failures.extend([answer] * n)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- machinery --------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        record = self.parse(h.path, dict(h.headers), raw)
        with self._lock:
            self.requests.append(record)
            failure = self._failures.pop(0) if self._failures else None
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            status, body, headers = failure or self.answer(record)
            record["status"] = status
            record["answer"] = body
        data = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test)


CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")


class FakeSlack(LoopbackFake):
    """chat.postMessage / chat.update under `.url` (use it as SLACK_API_URL)."""

    def __init__(self, token: str = "xoxb-test-token", delay: float = 0.0, channel_id: str = "C0ALERTS01") -> None:
        super().__init__(delay)
        self.token = token
        self.channel_id = channel_id
        self.url = f"{self.base_url}/api"
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> current message
        self._ts = 0

    def parse(self, path: str, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        method = path.split("?")[0].removeprefix("/api/")
        return {"method": method, "path": path, "json": body, "headers": headers, "raw": raw}

    def default_failure(self, status: int) -> tuple[Any, dict[str, str]]:
        if status == 429:  # Slack: HTTP 429 with Retry-After in seconds
            return {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
        error = {200: "internal_error", 401: "invalid_auth", 404: "unknown_method"}.get(status, "fatal_error")
        return {"ok": False, "error": error}, {}

    def answer(self, record: dict[str, Any]) -> Answer:
        auth = {k.lower(): v for k, v in record["headers"].items()}.get("authorization")
        if not auth:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        body = record["json"]
        if not isinstance(body, dict):
            return 200, {"ok": False, "error": "invalid_form_data"}, {}
        handlers = {"chat.postMessage": self._post, "chat.update": self._update}
        if record["method"] not in handlers:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        out = handlers[record["method"]](body)
        ctype = {k.lower(): v for k, v in record["headers"].items()}.get("content-type", "")
        if out.get("ok") and "charset" not in ctype:
            out["warning"] = "missing_charset"
        return 200, out, {}

    def _channel(self, name: str) -> str:
        return name if CHANNEL_ID.match(name) else self.channel_id

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        self._ts += 100
        channel, ts = self._channel(body["channel"]), f"1700000000.{self._ts:06d}"
        message = {"type": "message", "subtype": "bot_message", "bot_id": "B0VIGIL001", "ts": ts,
                   "text": body.get("text", ""), "blocks": body.get("blocks", [])}
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        self.stored[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (str(body.get("channel")), str(body.get("ts")))
        if key not in self.stored:
            return {"ok": False, "error": "message_not_found"}
        message = self.stored[key]
        message.update({k: body[k] for k in ("text", "blocks") if k in body})
        return {"ok": True, "channel": key[0], "ts": key[1], "text": message["text"], "message": message}

    def _accepted(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r["json"] for r in self.requests if r["method"] == method
                    and isinstance(r.get("answer"), dict) and r["answer"].get("ok") is True]

    @property
    def posts(self) -> list[dict[str, Any]]:
        """chat.postMessage bodies Slack accepted (thread replies included)."""
        return self._accepted("chat.postMessage")

    @property
    def updates(self) -> list[dict[str, Any]]:
        """chat.update bodies Slack accepted."""
        return self._accepted("chat.update")
