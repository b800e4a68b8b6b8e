"""A real HTTP server on 127.0.0.1 standing in for a monitored service.

Tests switch what it answers while it runs:

    with Target() as t:
        t.set(status=503, body={"status": "unhealthy"})   # every path
        t.set("/slow", delay=1.5)                            # one path
        t.set("/hang", hang=True)                            # answers only when the server stops

It counts the requests each path received (`hits`). Standalone, for benchmarks in
their own process: `python -m tests.support.target --hang-prefix /hang` prints its
port and serves healthy answers (hanging under the prefix) until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEALTHY = {"status": "healthy", "database": "connected", "cache": "connected", "version": "0.1.0"}
HANG_CAP_S = 60.0  # a hanging answer still ends, so a forgotten server cannot hold a test run


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = field(default_factory=lambda: dict(HEALTHY))  # JSON-encoded unless bytes
    delay: float = 0.0
    hang: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 drops bursts of concurrent connects
    target: Target

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (a timed-out check) is not the target's problem


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _answer(self) -> None:
        target = self.server.target
        path = self.path.split("?", 1)[0]
        answer = target.answer_for(path, self.headers.get("Authorization"))
        if answer.hang:
            target.stopping.wait(HANG_CAP_S)
            return
        if answer.delay:
            target.stopping.wait(answer.delay)
        body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Target:
    def __init__(self, port: int = 0, hang_prefix: str | None = None) -> None:
        self._lock = threading.Lock()
        self._default = Answer()
        self._paths: dict[str, Answer] = {}
        self._hang_prefix = hang_prefix
        self.hits: dict[str, int] = {}
        self.seen_auth: list[str | None] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.target = self
        # A short poll interval: stop() waits for the serving loop to notice (0.5 s by default).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="target", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/api/v1/health") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path: str | None = None, **changes: Any) -> None:
        """Change the answer for `path` (None: the default for every path without its own)."""
        with self._lock:
            if path is None:
                self._default = replace(Answer(), **changes)
            else:
                self._paths[path] = replace(Answer(), **changes)

    def reset(self) -> None:
        with self._lock:
            self._default, self._paths = Answer(), {}

    def answer_for(self, path: str, auth: str | None) -> Answer:
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            self.seen_auth.append(auth)
            if self._hang_prefix and path.startswith(self._hang_prefix):
                return Answer(hang=True)
            return self._paths.get(path, self._default)

    def total_hits(self) -> int:
        with self._lock:
            return sum(self.hits.values())

    def start(self) -> Target:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _serve_async(port: int, hang_prefix: str | None) -> None:
    """The benchmark's target: the same answers from one asyncio loop. A thread per
    connection tops out near 500 requests a second on a small VM, which would
    measure the target rather than the run."""
    body = json.dumps(HEALTHY).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                path = request.split(b" ", 2)[1].decode("latin-1")
                if hang_prefix and path.startswith(hang_prefix):
                    await asyncio.sleep(HANG_CAP_S)
                    return
                writer.write(head + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback target for check benchmarks")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--hang-prefix", default=None)
    args = parser.parse_args()
    try:
        asyncio.run(_serve_async(args.port, args.hang_prefix))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
