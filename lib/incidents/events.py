"""One readable log line per thing that happened to an incident (logger `vigil.events`).

    #1001 OPENED [P0] demo-api is down: status 503 (expected 200)
    #1001 paged: slack #alerts, sms oncall, email oncall, email eng_lead (console) ack: http://...
    #1001 ACKNOWLEDGED by oncall (link) after 3m
    #1002 ESCALATED: sms cto, call cto, email cto: unacknowledged for 15m
    #1001 RESOLVED [P0] demo-api is down after 4m

The local server shows these and little else (`--verbose` adds every request and
the exact text of each message); on Vercel they are JSON lines like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from lib.durations import format_duration
from lib.models import Decision, Delivery, Incident, Reason, Send
from lib.text import plain

logger = logging.getLogger("vigil.events")

_DONE = {"trigger": "paged", "escalate": "ESCALATED", "resolve": "told it resolved",
         "ack": "told it acknowledged", "reminder": "reminded of the postmortem", "test": "sent the test"}


def _summary(incident: Incident) -> str:
    text = " ".join(plain(incident.summary).split())
    return f": {text[:117]}..." if len(text) > 120 else (f": {text}" if text else "")


def decided(d: Decision, now: float) -> None:
    """What incidents.apply decided for one signal; routine outcomes (a dedup) only at DEBUG."""
    inc = d.incident
    if inc is None:
        logger.debug("signal -> %s %s", d.reason.value, d.detail)
        return
    if d.reason in (Reason.OPENED, Reason.UPGRADED):
        logger.info("%s %s [%s] %s%s", inc.ref, d.reason.value, inc.severity, inc.title, _summary(inc))
    elif d.reason == Reason.RESOLVED:
        logger.info("%s RESOLVED [%s] %s after %s", inc.ref, inc.severity, inc.title,
                    format_duration(max(0.0, now - inc.opened_at)))
    elif d.reason == Reason.SILENCED:
        logger.info("%s SILENCED [%s] %s%s", inc.ref, inc.severity, inc.title, f" ({d.detail})" if d.detail else "")
    else:
        logger.debug("%s %s %s", inc.ref, d.reason.value, inc.key)


def changed(d: Decision, now: float) -> None:
    """A person acknowledged or resolved an incident (ack link, Slack button)."""
    inc = d.incident
    if inc is not None and d.reason == Reason.ACKNOWLEDGED:
        logger.info("%s ACKNOWLEDGED by %s (%s) after %s", inc.ref, inc.acked_by or "someone",
                    inc.acked_via or "link", format_duration(max(0.0, (inc.acked_at or now) - inc.opened_at)))
    elif inc is not None and d.reason == Reason.RESOLVED:
        by = f" by {inc.resolved_by}" if inc.resolved_by else ""
        fp = f" as a false positive ({inc.false_positive})" if inc.false_positive else ""
        logger.info("%s RESOLVED%s%s [%s] %s after %s", inc.ref, by, fp, inc.severity, inc.title,
                    format_duration(max(0.0, (inc.resolved_at or now) - inc.opened_at)))
    else:
        decided(d, now)


def delivered(outcomes: Iterable[tuple[Send, Delivery]], found: Mapping[str, Incident]) -> None:
    """One line per incident and kind of message: who was told, by what; failures say so.
    A message printed instead of sent (no credentials) is marked `(console)`, with its ack link."""
    groups: dict[tuple[str, str], list[tuple[Send, Delivery]]] = {}
    for send, delivery in outcomes:
        groups.setdefault((send.incident, send.kind), []).append((send, delivery))
    for (inc_id, kind), items in groups.items():
        inc = found.get(inc_id)
        told = [f"{s.channel} {s.to or s.address}" for s, d in items if d.ok]
        failed = [f"{s.channel} {s.to or s.address} ({d.detail})" for s, d in items if not d.ok]
        head = f"{inc.ref if inc else '#' + inc_id} {_DONE.get(kind, kind)}"
        if kind == "escalate" and inc is not None and items[0][0].step is not None:
            head += f", unacknowledged for {format_duration(_after(inc, items[0][0].step))}: paged"
        line = f"{head} {', '.join(told) or 'nobody'}"
        if told and all(d.ref.get("channel") == "console" for _, d in items if d.ok):
            line += " (console)"
        if failed:
            line += f"; not delivered: {', '.join(failed)}"
        link = next((d.ref["ack"] for _, d in items if d.ok and d.ref.get("ack")), None)
        if link and kind in ("trigger", "escalate", "test"):
            line += f" ack: {link}"
        (logger.warning if failed else logger.info)("%s", line)


def _after(inc: Incident, step: int) -> float:
    try:
        return float(inc.escalation[step]["after"])
    except (IndexError, KeyError, TypeError, ValueError):
        return 0.0
