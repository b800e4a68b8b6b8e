"""HTTP handlers: `handle(request) -> Response` functions the thin api/ files wrap with lib.web.wsgi.

Shared guards live here: bearer tokens (cron, alerts, metrics, report) compared in
constant time; the store answering 503 when it is down, so vendors retry.
"""

from __future__ import annotations

from lib.signing import bearer_ok, equal
from lib.web import HTTPError, Request


def require_bearer(req: Request, secret: object, name: str) -> None:
    """401 unless `Authorization: Bearer <secret>`; also 401 when the secret is unset."""
    value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
    if not bearer_ok(req.header("authorization"), value if isinstance(value, str) else None):
        raise HTTPError(401, f"missing or wrong bearer token ({name})")


def require_bearer_or_query(req: Request, secret: object, name: str) -> None:
    """For pages a person opens in a browser: the bearer header, or `?token=` instead."""
    value = secret.get_secret_value() if hasattr(secret, "get_secret_value") else None
    token = req.query.get("token")
    if token and isinstance(value, str) and equal(token, value):
        return
    require_bearer(req, secret, name)


def require_cron(req: Request, env: object) -> None:
    """Vercel cron sends `Authorization: Bearer $CRON_SECRET`."""
    require_bearer(req, getattr(env, "cron_secret", None), "CRON_SECRET")
