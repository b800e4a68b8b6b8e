"""The `logs:` section of monitoring.yaml: log rules, shaped like the metric rules.

    logs:
      - name: ErrorLogs
        match: {level: [error, fatal]}     # every key must hold; a list value is any-of
        window: 5m
        above: {P2: 10, P1: 50}            # more than N matching lines in the window
        for: 0m

`match` keys: `level`, `source`, `environment`, `project` (id or name), `status`
(`500`, `"5xx"`, `[401, 403]`), `path`, `message` (case-insensitive substring, or
`/regex/` and `/regex/i`), and `fields` of a JSON message (`{error.type: DatabaseError}`,
`"*"` for present). `match` may be a list of such maps: a line matches any of them.
A ratio rule adds `of:` (a match, `{}` for every line): matching lines / lines of `of`,
evaluated once `of` saw at least `min_lines` in the window. See docs/logs.md.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from lib.durations import Duration
from lib.models import Severity
from lib.schema import config_class, spec

MAX_WINDOW = 3600.0  # counts are read per minute bucket each run: an hour is 60 fields per rule
LEVELS = {"warn": "warning", "err": "error", "critical": "fatal", "crit": "fatal", "panic": "fatal",
          "emerg": "fatal", "alert": "fatal", "information": "info", "notice": "info"}
_STATUS = re.compile(r"^([1-5])xx$|^(-1|[1-5]\d\d)$")


def norm_level(value: str) -> str:
    low = value.strip().lower()
    return LEVELS.get(low, low)


def _pattern(raw: str, exact: bool) -> str:
    """One match value as regex source: a /regex/ or /regex/i as written; otherwise a
    case-insensitive substring (exact: the whole value; "*": anything, i.e. present)."""
    if len(raw) >= 2 and raw.startswith("/") and (raw.endswith("/") or raw.endswith("/i")):
        body, flags = (raw[1:-2], "i") if raw.endswith("/i") else (raw[1:-1], "")
        try:
            re.compile(body)
        except re.error as exc:
            raise ValueError(f"'{raw}' is not a valid regular expression ({exc})") from None
        return f"(?{flags}:{body})" if flags else f"(?:{body})"
    if exact and raw == "*":
        return "(?:)"
    return f"(?i:^{re.escape(raw)}$)" if exact else f"(?i:{re.escape(raw)})"


def compile_any(raws: list[str], exact: bool) -> re.Pattern[str]:
    """Any of the values, as one regex (one search per line instead of one per value)."""
    return re.compile("|".join(_pattern(r, exact) for r in raws))


def compile_lowered(raws: list[str]) -> re.Pattern[str] | None:
    """The values as one case-sensitive regex over lowercased text, when that means the same:
    substrings, and /regex/i whose source has no upper-case letter. Python's re is several
    times faster without IGNORECASE, and a message is lowercased once per line."""
    parts = []
    for raw in raws:
        if raw.startswith("/") and raw.endswith("/i") and len(raw) > 3 and raw[1:-2] == raw[1:-2].lower():
            parts.append(f"(?:{raw[1:-2]})")
        elif not (raw.startswith("/") and (raw.endswith("/") or raw.endswith("/i")) and len(raw) >= 2):
            parts.append(re.escape(raw.lower()))
        else:
            return None
    return re.compile("|".join(parts))


def _texts(value: object, place: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, str | int | float) or str(v).strip() == "":
            raise ValueError(f"{place}: expected a string or a list of strings")
        out.append(str(v).strip())
    return out


def _list(v: object) -> list[str]:
    return _texts(v, "value")


def _levels(v: list[str]) -> list[str]:
    return [norm_level(x) for x in v]


def _regexes(v: list[str]) -> list[str]:
    for raw in v:
        _pattern(raw, False)  # a bad /regex/ is refused at load, at its own key
    return v


def _statuses(v: object) -> list[str]:
    out = [s.lower() for s in _texts(v, "status")]
    for s in out:
        if not _STATUS.match(s):
            raise ValueError(f"'{s}' is not an HTTP status like 500, 429 or 5xx")
    return out


def _fields(v: object) -> dict[str, list[str]]:
    if not isinstance(v, dict):
        raise ValueError("fields: expected a mapping of JSON field (a.b.c) to value")
    out = {str(k): _texts(val, f"fields.{k}") for k, val in v.items()}
    for k, values in out.items():
        for raw in values:
            try:
                _pattern(raw, True)
            except ValueError as exc:
                raise ValueError(f"{k}: {exc}") from None
    return out


def _texts_field() -> Any:
    """A list of texts or /regexes/; one text may be written alone."""
    return spec(factory=list, before=_list, after=_regexes)


@config_class
class Match:
    """Conditions on one log line; every key given must hold."""

    level: list[str] = spec(factory=list, before=_list, after=(_levels, _regexes))
    source: list[str] = _texts_field()
    environment: list[str] = _texts_field()
    project: list[str] = _texts_field()
    status: list[str] = spec(factory=list, before=_statuses)
    path: list[str] = _texts_field()
    message: list[str] = _texts_field()
    fields: dict[str, list[str]] = spec(factory=dict, before=_fields)

    def _verify(self) -> None:
        _ = self.compiled  # a bad /regex/ is refused at load, with its place

    @cached_property
    def compiled(self) -> list[tuple[str, Any]]:
        """(what, regex) pairs, cheapest first; `status` as its list, `fields` as [(name, regex)]."""
        out: list[tuple[str, Any]] = []
        for name in ("level", "source", "environment", "project", "status", "path", "message"):
            values = getattr(self, name)
            if not values:
                continue
            if name == "status":
                out.append((name, values))
            elif name == "message" and (fast := compile_lowered(values)) is not None:
                compile_any(values, False)  # still refuse a bad regex at load
                out.append(("lower", fast))
            else:
                out.append((name, compile_any(values, name not in ("path", "message"))))
        if self.fields:
            out.append(("fields", [(k, compile_any(vals, True)) for k, vals in self.fields.items()]))
        return out

    def matches(self, line: Any) -> bool:
        """Does a `drain.LogLine` satisfy every condition?"""
        for what, want in self.compiled:
            if what == "status":
                if not _status_in(line.status, want):
                    return False
            elif what == "fields":
                for name, pattern in want:
                    value = line.fields.get(name)
                    if value is None or not pattern.search(value):
                        return False
            elif what == "project":
                if not (want.search(line.project_id) or want.search(line.project_name)):
                    return False
            elif not want.search(getattr(line, what)):
                return False
        return True


def _status_in(status: int | None, wanted: list[str]) -> bool:
    if status is None:
        return False
    text = str(status)
    return any(w == text or (w.endswith("xx") and len(text) == 3 and text[0] == w[0]) for w in wanted)


def _one_or_many(value: object) -> object:
    return value if value is None or isinstance(value, list) else [value]


@config_class(populate_by_name=True)
class LogRule:
    name: str = spec(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")
    match: list[Match] = spec(before=_one_or_many)
    of: list[Match] | None = spec(None, before=_one_or_many)  # a ratio rule: matching lines / lines of `of`
    min_lines: int = spec(20, ge=1)
    window: Duration = 300.0
    above: dict[Severity, float]
    for_: Duration = spec(0.0, alias="for")
    title: str | None = None
    describe: str | None = None  # what a matching line is, in messages: "error lines"
    runbook: str | None = None
    dashboard: str | None = None

    def _verify(self) -> None:
        if not self.match:
            raise ValueError("match needs at least one condition map")
        if not self.above:
            raise ValueError("needs tiers under 'above', e.g. {P2: 10, P1: 50}")
        if self.window < 60 or self.window > MAX_WINDOW:
            raise ValueError("window must be between 1m and 1h: lines are counted per minute")
        if self.for_ > MAX_WINDOW:
            raise ValueError("for must be at most 1h")
        for sev, v in self.above.items():
            if v < 0 or (self.of is not None and v >= 1):
                raise ValueError(
                    f"above.{sev.value}: a ratio rule's tier is a fraction between 0 and 1"
                    if self.of is not None else f"above.{sev.value}: a line count cannot be negative"
                )

    @property
    def is_ratio(self) -> bool:
        return self.of is not None

    @property
    def minutes(self) -> int:
        return max(1, int(round(self.window / 60)))

    @property
    def for_minutes(self) -> int:
        return int(round(self.for_ / 60))

    @property
    def what(self) -> str:
        return self.describe or "matching lines"

    def counts(self, line: Any) -> tuple[bool, bool]:
        """(counted in the numerator, counted in the denominator) for one line."""
        ratio = self.of is not None
        if ratio and not _any_matches(self.of or [], line):
            return False, False
        return _any_matches(self.match, line), ratio


def _any_matches(matches: list[Match], line: Any) -> bool:
    for m in matches:  # a plain loop: this runs rules x lines times per batch
        if m.matches(line):
            return True
    return False
