"""The fault suite: a real Redis behind a proxy that drops, stalls or swallows the reply of a
chosen script or command (tests/support/redis_proxy.py), vendor fakes that answer late or
fail, and the whole Vigil in between. Every case counts pages at the fakes: each real
incident is paged exactly once, whatever fails."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from lib.checks import state as checks_state
from lib.incidents import dispatch, engine
from lib.rules import state as rules_state
from lib.store import Store
from lib.store.redis_backend import RedisStore
from tests.support.fake_slack import FakeSlack
from tests.support.fault_matrix import run_matrix
from tests.support.metrics_target import MetricsTarget
from tests.support.redis_proxy import RedisProxy
from tests.support.target import Target
from tests.support.vercel_runtime import VercelRuntime, python312
from tests.support.world import SECRETS, World, default_config, world

P0 = {"key": "api-down", "severity": "P0", "title": "API is down", "summary": "health returns 503"}
STORE_TIMEOUT = 1.0  # the request path's store timeout in these tests (production: 3 s)


@pytest.fixture
def proxy(redis_server: Any) -> Iterator[RedisProxy]:
    with RedisProxy(redis_server) as p:
        yield p


@pytest.fixture
def fstore(proxy: RedisProxy, redis_server: Any, prefix: str) -> Iterator[Store]:
    """The real Redis, through the proxy, with a short timeout."""
    s = RedisStore.from_url(proxy.url, prefix=prefix, timeout=STORE_TIMEOUT)
    yield s
    RedisStore.from_url(redis_server.url, prefix=prefix).delete_prefix()
    s.close()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry the store after the response without the production waits (~46 s in all)."""
    monkeypatch.setattr(dispatch, "RETRY_DELAYS", (0.01, 0.02, 0.05))


def pages(w: World) -> tuple[int, int, int]:
    """(Slack posts, SMS, e-mails) the vendors accepted."""
    return len(w.slack.posts), len(w.twilio.messages), len(w.smtp.messages)


P0_ONCE = (1, 1, 2)  # #alerts, on-call's SMS, on-call's and the lead's e-mail
PRODUCTION_RETRY_DELAYS = dispatch.RETRY_DELAYS


def escalation_runs(w: World, n: int = 3, every: float = 250) -> None:
    """Escalation crons over the next minutes (the CTO's step, at 15m, not reached)."""
    for _ in range(n):
        w.advance(every)
        w.cron("escalations")


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Wait for something another thread does (post-response work), not for time to pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


# -- 1. a transition is consumed only together with its decision ---------------------------


def checks_world(store: Store, target: Target) -> Any:
    check = {"name": "api", "url": target.url(), "timeout": "2s", "expect": {"status": 200}, "severity": "P0"}
    return world(store, default_config(checks=[check]))


def fail_for_two_minutes(w: World, target: Target, job: str = "checks") -> None:
    assert w.cron(job).status_code == 200
    target.set(status=503)
    for _ in range(2):
        w.advance(60)
        assert w.cron(job).json()["decisions"] == []


@pytest.mark.parametrize("job", ["checks", "minute"])
@pytest.mark.parametrize("action", ["drop", "swallow"])
def test_a_check_going_down_while_its_decision_fails_still_pages_once(
    fstore: Store, proxy: RedisProxy, action: str, job: str
) -> None:
    with Target() as target, checks_world(fstore, target) as w:
        fail_for_two_minutes(w, target, job)
        w.advance(60)
        proxy.fault(engine.APPLY, action, times=50)  # every try, after the response too
        assert w.cron(job).status_code == 503
        proxy.heal()
        w.advance(60)
        out = w.cron(job).json()
        if action == "drop":  # nothing was decided: this run decides
            assert [(d["key"], d["reason"]) for d in out["decisions"]] == [("check:api", "OPENED")]
        else:  # it was decided and the answer lost: decided once, not again
            assert out["decisions"] == []
        [inc] = engine.open_incidents(fstore)
        assert inc.key == "check:api"
        for _ in range(4):
            w.advance(60)
            assert w.cron(job).json()["decisions"] == []
            w.cron("escalations")
        assert len(w.slack.posts) == 1 and len(w.twilio.messages) == 1


def test_a_check_transition_decided_after_the_answer_was_lost_pages_now(fstore: Store, proxy: RedisProxy) -> None:
    """The apply script ran, its reply was lost: the same call again returns that decision,
    and its pages go out now, not when their leases expire two minutes later."""
    with Target() as target, checks_world(fstore, target) as w:
        fail_for_two_minutes(w, target)
        w.advance(60)
        proxy.fault(engine.APPLY, "swallow")
        assert w.cron("checks").status_code == 503
        assert pages(w) == P0_ONCE
        w.advance(180)
        w.cron("escalations")
        assert pages(w) == P0_ONCE


