"""The fault matrix for `make bench` (section "faults") and its test: one P0 through the
whole Vigil while Redis (behind tests/support/redis_proxy.py) or a vendor fails in one
way, the vendor retrying a webhook that got a 503 as Alertmanager or Sentry would, then
the escalation cron for twelve minutes. Pages are counted at the fakes; the P0 should
reach each of #alerts, on-call's SMS and two e-mails exactly once.

    run_matrix(redis_server) -> list[Case]      (lost, duplicated) per case
    answer_times(redis_server, delay, n) -> [seconds]   webhook answers over a socket
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lib.incidents import dispatch, engine
from lib.store.redis_backend import RedisStore
from tests.support.redis_proxy import RedisProxy
from tests.support.target import Target
from tests.support.world import SECRETS, World, default_config, world

P0 = {"key": "api-down", "severity": "P0", "title": "API is down"}
EXPECTED = (1, 1, 2)  # Slack announcements, SMS, e-mails
STORE_TIMEOUT = 1.0


@dataclass
class Case:
    name: str
    lost: int
    duplicated: int


def pages(w: World) -> tuple[int, int, int]:
    return (len([p for p in w.slack.posts if not p.get("thread_ts")]), len(w.twilio.messages), len(w.smtp.messages))


def _webhook(w: World, proxy: RedisProxy) -> None:
    """The vendor's delivery, and its retry after a 503 once Redis is back."""
    if w.alert(**P0).status_code == 503:
        proxy.heal()
        w.advance(30)
        w.alert(**P0)


def _fault(target: Any, action: str, times: int = 1, seconds: float = 0.0) -> Callable[[World, RedisProxy], None]:
    def run(w: World, proxy: RedisProxy) -> None:
        proxy.fault(target, action, times, seconds)
        _webhook(w, proxy)
    return run


def _checks_cron(action: str) -> Callable[[World, RedisProxy], None]:
    def run(w: World, proxy: RedisProxy) -> None:
        target: Target = w.target  # type: ignore[attr-defined]
        w.cron("minute")
        target.set(status=503)
        for minute in range(1, 5):
            w.advance(60)
            if minute == 3:
                proxy.fault(engine.APPLY, action, times=50)
            w.cron("minute")
            proxy.heal()
    return run


def _slow(**delays: float) -> Callable[[World, RedisProxy], None]:
    def run(w: World, proxy: RedisProxy) -> None:
        for name, delay in delays.items():
            getattr(w, name).delay = delay
        _webhook(w, proxy)
    return run


def _record_lost_then_down(w: World, proxy: RedisProxy) -> None:
    proxy.fault(engine.COMPLETE, "swallow")
    proxy.fault(engine.COMPLETE, "drop", 2)
    _webhook(w, proxy)


def _record_down_but_last(w: World, proxy: RedisProxy) -> None:
    proxy.fault(engine.COMPLETE, "drop", len(dispatch.RETRY_DELAYS))  # the retries in force now
    _webhook(w, proxy)


def _vendor_fails(w: World, proxy: RedisProxy) -> None:
    w.slack.fail_next(2, status=500)
    w.twilio.fail_next(1, status=503)
    _webhook(w, proxy)


CASES: list[tuple[str, Callable[[World, RedisProxy], None]]] = [
    ("apply: cut before Redis ran it (503, vendor retries)", _fault(engine.APPLY, "drop", 50)),
    ("apply: ran, its reply lost (503, settled after the answer)", _fault(engine.APPLY, "swallow")),
    ("apply: Redis 0.5 s slower than its timeout", _fault(engine.APPLY, "stall", 2, STORE_TIMEOUT + 0.5)),
    ("checks cron: apply cut, next minute decides", _checks_cron("drop")),
    ("checks cron: apply ran, reply lost", _checks_cron("swallow")),
    ("record: reply lost, then Redis down for 2 tries", _record_lost_then_down),
    ("record: Redis down for every try but the last", _record_down_but_last),
    ("Slack answers after 1.2 s", _slow(slack=1.2)),
    ("Twilio answers after 1.2 s", _slow(twilio=1.2)),
    ("every vendor answers after 2 s", _slow(slack=2.0, twilio=2.0, smtp=2.0)),
    ("Slack 500 twice, Twilio 503 once (retried by the cron)", _vendor_fails),
]


@contextmanager
def _quick_retries() -> Any:
    saved = dispatch.RETRY_DELAYS
    dispatch.RETRY_DELAYS = (0.01, 0.02, 0.05)
    try:
        yield
    finally:
        dispatch.RETRY_DELAYS = saved


def run_case(redis_server: Any, name: str, scenario: Callable[[World, RedisProxy], None]) -> Case:
    prefix = f"vigil-faults-{uuid.uuid4().hex[:10]}:"
    with RedisProxy(redis_server) as proxy, Target() as target:
        store = RedisStore.from_url(proxy.url, prefix=prefix, timeout=STORE_TIMEOUT)
        check = {"name": "api", "url": target.url(), "timeout": "2s", "expect": {"status": 200}, "severity": "P0"}
        try:
            with _quick_retries(), world(store, default_config(checks=[check])) as w:
                w.target = target  # type: ignore[attr-defined]
                scenario(w, proxy)
                proxy.heal()
                for _ in range(6):  # twelve minutes of escalation runs: retries due, leases expired
                    w.advance(120)
                    w.cron("escalations")
                got = pages(w)
        finally:
            RedisStore.from_url(redis_server.url, prefix=prefix).delete_prefix()
            store.close()
    lost = sum(max(0, e - g) for e, g in zip(EXPECTED, got, strict=True))
    dup = sum(max(0, g - e) for e, g in zip(EXPECTED, got, strict=True))
    return Case(name, lost, dup)


def run_matrix(redis_server: Any) -> list[Case]:
    return [run_case(redis_server, name, scenario) for name, scenario in CASES]


def answer_times(redis_server: Any, delay: float, n: int = 30) -> list[float]:
    """Seconds from request to answer of `n` alerts-webhook P0s over a real socket, every
    vendor (Slack, Twilio, SMTP) answering after `delay`; waits for every page."""
    prefix = f"vigil-faults-{uuid.uuid4().hex[:10]}:"
    store = RedisStore.from_url(redis_server.url, prefix=prefix)
    auth = {"Authorization": f"Bearer {SECRETS['ALERTS_TOKEN']}"}
    times = []
    try:
        with world(store, slack_delay=delay, twilio_delay=delay, smtp_delay=delay) as w, w.served() as http:
            http.post("/api/webhooks/alerts", json={**P0, "key": "warm"}, headers=auth)
            for i in range(n):
                started = time.perf_counter()
                r = http.post("/api/webhooks/alerts", json={**P0, "key": f"bench-{i}"}, headers=auth)
                times.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
            end = time.monotonic() + 60  # every page delivered before the fakes close
            while pages(w) != tuple(e * (n + 1) for e in EXPECTED) and time.monotonic() < end:
                time.sleep(0.05)
    finally:
        RedisStore.from_url(redis_server.url, prefix=prefix).delete_prefix()
        store.close()
    return times
