"""Vigil watches its own cron ticks.

Each cron run records when it ran (`tick_command`, added to the run's own
pipeline or script so it costs no extra round trip); health reads them back in
its single pipeline (`read_command` + `last_runs`) and says "degraded" when
the newest tick is older than `settings.watchdog_gap` (180 s by default).

A run that fails (an exception, a 5xx) records that too (`failure_command`,
written only on the failure path): health is degraded, with the reason, until
a later run of that job succeeds. A cron that ticks and then crashes is not
healthy.
"""

from __future__ import annotations

import json
from typing import Any

from lib import clock
from lib.store import Store

JOBS = ("checks", "escalations", "rules", "archive")
TICK_TTL = 7 * 86400  # everything but an open incident has a TTL
# Seconds between runs, as scheduled in vercel.json (the others run every minute).
PERIOD_S = {"archive": 300}


def key(store: Store, job: str) -> str:
    """`<prefix>cron:last:<job>`: the unix seconds of the job's last run."""
    return store.key("cron", "last", job)


def tick_command(store: Store, job: str, now: float) -> list[str | int | float]:
    """The SET that records a run of `job` at `now`; callers add it to their pipeline."""
    return ["SET", key(store, job), f"{now:.3f}", "EX", TICK_TTL]


def tick(store: Store, job: str, now: float) -> None:
    """Record a run on its own (one round trip); prefer folding `tick_command` into a pipeline."""
    store.call(*tick_command(store, job, now))


def failure_key(store: Store, job: str) -> str:
    return store.key("cron", "fail", job)


def failure_command(store: Store, job: str, now: float, error: str) -> list[str | int | float]:
    """The SET that records a failed run of `job` at `now` (`error` holds no secret: a type, a status)."""
    return ["SET", failure_key(store, job), json.dumps({"at": round(now, 3), "error": error[:200]}),
            "EX", TICK_TTL]


def read_command(store: Store, jobs: tuple[str, ...] = JOBS) -> list[str | int | float]:
    """One MGET of every job's last tick, then of its last failure, for a pipeline."""
    return ["MGET", *(key(store, j) for j in jobs), *(failure_key(store, j) for j in jobs)]


def latest(store: Store) -> float | None:
    """The newest cron run the store has recorded (one MGET), or None on a fresh store.
    The local server's fake clock resumes there: a clock behind it evaluates nothing."""
    values = store.call(*read_command(store))
    seen = [t for t in (_number(v) for v in list(values or [])[: len(JOBS)]) if t is not None]
    return max(seen) if seen else None


def _number(raw: Any) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def _failure(raw: Any) -> dict[str, Any] | None:
    try:
        data = json.loads(raw) if raw else None
        return {"at": float(data["at"]), "error": str(data["error"])} if isinstance(data, dict) else None
    except (TypeError, ValueError, KeyError):
        return None


def last_runs(values: list[Any] | None, now: float, jobs: tuple[str, ...] = JOBS) -> dict[str, Any]:
    """{job: {"last_run": iso, "age_s": float} or None when it never ran} from an MGET reply;
    a failure newer than the last run adds `"failed": {"at": iso, "error": ...}`."""
    out: dict[str, Any] = {}
    values = list(values or [])
    for i, job in enumerate(jobs):
        ts = _number(values[i] if i < len(values) else None)
        fail = _failure(values[len(jobs) + i] if len(jobs) + i < len(values) else None)
        run = None if ts is None else {"last_run": clock.iso(ts), "age_s": round(max(0.0, now - ts), 3)}
        if fail is not None and (ts is None or fail["at"] >= ts):
            run = run or {"last_run": None, "age_s": None}
            run["failed"] = {"at": clock.iso(fail["at"]), "error": fail["error"]}
        out[job] = run
    return out


def stale(runs: dict[str, Any], gap: float) -> list[str]:
    """Reasons to call Vigil degraded: a job's last tick is older than `gap` seconds
    (plus the part of its period beyond a minute: archive runs every 5 minutes).

    A job that never ran does not degrade, so a fresh local run is healthy.
    """
    reasons = []
    for job, run in runs.items():
        limit = gap + PERIOD_S.get(job, 60) - 60
        if run is not None and run.get("failed"):
            failed = run["failed"]
            reasons.append(f"cron {job} failed at {failed['at']} ({failed['error']}) and has not succeeded since")
        elif run is not None and run["age_s"] is not None and run["age_s"] > limit:
            reasons.append(f"cron {job} last ran {run['age_s']:.0f}s ago (more than {limit:.0f}s)")
    return reasons