def test_pending_transitions_cost_no_round_trip_on_a_quiet_minute(fstore: Store, proxy: RedisProxy) -> None:
    with Target() as target, checks_world(fstore, target) as w:
        w.cron("checks")
        w.advance(60)
        before = sum(proxy.seen.values())
        w.cron("checks")
        assert sum(proxy.seen.values()) - before == 2  # claim, record
        assert fstore.call("EXISTS", fstore.key(checks_state.PENDING)) == 0


def test_a_rule_firing_while_its_decision_fails_pages_once_next_run(fstore: Store, proxy: RedisProxy) -> None:
    with MetricsTarget() as target:
        rule = {"name": "PoolExhausted", "scrape": target.url,
                "gauge_ratio": {"value": "pool_active", "max": "pool_max"}, "above": {"P0": 0.9}}
        with world(fstore, default_config(rules=[rule])) as w:
            target.set("pool_active 10\npool_max 60\n")
            assert w.cron("rules").status_code == 200
            w.advance(60)
            target.set("pool_active 59\npool_max 60\n")
            proxy.fault(engine.APPLY, "drop", times=50)
            assert w.cron("rules").status_code == 503
            proxy.heal()
            assert pages(w) == (0, 0, 0)
            w.advance(60)
            r = w.cron("rules")
            assert [d["reason"] for d in r.json()["decisions"]] == ["OPENED"]
            assert fstore.call("HLEN", fstore.key(rules_state.PENDING)) == 0
            for _ in range(3):
                w.advance(60)
                assert w.cron("rules").json()["decisions"] == []
            assert pages(w) == P0_ONCE


# -- 7. a slow Redis: a committed decision is delivered now ----------------------------------


def test_a_webhook_whose_store_answers_late_answers_503_and_pages_once_now(fstore: Store, proxy: RedisProxy) -> None:
    with world(fstore) as w:
        proxy.fault(engine.APPLY, "stall", times=2, seconds=STORE_TIMEOUT + 0.5)
        assert w.alert(**P0).status_code == 503  # the vendor retries ...
        assert pages(w) == P0_ONCE  # ... but the committed decision went out already
        w.advance(30)
        assert w.alert(**P0).json()["decisions"][0]["reason"] == "DEDUPED"
        w.advance(150)
        w.cron("escalations")
        assert pages(w) == P0_ONCE


# -- 4. the deadline bounds the answer, never a send -----------------------------------------


ALERTS_AUTH = {"Authorization": f"Bearer {SECRETS['ALERTS_TOKEN']}"}


def test_vendors_answering_in_2_s_page_once_and_the_answer_does_not_wait(store: Store) -> None:
    with world(store, slack_delay=2.0, twilio_delay=2.0, smtp_delay=2.0) as w, w.served() as http:
        assert http.post("/api/webhooks/alerts", json=P0).status_code == 401  # warm: the route is imported
        started = time.monotonic()
        r = http.post("/api/webhooks/alerts", json=P0, headers=ALERTS_AUTH)
        took = time.monotonic() - started
        assert r.status_code == 200 and r.json()["decisions"][0]["reason"] == "OPENED"
        assert took < 0.5, f"the answer took {took:.2f} s"
        assert pages(w) == (0, 0, 0)  # still on their way
        assert wait_for(lambda: pages(w) == P0_ONCE, timeout=20)
        assert wait_for(lambda: engine.open_incidents(store)[0].slack.get("ts") is not None)
        for _ in range(3):  # nothing is left in the outbox to send again (the CTO's step is at 15m)
            w.advance(250)
            assert w.cron("escalations").json()["sent"] == 0
        assert pages(w) == P0_ONCE


@pytest.mark.parametrize("slow", ["slack", "twilio"])
def test_a_vendor_answering_after_a_second_delivered_and_is_not_sent_again(store: Store, slow: str) -> None:
    with world(store, **{f"{slow}_delay": 1.2}) as w:
        assert w.alert(**P0).status_code == 200
        assert pages(w) == P0_ONCE
        escalation_runs(w)
        assert pages(w) == P0_ONCE


# -- 5. Redis lost between sending and recording ---------------------------------------------


def test_an_outage_while_recording_outcomes_is_waited_out_and_nothing_is_sent_twice(
    fstore: Store, proxy: RedisProxy
) -> None:
    with world(fstore) as w:
        proxy.fault(engine.COMPLETE, "swallow")  # the first record runs, its answer is lost
        proxy.fault(engine.COMPLETE, "drop", times=2)  # then Redis is gone for two more tries
        assert w.alert(**P0).status_code == 200
        assert pages(w) == P0_ONCE
        assert proxy.pending() == 0
        escalation_runs(w)
        assert pages(w) == P0_ONCE
        assert fstore.call("HLEN", fstore.key("outbox")) == 0


