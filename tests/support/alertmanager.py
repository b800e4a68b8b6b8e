"""A real Alertmanager (Debian's `prometheus-alertmanager`) for tests, pointed at a Vigil
served over a real loopback socket, and `amtool` to add and resolve alerts.

    with VigilServer() as vigil, Alertmanager(vigil.url + "/api/webhooks/alerts", token) as am:
        am.add("HighErrorRate", instance="a", severity="critical")
        vigil.wait(lambda deliveries: ...)   # until Alertmanager's notifications arrived

Alertmanager binds an ephemeral port, runs without clustering, keeps its state in its
own temporary directory, and is stopped (and waited for) on exit.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
import yaml

from tests.support.world import Dispatcher

INSTALL = "apt-get install -y prometheus-alertmanager  # Debian's package: alertmanager and amtool"


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; the Alertmanager tests need the real one: {INSTALL}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _Answered:
    """The answer as written, then (the server calls `close()` after writing it) Vigil's
    post-response work (lib.web: the deliveries), and only then the delivery is recorded,
    so a test waiting for a delivery sees its pages."""

    def __init__(self, chunks: list[bytes], result: Any, done: Callable[[], None]) -> None:
        self.chunks, self._result, self._done = chunks, result, done

    def __iter__(self) -> Any:
        return iter(self.chunks)

    def close(self) -> None:
        try:
            if hasattr(self._result, "close"):
                self._result.close()
        finally:
            self._done()


class VigilServer:
    """Vigil's api/ routes on 127.0.0.1:<ephemeral>, recording each Alertmanager delivery
    (its JSON and Vigil's answer). `fail_next(n)` answers 503 n times, as a Vigil that is
    restarting would (Alertmanager retries 5xx)."""

    def __init__(self) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._fail = 0
        dispatcher = Dispatcher()

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            with self._cond:
                failing = self._fail > 0
                self._fail -= 1 if failing else 0
            if failing:
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                answer: list[bytes] = [b'{"error":"restarting"}']
                status = 503
            else:
                import io

                environ["wsgi.input"] = io.BytesIO(body)
                seen: dict[str, Any] = {}

                def capture(s: str, headers: Any, *rest: Any) -> Any:
                    seen["status"] = int(s.split()[0])
                    return start_response(s, headers, *rest)

                result = dispatcher(environ, capture)
                answer = list(result)
                status = seen.get("status", 0)

            def record() -> None:
                with self._cond:
                    self.deliveries.append({"status": status, "body": json.loads(body or b"null"),
                                            "answer": json.loads(b"".join(answer) or b"null")})
                    self._cond.notify_all()

            if failing:
                record()
                return answer
            return _Answered(answer, result, record)

        self.server = make_server("127.0.0.1", 0, app, server_class=_Threading, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fail_next(self, n: int) -> None:
        with self._cond:
            self._fail = n

    def wait(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 60.0) -> list[dict[str, Any]]:
        """Block until `done(deliveries)` holds (each delivery wakes it); fail after `timeout` s."""
        with self._cond:
            if not self._cond.wait_for(lambda: done(self.deliveries), timeout):
                pytest.fail(f"Alertmanager did not deliver as expected within {timeout} s: {self.deliveries}")
            return list(self.deliveries)

    def __enter__(self) -> VigilServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Alertmanager:
    def __init__(self, webhook: str, token: str, group_by: tuple[str, ...] = ("alertname",),
                 repeat_interval: str = "1h") -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="vigil-am-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "route": {"receiver": "vigil", "group_by": list(group_by), "group_wait": "1s",
                      "group_interval": "1s", "repeat_interval": repeat_interval},
            "receivers": [{"name": "vigil", "webhook_configs": [{
                "url": webhook, "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
            }]}],
        }
        self.config = f"{self.dir.name}/alertmanager.yml"
        with open(self.config, "w") as f:
            yaml.safe_dump(config, f)
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Alertmanager:
        self.proc = subprocess.Popen(
            [binary("prometheus-alertmanager"), f"--config.file={self.config}",
             f"--storage.path={self.dir.name}/data", f"--web.listen-address=127.0.0.1:{self.port}",
             "--cluster.listen-address=", "--log.level=info"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        listening = threading.Event()
        self.log: list[str] = []

        def read() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace").rstrip()
                self.log.append(line)
                if 'msg="Listening on"' in line:
                    listening.set()
            listening.set()  # exited: __enter__ reports it

        threading.Thread(target=read, daemon=True).start()
        if not listening.wait(120) or self.proc.poll() is not None:
            self.__exit__()
            pytest.fail("alertmanager did not start:\n" + "\n".join(self.log[-20:]))
        with httpx.Client(timeout=10.0) as client:
            assert client.get(f"{self.url}/-/ready").status_code == 200
        return self

    def amtool(self, *args: str) -> str:
        done = subprocess.run([binary("amtool"), f"--alertmanager.url={self.url}", *args],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def add(self, name: str, start: str, end: str | None = None, **labels: str) -> None:
        """Fire an alert that started at `start` (RFC 3339), or with `end` in the past
        resolve it, as Prometheus would push them."""
        args = ["alert", "add", f"alertname={name}", *(f"{k}={v}" for k, v in labels.items()),
                f"--annotation=summary={name} on {labels.get('instance', '')}", f"--start={start}"]
        self.amtool(*args, *([f"--end={end}"] if end else []))

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.dir.cleanup()
