"""What /api/status shows: every check's state, last result, uptime, its last
RUNS runs, latency percentiles and hourly response times, and the incidents of
the last 30 days. `read` builds the JSON document (one round trip for the
checks, plus the incident engine's reads); `public` strips it to states and
uptime; `render` turns it into a small self-contained HTML page (no scripts,
no external assets; the response-time chart is SVG drawn here).

States: `up`; `pending` (failing, not yet for `down_after`); `down` (the
incident fired and has not recovered); `unknown` (never evaluated, or no result
for `STALE_AFTER`). Uptime windows are exact minute windows (see
lib.checks.history), each with the minutes it observed (`observed`); percentiles
cover the last 24 hours.
"""

from __future__ import annotations

import json
from typing import Any

from lib.checks.history import (
    BAR_DAYS,
    WINDOWS_DAYS,
    day_of,
    days_back,
    hours_back,
    minute_of_day,
    percentile,
    slot_of,
    uptime_pct,
    window_minutes,
)
from lib.checks.status_html import render
from lib.clock import iso
from lib.config import Config
from lib.incidents import engine
from lib.models import Incident
from lib.store import Script, Store

STATUS = Script.load(__file__, "checks_status")
STALE_AFTER = 600.0  # seconds without a result before a check's state is unknown
PERCENTILE_HOURS = 24
RUNS = 90  # per-run bars: the last 90 minutes (Gatus and Uptime Kuma show about as many)
HISTORY_DAYS = 30

__all__ = ["public", "read", "render"]


def _state(doc: dict[str, Any], now: float) -> str:
    last = doc.get("last")
    if not isinstance(last, dict):
        return "unknown"
    if now - float(last.get("at", 0)) > STALE_AFTER:
        return "unknown"
    if doc.get("down"):
        return "down"
    return "pending" if doc.get("ff") is not None else "up"


def _since(doc: dict[str, Any]) -> str | None:
    """The first failure of the streak: the instant the page's "failing since" names too
    (down_since; down_at, the open slot, is what state written before it kept)."""
    slot = doc.get("down_since", doc.get("down_at")) if doc.get("down") else doc.get("ff")
    return iso(int(slot) * 60) if slot is not None else None


def _days(row: dict[str, Any], slot: int) -> list[dict[str, Any]]:
    """One entry per UTC day, oldest first, for the uptime bars."""
    dates = days_back(slot, BAR_DAYS)
    out = []
    for i in reversed(range(BAR_DAYS)):
        up, seen = int(row["up"][i]), int(row["seen"][i])
        d = dates[i]
        out.append({"date": f"{d[:4]}-{d[4:6]}-{d[6:]}", "up": up, "seen": seen, "uptime": uptime_pct(up, seen)})
    return out