def test_a_redis_outage_during_delivery_never_repeats_a_done_send(fstore: Store, proxy: RedisProxy) -> None:
    """Redis goes away once the pages are out (every command fails, for as many tries as the
    retries take); when it is back, the outcomes are recorded and nothing is sent again."""
    with world(fstore) as w:
        proxy.fault(engine.COMPLETE, "drop", times=len(dispatch.RETRY_DELAYS))  # all but the last try
        assert w.alert(**P0).status_code == 200
        assert pages(w) == P0_ONCE
        escalation_runs(w)
        assert pages(w) == P0_ONCE


def test_the_retries_outlast_a_30_s_outage_and_end_before_the_lease() -> None:
    assert 30 <= sum(PRODUCTION_RETRY_DELAYS) < engine.LEASE - 30


# -- 6. a resolve or an ack while the Slack announcement is in flight ------------------------


def slack_buttons(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message.get("blocks", []) if b.get("type") == "actions" for e in b["elements"]]


@pytest.mark.parametrize("then", ["resolved", "acknowledged"])
def test_a_resolve_or_ack_during_the_slack_post_still_updates_the_message(redis_store: Store, then: str) -> None:
    with world(redis_store, slack_delay=1.0) as w, w.served() as http:
        r = http.post("/api/webhooks/alerts", json=P0, headers=ALERTS_AUTH)
        inc = r.json()["decisions"][0]["incident"].lstrip("#")
        assert wait_for(lambda: len(w.slack.requests) == 1)  # the post is in flight
        if then == "resolved":
            r = http.post("/api/webhooks/alerts", json={**P0, "status": "resolved"}, headers=ALERTS_AUTH)
            assert r.json()["decisions"][0]["reason"] == "RESOLVED"
        else:
            assert engine.acknowledge(redis_store, inc, "alice", "link", w.now).reason.value == "ACKNOWLEDGED"
        assert wait_for(lambda: len(w.slack.updates) == 1, timeout=20)
        [(_, message)] = w.slack.stored.items()
        assert message["text"] == w.slack.updates[0]["text"]
        assert "ack" not in slack_buttons(message)
        stored = engine.get(redis_store, inc)
        assert stored is not None and stored.slack["ts"] == next(iter(w.slack.stored))[1]


def test_under_vercels_runtime_the_answer_leaves_before_the_deliveries_end(
    tmp_path: Any, upstash_bridge: Any, redis_server: Any, prefix: str
) -> None:
    """vercel_runtime (Python 3.12, .venv312) serving the alerts webhook: Slack answering in
    2 s does not hold the answer, and the post-response delivery still runs, and is recorded."""
    python312()
    config = tmp_path / "monitoring.yaml"
    config.write_text('service: vr\nrouting:\n  P0: {slack: {channel: "#alerts", mention: channel}}\n')
    with FakeSlack(delay=2.0) as slack:
        env = {**SECRETS, "MONITORING_CONFIG": str(config), "PUBLIC_BASE_URL": "https://vigil.test",
               "UPSTASH_REDIS_REST_URL": upstash_bridge.url, "UPSTASH_REDIS_REST_TOKEN": upstash_bridge.token,
               "VIGIL_KEY_PREFIX": prefix, "SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.url}
        store = RedisStore.from_url(redis_server.url, prefix=prefix)
        try:
            with VercelRuntime("api/webhooks/alerts.py", env) as vr, httpx.Client(timeout=30) as http:
                url = f"{vr.url}/api/webhooks/alerts"
                assert http.post(url, json=P0).status_code == 401  # warm: the stack is imported
                started = time.monotonic()
                r = http.post(url, json=P0, headers=ALERTS_AUTH)
                took = time.monotonic() - started
                assert r.status_code == 200 and r.json()["decisions"][0]["reason"] == "OPENED", r.text
                assert took < 1.0, f"the answer took {took:.2f} s"
                assert slack.posts == []  # still in flight when the answer arrived
                assert wait_for(lambda: len(slack.posts) == 1, timeout=30), vr.output()
                assert wait_for(lambda: bool(engine.open_incidents(store)[0].slack.get("ts")), timeout=10)
        finally:
            store.delete_prefix()
            store.close()


def test_the_fault_matrix_of_make_bench_loses_and_duplicates_no_page(redis_server: Any) -> None:
    cases = run_matrix(redis_server)
    assert [(c.name, c.lost, c.duplicated) for c in cases if c.lost or c.duplicated] == []
