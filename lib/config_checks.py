"""The checks of monitoring.yaml that pydantic cannot see field by field.

People named in routing and escalation, escalation order, unique check and rule
names, tiers in the order their severities mean, silences that can match
something. Each problem has its exact place; one that comes from a default the
file did not write (the runbook's routing) says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from lib import matchers
from lib.config_errors import Loc, Problem, line_of, place_of
from lib.models import Severity

if TYPE_CHECKING:
    from lib.config import Config, Route

DEFAULT_ROUTING = "from the default routing: add these people, or write your own `routing:`"


def cross_references(cfg: Config, data: Mapping[str, Any], lines: dict[Loc, int]) -> list[Problem]:
    problems: list[Problem] = []

    def add(loc: Loc, message: str, note: str = "") -> None:
        problems.append(Problem(place_of(loc), message, line_of(lines, loc), note))

    routing_note = "" if "routing" in data else DEFAULT_ROUTING
    for sev, route in cfg.routing.items():
        _people_of(cfg, route, ("routing", sev.value), lambda loc, msg: add(loc, msg, routing_note))
    for sev, steps in cfg.escalation.items():
        previous = 0.0
        for i, step in enumerate(steps):
            _people_of(cfg, step.notify, ("escalation", sev.value, i, "notify"), add)
            if i and step.after <= previous:
                add(("escalation", sev.value, i, "after"), f"must be later than step {i - 1}")
            previous = step.after
    _inhibit(cfg, add)
    for kind, items in (("checks", cfg.checks), ("rules", cfg.rules), ("logs", cfg.logs)):
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.name in seen:
                add((kind, i, "name"), f"'{item.name}' is also {kind}[{seen[item.name]}]")
            seen.setdefault(item.name, i)
    for i, check in enumerate(cfg.checks):
        _tier_order(check.latency.above, True, ("checks", i, "latency", "above"), add, "{:g}s")
        _tier_order(check.uptime.below, False, ("checks", i, "uptime", "below"), add, "{:g} %")
    for i, rule in enumerate(cfg.rules):
        side = "above" if rule.is_above else "below"
        _tier_order(rule.tiers, rule.is_above, ("rules", i, side), add)
    for i, log_rule in enumerate(cfg.logs):
        _tier_order(log_rule.above, True, ("logs", i, "above"), add)
    _silences(cfg, add)
    return problems


def _people_of(cfg: Config, route: Route, where: Loc, add: Callable[..., None]) -> None:
    for channel in ("sms", "email", "call"):
        for i, key in enumerate(getattr(route, channel)):
            person = cfg.people.get(key)
            loc = (*where, channel, i)
            if person is None:
                add(loc, f"unknown person '{key}'")
            elif channel in ("sms", "call") and not person.phone:
                add(loc, f"person '{key}' has no phone")
            elif channel == "email" and not person.email:
                add(loc, f"person '{key}' has no email")


def _tier_order(tiers: Mapping[Severity, float], worse_is_higher: bool, loc: Loc,
                add: Callable[..., None], fmt: str = "{:g}") -> None:
    """A more urgent tier needs a worse value: `above: {P1: 2s, P0: 1s}` would page P0 first."""
    ordered = sorted(tiers.items(), key=lambda kv: kv[0].rank)  # P0 first
    for (urgent, u), (milder, m) in pairwise(ordered):
        if (u <= m) if worse_is_higher else (u >= m):
            word = "above" if worse_is_higher else "below"
            add((*loc, urgent.value), f"{fmt.format(u)} must be {word} {milder.value}'s {fmt.format(m)}: "
                "the more urgent tier needs the worse value")


_CHECK_KEY = re.compile(r"^(check|rule):([^:*?\[{]+)(?:[:{].*)?$")


def _silences(cfg: Config, add: Callable[..., None]) -> None:
    names = {"check": {c.name for c in cfg.checks}, "rule": {r.name for r in cfg.rules}}
    for i, s in enumerate(cfg.silences):
        loc = ("silences", i)
        m = _CHECK_KEY.match(s.key or "")
        if m and m.group(2) not in names[m.group(1)]:
            known = ", ".join(sorted(names[m.group(1)])) or "none"
            add((*loc, "key"), f"'{s.key}' can match nothing: there is no {m.group(1)} "
                f"'{m.group(2)}' (the {m.group(1)}s are: {known})")
        if s.starts_at is not None and s.ends_at is not None and s.ends_at <= s.starts_at:
            add((*loc, "ends"), f"'{s.ends}' is not after starts '{s.starts}': the silence can match nothing")


def _inhibit(cfg: Config, add: Callable[..., None]) -> None:
    """Matchers that do not parse, and inhibitions that can match nothing."""
    names = {"check": {c.name for c in cfg.checks}, "rule": {r.name for r in cfg.rules}}
    for i, rule in enumerate(cfg.inhibit or []):
        sides: dict[str, list[matchers.Matcher]] = {}
        for side in ("source_matchers", "target_matchers"):
            loc = ("inhibit", i, side)
            try:
                sides[side] = [matchers.parse(m) for m in getattr(rule, side)]
            except ValueError as exc:
                add(loc, str(exc))
                continue
            why = matchers.contradiction(sides[side])
            for label, value in matchers.pinned(sides[side]).items():
                if label in names and value not in names[label]:
                    why = why or f"no {label} is named '{value}'"
            if why:
                add(loc, f"can match nothing: {why}")
        if len(sides) == 2:
            src, tgt = matchers.pinned(sides["source_matchers"]), matchers.pinned(sides["target_matchers"])
            for label in rule.equal:
                if label in src and label in tgt and src[label] != tgt[label]:
                    add(("inhibit", i, "equal"), f"can match nothing: {label} is '{src[label]}' in the "
                        f"source and '{tgt[label]}' in the target")
