"""`GET /api/cron/archive` (every 5 minutes): hourly check rollups into the outbox,
then the outbox drained to Supabase; a backlog older than an hour or larger than
its bound is a P2 (resolved once it drains)."""

from __future__ import annotations

from typing import Any

from lib import clock, runtime, watchdog
from lib.archive import rollups, sink
from lib.incidents import dispatch
from lib.models import Severity, Signal
from lib.routes import require_cron
from lib.web import Request, Response, json_response

BACKLOG_KEY = "vigil:archive-backlog"


def run(rt: runtime.Runtime, now: float) -> dict[str, Any]:
    settings = rt.config.settings
    produced = rollups.events(rt.store, rt.config, now) if sink.enabled(rt.env) else []
    if produced:
        sink.append(rt.store, produced)
    # One attempt per run: the next run (5 minutes later) is the retry; a cron never sleeps.
    result = sink.drain(rt.store, rt.env, now, attempts=1, backoff=(),
                           alert_size=settings.archive_alert_size, alert_age=settings.archive_alert_age)
    signal = None
    if result.alert:
        signal = Signal(key=BACKLOG_KEY, severity=Severity.P2, source="vigil", title="Archive backlog",
                        summary=f"{result.alert}; last error: {result.error or 'none'}")
    elif result.status == "connected":
        signal = Signal(key=BACKLOG_KEY, severity=Severity.P2, source="vigil", status="resolved",
                        title="Archive backlog")
    decisions = dispatch.handle(rt, [signal], now) if signal else []
    rt.store.pipeline([watchdog.tick_command(rt.store, "archive", now)])
    return {
        "job": "archive", "status": result.status, "sent": result.sent, "remaining": result.remaining,
        "rollups": len(produced), "error": result.error, "alert": result.alert,
        "decisions": [d.reason.value for d in decisions],
    }


def handle(req: Request) -> Response:
    rt = runtime.get()
    require_cron(req, rt.env)
    return json_response(run(rt, clock.now()))
