"""`GET /api/cron/rules`: scrape, evaluate every metric rule, hand transitions to the engine.
The log rules (lib/logs) are evaluated here too, only in minutes their drains counted something."""

from __future__ import annotations

import logging
import os

from lib import clock, runtime
from lib.incidents import dispatch
from lib.incidents.engine import Pending
from lib.logs import intake as logs
from lib.routes import require_cron
from lib.rules import state
from lib.store import StoreUnavailable
from lib.web import Request, Response, error, json_response

logger = logging.getLogger("vigil.rules")


def handle(req: Request) -> Response:
    rt = runtime.get()
    require_cron(req, rt.env)
    now = clock.now()
    try:
        # Scrape credentials are read from the environment by variable name, here at the edge.
        # logs=True even with no log rules: one removed from the config still has its incident resolved.
        run = state.run(rt.store, rt.config.rules, now, os.environ, logs=True)
        log_signals = logs.signals(rt.store, rt.config.logs, now, rt.config.sources.vercel.team) if run.logs_active else []
        signals = run.signals + log_signals
        settle = [Pending(state.PENDING, tuple(run.pending))]
        decisions = dispatch.handle(rt, signals, now, settle=settle) if signals or run.pending else []
    except StoreUnavailable as exc:
        return error(503, f"store unavailable: {exc}")
    if not run.claimed:
        logger.warning("rules: not evaluated: minute %s (or a later one) was already evaluated: a duplicate "
                       "cron call, or this clock is behind the store's last run", clock.iso(now // 60 * 60))
    return json_response(
        {
            "job": "rules",
            "now": clock.iso(now),
            **run.summary(),
            "logs": [f"{s.key} {s.status} {s.severity}" for s in log_signals] if run.logs_active else None,
            "decisions": [
                {"reason": d.reason.value, "incident": d.incident.ref if d.incident else None} for d in decisions
            ],
        }
    )
