"""POST /api/webhooks/logs: Vercel log drains (lib/logs). GET/HEAD answer the ownership check.

Answers: 200 with what was counted; 202 `{"ignored": "empty batch"}`; 401 bad or
missing `x-vercel-signature` (or LOG_DRAIN_SECRET unset); 400 a batch with no usable
line; 413 over 4.5 MB (or 16 MB inflated), counted in /api/metrics; 415 not JSON/NDJSON;
503 store down (Vercel retries; the line ids make the retry count once).
Every answer carries `x-vercel-verify: $LOG_DRAIN_VERIFY` when it is set: the header
Vercel looks for when the drain is added (Team Settings > Drains).
"""

from __future__ import annotations

import logging

from lib import clock, metrics, runtime
from lib.logs import drain, intake
from lib.runtime import Runtime
from lib.web import Request, Response, json_response

logger = logging.getLogger("vigil.logs")


def _answer(rt: Runtime, body: dict[str, object], status: int = 200) -> Response:
    resp = json_response(body, status)
    if rt.env.log_drain_verify:
        resp.headers["x-vercel-verify"] = rt.env.log_drain_verify
    return resp


def _count_rejected(rt: Runtime, outcome: str) -> None:
    """A rejected delivery is counted on its own round trip; failing to count changes nothing."""
    try:
        metrics.incr(rt.store, "webhooks", {"source": "logs", "outcome": outcome})
    except Exception:
        logger.debug("could not count a rejected log drain delivery")


def count_oversized() -> None:
    """For the WSGI adapter's own 413 (Content-Length over the limit)."""
    _count_rejected(runtime.get(), "oversized")


def handle(req: Request) -> Response:
    rt = runtime.get()
    if req.method in ("GET", "HEAD"):
        return _answer(rt, {"ok": True, "drain": "vercel logs"})
    secret = rt.env.log_drain_secret.get_secret_value() if rt.env.log_drain_secret else None
    if not drain.verify(req.headers, req.body, secret):
        logger.warning("log drain delivery rejected: bad or missing x-vercel-signature")
        _count_rejected(rt, "unauthorized")
        return _answer(rt, {"error": "bad or missing signature"}, 401)
    try:
        out = intake.accept(rt.store, rt.config.logs, req.headers, req.body, clock.now())
    except drain.BadBatch as exc:
        logger.warning("log drain batch rejected (%d): %s", exc.status, exc.reason)
        _count_rejected(rt, "oversized" if exc.status == 413 else "malformed")
        return _answer(rt, {"error": exc.reason}, exc.status)
    if out.lines == 0:
        return _answer(rt, {"ignored": "empty batch"}, 202)
    if out.malformed:
        logger.info("log drain batch: %d of %d lines malformed, skipped", out.malformed, out.lines)
    return _answer(rt, {"source": "logs", **out.as_json()})
