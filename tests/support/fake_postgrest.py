"""A loopback server speaking the PostgREST subset Vigil uses, onto a real PostgreSQL.

`POST /rest/v1/rpc/<fn>` with a JSON object of named arguments, as supabase-py
sends it (PLATFORM.md 3.2). Like PostgREST it maps the API key to a database
role (service key -> `service_role`, anon key -> `anon`) and runs the call as
that role (`SET LOCAL ROLE`), so the grants and row level security of the
migrations are what decide. `apikey` must equal the bearer token of
`Authorization`; a missing or unknown key is 401.

Failure switches for the tests (`mode`):
- "ok"            answer normally
- "error"         answer 503 with a PostgREST-shaped error, run nothing
- "slow"          sleep `delay` seconds, then run and answer (the client may time out first)
- "commit_then_hang"  run and commit, then sleep `delay` before answering: the
                  client times out although the batch was recorded
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

_FN = re.compile(r"^/rest/v1/rpc/([A-Za-z_][A-Za-z0-9_]*)$")
# PostgREST's status for a few SQLSTATEs (docs.postgrest.org "Errors").
_STATUS = {"42501": 403, "42883": 404, "22023": 400, "P0001": 400, "23505": 409}


class FakePostgrest:
    def __init__(self, dsn: str, service_key: str = "sb_secret_test", anon_key: str = "sb_publishable_test") -> None:
        self.dsn = dsn
        self.roles = {service_key: "service_role", anon_key: "anon"}
        self.service_key = service_key
        self.anon_key = anon_key
        self.mode = "ok"
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []
        self.calls = 0  # rpc calls that reached the database
        self._pool: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = fake._handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakePostgrest:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        while not self._pool.empty():
            self._pool.get_nowait().close()

    def reset(self) -> None:
        self.mode, self.delay, self.calls = "ok", 0.0, 0
        self.requests.clear()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = psycopg.connect(self.dsn)
        try:
            yield conn
        finally:
            if not (conn.closed or conn.broken):
                conn.rollback()
                self._pool.put(conn)

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        h = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append({"path": path, "headers": h, "size": len(body)})
        key = h.get("apikey", "")
        if key not in self.roles or h.get("authorization") != f"Bearer {key}":
            return 401, {"code": "PGRST301", "message": "Invalid API key", "details": None, "hint": None}
        match = _FN.match(path.split("?", 1)[0])
        if not match:
            return 404, {"code": "PGRST125", "message": "Invalid path specified in request URL"}
        if self.mode == "error":
            return 503, {"code": "PGRST001", "message": "Database client error", "details": None, "hint": None}
        if self.mode == "slow":
            time.sleep(self.delay)
        try:
            args = json.loads(body or b"{}")
        except ValueError:
            return 400, {"code": "PGRST102", "message": "Empty or invalid json", "details": None, "hint": None}
        status, payload = self._call(match.group(1), self.roles[key], args)
        if self.mode == "commit_then_hang":
            time.sleep(self.delay)
        return status, payload

    def _call(self, fn: str, role: str, args: dict[str, Any]) -> tuple[int, Any]:
        named = [
            sql.SQL("{} := {}").format(sql.Identifier(k), sql.Literal(Jsonb(v) if isinstance(v, dict | list) else v))
            for k, v in args.items()
        ]
        query = sql.SQL("SELECT to_jsonb({}({}))").format(sql.Identifier(fn), sql.SQL(", ").join(named))
        with self._conn() as conn:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                    row = conn.execute(query).fetchone()
            except psycopg.Error as exc:
                code = exc.sqlstate or "XX000"
                status = 401 if code == "42501" and role == "anon" else _STATUS.get(code, 400)
                diag = exc.diag
                return status, {"code": code, "message": diag.message_primary or str(exc),
                                "details": diag.message_detail, "hint": diag.message_hint}
        with self._lock:
            self.calls += 1
        return 200, row[0] if row else None
