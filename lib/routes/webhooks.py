"""Webhook intake shared by every source: verify -> parse -> one Redis round trip ->
the answer, then deliveries after the response. Answers: 401 bad signature or token,
400 malformed (with the reason), 202 ignored, 200 with what was decided."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lib import clock, metrics, runtime
from lib.incidents import dispatch
from lib.models import Decision, Signal
from lib.web import HTTPError, Request, Response, json_response, later
from lib.webhooks import BadPayload, Ignored

logger = logging.getLogger("vigil.webhooks")


def summary(decisions: list[Decision]) -> list[dict[str, Any]]:
    return [
        {
            "reason": d.reason.value,
            "incident": d.incident.ref if d.incident else None,
            "severity": d.incident.severity.value if d.incident else None,
            "notified": [f"{s.channel}:{s.to}" for s in d.sends],
            **({"detail": d.detail} if d.detail else {}),
        }
        for d in decisions
    ]


def _count(source: str, outcome: str) -> list[tuple[str, str, int]]:
    return [("webhooks", metrics.field_of("webhooks", {"source": source, "outcome": outcome}), 1)]


def _count_now(rt: runtime.Runtime, source: str, outcome: str) -> None:
    """Rejected deliveries are counted on their own, after the answer (a stranger's request
    waits for no store); a failure to count changes nothing."""

    def count() -> None:
        try:
            metrics.incr(rt.store, "webhooks", {"source": source, "outcome": outcome})
        except Exception:
            logger.debug("could not count a rejected %s webhook", source)

    later(count)


def intake(
    req: Request,
    source: str,
    verified: Callable[[runtime.Runtime], bool],
    parse: Callable[[runtime.Runtime], list[Signal] | Ignored],
    deploy: Callable[[runtime.Runtime], dict[str, Any] | None] | None = None,
    refused: str = "bad or missing signature",
    counted: Callable[[], list[tuple[str, str, int]]] | None = None,
) -> Response:
    rt = runtime.get()
    if not verified(rt):
        logger.warning("%s webhook rejected: %s", source, refused)
        _count_now(rt, source, "unauthorized")
        raise HTTPError(401, refused)
    try:
        result = parse(rt)
    except BadPayload as exc:
        logger.warning("%s webhook malformed: %s", source, exc.reason)
        _count_now(rt, source, "malformed")
        raise HTTPError(400, exc.reason) from None
    now = clock.now()
    remembered = deploy(rt) if deploy else None
    if remembered is not None and not remembered.get("at"):
        remembered["at"] = now
    extra = counted() if counted else []  # what parsing counted (Alertmanager: unmapped severities)
    if isinstance(result, Ignored):
        dispatch.handle(rt, [], now, deploy=remembered, counters=_count(source, "ignored") + extra)
        return json_response({"ignored": result.reason}, 202)
    decisions = dispatch.handle(rt, result, now, deploy=remembered, counters=_count(source, "accepted") + extra)
    return json_response({"source": source, "decisions": summary(decisions)}, 200)
