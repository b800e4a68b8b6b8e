"""GET /api/cron/checks: Vercel cron, every minute.

1. Claim the minute slot (round trip 1); a duplicate delivery answers
   `skipped: true` and probes nothing.
2. Probe every check concurrently under the run's deadline.
3. Record results, history, state and the cron tick (round trip 2) and get the
   transitions back, with any an earlier run recorded but never saw decided.
4. Hand their Signals to lib.incidents.dispatch.handle (only when there are any),
   which consumes the pending transitions in the same script that decides them.
5. Ping HEARTBEAT_URL, never failing the run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from lib import clock, http, runtime
from lib.checks import state
from lib.checks.history import slot_of
from lib.checks.probe import CheckResult, run_checks, run_deadline
from lib.durations import format_duration
from lib.env import Env
from lib.incidents import dispatch
from lib.routes import require_cron
from lib.runtime import Runtime
from lib.store import StoreUnavailable
from lib.web import HTTPError, Request, Response, json_response

logger = logging.getLogger("vigil.checks")
HEARTBEAT_TIMEOUT = 2.0


def heartbeat(env: Env) -> bool:
    """GET the healthchecks.io-style ping URL; any failure is logged (without the URL) and ignored."""
    if env.heartbeat_url is None:
        return False
    try:
        r = http.client().get(env.heartbeat_url.get_secret_value(), timeout=http.timeout_for(HEARTBEAT_TIMEOUT))
        if r.status_code >= 400:
            logger.warning("heartbeat ping answered %d", r.status_code)
        return r.status_code < 400
    except Exception as exc:  # the heartbeat must never fail the run
        logger.warning("heartbeat ping failed (%s)", type(exc).__name__)
        return False


def _result(r: CheckResult) -> dict[str, Any]:
    out = {"name": r.name, "ok": r.ok, "status": r.status, "latency": r.latency, "reason": r.reason}
    return {**out, "skipped": True} if r.skipped else out


def _decision(d: Any) -> dict[str, Any]:
    inc = d.incident
    return {
        "reason": str(d.reason),
        "key": inc.key if inc else None,
        "incident": inc.ref if inc else None,
        "severity": inc.severity.value if inc else None,
    }


def refusal(now: float, last_run: float | None) -> str:
    """Why a run's minute was refused, in words: a duplicate call, or a clock behind the store."""
    minute = clock.iso(slot_of(now) * 60)
    if last_run is not None and slot_of(last_run) > slot_of(now):
        return (f"minute {minute} was already evaluated and the store has run up to {clock.iso(last_run)}: "
                f"this clock is {format_duration(last_run - now)} behind it; nothing is evaluated until it "
                "catches up (locally: scripts/dev.py --fake-clock resumes there)")
    return f"minute {minute} was already evaluated by another run (a duplicate cron call); nothing probed"


def run(rt: Runtime, now: float, environ: Mapping[str, str], deadline: float | None = None) -> dict[str, Any]:
    """One cron run at `now`; the JSON summary {slot, evaluated, skipped, results, decisions}."""
    summary: dict[str, Any] = {"slot": clock.iso(slot_of(now) * 60), "evaluated": 0, "skipped": False}
    claim = state.claim(rt.store, now)
    if not claim.claimed:
        logger.warning("checks: not evaluated: %s", refusal(now, claim.last_run))
        return {**summary, "skipped": True, "results": [], "decisions": []}
    checks = rt.config.checks
    limit = run_deadline(checks) if deadline is None else deadline
    results = run_checks(checks, environ, limit, first=claim.suspects)
    recorded = state.record(rt.store, rt.config, results, now)
    sigs = state.signals(rt.config, recorded, now, rt.env.public_base_url)
    pending = recorded.pending
    decisions = dispatch.handle(rt, sigs, now, settle=[pending]) if pending.ids else []
    failing = [r.name for r in results if not r.ok]
    if recorded.stale:
        logger.warning("checks: %d not evaluated: a newer minute than %s was already evaluated",
                       recorded.stale, summary["slot"])
    logger.info("checks: %d evaluated, %d failing, %d signals", recorded.evaluated, len(failing), len(sigs))
    heartbeat(rt.env)
    return {
        **summary,
        "evaluated": recorded.evaluated,
        "results": [_result(r) for r in results],
        "decisions": [_decision(d) for d in decisions],
    }


def serve(run: Callable[[Runtime, float, Mapping[str, str]], dict[str, Any]]) -> Callable[[Request], Response]:
    """The cron handler around `run(rt, now, environ)`: bearer, then the run's summary (503: store down)."""

    def handle(req: Request) -> Response:
        rt = runtime.get()
        require_cron(req, rt.env)
        try:
            # The process environment supplies "${VAR}" header values (tokens stay out of the config).
            return json_response(run(rt, clock.now(), os.environ))
        except StoreUnavailable as exc:
            raise HTTPError(503, "store unavailable", detail=str(exc)) from None

    return handle


handle = serve(run)
