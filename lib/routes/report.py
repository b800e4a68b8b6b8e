"""`GET /api/report?days=30`: MTTA and MTTR by severity, incidents by source and
severity, escalations, false-positive rates, noisiest keys, uptime per check.

From Supabase when it is configured, else from what Redis still holds (the report
says which). Bearer REPORT_TOKEN; a browser may pass it as `?token=` instead.
HTML for browsers (or `?format=html`), JSON otherwise."""

from __future__ import annotations

from lib import clock, runtime
from lib.archive import rollups, sink
from lib.archive.report import build_report, render_html
from lib.incidents import engine
from lib.routes import require_bearer_or_query
from lib.web import HTTPError, Request, Response, html_response, json_response

MAX_DAYS = 90


def handle(req: Request) -> Response:
    rt = runtime.get()
    require_bearer_or_query(req, rt.env.report_token, "REPORT_TOKEN")
    try:
        days = float(req.query.get("days", "30"))
    except ValueError:
        raise HTTPError(400, "days must be a number") from None
    if not 0 < days <= MAX_DAYS:
        raise HTTPError(400, f"days must be between 0 and {MAX_DAYS}")
    now = clock.now()
    since = now - days * 86400
    if sink.enabled(rt.env):
        report = build_report(now, days, rt.env)
    else:
        held = [i.as_dict() for i in engine.recent_incidents(rt.store, since)]
        rolled = [e["data"] for e in rollups.events(rt.store, rt.config, now, hours=min(int(days * 24), 35 * 24))]
        report = build_report(now, days, held, rollups=rolled)
    wants_html = req.query.get("format") == "html" or (
        req.query.get("format") != "json" and "text/html" in (req.header("accept") or ""))
    return html_response(render_html(report)) if wants_html else json_response(report)
