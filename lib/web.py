"""The one Request/Response type and the WSGI adapter every api/ file uses.

    # api/v1/health.py
    from lib.web import wsgi
    from lib.health import handle
    app = wsgi(handle, methods=("GET",))

The adapter enforces the method (405) and the 1 MB body limit (413), gives
every response an X-Request-Id header and every log line the same id, turns
`HTTPError` into JSON `{"error": ...}`, turns any other exception into a 500
JSON with the request id (reported to Sentry), and flushes Sentry before the
response returns.

Post-response work (`later(fn)`: deliveries, a decision to settle) runs in the
body's `close()`, which every WSGI server calls once the body is written
(PEP 3333): wsgiref and werkzeug locally, and vercel-runtime's `vc_init.py`
on Vercel, which writes and flushes the body, calls `close()`, then drains
`wait_until` work and only then ends the invocation. So the answer leaves
first and the work still runs inside the invocation, with the request's log
context, and Sentry is flushed after it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from lib import log, observability, safejson
from lib.config import ConfigError
from lib.store import StoreUnavailable

MAX_BODY = 1024 * 1024  # 1 MB; Vercel's own limit is 4.5 MB
_REQUEST_ID = re.compile(r"^[A-Za-z0-9:_.-]{1,100}$")
logger = logging.getLogger("vigil.web")
_after: contextvars.ContextVar[list[Callable[[], Any]] | None] = contextvars.ContextVar("vigil_after", default=None)


def later(fn: Callable[[], Any]) -> None:
    """Run `fn` once the response has been sent; outside a request (tests, scripts), now."""
    tasks = _after.get()
    if tasks is None:
        fn()
    else:
        tasks.append(fn)


def _run_later(tasks: list[Callable[[], Any]]) -> None:
    """Run queued work in order, including work it queues; one failing task never stops the rest."""
    while tasks:
        task = tasks.pop(0)
        try:
            task()
        except Exception as exc:
            logger.exception("post-response work failed")
            observability.capture(exc)


class _Body:
    """The response body; `close()` runs the post-response work (the server calls it after writing)."""

    def __init__(self, body: bytes, tasks: list[Callable[[], Any]], context: contextvars.Context) -> None:
        self._body, self._tasks, self._context = body, tasks, context

    def __iter__(self) -> Any:
        return iter([self._body])

    def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        if tasks:
            self._context.run(_run_later, tasks)
            observability.flush()


class HTTPError(Exception):
    """Raise anywhere below a handler to answer `status` with JSON {"error": message}."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def parse_json(data: bytes | str, what: str = "body") -> Any:
    """JSON from a request (depth and number size bounded, lib/safejson.py), or HTTPError 400."""
    try:
        return safejson.loads(data)
    except safejson.Rejected as exc:
        raise HTTPError(400, f"{what} {exc.reason}") from None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    request_id: str = ""
    remote: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body as JSON, or HTTPError 400 saying why not."""
        if not self.body.strip():
            raise HTTPError(400, "body is empty; expected JSON")
        return parse_json(self.body, "body")

    def form(self) -> dict[str, str]:
        """application/x-www-form-urlencoded fields (first value of each)."""
        try:
            return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise HTTPError(400, "form body is not UTF-8") from None

    def params(self) -> dict[str, str]:
        """Query string and form fields together (the form wins)."""
        out = dict(self.query)
        if "application/x-www-form-urlencoded" in (self.header("content-type") or ""):
            out.update(self.form())
        return out


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj, separators=(",", ":"), default=str).encode()
    return Response(status, body, {"Content-Type": "application/json", **(headers or {})})


def html_response(html: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        html.encode(),
        {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            **(headers or {}),
        },
    )


def error(status: int, message: str, **extra: Any) -> Response:
    return json_response({"error": message, **extra}, status)


_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 303: "See Other",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}


def _request_from(environ: dict[str, Any], max_body: int) -> Request:
    headers = {}
    for k, v in environ.items():
        if k.startswith("HTTP_"):
            headers[k[5:].replace("_", "-").lower()] = v
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    rid = headers.get("x-request-id") or headers.get("x-vercel-id") or ""
    rid = rid if _REQUEST_ID.match(rid) else uuid.uuid4().hex
    req = Request(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=environ.get("PATH_INFO", "/") or "/",
        query=dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)),
        headers=headers,
        request_id=rid,
        remote=(headers.get("x-forwarded-for", "").split(",")[0].strip() or environ.get("REMOTE_ADDR", "")),
    )
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HTTPError(400, "Content-Length is not a number") from None
    if length > max_body:
        raise TooLarge(req, length, max_body)
    stream = environ.get("wsgi.input")
    if stream is not None and length > 0:
        req.body = stream.read(length)
    elif stream is not None and environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        req.body = stream.read(max_body + 1)
        if len(req.body) > max_body:
            size, req.body = len(req.body), b""
            raise TooLarge(req, size, max_body)
    return req


class TooLarge(HTTPError):
    """A body over the route's limit: 413, unless the route handles it (`wsgi(too_large=...)`),
    given the request without its body and the size (at least) it had."""

    def __init__(self, request: Request, size: int, limit: int) -> None:
        super().__init__(413, f"body over {limit} bytes")
        self.request, self.size, self.limit = request, size, limit


def wsgi(
    handler: Callable[[Request], Response],
    methods: Iterable[str] = ("GET",),
    max_body: int = MAX_BODY,
    on_oversize: Callable[[], None] | None = None,
    too_large: Callable[[Request, int], Response] | None = None,
) -> Callable[..., Iterable[bytes]]:
    """A WSGI app around `handler(request) -> Response`. A body over `max_body`: 413, and
    `on_oversize` is told of it (so the route can count it), unless the route answers it
    itself with `too_large(request, size)` (the request without its body, its size)."""
    allowed = tuple(m.upper() for m in methods)
    name = getattr(handler, "__module__", "handler")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        observability.init()
        rid = uuid.uuid4().hex
        token = log.bind(request_id=rid)
        tasks: list[Callable[[], Any]] = []
        after = _after.set(tasks)
        try:
            try:
                handle = handler
                try:
                    req = _request_from(environ, max_body)
                except TooLarge as big:
                    if too_large is None:
                        if on_oversize is not None:
                            on_oversize()
                        raise
                    req, size = big.request, big.size
                    handle = lambda r: too_large(r, size)  # noqa: E731
                rid = req.request_id
                log.bind(request_id=rid)
                if req.method not in allowed and not (req.method == "HEAD" and "GET" in allowed):
                    resp = error(405, f"method {req.method} not allowed", allowed=list(allowed))
                    resp.headers["Allow"] = ", ".join(allowed)
                else:
                    resp = handle(req)
            except HTTPError as exc:
                resp = error(exc.status, exc.message, **exc.extra)
            except StoreUnavailable as exc:
                # 503 so the vendor retries; every state change is one atomic script, so nothing is half-written.
                logger.error("store unavailable: %s", exc)
                resp = error(503, "store unavailable, retry later")
            except ConfigError as exc:
                # The problems (they echo config values) go to the log, not to whoever asked.
                logger.error("configuration invalid:\n%s", "\n".join(exc.report()))
                resp = error(500, f"{exc.source} is invalid ({len(exc.problems)} problems; see the log)")
            except Exception as exc:
                logger.exception("unhandled error in %s", name)
                observability.capture(exc)
                resp = error(500, "internal error", request_id=rid)
            resp.headers["X-Request-Id"] = rid
            if resp.status >= 500:  # with the answer's own words ("store unavailable: upstash: HTTP 401")
                said = resp.body[:300].decode("utf-8", "replace") if "json" in resp.headers.get("Content-Type", "") else ""
                logger.error("%s %s -> %d %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), resp.status, said)
            body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else resp.body
            headers = [(k, v) for k, v in resp.headers.items()] + [("Content-Length", str(len(body)))]
            start_response(f"{resp.status} {_REASONS.get(resp.status, 'Status')}", headers)
            return _Body(body, tasks, contextvars.copy_context()) if tasks else [body]
        finally:
            _after.reset(after)
            observability.flush()
            log.unbind(token)

    app.__name__ = f"app[{name}]"
    return app
