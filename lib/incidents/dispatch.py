"""One way through: signals -> engine.apply (one round trip) -> the answer -> the
deliveries, after the response, in parallel, each to its own vendor timeout ->
outcomes recorded (one round trip).

1. Decide (`handle`): engine.apply with a fresh token. When the store does not
   answer (down, cut, slower than its timeout) the decision may have committed
   all the same: the request answers 503 (the vendor retries, and dedups), and
   after the response the same call is repeated with the same token on a
   patient connection, which returns the committed decisions with their claimed
   sends (or decides now if nothing had committed). A committed decision is
   delivered now, not when its leases expire.
2. Deliver after the response (`lib.web.later`): what bounds the answer is the
   store, never a send. A send runs to its vendor timeout (SEND_TIMEOUT), so a
   vendor answering in 2 s is a delivery, not a failure sent again.
3. Record the outcomes (`record`), retried through a store outage of about
   `sum(RETRY_DELAYS)` seconds; the leases (engine.LEASE) outlast it, so a send
   that was done is never sent again. What fails retryably waits in the outbox
   for the escalation cron, with backoff.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, TypeVar

from lib import clock, observability, web
from lib.incidents import engine, events
from lib.models import Decision, Delivery, Incident, Send, Severity, Signal
from lib.runtime import Runtime
from lib.store import Store, StoreUnavailable

logger = logging.getLogger("vigil.dispatch")

# Each vendor's own timeout: long enough that a slow answer is still an answer.
SEND_TIMEOUT = {"slack": 10.0, "sms": 10.0, "call": 10.0, "email": 15.0}
DEFAULT_SEND_TIMEOUT = 10.0
# Waits between attempts to reach the store after the response (~46 s, inside engine.LEASE).
RETRY_DELAYS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0)
T = TypeVar("T")


def retrying(what: str, store: Store, call: Callable[[Store], T]) -> T:
    """`call(store)`, then again on the patient connection through an outage of
    about sum(RETRY_DELAYS) seconds; raises StoreUnavailable after the last try."""
    target = store
    for delay in (*RETRY_DELAYS, None):
        try:
            return call(target)
        except StoreUnavailable as exc:
            if delay is None:
                raise
            logger.warning("%s: store unavailable (%s); again in %.2f s", what, exc, delay)
            clock.pause(delay)
            target = store.patient()
    raise AssertionError("unreachable")


def _send_one(rt: Runtime, send: Send, incident: Incident, now: float) -> Delivery:
    # Imported here, not at the top: only a delivery needs the channels and the renderer, and
    # deliveries run after the answer, so a webhook's cold start answers without them.
    from lib.channels import notifier_for
    from lib.incidents.messages import render

    message = render(rt.env, rt.config, incident, send, now)
    notifier = notifier_for(send.channel, rt.env)
    try:
        return notifier.send(message, SEND_TIMEOUT.get(send.channel, DEFAULT_SEND_TIMEOUT))
    except Exception as exc:  # a notifier bug must not lose the other deliveries
        logger.exception("notifier %s raised", send.channel)
        observability.capture(exc)
        return Delivery(ok=False, retryable=True, detail=f"notifier error: {type(exc).__name__}")


def deliver(rt: Runtime, sends: list[Send], found: dict[str, Incident], now: float) -> list[tuple[Send, Delivery]]:
    """Send everything in parallel, each bounded by its own vendor timeout, never cut short."""
    todo = [(s, found[s.incident]) for s in sends if s.incident in found]
    gone = [(s, Delivery(ok=False, permanent=True, detail="incident not found")) for s in sends if s.incident not in found]
    if not todo:
        return gone
    started = clock.monotonic()
    pool = ThreadPoolExecutor(max_workers=min(16, len(todo)), thread_name_prefix="deliver")
    futures = {pool.submit(contextvars.copy_context().run, _send_one, rt, s, inc, now): s for s, inc in todo}
    # The notifiers bound themselves; this only guards against one that hangs past its timeout.
    slowest = max(SEND_TIMEOUT.get(s.channel, DEFAULT_SEND_TIMEOUT) for s, _ in todo)
    done, _ = wait(futures, timeout=2 * slowest + 5)
    pool.shutdown(wait=False, cancel_futures=True)
    out = list(gone)
    for fut, send in futures.items():
        if fut in done and fut.exception() is None:
            out.append((send, fut.result()))
        else:
            out.append((send, Delivery(ok=False, retryable=True, detail="notifier hung past its timeout")))
    logger.debug(
        "delivered %d of %d in %.0f ms",
        sum(1 for _, d in out if d.ok), len(out), (clock.monotonic() - started) * 1000,
    )
    return out


def record(
    rt: Runtime, outcomes: list[tuple[Send, Delivery]], found: dict[str, Incident], now: float
) -> engine.Completed:
    """Write outcomes back (one round trip, retried through an outage), raise the alarm for a P0
    nobody could be told of, and return the follow-ups the outcomes call for."""
    if not outcomes:
        return engine.Completed()
    results: list[dict[str, Any]] = [
        {
            "id": s.id,
            "incident": s.incident,
            "channel": s.channel,
            "kind": s.kind,
            "to": s.to,
            "address": s.address,
            "mention": s.mention,
            "attempt": s.attempt,
            "ok": d.ok,
            "retryable": d.retryable,
            "permanent": d.permanent,
            "detail": d.detail,
            "ref": d.ref or None,
            "retry_after": d.retry_after,
        }
        for s, d in outcomes
    ]
    done = retrying("record outcomes", rt.store, lambda st: engine.complete(st, rt.config, results, now))
    events.delivered(outcomes, found)  # who was told by what; failures at WARNING
    by_incident: dict[str, list[Delivery]] = {}
    for s, d in outcomes:
        if s.kind in ("trigger", "escalate"):
            by_incident.setdefault(s.incident, []).append(d)
    for inc_id, ds in by_incident.items():
        inc = found.get(inc_id)
        if inc and inc.severity == Severity.P0 and ds and not any(d.ok for d in ds):
            logger.error("P0 %s: every channel failed: %s", inc.ref, "; ".join(d.detail for d in ds))
            observability.message(f"P0 {inc.ref} could not be delivered on any channel", incident=inc.id)
    return done


def send_all(rt: Runtime, sends: list[Send], found: dict[str, Incident], now: float) -> list[tuple[Send, Delivery]]:
    """Deliver, record; then deliver the follow-ups recording asked for (a Slack update
    for an incident resolved while its announcement was in flight)."""
    outcomes: list[tuple[Send, Delivery]] = []
    for _ in range(3):  # a follow-up's own follow-ups; two rounds are the most that can be due
        if not sends:
            break
        batch = deliver(rt, sends, found, now)
        outcomes += batch
        try:
            done = record(rt, batch, found, now)
        except StoreUnavailable as exc:  # the leases expire and the escalation cron retries
            logger.error("could not record %d outcomes: %s", len(batch), exc)
            break
        sends, found = done.sends, {**found, **done.incidents}
    return outcomes


def _claimed(decisions: list[Decision]) -> tuple[list[Send], dict[str, Incident]]:
    sends = [s for d in decisions for s in d.sends]
    return sends, {d.incident.id: d.incident for d in decisions if d.incident is not None}


def deliver_later(rt: Runtime, decisions: list[Decision], now: float) -> None:
    """The decisions' claimed sends, after the response."""
    sends, found = _claimed(decisions)
    if sends:
        web.later(lambda: send_all(rt, sends, found, now))


