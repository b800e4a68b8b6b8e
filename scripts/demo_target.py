"""A small app for `make dev` to watch: its health endpoint fails for a while on a
cycle, and its /metrics shows an error rate that climbs and falls.

Cycle (in minutes of its own uptime, repeating every 12): 0-3 healthy; 3-7 the
database is "disconnected" (503) -> Vigil opens a P0 ServiceDown after 2 minutes,
pages on the console, escalates to the CTO if nobody acks within 15 minutes of
a longer run; 7-12 healthy again -> the incident resolves.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from lib import clock

CYCLE = 12 * 60


class DemoTarget:
    def __init__(self, port: int = 3001, started: float | None = None) -> None:
        self.started = clock.now() if started is None else started
        self.requests = 0.0
        self.errors = 0.0
        self._last = self.started
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                status, body, ctype = target.answer(self.path)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True, name="demo-target").start()

    def minute(self) -> float:
        return ((clock.now() - self.started) % CYCLE) / 60

    def answer(self, path: str) -> tuple[int, str, str]:
        if path.startswith("/metrics"):
            return 200, self.metrics(), "text/plain; version=0.0.4"
        if path.startswith("/api/v1/health"):
            down = 3 <= self.minute() < 7
            body = {"status": "unhealthy" if down else "healthy", "database": "disconnected" if down else "connected",
                    "cache": "connected", "version": "demo"}
            return (503 if down else 200), json.dumps(body), "application/json"
        return 404, '{"error":"not found"}', "application/json"

    def metrics(self) -> str:
        # 100 requests a second; 2 % of them errors while "down", 0.1 % otherwise.
        with self._lock:
            now = clock.now()
            dt, self._last = now - self._last, now
            self.requests += 100 * dt
            self.errors += 100 * dt * (0.02 if 3 <= self.minute() < 7 else 0.001)
            requests, errors = int(self.requests), int(self.errors)
        return (
            "# HELP http_requests_total Total HTTP requests.\n# TYPE http_requests_total counter\n"
            f"http_requests_total {requests}\n"
            "# HELP http_errors_total Total errors.\n# TYPE http_errors_total counter\n"
            f"http_errors_total {errors}\n"
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    t = DemoTarget()
    print(f"demo target on {t.url} (health fails from minute 3 to 7 of every 12)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        t.close()
