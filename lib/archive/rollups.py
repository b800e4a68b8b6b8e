"""Hourly check rollups for the durable record: up minutes and p50/p95/p99 per
check and completed UTC hour, read from the checks' history in one round trip
and appended to the archive outbox as `check_rollup` events (upserted by
(check, hour), so re-sending an hour is harmless)."""

from __future__ import annotations

from typing import Any

from lib.checks.history import hour_of, minute_of_day, percentile, slot_of
from lib.config import Config
from lib.store import Script, Store

ROLLUP = Script.load(__file__, "checks_rollup")


def _hour_start(hour: str) -> float:
    from datetime import UTC, datetime

    return datetime.strptime(hour, "%Y%m%d%H").replace(tzinfo=UTC).timestamp()


def events(store: Store, config: Config, now: float, hours: int = 2) -> list[dict[str, Any]]:
    """`check_rollup` events for the last `hours` completed hours."""
    if not config.checks:
        return []
    this_hour = slot_of(now) - minute_of_day(slot_of(now)) % 60
    spans = []
    for i in range(1, hours + 1):
        first = this_hour - 60 * i
        spans.append({"hour": hour_of(first), "day": hour_of(first)[:8], "first": minute_of_day(first)})
    raw = store.run_json(ROLLUP, [], [store.prefix, _json({"checks": [c.name for c in config.checks], "hours": spans})])
    out = []
    for row in raw if isinstance(raw, list) else []:
        hist = row.get("hist") or {}
        start = _hour_start(row["hour"])
        out.append({
            "id": f"rollup:{row['check']}:{int(start)}",
            "type": "check_rollup",
            "at": now,
            "data": {
                "check": row["check"], "hour": start, "up_minutes": int(row["up"]),
                "total_minutes": int(row["seen"]),
                **{f"p{q}": percentile(hist, q / 100) if isinstance(hist, dict) else None for q in (50, 95, 99)},
            },
        })
    return out


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, separators=(",", ":"))
