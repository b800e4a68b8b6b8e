"""The pieces of the local server (scripts/dev.py): Vercel-style routing of api/
files, the cron scheduler, and the fake clock's /__dev/clock route."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from socketserver import ThreadingMixIn
from types import ModuleType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lib import clock  # noqa: E402
from lib.cronexpr import Schedule  # noqa: E402
from lib.web import MAX_BODY  # noqa: E402

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CLOCK_PATH = "/__dev/clock"


@dataclass
class Route:
    path: str  # /api/v1/health, or /api/users/[id]
    file: Path
    module_name: str
    pattern: re.Pattern[str]
    params: tuple[str, ...]


def discover(api_dir: Path) -> list[Route]:
    """Every api/**/*.py at the path Vercel gives it (api/index.py -> /api), skipping
    any path with a segment starting with '_' or '.' (Vercel never makes those functions)."""
    routes = []
    for file in sorted(api_dir.rglob("*.py")):
        rel = file.relative_to(api_dir.parent).with_suffix("")
        parts = list(rel.parts)
        if any(p.startswith(("_", ".")) for p in parts):
            continue
        if parts[-1] == "index":
            parts.pop()
        params = tuple(p[1:-1] for p in parts if p.startswith("[") and p.endswith("]"))
        regex = "/".join("([^/]+)" if p.startswith("[") and p.endswith("]") else re.escape(p) for p in parts)
        name = ".".join(re.sub(r"\W", "_", p) for p in rel.parts)
        routes.append(Route("/" + "/".join(parts), file, name, re.compile(f"^/{regex}/?$"), params))
    return routes


def _json(start_response: Callable[..., Any], status: str, obj: Any) -> list[bytes]:
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Router:
    """One WSGI app in front of every api/ module, each imported on its first request."""

    def __init__(self, routes: list[Route], dev_clock: DevClock | None = None,
                 dev_routes: dict[str, WSGIApp] | None = None) -> None:
        self.routes = routes
        self.dev_clock = dev_clock
        self.dev_routes = dev_routes or {}  # /__dev/...: only the local server has these
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.Lock()

    def find(self, path: str) -> tuple[Route, dict[str, str]] | None:
        path = path[:-3] if path.endswith(".py") else path
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                return route, dict(zip(route.params, m.groups(), strict=True))
        return None

    def app_of(self, route: Route) -> WSGIApp:
        with self._lock:  # import each module once, even under concurrent first requests
            module = self._modules.get(route.module_name)
            if module is None:
                spec = importlib.util.spec_from_file_location(route.module_name, route.file)
                assert spec and spec.loader
                module = importlib.util.module_from_spec(spec)
                sys.modules[route.module_name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(route.module_name, None)
                    raise
                self._modules[route.module_name] = module
        app = getattr(module, "app", None) or getattr(module, "application", None)
        if not callable(app):
            raise RuntimeError(f"{route.file.relative_to(ROOT)} has no WSGI `app`")
        return app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return dechunked(self.route, MAX_BODY)(environ, start_response)

    def route(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == CLOCK_PATH and self.dev_clock is not None:
            return self.dev_clock(environ, start_response)
        if path in self.dev_routes:
            return self.dev_routes[path](environ, start_response)
        found = self.find(path)
        if found is None:
            return _json(start_response, "404 Not Found", {"error": f"no route for {path}"})
        route, params = found
        if params:  # Vercel passes [name] segments as query parameters
            extra = "&".join(f"{k}={v}" for k, v in params.items())
            environ["QUERY_STRING"] = "&".join(q for q in (environ.get("QUERY_STRING", ""), extra) if q)
        try:
            app = self.app_of(route)
        except Exception as exc:
            import traceback

            traceback.print_exc(file=sys.stderr)
            return _json(start_response, "500 Internal Server Error", {"error": f"import failed: {exc!r}"})
        return app(environ, start_response)


class Answered:
    """A body already read, whose `close()` still reaches the app's (PEP 3333): lib.web runs
    post-response work there, after the server has written the answer."""

    def __init__(self, result: Iterable[bytes]) -> None:
        self.chunks = list(result)
        self._result = result

    def __iter__(self) -> Any:
        return iter(self.chunks)

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            close()


def logged(app: WSGIApp, verbose: bool = True) -> WSGIApp:
    """Request log lines on stderr (method, path, status, milliseconds): every request when
    `verbose`, else only those that failed (5xx)."""

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["-"]

        def sr(s: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = s.split(" ", 1)[0]
            return start_response(s, headers, exc_info) if exc_info else start_response(s, headers)

        try:
            return Answered(app(environ, sr))
        finally:
            ms = (time.perf_counter() - started) * 1000
            if verbose or not status[0].isdigit() or status[0] >= "500":
                print(f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')} {status[0]} {ms:.1f}ms",
                      file=sys.stderr, flush=True)

    return wrapper


class Crons:
    """vercel.json's crons, called through the same WSGI apps with Vercel's bearer header."""

    def __init__(self, jobs: list[tuple[str, Schedule]], app: WSGIApp, secret: str) -> None:
        self.jobs = jobs
        self.app = app
        self.secret = secret
        self.lock = threading.Lock()  # one minute's runs at a time, in order
        self.last_minute: float | None = None

    def call(self, path: str) -> int:
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "localhost",
            "SERVER_PORT": "0", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": BytesIO(b""),
            "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http", "wsgi.version": (1, 0),
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "HTTP_AUTHORIZATION": f"Bearer {self.secret}", "HTTP_USER_AGENT": "vercel-cron/1.0",
            "REMOTE_ADDR": "127.0.0.1",
        }
        got: list[int] = [0]

        def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            got[0] = int(status.split(" ", 1)[0])

        try:
            Answered(self.app(environ, sr)).close()  # the answer, then its post-response work
        except Exception as exc:  # one failing cron must not stop the others
            print(f"cron {path} raised {exc!r}", file=sys.stderr, flush=True)
            return 500
        return got[0]

    def run_minute(self, minute: float) -> None:
        """Every job due in the minute starting at `minute`, once, in vercel.json order."""
        with self.lock:
            if self.last_minute is not None and minute <= self.last_minute:
                return
            self.last_minute = minute
            for path, schedule in self.jobs:
                if schedule.matches(minute):
                    self.call(path)


class Scheduler(threading.Thread):
    """Under the real clock: wake at each minute boundary and run what is due."""

    def __init__(self, crons: Crons) -> None:
        super().__init__(name="vigil-cron", daemon=True)
        self.crons = crons
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            now = clock.now()
            nxt = (now // 60 + 1) * 60
            if self.stopped.wait(nxt - now + 0.05):
                return
            if not clock.is_frozen():
                self.crons.run_minute(clock.now() // 60 * 60)

    def stop(self) -> None:
        self.stopped.set()


class DevClock:
    """GET/POST /__dev/clock: read or move the frozen clock. Moving it forward runs the
    crons of every minute boundary crossed, in order, before answering."""

    def __init__(self, crons: Crons | None, fake: bool = True) -> None:
        self.crons = crons
        self.fake = fake
        self.lock = threading.Lock()

    def move(self, target: float) -> float:
        with self.lock:
            current = clock.now()
            if self.crons is not None and target > current:
                minute = (current // 60 + 1) * 60
                while minute <= target:
                    clock.freeze(minute)  # each run sees its own minute, as on Vercel
                    self.crons.run_minute(minute)
                    minute += 60
            elif self.crons is not None:  # moved back: runs resume at the new minutes
                self.crons.last_minute = None
            clock.freeze(target)
            return target

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "POST" and not self.fake:
            return _json(start_response, "409 Conflict", {"error": "the clock is real; start with --fake-clock"})
        if method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("expected a JSON object")
                if "advance_s" in body:
                    seconds = float(body["advance_s"])
                    if seconds < 0:
                        raise ValueError("advance_s must not be negative; use set to go back")
                    target = clock.now() + seconds
                elif "set" in body:
                    target = clock.parse_iso(str(body["set"]))
                else:
                    raise ValueError('expected {"advance_s": <seconds>} or {"set": "<ISO 8601>"}')
            except (ValueError, TypeError, OverflowError) as exc:
                return _json(start_response, "400 Bad Request", {"error": str(exc)})
            self.move(target)
        elif method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, POST"), ("Content-Length", "0")])
            return [b""]
        return _json(start_response, "200 OK", {"now": clock.iso(clock.now())})


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of 50 requests had connections reset.
    request_queue_size = 256


def read_chunked(stream: Any, limit: int) -> bytes | None:
    """A `Transfer-Encoding: chunked` body (RFC 9112 7.1), trailers skipped; None when over
    `limit`; ValueError when the framing is broken. wsgiref hands the raw socket over, so
    without this a handler's read() waits for the client to close and gets the framing."""
    body = bytearray()
    while True:
        line = stream.readline(1026)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not size_text or len(size_text) > 8 \
                or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            raise ValueError("bad chunk size line")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            return None
        chunk = stream.read(size)
        if len(chunk) != size or stream.readline(3).strip():
            raise ValueError("chunk shorter than its size")
        body += chunk
    while stream.readline(8192).strip():  # trailer fields, up to the blank line
        pass
    return bytes(body)


def dechunked(app: WSGIApp, limit: int) -> WSGIApp:
    """Chunked request bodies read whole before the app sees them, as Vercel does."""

    def wrapper(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            try:
                body = read_chunked(environ["wsgi.input"], limit)
            except (ValueError, OSError) as exc:
                return _json(start_response, "400 Bad Request", {"error": f"chunked body: {exc}"})
            if body is None:
                return _json(start_response, "413 Payload Too Large", {"error": f"body over {limit} bytes"})
            environ.pop("HTTP_TRANSFER_ENCODING")
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = BytesIO(body), str(len(body))
        return app(environ, start_response)

    return wrapper


class QuietHandler(WSGIRequestHandler):
    """`logged` writes the request lines; this keeps wsgiref's own lines out."""

    def log_message(self, format: str, *args: Any) -> None:
        pass
