"""The only reader of the wall clock.

Entry points call `now()` once and pass the value down. The local server's
`--fake-clock` freezes time here, so every reading (cron logic, escalation due
times, ack link expiry, signature freshness windows) moves with it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

_lock = threading.Lock()
_fake: float | None = None


def now() -> float:
    """Unix time in seconds, or the fake clock's time when one is set."""
    with _lock:
        if _fake is not None:
            return _fake
    return time.time()


def monotonic() -> float:
    """For measuring durations and deadlines only, never for what time it is."""
    return time.monotonic()


def pause(seconds: float) -> None:
    """Wait real time (for a store to come back), whatever the fake clock says."""
    time.sleep(max(0.0, seconds))


def freeze(at: float) -> None:
    """Stand time still at `at` (local server `--fake-clock`, tests)."""
    global _fake
    with _lock:
        _fake = float(at)


def advance(seconds: float) -> float:
    global _fake
    with _lock:
        if _fake is None:
            raise RuntimeError("the clock is not frozen")
        _fake += float(seconds)
        return _fake


def unfreeze() -> None:
    global _fake
    with _lock:
        _fake = None


def is_frozen() -> bool:
    with _lock:
        return _fake is not None


def iso(ts: float) -> str:
    """ISO 8601 UTC with a Z, second precision."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """Unix time from an ISO 8601 string ('Z' or an offset; naive means UTC)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
