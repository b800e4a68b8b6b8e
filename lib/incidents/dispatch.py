"""One way through: signals -> engine.apply (one round trip) -> deliveries in
parallel under a deadline -> outcomes recorded (one round trip when something
was sent). What misses the deadline or fails retryably waits in the outbox for
the next cron run; one failing channel never holds back the others.
"""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from lib import clock, observability
from lib.channels import notifier_for
from lib.incidents import engine, events
from lib.incidents.messages import render
from lib.models import Decision, Delivery, Incident, Send, Severity, Signal
from lib.runtime import Runtime

logger = logging.getLogger("vigil.dispatch")

CRON_DEADLINE = 20.0  # webhooks use config.settings.webhook_deadline (0.7 s: Sentry wants 1 s)


def _send_one(rt: Runtime, send: Send, incident: Incident, now: float, timeout: float) -> Delivery:
    message = render(rt.env, rt.config, incident, send, now)
    notifier = notifier_for(send.channel, rt.env)
    try:
        return notifier.send(message, timeout)
    except Exception as exc:  # a notifier bug must not lose the other deliveries
        logger.exception("notifier %s raised", send.channel)
        observability.capture(exc)
        return Delivery(ok=False, retryable=True, detail=f"notifier error: {type(exc).__name__}")


def deliver(
    rt: Runtime, sends: list[Send], found: dict[str, Incident], now: float, deadline: float
) -> list[tuple[Send, Delivery]]:
    """Send everything in parallel, each bounded by what is left of `deadline` seconds."""
    todo = [(s, found[s.incident]) for s in sends if s.incident in found]
    gone = [(s, Delivery(ok=False, permanent=True, detail="incident not found")) for s in sends if s.incident not in found]
    if not todo:
        return gone
    started = clock.monotonic()
    pool = ThreadPoolExecutor(max_workers=min(16, len(todo)), thread_name_prefix="deliver")
    futures = {
        pool.submit(contextvars.copy_context().run, _send_one, rt, s, inc, now, deadline): s for s, inc in todo
    }
    done, _ = wait(futures, timeout=deadline + 0.25, return_when=FIRST_EXCEPTION)
    pool.shutdown(wait=False, cancel_futures=True)
    out = list(gone)
    for fut, send in futures.items():
        if fut in done and fut.exception() is None:
            out.append((send, fut.result()))
        else:
            out.append((send, Delivery(ok=False, retryable=True, detail="missed the deadline")))
    logger.debug(
        "delivered %d of %d in %.0f ms",
        sum(1 for _, d in out if d.ok), len(out), (clock.monotonic() - started) * 1000,
    )
    return out


def record(rt: Runtime, outcomes: list[tuple[Send, Delivery]], found: dict[str, Incident], now: float) -> None:
    """Write outcomes back (one round trip) and raise the alarm for a P0 nobody could be told of."""
    if not outcomes:
        return
    results: list[dict[str, Any]] = [
        {
            "id": s.id,
            "ok": d.ok,
            "retryable": d.retryable,
            "permanent": d.permanent,
            "detail": d.detail,
            "ref": d.ref or None,
            "retry_after": d.retry_after,
        }
        for s, d in outcomes
    ]
    engine.complete(rt.store, rt.config, results, now)
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


def send_all(rt: Runtime, sends: list[Send], found: dict[str, Incident], now: float, deadline: float) -> list[tuple[Send, Delivery]]:
    outcomes = deliver(rt, sends, found, now, deadline)
    record(rt, outcomes, found, now)
    return outcomes


def follow_up(rt: Runtime, decision: Decision, now: float, deadline: float | None = None) -> Decision:
    """Deliver what an acknowledge/resolve decision claimed (e.g. the Slack update)."""
    events.changed(decision, now)
    if decision.sends and decision.incident is not None:
        limit = rt.config.settings.webhook_deadline if deadline is None else deadline
        send_all(rt, decision.sends, {decision.incident.id: decision.incident}, now, limit)
    return decision


def handle(
    rt: Runtime,
    signals: list[Signal],
    now: float,
    deadline: float | None = None,
    deploy: dict[str, Any] | None = None,
    counters: list[tuple[str, str, int]] | None = None,
) -> list[Decision]:
    """The one path every signal takes."""
    decisions = engine.apply_many(rt.store, rt.config, signals, now, deploy=deploy, counters=counters)
    sends = [s for d in decisions for s in d.sends]
    found = {d.incident.id: d.incident for d in decisions if d.incident is not None}
    for d in decisions:
        events.decided(d, now)
    if sends:
        send_all(rt, sends, found, now, rt.config.settings.webhook_deadline if deadline is None else deadline)
    return decisions


def run_escalations(rt: Runtime, now: float, deadline: float = CRON_DEADLINE) -> dict[str, Any]:
    """The escalation cron: claim due steps, retries and reminders, then deliver them."""
    return escalate(rt, engine.sweep(rt.store, rt.config, now), now, deadline)


def escalate(rt: Runtime, sw: engine.Sweep, now: float, deadline: float = CRON_DEADLINE) -> dict[str, Any]:
    """Deliver what a sweep claimed (run_escalations, or the minute cron's combined sweep)."""
    outcomes = send_all(rt, sw.sends, sw.incidents, now, deadline) if sw.sends else []
    released = handle(rt, sw.releases, now, deadline=deadline) if sw.releases else []
    return {
        "released": [str(d.reason) for d in released],
        "escalated": sw.escalated,
        "sent": sum(1 for _, d in outcomes if d.ok),
        "failed": sum(1 for _, d in outcomes if not d.ok),
        "outbox": sw.backlog,
    }
