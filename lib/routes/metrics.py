"""`GET /api/metrics`: Vigil's own metrics in Prometheus exposition format.

Open when METRICS_TOKEN is unset; with it set, `Authorization: Bearer <token>` or 401.
"""

from __future__ import annotations

from lib import metrics, runtime
from lib.routes import require_bearer
from lib.store import StoreUnavailable
from lib.web import Request, Response, error


def handle(req: Request) -> Response:
    rt = runtime.get()
    if rt.env.metrics_token is not None:
        require_bearer(req, rt.env.metrics_token, "METRICS_TOKEN")
    try:
        body, content_type = metrics.render(rt.store, req.header("accept") or "")
    except StoreUnavailable as exc:
        return error(503, f"store unavailable: {exc}")
    return Response(200, body, {"Content-Type": content_type, "Cache-Control": "no-store"})
