"""GET /api/v1/health: is Vigil itself working, and where would its messages go.

One store round trip: a pipeline of PING and the cron ticks (plus the archive's
own reads when lib.archive.sink offers them as commands). Store not answering: 503
with the same shape and status "down", so an uptime monitor pages someone.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from lib import clock, config_snapshot, runtime, watchdog
from lib.config import Settings
from lib.env import Env
from lib.store import Store, StoreError, StoreUnavailable
from lib.web import Request, Response, json_response


def _archive() -> Any:
    """lib.archive.sink when it exists (it is optional and imports lazily)."""
    try:
        return importlib.import_module("lib.archive.sink")
    except ImportError:
        return None


def _database(store: Store, env: Env, now: float, settings: Settings, archive: Any,
              replies: list[Any]) -> dict[str, Any]:
    if not env.supabase_url:
        return {"database": "disabled"}
    if archive is None:
        return {"database": "unknown", "detail": "lib.archive.sink is not installed"}
    limits = {"alert_size": settings.archive_alert_size, "alert_age": settings.archive_alert_age}
    try:
        if replies and hasattr(archive, "status_from"):
            out = archive.status_from(replies, env, now, **limits)
        else:
            out = archive.status(store, env, now, **limits)
    except Exception as exc:  # the archive must never take health down with it
        return {"database": "error", "detail": type(exc).__name__}
    return dict(out) if isinstance(out, dict) else {"database": str(out)}


def snapshot_warning(env: Env) -> str | None:
    """Cold starts validate the config again (slower) when its snapshot is stale, or missing
    in a deployment (lib/config_snapshot.py)."""
    path = Path(env.config_path)
    state = config_snapshot.status(path)
    if state == "fresh" or (state == "missing" and not env.environment):
        return None
    snap = config_snapshot.path_for(path).name
    return (f"{snap} is {state}: cold starts validate {path.name} again (slower); "
            f"run make validate and commit {snap}")


def report(store: Store, env: Env, now: float, settings: Settings | None = None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of a health check at `now`: one store round trip, the archive's
    reads folded in (`lib.archive.sink.status_commands`) when SUPABASE_URL is set."""
    settings = settings or Settings()
    archive = _archive() if env.supabase_url else None
    extra: list[list[Any]] = []
    if archive is not None and hasattr(archive, "status_commands"):
        extra = list(archive.status_commands(store))
    started = clock.monotonic()
    try:
        replies = store.pipeline([["PING"], watchdog.read_command(store), *extra])
        ok = True
    except (StoreUnavailable, StoreError):
        replies, ok = [], False
    latency = round((clock.monotonic() - started) * 1000, 1)
    runs = watchdog.last_runs(replies[1] if ok else None, now)
    body: dict[str, Any] = {
        "status": "healthy",
        "store": {"backend": store.backend, "ok": ok, "latency_ms": latency},
        "database": "disabled",
        "channels": {k: "configured" if v else "not configured" for k, v in env.channels().items()},
        "cron": runs,
        "version": (env.release or "dev")[:7],
        "time": clock.iso(now),
    }
    reasons: list[str] = []
    warnings = [w for w in (env.links_warning(), snapshot_warning(env)) if w]
    if warnings:  # things Vigil cannot fix itself, that do not make it unhealthy
        body["warnings"] = warnings
    if not ok:
        body["status"] = "down"
        body["database"] = "unknown" if env.supabase_url else "disabled"
        body["reasons"] = ["store not answering"]
        return 503, body
    db = _database(store, env, now, settings, archive, replies[2:] if extra else [])
    body["database"] = db.pop("database", "unknown")
    if db:
        body["archive"] = db
    if body["database"] == "error":
        reasons.append("database not answering")
    if db.get("alert"):
        reasons.append(str(db["alert"]))
    reasons += watchdog.stale(runs, settings.watchdog_gap)
    if reasons:
        body["status"] = "degraded"
    body["reasons"] = reasons
    return 200, body


def handle(req: Request) -> Response:
    now = clock.now()
    rt = runtime.get()
    status, body = report(rt.store, rt.env, now, rt.config.settings)
    return json_response(body, status, {"Cache-Control": "no-store"})
