"""5-field cron expressions as Vercel reads them (always UTC, no names):
minute hour day-of-month month day-of-week, each `*`, `*/n`, `a`, `a-b`,
`a-b/n` or a comma list of those. Used by the local server to run vercel.json's crons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))  # 0 and 7 are Sunday


def _parse_field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = lo, hi
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = int(a), int(b)
            else:
                start = int(body)
                end = hi if step_text else start
        except ValueError:
            raise ValueError(f"{name}: '{part}' is not a number, range or step") from None
        if step < 1 or start < lo or end > hi or start > end:
            raise ValueError(f"{name}: '{part}' is outside {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    expression: str
    fields: tuple[frozenset[int], ...]
    dom_any: bool
    dow_any: bool

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != 5:
            raise ValueError(f"'{expression}': expected 5 fields, got {len(parts)}")
        fields = [_parse_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
        if 7 in fields[4]:
            fields[4] = (fields[4] - {7}) | {0}
        return cls(expression, tuple(fields), parts[2] == "*", parts[4] == "*")

    def matches(self, ts: float) -> bool:
        """Whether a run is due in the minute containing unix time `ts` (UTC)."""
        t = datetime.fromtimestamp(ts, tz=UTC)
        minute, hour, dom, month, dow = self.fields
        if t.minute not in minute or t.hour not in hour or t.month not in month:
            return False
        dom_ok, dow_ok = t.day in dom, (t.weekday() + 1) % 7 in dow
        if self.dom_any or self.dow_any:  # classic cron: both restricted means either may match
            return dom_ok and dow_ok
        return dom_ok or dow_ok
