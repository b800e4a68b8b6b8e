"""Vigil watches its own cron ticks.

Each cron run records when it ran (`tick_command`, added to the run's own
pipeline or script so it costs no extra round trip); health reads them back in
its single pipeline (`read_command` + `last_runs`) and says "degraded" when
the newest tick is older than `settings.watchdog_gap` (180 s by default).
"""

from __future__ import annotations

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


def read_command(store: Store, jobs: tuple[str, ...] = JOBS) -> list[str | int | float]:
    """One MGET of every job's last tick, for a pipeline."""
    return ["MGET", *(key(store, j) for j in jobs)]


def last_runs(values: list[Any] | None, now: float, jobs: tuple[str, ...] = JOBS) -> dict[str, Any]:
    """{job: {"last_run": iso, "age_s": float} or None when it never ran} from an MGET reply."""
    out: dict[str, Any] = {}
    values = list(values or [])
    for i, job in enumerate(jobs):
        raw = values[i] if i < len(values) else None
        try:
            ts = float(raw) if raw is not None else None
        except (TypeError, ValueError):
            ts = None
        out[job] = None if ts is None else {"last_run": clock.iso(ts), "age_s": round(max(0.0, now - ts), 3)}
    return out


def stale(runs: dict[str, Any], gap: float) -> list[str]:
    """Reasons to call Vigil degraded: a job's last tick is older than `gap` seconds
    (plus the part of its period beyond a minute: archive runs every 5 minutes).

    A job that never ran does not degrade, so a fresh local run is healthy.
    """
    reasons = []
    for job, run in runs.items():
        limit = gap + PERIOD_S.get(job, 60) - 60
        if run is not None and run["age_s"] > limit:
            reasons.append(f"cron {job} last ran {run['age_s']:.0f}s ago (more than {limit:.0f}s)")
    return reasons
