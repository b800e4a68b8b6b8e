"""GET /api/status: the status page, as HTML for people and JSON for programs
(`Accept: application/json` or `?format=json`; `?format=html` forces the page).

Public by default: each check's state, uptime and recent runs, nothing else
(failure reasons and incident titles name internals). The full view (reasons,
response times, open incidents and the last 30 days of them) needs
STATUS_TOKEN: `Authorization: Bearer <token>` or `?token=<token>`; a wrong token
is a 401, so a mistyped link says so instead of quietly showing less."""

from __future__ import annotations

from lib import clock, runtime
from lib.checks import status_page
from lib.routes import require_bearer_or_query
from lib.store import StoreUnavailable
from lib.web import HTTPError, Request, Response, html_response, json_response


def wants_json(req: Request) -> bool:
    fmt = (req.query.get("format") or "").lower()
    if fmt in ("json", "html"):
        return fmt == "json"
    accept = (req.header("accept") or "").lower()
    return "application/json" in accept and "text/html" not in accept


def full_view(req: Request, token: object) -> bool:
    """True with the right STATUS_TOKEN, False with none offered; 401 for a wrong one."""
    if not req.query.get("token") and not req.header("authorization"):
        return False
    require_bearer_or_query(req, token, "STATUS_TOKEN")
    return True


def handle(req: Request) -> Response:
    rt = runtime.get()
    full = full_view(req, rt.env.status_token)
    try:
        doc = status_page.read(rt.store, rt.config, clock.now())
    except StoreUnavailable as exc:
        raise HTTPError(503, "store unavailable", detail=str(exc)) from None
    if not full:
        doc = status_page.public(doc)
    if wants_json(req):
        return json_response(doc, headers={"Cache-Control": "no-store"})
    return html_response(status_page.render(doc, token=req.query.get("token") if full else None))
