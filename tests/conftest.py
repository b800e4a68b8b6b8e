"""Shared fixtures: a real Redis (directly and through the Upstash REST protocol),
each test under its own key prefix, deleting only its own keys."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lib.store import Store  # noqa: E402
from lib.store.redis_backend import RedisStore  # noqa: E402
from lib.store.upstash import UpstashStore  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.upstash_bridge import UpstashBridge  # noqa: E402


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def upstash_bridge(redis_server: RedisServer) -> Iterator[UpstashBridge]:
    with UpstashBridge(redis_server.url) as bridge:
        yield bridge


@pytest.fixture(autouse=True)
def fast_store_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the response, recording waits out a store outage of ~46 s of real time
    (dispatch.RETRY_DELAYS, production). A test whose store stays down need not wait
    it out: the same schedule, shorter. tests/test_faults.py holds the real one."""
    from lib.incidents import dispatch

    monkeypatch.setattr(dispatch, "RETRY_DELAYS", (0.01, 0.02, 0.05))


@pytest.fixture
def prefix() -> str:
    return f"vigil-test-{uuid.uuid4().hex[:12]}:"


def _make_store(kind: str, redis_server: RedisServer, bridge: UpstashBridge | None, prefix: str) -> Store:
    if kind == "upstash":
        assert bridge is not None
        return UpstashStore(bridge.url, bridge.token, prefix=prefix)
    return RedisStore.from_url(redis_server.url, prefix=prefix)


@pytest.fixture(params=["redis", "upstash"])
def store(request: pytest.FixtureRequest, redis_server: RedisServer, prefix: str) -> Iterator[Store]:
    """The same real Redis, directly and through the Upstash REST bridge."""
    bridge = request.getfixturevalue("upstash_bridge") if request.param == "upstash" else None
    s = _make_store(request.param, redis_server, bridge, prefix)
    yield s
    RedisStore.from_url(redis_server.url, prefix=prefix).delete_prefix()
    s.close()


@pytest.fixture
def redis_store(redis_server: RedisServer, prefix: str) -> Iterator[Store]:
    """Direct redis-py only, for tests that are not about the backend."""
    s = RedisStore.from_url(redis_server.url, prefix=prefix)
    yield s
    s.delete_prefix()
    s.close()
