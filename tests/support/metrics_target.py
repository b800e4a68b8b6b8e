"""A real /metrics target on 127.0.0.1 whose answer the tests set.

    with MetricsTarget() as target:
        target.set("http_requests_total 10\\n")
        target.url            # http://127.0.0.1:<port>/metrics
        target.status = 503   # or target.hang() for a timeout, target.content_type = ...
        target.requests       # [{"path", "headers"}] of every scrape

`FakeApp` keeps counters the way an instrumented app does (requests, errors,
a latency histogram, a restart that zeroes everything) and renders them.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


class MetricsTarget:
    def __init__(self) -> None:
        self.body = b""
        self.content_type = TEXT
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self._release = threading.Event()
        self._release.set()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.requests.append({"path": self.path, "headers": dict(self.headers)})
                target._release.wait(10)
                body = target.body
                self.send_response(target.status)
                self.send_header("Content-Type", target.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/metrics"

    def set(self, body: str | bytes, content_type: str = TEXT, status: int = 200) -> None:
        self.body = body.encode() if isinstance(body, str) else body
        self.content_type, self.status = content_type, status

    def hang(self) -> None:
        """Answer nothing until `release()`: every scrape times out."""
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def __enter__(self) -> MetricsTarget:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


class FakeApp:
    """Counters of an instrumented API: traffic is added minute by minute by the test."""

    BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5)

    def __init__(self, requests: float = 100_000, errors: float = 100) -> None:
        self.requests = requests
        self.errors = errors
        self.buckets = {b: 0.0 for b in (*self.BOUNDS, float("inf"))}
        self.duration_sum = 0.0
        self.gauges: dict[str, float] = {}

    def traffic(self, requests: int, error_ratio: float = 0.0) -> None:
        self.requests += requests
        self.errors += round(requests * error_ratio)

    def observe(self, seconds: float, n: int = 1) -> None:
        for b in self.buckets:
            if seconds <= b:
                self.buckets[b] += n
        self.duration_sum += seconds * n

    def restart(self) -> None:
        self.requests, self.errors, self.duration_sum = 0.0, 0.0, 0.0
        self.buckets = {b: 0.0 for b in self.buckets}

    def render(self, openmetrics: bool = False) -> str:
        lines = [
            "# HELP http_requests_total Requests served.",
            "# TYPE http_requests_total counter",
            f'http_requests_total{{method="get",code="200"}} {self.requests - self.errors}',
            f'http_requests_total{{method="get",code="500"}} {self.errors}',
            "# TYPE http_errors_total counter",
            f'http_errors_total{{method="get"}} {self.errors}',
            "# TYPE http_request_duration_seconds histogram",
        ]
        for b, count in self.buckets.items():
            le = "+Inf" if b == float("inf") else repr(b)
            lines.append(f'http_request_duration_seconds_bucket{{le="{le}"}} {count}')
        lines += [
            f"http_request_duration_seconds_sum {self.duration_sum}",
            f"http_request_duration_seconds_count {self.buckets[float('inf')]}",
        ]
        for name, value in self.gauges.items():
            lines += [f"# TYPE {name.split('{')[0]} gauge", f"{name} {value}"]
        if openmetrics:
            lines = [ln.replace("http_requests_total Requests", "http_requests Requests")
                     .replace("TYPE http_requests_total", "TYPE http_requests")
                     .replace("TYPE http_errors_total", "TYPE http_errors") for ln in lines]
            lines.append("# EOF")
        return "\n".join(lines) + "\n"