def follow_up(rt: Runtime, decision: Decision, now: float) -> Decision:
    """Deliver what an acknowledge/resolve decision claimed (e.g. the Slack update), after the response."""
    events.changed(decision, now)
    deliver_later(rt, [decision], now)
    return decision


def handle(
    rt: Runtime,
    signals: list[Signal],
    now: float,
    deploy: dict[str, Any] | None = None,
    counters: list[tuple[str, str, int]] | None = None,
    settle: list[engine.Pending] | None = None,
) -> list[Decision]:
    """The one path every signal takes: decide now (repeatably: step 1 of the module
    docstring), deliver after the response."""
    token = uuid.uuid4().hex

    def apply(store: Store) -> list[Decision]:
        return engine.apply_many(store, rt.config, signals, now, deploy=deploy, counters=counters,
                                 settle=settle, token=token)

    try:
        decisions = apply(rt.store)
    except StoreUnavailable:
        if signals:
            web.later(lambda: _settle(rt, apply, now))
        raise
    for d in decisions:
        events.decided(d, now)
    deliver_later(rt, decisions, now)
    return decisions


def _settle(rt: Runtime, apply: Callable[[Store], list[Decision]], now: float) -> None:
    try:
        decisions = retrying("decide again", rt.store.patient(), apply)
    except StoreUnavailable as exc:
        logger.error("decision not settled (%s): the vendor's retry or the next cron run decides", exc)
        return
    for d in decisions:
        events.decided(d, now)
    send_all(rt, *_claimed(decisions), now)


def run_escalations(rt: Runtime, now: float) -> dict[str, Any]:
    """The escalation cron: claim due steps, retries and reminders, then deliver them."""
    return escalate(rt, engine.sweep(rt.store, rt.config, now), now)


def escalate(rt: Runtime, sw: engine.Sweep, now: float) -> dict[str, Any]:
    """Deliver what a sweep claimed (run_escalations, or the minute cron's combined sweep)."""
    outcomes = send_all(rt, sw.sends, sw.incidents, now) if sw.sends else []
    released = handle(rt, sw.releases, now) if sw.releases else []
    return {
        "released": [str(d.reason) for d in released],
        "ended": sw.ended,
        "escalated": sw.escalated,
        "sent": sum(1 for _, d in outcomes if d.ok),
        "failed": sum(1 for _, d in outcomes if not d.ok),
        "outbox": sw.backlog,
    }
