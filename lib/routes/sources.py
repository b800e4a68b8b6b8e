"""The webhook routes: Sentry, Vercel and the alerts API (plain JSON and Alertmanager v4)."""

from __future__ import annotations

from lib import clock
from lib.routes.webhooks import intake
from lib.web import Request, Response
from lib.webhooks import alerts, sentry, vercel


def _secret(value: object) -> str | None:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else None


def handle_sentry(req: Request) -> Response:
    return intake(
        req,
        "sentry",
        lambda rt: sentry.verify(req.headers, req.body, _secret(rt.env.sentry_client_secret), now=clock.now()),
        lambda rt: sentry.parse(req.headers, req.body, rt.config.sources.sentry),
    )


def handle_vercel(req: Request) -> Response:
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


def handle_alerts(req: Request) -> Response:
    return intake(
        req,
        "alerts",
        lambda rt: alerts.verify(req.headers, req.body, _secret(rt.env.alerts_token)),
        lambda rt: alerts.parse(req.headers, req.body, rt.config.sources.alertmanager),
        refused="missing or wrong bearer token: send Authorization: Bearer $ALERTS_TOKEN",
    )
