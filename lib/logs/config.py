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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lib.durations import Duration
from lib.models import Severity

MAX_WINDOW = 3600.0  # counts are read per minute bucket each run: an hour is 60 fields per rule
LEVELS = {"warn": "warning", "err": "error", "critical": "fatal", "crit": "fatal", "panic": "fatal",
          "emerg": "fatal", "alert": "fatal", "information": "info", "notice": "info"}
_STATUS = re.compile(r"^([1-5])xx$|^(-1|[1-5]\d\d)$")


def norm_level(value: str) -> str:
    low = value.strip().lower()
    return LEVELS.get(low, low)


class Text:
    """One match value: a case-insensitive substring / exact word, or a /regex/(i)."""

    __slots__ = ("raw", "regex", "text")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.regex: re.Pattern[str] | None = None
        self.text = raw.lower()
        if len(raw) >= 2 and raw.startswith("/") and (raw.endswith("/") or raw.endswith("/i")):
            body, flags = (raw[1:-2], re.IGNORECASE) if raw.endswith("/i") else (raw[1:-1], 0)
            try:
                self.regex = re.compile(body, flags)
            except re.error as exc:
                raise ValueError(f"'{raw}' is not a valid regular expression ({exc})") from None

    def found_in(self, value: str) -> bool:
        """Substring (or regex search): for messages and paths."""
        return bool(self.regex.search(value)) if self.regex else self.text in value.lower()

    def equals(self, value: str) -> bool:
        """Exact, case-insensitive (or regex search): for levels, sources, fields."""
        if self.regex:
            return bool(self.regex.search(value))
        return self.text == "*" or self.text == value.lower()


def _texts(value: object, place: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, str | int | float) or str(v).strip() == "":
            raise ValueError(f"{place}: expected a string or a list of strings")
        out.append(str(v).strip())
    return out


class Match(BaseModel):
    """Conditions on one log line; every key given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: list[str] = Field(default_factory=list)
    source: list[str] = Field(default_factory=list)
    environment: list[str] = Field(default_factory=list)
    project: list[str] = Field(default_factory=list)
    status: list[str] = Field(default_factory=list)
    path: list[str] = Field(default_factory=list)
    message: list[str] = Field(default_factory=list)
    fields: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("level", "source", "environment", "project", "path", "message", mode="before")
    @classmethod
    def _list(cls, v: object) -> list[str]:
        return _texts(v, "value")

    @field_validator("level")
    @classmethod
    def _levels(cls, v: list[str]) -> list[str]:
        return [norm_level(x) for x in v]

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v: object) -> list[str]:
        out = [s.lower() for s in _texts(v, "status")]
        for s in out:
            if not _STATUS.match(s):
                raise ValueError(f"'{s}' is not an HTTP status like 500, 429 or 5xx")
        return out

    @field_validator("fields", mode="before")
    @classmethod
    def _fields(cls, v: object) -> dict[str, list[str]]:
        if not isinstance(v, dict):
            raise ValueError("fields: expected a mapping of JSON field (a.b.c) to value")
        return {str(k): _texts(val, f"fields.{k}") for k, val in v.items()}

    @model_validator(mode="after")
    def _compile(self) -> Match:
        for name in ("level", "source", "environment", "project", "path", "message"):
            for raw in getattr(self, name):
                Text(raw)  # a bad /regex/ is refused at load
        for values in self.fields.values():
            for raw in values:
                Text(raw)
        return self

    @cached_property
    def compiled(self) -> list[tuple[str, Any]]:
        """(what, matchers) pairs, cheapest first; `fields` as (name, [Text])."""
        out: list[tuple[str, Any]] = []
        for name in ("level", "source", "environment", "project", "status", "path", "message"):
            values = getattr(self, name)
            if values:
                out.append((name, [Text(v) for v in values] if name != "status" else values))
        if self.fields:
            out.append(("fields", [(k, [Text(v) for v in vals]) for k, vals in self.fields.items()]))
        return out

    def matches(self, line: Any) -> bool:
        """Does a `drain.LogLine` satisfy every condition?"""
        for what, want in self.compiled:
            if what == "status":
                if not _status_in(line.status, want):
                    return False
            elif what == "fields":
                for name, texts in want:
                    value = line.fields.get(name)
                    if value is None or not any(t.equals(value) for t in texts):
                        return False
            elif what in ("path", "message"):
                if not any(t.found_in(getattr(line, what)) for t in want):
                    return False
            elif what == "project":
                if not any(t.equals(line.project_id) or t.equals(line.project_name) for t in want):
                    return False
            elif not any(t.equals(getattr(line, what)) for t in want):
                return False
        return True


def _status_in(status: int | None, wanted: list[str]) -> bool:
    if status is None:
        return False
    text = str(status)
    return any(w == text or (w.endswith("xx") and len(text) == 3 and text[0] == w[0]) for w in wanted)


def _matches(value: object) -> object:
    return value if isinstance(value, list) else [value]


class LogRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")
    match: list[Match]
    of: list[Match] | None = None  # a ratio rule: matching lines / lines of `of`
    min_lines: int = Field(default=20, ge=1)
    window: Duration = 300.0
    above: dict[Severity, float]
    for_: Duration = Field(default=0.0, alias="for")
    title: str | None = None
    describe: str | None = None  # what a matching line is, in messages: "error lines"
    runbook: str | None = None
    dashboard: str | None = None

    @field_validator("match", "of", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return v if v is None else _matches(v)

    @model_validator(mode="after")
    def _shape(self) -> LogRule:
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
        return self

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
        in_scope = self.of is None or any(m.matches(line) for m in self.of)
        if not in_scope:
            return False, False
        return any(m.matches(line) for m in self.match), self.of is not None
