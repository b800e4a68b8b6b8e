"""HTTP handlers: `handle(request) -> Response` functions the thin api/ files wrap with lib.web.wsgi.

Shared guards live here: bearer tokens (cron, alerts, metrics, report) compared in
constant time; the store answering 503 when it is down, so vendors retry; and
`cron_job`, which makes a failing cron run visible to /api/v1/health.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from lib import clock, runtime, watchdog
from lib.signing import bearer_ok, equal
from lib.web import HTTPError, Request, Response

logger = logging.getLogger("vigil.cron")


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


def _record_failure(job: str, error: str) -> None:
    """Best effort: the store may be why the run failed; health then says the store is down."""
    logger.error("cron %s failed: %s", job, error)
    try:
        rt = runtime.get()
        rt.store.call(*watchdog.failure_command(rt.store, job, clock.now(), error))
    except Exception as exc:  # never hide the run's own error behind this one
        logger.warning("cron %s: could not record the failure (%s)", job, type(exc).__name__)


def cron_job(job: str) -> Callable[[Callable[[Request], Response]], Callable[[Request], Response]]:
    """Wrap a cron handler: a run that raises or answers 5xx is recorded for health
    (degraded, with the reason, until a later run succeeds). 401s are not failures."""

    def wrap(handle: Callable[[Request], Response]) -> Callable[[Request], Response]:
        @functools.wraps(handle)
        def run(req: Request) -> Response:
            try:
                resp = handle(req)
            except HTTPError as exc:
                if exc.status >= 500:
                    _record_failure(job, f"answered {exc.status}: {exc.message}")
                raise
            except Exception as exc:
                _record_failure(job, f"{type(exc).__name__}, request {req.request_id}")
                raise
            if resp.status >= 500:
                _record_failure(job, f"answered {resp.status}")
            return resp

        return run

    return wrap
