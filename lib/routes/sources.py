"""The webhook routes: Sentry, Vercel and the alerts API (plain JSON and Alertmanager v4).

Each route imports its own source's parser inside its handler: every route is its own
function on Vercel, and a cold start of one compiles no other source's parser.
"""

from __future__ import annotations

import logging

from lib import clock, metrics, runtime
from lib.incidents import dispatch
from lib.models import Severity, Signal
from lib.routes.webhooks import intake
from lib.web import HTTPError, Request, Response, error
from lib.webhooks import Outcome

logger = logging.getLogger("vigil.webhooks")


def _secret(value: object) -> str | None:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else None


def handle_sentry(req: Request) -> Response:
    from lib.webhooks import sentry  # local: see the module docstring

    return intake(
        req,
        "sentry",
        lambda rt: sentry.verify(req.headers, req.body, _secret(rt.env.sentry_client_secret), now=clock.now()),
        lambda rt: sentry.parse(req.headers, req.body, rt.config.sources.sentry),
    )


def handle_vercel(req: Request) -> Response:
    from lib.webhooks import vercel  # local: see the module docstring

    parsed: dict[str, object] = {}

    def parse(rt):  # type: ignore[no-untyped-def]
        parsed["result"] = vercel.parse(req.headers, req.body, rt.config.sources.vercel, now=clock.now())
        return parsed["result"]

    def deploy(rt):  # type: ignore[no-untyped-def]
        result = parsed.get("result")
        live = vercel.live_deployment(result) if isinstance(result, list) else None
        return live.as_dict() if live else None

    return intake(
        req,
        "vercel",
        lambda rt: vercel.verify(req.headers, req.body, _secret(rt.env.vercel_webhook_secret)),
        parse,
        deploy,
    )


ALERTS_REFUSED = "missing or wrong bearer token: send Authorization: Bearer $ALERTS_TOKEN"
ALERTS_MAX_BODY = 4 * 1024 * 1024  # ~4,000 alerts in one group; Vercel refuses over 4.5 MB itself


def handle_alerts(req: Request) -> Response:
    from lib.webhooks import alerts  # local: see the module docstring

    unmapped: dict[str, int] = {}

    def parse(rt: runtime.Runtime) -> Outcome:
        result, found = alerts.parse_counted(req.headers, req.body, rt.config.sources.alertmanager)
        unmapped.update(found)
        for value, n in found.items():
            logger.warning("alertmanager severity %s is not in sources.alertmanager.severities: %d alert(s) get %s",
                           repr(value) if value else "label missing", n, rt.config.sources.alertmanager.default)
        return result

    def counted() -> list[tuple[str, str, int]]:
        return [("alert_severity_unmapped", metrics.field_of("alert_severity_unmapped", {"value": v}), n)
                for v, n in unmapped.items()]

    return intake(
        req,
        "alerts",
        lambda rt: alerts.verify(req.headers, req.body, _secret(rt.env.alerts_token)),
        parse,
        refused=ALERTS_REFUSED,
        counted=counted,
    )


def alerts_too_large(req: Request, size: int) -> Response:
    """A notification over ALERTS_MAX_BODY is refused (413), never silently: it is counted
    (`vigil_webhooks_total{source="alerts",outcome="oversized"}`) and raises its own P1."""
    from lib.webhooks import alerts  # local: see the module docstring

    rt = runtime.get()
    if not alerts.verify(req.headers, b"", _secret(rt.env.alerts_token)):
        raise HTTPError(401, ALERTS_REFUSED)
    limit = format_bytes(ALERTS_MAX_BODY)
    logger.error("alerts webhook refused: %d bytes, over the %s limit", size, limit)
    signal = Signal(
        key="alerts:oversized", severity=Severity.P1, source="alerts",
        title=f"Alert notifications refused: over {limit}",
        summary=(f"A notification of {format_bytes(size)} was refused with 413: its alerts were not seen. "
                 "Set max_alerts in Alertmanager's webhook_config (e.g. 2000) or group the alerts finer."),
    )
    dispatch.handle(rt, [signal], clock.now(), counters=[
        ("webhooks", metrics.field_of("webhooks", {"source": "alerts", "outcome": "oversized"}), 1)])
    return error(413, f"body of {size} bytes is over the {limit} limit of this route")


def format_bytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n} bytes"
