"""The shape of check history in Redis, and the arithmetic on it.

- Minute slots: a cron run at 12:03:41 belongs to slot 12:03 (`slot_of`).
- Uptime: per check and UTC day, a bitmap of the minutes evaluated
  (`checks:seen:<name>:<yyyymmdd>`) and of those that were up
  (`checks:up:<name>:<yyyymmdd>`), bit = minute of the day. Setting a bit twice
  counts once, so a duplicate run can never count a minute twice, and a skipped
  minute simply has no bit. Uptime over a window = up / seen minutes in it.
  Windows are exact: "24h" is the last 1440 minute slots, "7d" the last 10080.
- Latency: per check and UTC hour, a hash of fixed log-spaced buckets
  (`checks:lat:<name>:<yyyymmddhh>`, bucket index -> count). A percentile is the
  upper bound of the bucket holding that rank: "p95 <= 0.25 s", at most one
  bucket (~12 %) above the true value, never below it.
- Everything expires after `HISTORY_TTL` (35 days): bounded size.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

HISTORY_TTL = 35 * 86400
MINUTES_PER_DAY = 1440
WINDOWS_DAYS = {"24h": 1, "7d": 7, "30d": 30}
BAR_DAYS = 30

# The R20 preferred-number series (steps of ~12 %) per decade, 1 ms to 100 s.
_R20 = (1.0, 1.12, 1.25, 1.4, 1.6, 1.8, 2.0, 2.24, 2.5, 2.8, 3.15, 3.55, 4.0, 4.5, 5.0, 5.6, 6.3, 7.1, 8.0, 9.0)
BUCKETS: tuple[float, ...] = tuple(
    round(m * 10**e / 1000, 6) for e in range(5) for m in _R20
) + (100.0,)  # upper bounds in seconds; the last bucket also holds anything slower


def slot_of(now: float) -> int:
    """The minute slot (unix minutes) a run at `now` belongs to."""
    return int(now // 60)


def _dt(slot: int) -> datetime:
    return datetime.fromtimestamp(slot * 60, tz=UTC)


def day_of(slot: int) -> str:
    return _dt(slot).strftime("%Y%m%d")


def hour_of(slot: int) -> str:
    return _dt(slot).strftime("%Y%m%d%H")


def minute_of_day(slot: int) -> int:
    return slot % MINUTES_PER_DAY


def days_back(slot: int, n: int) -> list[str]:
    """yyyymmdd of the slot's day and the n-1 days before it, newest first."""
    today = _dt(slot)
    return [(today - timedelta(days=i)).strftime("%Y%m%d") for i in range(n)]


def hours_back(slot: int, n: int) -> list[str]:
    now = _dt(slot)
    return [(now - timedelta(hours=i)).strftime("%Y%m%d%H") for i in range(n)]


def bucket_of(latency: float) -> int:
    """The index of the first bucket whose upper bound is >= latency."""
    return min(bisect.bisect_left(BUCKETS, latency), len(BUCKETS) - 1)


def percentile(hist: Mapping[str | int, int], q: float) -> float | None:
    """Nearest-rank percentile from a bucket histogram: the bucket bound that holds rank ceil(q*n)."""
    counts = sorted((int(b), int(c)) for b, c in hist.items() if int(c) > 0)
    total = sum(c for _, c in counts)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    seen = 0
    for bucket, count in counts:
        seen += count
        if seen >= rank:
            return BUCKETS[min(bucket, len(BUCKETS) - 1)]
    return BUCKETS[-1]


def window_minutes(full: Sequence[int], tails: Mapping[str, int], days: int) -> int:
    """Minutes in the last `days`*1440 slots: today so far, whole days, the tail of the oldest."""
    return sum(full[:days]) + int(tails.get(str(days), 0))


def uptime_pct(up: int, seen: int) -> float | None:
    return None if seen == 0 else round(100.0 * up / seen, 4)