def _check(row: dict[str, Any], now: float, slot: int) -> dict[str, Any]:
    doc = json.loads(row["state"]) if row.get("state") else {}
    uptime, observed = {}, {}
    for label, n in WINDOWS_DAYS.items():
        up = window_minutes(row["up"], row.get("up_tail") or {}, n)
        seen = window_minutes(row["seen"], row.get("seen_tail") or {}, n)
        uptime[label] = uptime_pct(up, seen)
        # Over how much observed time each figure is: 100 % of 40 minutes is not 30 days' uptime.
        observed[label] = {"up_minutes": up, "observed_minutes": seen, "window_minutes": n * 1440}
    hours = [h if isinstance(h, dict) else {} for h in row.get("hours") or []]
    hist: dict[str, int] = {}
    for h in hours:
        for bucket, count in h.items():
            hist[bucket] = hist.get(bucket, 0) + int(count)
    first_hour = (slot // 60 - len(hours) + 1) * 3600
    chart = [{"at": iso(first_hour + i * 3600), "p50": percentile(h, 0.50), "p95": percentile(h, 0.95)}
             for i, h in enumerate(reversed(hours))]
    return {
        "name": row["name"],
        "state": _state(doc, now),
        "since": _since(doc),
        "last": _last(doc.get("last")),
        "uptime": uptime,
        "observed": observed,
        "latency": {
            "p50": percentile(hist, 0.50),
            "p95": percentile(hist, 0.95),
            "p99": percentile(hist, 0.99),
            "samples": sum(int(c) for c in hist.values()),
        },
        "days": _days(row, slot),
        "runs": _runs(str(row.get("runs") or ""), slot),
        "response_times": chart,  # per UTC hour, oldest first
    }


def _runs(letters: str, slot: int) -> list[dict[str, Any]]:
    """The last RUNS minutes, oldest first: {at, state: up | down | none}."""
    names = {"u": "up", "d": "down"}
    start = slot - len(letters) + 1
    return [{"at": iso((start + i) * 60), "state": names.get(c, "none")} for i, c in enumerate(letters)]


def _last(last: Any) -> dict[str, Any] | None:
    if not isinstance(last, dict):
        return None
    return {
        "ok": bool(last.get("ok")),
        "status": last.get("status"),
        "latency": last.get("latency"),
        "reason": last.get("reason") or "",
        "at": iso(float(last["at"])) if last.get("at") is not None else None,
    }


def _incident(inc: Incident, now: float) -> dict[str, Any]:
    end = inc.resolved_at if inc.resolved_at else now
    return {
        "id": inc.ref,
        "key": inc.key,
        "severity": inc.severity.value,
        "status": inc.status,
        "title": inc.title,
        "opened_at": iso(inc.opened_at),
        "acknowledged": inc.status == "acknowledged",
        "acked_by": inc.acked_by,
        "acked_at": iso(inc.acked_at) if inc.acked_at else None,
        "resolved_at": iso(inc.resolved_at) if inc.resolved_at else None,
        "duration_s": round(max(0.0, end - inc.opened_at)),
        "postmortem": inc.postmortem,
        "false_positive": inc.false_positive,
    }


def read(store: Store, config: Config, now: float) -> dict[str, Any]:
    """The status document at `now`."""
    slot = slot_of(now)
    names = [c.name for c in config.checks]
    rows: list[dict[str, Any]] = []
    if names:
        request = {
            "names": names,
            "days": days_back(slot, max(WINDOWS_DAYS.values()) + 1),
            "mod": minute_of_day(slot),
            "hours": hours_back(slot, PERCENTILE_HOURS),
            "tails": sorted(WINDOWS_DAYS.values()),
            "runs": [[day_of(s), minute_of_day(s)] for s in range(slot - RUNS + 1, slot + 1)],
        }
        rows = store.run_json(STATUS, [], [store.prefix, now, json.dumps(request, separators=(",", ":"))]) or []
    checks = [_check(row, now, slot) for row in rows]
    recent = {i.id: i for i in engine.recent_incidents(store, now - HISTORY_DAYS * 86400)}
    open_ = sorted((i for i in recent.values() if i.status != "resolved"), key=lambda i: (i.severity.rank, i.opened_at))
    past = sorted((i for i in recent.values() if i.status == "resolved"), key=lambda i: -i.opened_at)
    states = [c["state"] for c in checks]
    if "down" in states:
        overall = "down"
    elif "pending" in states or open_:
        overall = "degraded"
    else:
        overall = "unknown" if states and all(s == "unknown" for s in states) else "up"
    return {
        "service": config.service,
        "generated_at": iso(now),
        "status": overall,
        "checks": checks,
        "incidents": [_incident(i, now) for i in open_],
        "history": [_incident(i, now) for i in past],
        "view": "full",
    }


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see: each check's state, uptime and runs; no failure reasons,
    latencies or incident titles (they name internals: `database was disconnected`)."""
    keep = ("name", "state", "uptime", "observed", "days", "runs")
    return {
        "service": doc["service"], "generated_at": doc["generated_at"], "status": doc["status"],
        "checks": [{k: c[k] for k in keep} for c in doc["checks"]],
        "view": "public",
    }
