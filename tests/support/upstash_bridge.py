"""A loopback server that speaks Upstash's REST protocol (`/`, `/pipeline`,
`/multi-exec`, bearer auth, base64 encoding) to a real Redis.

It lets the tests run the upstash-redis SDK, unmodified, against the same
Redis the direct tests use. It records every request so a contract test can
notice when an SDK upgrade changes the wire format.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis


def _arg(a: Any) -> bytes:
    if isinstance(a, str):
        return a.encode()
    if isinstance(a, bool):
        return json.dumps(a).encode()
    if isinstance(a, (int, float)):
        return repr(a).encode()
    return json.dumps(a).encode()


def _enc(v: Any, b64: bool) -> Any:
    if isinstance(v, bytes):
        return base64.b64encode(v).decode() if b64 else v.decode()
    if isinstance(v, list):
        return [_enc(x, b64) for x in v]
    return v


def _err(e: Exception) -> str:
    return str(e) if not isinstance(e, redis.exceptions.NoScriptError) else f"NOSCRIPT {e}"


class UpstashBridge:
    def __init__(self, redis_url: str, token: str = "test-token") -> None:
        self.token = token
        self.pool = redis.ConnectionPool.from_url(redis_url, protocol=2)
        self.requests: list[dict[str, Any]] = []
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")
                bridge.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if self.headers.get("Authorization") != f"Bearer {bridge.token}":
                    return self._send(401, {"error": "Unauthorized"})
                b64 = self.headers.get("Upstash-Encoding") == "base64"
                conn = bridge.pool.get_connection()
                try:
                    if self.path == "/":
                        try:
                            self._send(200, {"result": _enc(bridge._run(conn, body), b64)})
                        except redis.exceptions.ResponseError as e:
                            self._send(400, {"error": _err(e)})
                    elif self.path in ("/pipeline", "/multi-exec"):
                        cmds = [["MULTI"], *body, ["EXEC"]] if self.path == "/multi-exec" else body
                        out = []
                        for cmd in cmds:
                            try:
                                out.append({"result": _enc(bridge._run(conn, cmd), b64)})
                            except redis.exceptions.ResponseError as e:
                                out.append({"error": _err(e)})
                        if self.path == "/multi-exec":
                            execd = out[-1]
                            if "error" in execd:
                                return self._send(400, execd)
                            out = [{"result": r} for r in execd["result"]]
                        self._send(200, out)
                    else:
                        self._send(404, {"error": "not found"})
                finally:
                    bridge.pool.release(conn)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @staticmethod
    def _run(conn: Any, cmd: list[Any]) -> Any:
        conn.send_command(*map(_arg, cmd))
        return conn.read_response()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.pool.disconnect()

    def __enter__(self) -> UpstashBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
