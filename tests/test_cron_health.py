"""A cron run that fails makes /api/v1/health say so (issue 11.2): degraded, with the
reason, until a later run of that job succeeds. Real api/ apps, a real Redis, a real target."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from lib import clock, runtime
from lib.config import Config, Silence, parse_config
from lib.env import Env
from lib.store import Store
from tests.support.target import Target

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
SECRET = "cron-secret-0123456789"
PEOPLE = {"oncall": {"name": "On-call", "email": "oncall@example.com", "phone": "+15550000001"},
          "eng_lead": {"name": "Lead", "email": "lead@example.com"}}


def get(path: str, **headers: str) -> httpx.Response:
    module = __import__(f"api.{path.strip('/').removeprefix('api/').replace('/', '.')}", fromlist=["app"])
    with httpx.Client(transport=httpx.WSGITransport(app=module.app), base_url="http://vigil.test") as c:
        return c.get(path, headers=headers)


def cron(job: str) -> httpx.Response:
    return get(f"/api/cron/{job}", authorization=f"Bearer {SECRET}")


@pytest.fixture
def target() -> Iterator[Target]:
    with Target() as t:
        yield t


@pytest.fixture
def install(redis_store: Store) -> Iterator[Any]:
    def put(cfg: Config) -> None:
        env = Env(cron_secret=SecretStr(SECRET), public_base_url="https://vigil.test")
        runtime.install(runtime.Runtime(env=env, config=cfg, store=redis_store))

    yield put
    runtime.install(None)
    clock.unfreeze()


def test_a_cron_that_crashes_makes_health_degraded_with_the_reason_until_a_run_succeeds(
    target: Target, install: Any
) -> None:
    good = parse_config({"people": PEOPLE, "checks": [{"name": "api", "url": target.url(), "timeout": "2s",
                                                         "down_after": "1m"}]})
    # A config that fails at run time, as one that slipped past validation would (the old
    # `starts: "next monday 9am"`, which load now refuses, so it is built past it here).
    broken = replace(good, silences=[Silence(key="sentry:*", starts="next monday 9am")])
    install(broken)
    target.set(status=503)
    clock.freeze(T0 + 5)
    assert cron("checks").status_code == 200  # failing for 0 s: no signal yet
    clock.freeze(T0 + 65)
    assert cron("checks").status_code == 500  # the down signal reaches the silence and crashes the run
    health = get("/api/v1/health").json()
    assert health["status"] == "degraded"
    [reason] = health["reasons"]
    assert reason.startswith(f"cron checks failed at {clock.iso(T0 + 65)} (ValueError, request ")
    assert reason.endswith(") and has not succeeded since")
    assert health["cron"]["checks"]["failed"]["error"].startswith("ValueError")

    install(good)  # the config fixed and deployed: the next run succeeds and health recovers
    clock.freeze(T0 + 2 * 60 + 5)
    assert cron("checks").status_code == 200
    health = get("/api/v1/health").json()
    assert (health["status"], health["reasons"]) == ("healthy", [])
    assert "failed" not in health["cron"]["checks"]


def test_a_rejected_cron_call_is_not_a_failure(install: Any, target: Target) -> None:
    install(parse_config({"people": PEOPLE}))
    clock.freeze(T0)
    assert get("/api/cron/checks", authorization="Bearer wrong").status_code == 401
    assert get("/api/v1/health").json()["status"] == "healthy"


def test_a_run_that_refuses_its_minute_says_why_at_warning(
    target: Target, install: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No silent skip (issue 16.1): a duplicate call and a clock behind the store are told apart."""
    install(parse_config({"people": PEOPLE, "checks": [{"name": "api", "url": target.url(), "timeout": "2s"}]}))
    for minute in (3, 4, 5):
        clock.freeze(T0 + minute * 60 + 5)
        assert cron("checks").json()["skipped"] is False
    caplog.set_level(logging.WARNING, logger="vigil.checks")
    assert cron("checks").json()["skipped"] is True  # minute 5 again: a duplicate cron call
    assert "minute 2026-01-01T00:05:00Z was already evaluated by another run (a duplicate cron call)" in caplog.text
    caplog.clear()
    clock.freeze(T0 + 4 * 60 + 5)  # a clock restarted behind the store
    assert cron("checks").json()["skipped"] is True
    [record] = [r for r in caplog.records if r.name == "vigil.checks"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "checks: not evaluated: minute 2026-01-01T00:04:00Z was already evaluated and the store has run up to "
        "2026-01-01T00:05:05Z: this clock is 1m behind it; nothing is evaluated until it catches up "
        "(locally: scripts/dev.py --fake-clock resumes there)")
