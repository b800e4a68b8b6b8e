"""GET /api/status: the status page, as HTML for people and JSON for programs
(`Accept: application/json` or `?format=json`; `?format=html` forces the page).
When STATUS_TOKEN is set, it needs `Authorization: Bearer <token>` or `?token=<token>`."""

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


def handle(req: Request) -> Response:
    rt = runtime.get()
    if rt.env.status_token is not None:  # optional: the page names checks and incidents
        require_bearer_or_query(req, rt.env.status_token, "STATUS_TOKEN")
    try:
        doc = status_page.read(rt.store, rt.config, clock.now())
    except StoreUnavailable as exc:
        raise HTTPError(503, "store unavailable", detail=str(exc)) from None
    if wants_json(req):
        return json_response(doc, headers={"Cache-Control": "no-store"})
    return html_response(status_page.render(doc))
