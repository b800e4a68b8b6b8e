"""A small app for `make dev` to watch: two health endpoints that fail on a cycle,
and a /metrics whose error rate climbs while the API is down.

Cycle, in minutes from the demo's start (a minute boundary), repeating every 60:
- /api/v1/health: minutes 3-7 the database is "disconnected" (503) -> Vigil opens
  a P0 ServiceDown at minute 5 (down for 2 minutes) and resolves it at minute 7.
  Acknowledge that one from its link.
- /worker/health: minutes 10-30 the queue is "stalled" (503) -> a second P0 at
  minute 12; left unacknowledged, it pages the CTO at minute 27 (15 minutes
  later); resolved at minute 30.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from lib import clock

CYCLE = 60 * 60
# path -> (first minute down, first minute healthy again) of every cycle
OUTAGES = {"/api/v1/health": (3, 7), "/worker/health": (10, 30)}


class DemoTarget:
    def __init__(self, port: int = 3001, started: float | None = None) -> None:
        self.started = clock.now() // 60 * 60 if started is None else started
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

    def down(self, path: str) -> bool:
        first, last = OUTAGES[path]
        return first <= self.minute() < last

    def answer(self, path: str) -> tuple[int, str, str]:
        path = path.split("?", 1)[0]
        if path == "/metrics":
            return 200, self.metrics(), "text/plain; version=0.0.4"
        if path == "/api/v1/health":
            down = self.down(path)
            body = {"status": "unhealthy" if down else "healthy", "database": "disconnected" if down else "connected",
                    "cache": "connected", "version": "demo"}
            return (503 if down else 200), json.dumps(body), "application/json"
        if path == "/worker/health":
            down = self.down(path)
            body = {"status": "unhealthy" if down else "healthy", "queue": "stalled" if down else "running"}
            return (503 if down else 200), json.dumps(body), "application/json"
        return 404, '{"error":"not found"}', "application/json"

    def metrics(self) -> str:
        # 100 requests a second; 2 % of them errors while "down", 0.1 % otherwise.
        with self._lock:
            now = clock.now()
            dt, self._last = now - self._last, now
            self.requests += 100 * dt
            self.errors += 100 * dt * (0.02 if self.down("/api/v1/health") else 0.001)
            requests, errors = int(self.requests), int(self.errors)
        return (
            "# HELP http_requests_total Total HTTP requests.\n# TYPE http_requests_total counter\n"
            f"http_requests_total {requests}\n"
            "# HELP http_errors_total Total errors.\n# TYPE http_errors_total counter\n"
            f"http_errors_total {errors}\n"
        )

    def story(self) -> str:
        return ("its API is down minutes 3-7 of every hour from its start (P0 at 5: ack it), its worker "
                "minutes 10-30 (P0 at 12, the CTO paged at 27 if nobody acks)")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    t = DemoTarget(port=int(sys.argv[1]) if len(sys.argv) > 1 else 3001)
    print(f"demo target on {t.url}: {t.story()}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        t.close()
