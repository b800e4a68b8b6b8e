"""Archive drain throughput: events/second from the Redis outbox through supabase-py,
the loopback PostgREST and vigil_record into a real PostgreSQL.

`bench_drain(store, env, ...)` measures against whatever `env` points at;
`run()` sets up everything itself (for scripts/bench.py):
    python -c "from tests.support.archive_bench import run; print(run())"
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from lib.archive import sink
from lib.env import Env
from lib.store import Store

T0 = 1_800_000_000.0


def _events(n: int, run: str) -> list[dict[str, Any]]:
    """A realistic mix: per incident opened, 3 notified, acknowledged, resolved."""
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n:
        inc, at = f"{run}-{i}", T0 + i
        out.append({"id": f"{inc}:opened", "type": "opened", "at": at, "incident": inc,
                    "data": {"key": f"check:c{i % 50}", "severity": "P1", "title": "down", "summary": "",
                             "source": "checks", "labels": {"team": "core"}, "links": {}, "opened_at": at}})
        for ch in ("slack", "email", "sms"):
            out.append({"id": f"{inc}:notified:{ch}:1", "type": "notified", "at": at + 1, "incident": inc,
                        "data": {"channel": ch, "to": "oncall", "address": "x", "kind": "trigger", "ok": True,
                                 "detail": "ok", "attempt": 1}})
        out.append({"id": f"{inc}:acknowledged", "type": "acknowledged", "at": at + 60, "incident": inc,
                    "data": {"by": "oncall", "via": "link"}})
        out.append({"id": f"{inc}:resolved", "type": "resolved", "at": at + 600, "incident": inc,
                    "data": {"by": "source", "via": "checks"}})
        i += 1
    return out[:n]


def bench_drain(store: Store, env: Env, events: int = 10_000, batch: int = 500) -> dict[str, Any]:
    """Append `events` events, drain them all; the supabase client is created before the clock starts."""
    sink.supabase_client(env, sink.TIMEOUT)  # import + create_client are a one-off per process
    sink.append(store, _events(events, uuid.uuid4().hex[:8]))
    started = time.perf_counter()
    result = sink.drain(store, env, T0 + 3600, batch=batch, max_batches=events // batch + 1)
    seconds = time.perf_counter() - started
    assert result.error is None and result.remaining == 0, result
    return {"events": result.sent, "batch": batch, "seconds": round(seconds, 3),
            "events_per_s": round(result.sent / seconds), "new": result.new}


def run(events: int = 10_000, batch: int = 500) -> dict[str, Any]:
    """bench_drain on a throwaway database, a loopback PostgREST and the test Redis."""
    from lib.store.redis_backend import RedisStore
    from tests.support.fake_postgrest import FakePostgrest
    from tests.support.postgres import Postgres
    from tests.support.redis_server import RedisServer

    db, server = Postgres(), RedisServer()
    store = RedisStore.from_url(server.url, prefix=f"vigil-bench-{uuid.uuid4().hex[:8]}:")
    try:
        with FakePostgrest(db.dsn) as fake:
            env = Env(supabase_url=fake.url, supabase_key=fake.service_key)
            return bench_drain(store, env, events, batch)
    finally:
        store.delete_prefix()
        store.close()
        server.stop()
        db.stop()
