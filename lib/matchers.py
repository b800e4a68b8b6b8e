"""Alertmanager label matchers: `alertname = ServiceDown`, `check != api`,
`alertname =~ "Slow.*|Uptime.*"`, `host !~ "10\\..*"`.

As in Alertmanager (pkg/labels): a regex is anchored at both ends, a missing
label reads as the empty string, and a value may be double-quoted. Used by
`inhibit:` rules; `contradiction` tells a list that can match nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$')


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # "=", "!=", "=~", "!~"
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        have = labels.get(self.label, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        hit = self.pattern is not None and self.pattern.fullmatch(have) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


def make(label: str, op: str, value: str) -> Matcher:
    """A matcher with its regex compiled (re.error for a bad one). PromQL selectors
    (lib.rules.promql) build theirs here too: the semantics are the same."""
    return Matcher(label, op, value, re.compile(value) if op in ("=~", "!~") else None)


def parse(text: str) -> Matcher:
    """One matcher; ValueError says what is wrong with it."""
    m = _MATCHER.match(text)
    if not m:
        raise ValueError(f"'{text}' is not a matcher like 'alertname = ServiceDown' (=, !=, =~, !~)")
    label, op, value = m.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    try:
        return make(label, op, value)
    except re.error as exc:
        raise ValueError(f"'{text}': not a valid regular expression ({exc})") from None


def matches_all(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def pinned(matchers: list[Matcher]) -> dict[str, str]:
    """Labels an `=` matcher fixes to one value."""
    return {m.label: m.value for m in matchers if m.op == "="}


def contradiction(matchers: list[Matcher]) -> str | None:
    """Why no label set can satisfy every matcher of the list, if that is so."""
    fixed: dict[str, str] = {}
    for m in matchers:
        if m.op == "=" and fixed.setdefault(m.label, m.value) != m.value:
            return f"{m.label} cannot be both '{fixed[m.label]}' and '{m.value}'"
    for m in matchers:
        if m.label in fixed and not m.matches({m.label: fixed[m.label]}):
            return f"{m.label}=\"{fixed[m.label]}\" never satisfies {m}"
    return None
