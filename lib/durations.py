"""Durations as people write them in monitoring.yaml: 30s, 2m, 15m, 1h, 7d, 1h30m."""

from __future__ import annotations

import re
from typing import NewType

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: object) -> float:
    """Seconds from "90s", "2m", "1h30m" or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration like 30s, 2m, 15m or 1h")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("a duration like 30s, 2m, 15m or 1h")
    text = value.strip().lower()
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"'{value}' is not a duration like 30s, 2m, 15m or 1h")
    return total


def format_duration(seconds: float) -> str:
    """Short human form: 45s, 4m, 2h 5m, 3d 4h."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h {m}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d {h}h" if h else f"{d}d"


# A duration field of a config class (lib.schema): seconds, a float; monitoring.yaml writes
# it with a unit and lib.config_schema parses it there.
Duration = NewType("Duration", float)
