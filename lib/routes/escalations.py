"""`GET /api/cron/escalations`: due escalation steps, delivery retries, postmortem reminders."""

from __future__ import annotations

from lib import clock, runtime
from lib.incidents import dispatch
from lib.routes import require_cron
from lib.web import Request, Response, json_response


def handle(req: Request) -> Response:
    rt = runtime.get()
    require_cron(req, rt.env)
    now = clock.now()
    return json_response({"job": "escalations", "now": clock.iso(now), **dispatch.run_escalations(rt, now)})
