"""Inhibition with Alertmanager's semantics (inhibit/inhibit.go): while a signal
matching an inhibit rule's source matchers fires, a signal matching its target
matchers whose `equal` labels have the same values opens no incident.

- A source mutes only while it fires (from its firing signal to its resolved
  one), and never itself; when an alert matches both sides of a rule, only
  sources that do not also match the target side can mute it (Alertmanager's
  two-sided exclusion).
- When the source resolves, its targets stay muted for the rule's `hold`
  (their windows still hold the outage); the muted targets that still fire
  then page, once: the escalation cron releases them through the one path.
- Matching happens here, in Python (anchored regexes, as Alertmanager); the
  state lives in Redis and is read and written by lua/inhibit_lib.lua inside
  the apply and sweep scripts: no extra round trip.

Matchers see a signal's labels, plus `source` (checks, rules, sentry, ...) and
`host` (checks: the URL's; rules: their scrape's).

Default rules (used when the config has no `inhibit:` section):
1. a check's ServiceDown mutes that check's latency, uptime and flapping alerts;
2. a check's ServiceDown mutes the rules (and scrape alerts) scraping its host.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from lib import matchers
from lib.config import Config, Inhibit
from lib.models import Signal

DEFAULTS = (
    Inhibit(
        name="service-down-mutes-its-check",
        source_matchers=["alertname = ServiceDown"],
        target_matchers=['alertname =~ "SlowResponseTime|UptimeBelowTarget|CheckFlapping"'],
        equal=["check"],
    ),
    Inhibit(
        name="service-down-mutes-rules-on-its-host",
        source_matchers=["alertname = ServiceDown"],
        target_matchers=["source = rules"],
        equal=["host"],
    ),
)


@dataclass(frozen=True)
class Compiled:
    id: str  # stable across reorderings: a hash of the rule itself
    source: list[matchers.Matcher]
    target: list[matchers.Matcher]
    equal: tuple[str, ...]
    hold: float


def _compile(rule: Inhibit) -> Compiled:
    # The rule as pydantic's model_dump_json wrote it, so ids (and the state kept under them) survive.
    fields = {"name": rule.name, "source_matchers": rule.source_matchers, "target_matchers": rule.target_matchers,
              "equal": rule.equal, "hold": f"{rule.hold:g}s"}
    digest = hashlib.sha1(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()[:10]
    return Compiled(
        id=digest,
        source=[matchers.parse(m) for m in rule.source_matchers],
        target=[matchers.parse(m) for m in rule.target_matchers],
        equal=tuple(rule.equal),
        hold=rule.hold,
    )


_cache: dict[int, tuple[Config, list[Compiled]]] = {}


def rules(config: Config) -> list[Compiled]:
    """The config's inhibit rules, compiled once per Config."""
    hit = _cache.get(id(config))
    if hit is None or hit[0] is not config:
        chosen = DEFAULTS if config.inhibit is None else tuple(config.inhibit)
        hit = (config, [_compile(r) for r in chosen])
        _cache.clear()  # one Config per process in practice; never grow
        _cache[id(config)] = hit
    return hit[1]


def labels_of(signal: Signal) -> dict[str, str]:
    """What matchers see: the labels, `source`, and `host` (derived from a rule's scrape)."""
    out = {"source": signal.source, **signal.labels}
    if "host" not in out and "scrape" in out:
        out["host"] = out["scrape"].split("/", 1)[0]
    return out


def annotate(config: Config, signal: Signal) -> dict[str, Any] | None:
    """The signal's part in each rule, for lua/inhibit_lib.lua.

    src: [[rule id, equal values, hold seconds, also matches the target side]]
    tgt: [[rule id, equal values, also matches the source side]]
    """
    labels = labels_of(signal)
    src: list[list[Any]] = []
    tgt: list[list[Any]] = []
    for r in rules(config):
        is_src, is_tgt = matchers.matches_all(r.source, labels), matchers.matches_all(r.target, labels)
        if not (is_src or is_tgt):
            continue
        eq = json.dumps([labels.get(name, "") for name in r.equal], separators=(",", ":"))
        if is_src:
            src.append([r.id, eq, r.hold, is_tgt])
        if is_tgt:
            tgt.append([r.id, eq, is_src])
    return {"src": src, "tgt": tgt} if src or tgt else None
