"""Check state in Redis: claim the minute slot, record a run, turn transitions into Signals.

A run costs two round trips whatever the number of checks: `claim` (SET NX on
`checks:slot:<minute>`; a duplicate cron delivery stops there, before any
probe) and `record` (one script: history, per-check state, the cron tick, and
the transitions). Only transitions become Signals, so a check that stays down
sends nothing more after the one firing signal.

What "down_after: 2m" means: a check is down when it has failed in every run
from the first failing minute slot F to the current slot S and S - F >= 2
minutes. Failing at 12:00, 12:01 -> nothing; failing again at 12:02 -> fire.
Slots are the cron's scheduled minute (12:02:41 is slot 12:02), so jitter
does not shift it. A skipped minute does not break the streak, but a gap
longer than the watchdog's (3 minutes without a run) restarts it: failing
"continuously" cannot be claimed across minutes nobody looked at.
`up_after: N` resolves after N consecutive good runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lib import watchdog
from lib.checks.history import HISTORY_TTL, bucket_of, day_of, days_back, hour_of, minute_of_day, slot_of
from lib.checks.probe import CheckResult
from lib.clock import iso
from lib.config import Check, Config, UptimeRule
from lib.durations import format_duration
from lib.incidents.engine import Pending
from lib.models import Severity, Signal
from lib.store import Script, Store

CLAIM = Script.load(__file__, "checks_claim")
RECORD = Script.load(__file__, "checks_record")
CLAIM_TTL = 2 * 3600  # a duplicate delivery arrives within seconds; keep the claim well past that
GAP_KEY = "vigil:monitoring-gap"
SOURCE = "checks"
PENDING = "checks:pending"  # transitions recorded and not yet decided (see checks_record.lua)


@dataclass(frozen=True)
class Recorded:
    evaluated: int
    stale: int  # checks whose slot was already evaluated (an overlapping run)
    transitions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pending(self) -> Pending:
        """What incidents.apply must consume together with its decisions."""
        return Pending(PENDING, tuple(str(t["id"]) for t in self.transitions if t.get("id")))


@dataclass(frozen=True)
class Claim:
    claimed: bool  # False: a duplicate run of this minute slot
    suspects: frozenset[str] = frozenset()  # slow or unanswered last run: probe these first
    last_run: float | None = None  # refused: the newest run the store has recorded


def claim(store: Store, now: float) -> Claim:
    """Claim this minute slot (round trip 1)."""
    return claimed(store.run_json(CLAIM, [], claim_args(store, now)))


def claim_args(store: Store, now: float) -> list[Any]:
    """CLAIM's ARGV (for `Store.run_all`, which runs it with other scripts in one command)."""
    return [store.prefix, now, slot_of(now), CLAIM_TTL]


def claimed(raw: Any) -> Claim:
    """CLAIM's answer as a Claim."""
    out = raw if isinstance(raw, dict) else {}
    suspects = out.get("suspects") or []
    last = out.get("last")
    return Claim(bool(out.get("claimed")), frozenset(suspects if isinstance(suspects, list) else []),
                 float(last) if isinstance(last, (int, float)) else None)


def _tiers(tiers: dict[Severity, float]) -> list[list[Any]]:
    """[[severity, threshold]], most severe first."""
    return [[sev.value, float(v)] for sev, v in sorted(tiers.items(), key=lambda kv: kv[0].rank)]


def _window_days(check: Check) -> int:
    return max(1, math.ceil(check.uptime.window / 86400 - 1e-9))


def _item(check: Check, result: CheckResult) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": check.name,
        "ok": result.ok,
        "reason": result.reason,
        # Unanswered, or slower than half its timeout: probed first next run.
        "suspect": result.latency is None or result.latency > check.timeout / 2,
        "down_slots": math.ceil(check.down_after / 60 - 1e-9),
        "up_after": check.up_after,
    }
    if result.status is not None:
        item["status"] = result.status
    if result.latency is not None:
        item["latency"] = result.latency
        item["bucket"] = bucket_of(result.latency)
    if check.latency.enabled and check.latency.above:
        rule = check.latency
        slots = max(1, round(rule.window / 60))
        item["lat"] = {"slots": slots, "need": math.ceil(rule.min_slow * slots - 1e-9), "share": rule.min_slow,
                       "tiers": _tiers(rule.above)}
    if check.uptime.enabled and check.uptime.below:
        rule_u = check.uptime
        budgets = [[sev, (100.0 - pct) / 100 * rule_u.window / 60] for sev, pct in _tiers(rule_u.below)]
        item["upt"] = {"n": _window_days(check), "tiers": budgets}
    if check.flapping.enabled:
        flap = check.flapping
        item["flap"] = {"n": flap.results, "high": flap.high, "low": flap.low, "sev": flap.severity.value}
    return item


def record(store: Store, config: Config, results: list[CheckResult], now: float) -> Recorded:
    """Write one run's results (one round trip) and return the transitions it caused."""
    return recorded(store.run_json(RECORD, [], record_args(store, config, results, now)))


def record_args(store: Store, config: Config, results: list[CheckResult], now: float) -> list[Any]:
    """RECORD's ARGV for one run's results."""
    slot = slot_of(now)
    by_name = {c.name: c for c in config.checks}
    items = [_item(by_name[r.name], r) for r in results if r.name in by_name and not r.skipped]
    longest = max((i["upt"]["n"] for i in items if "upt" in i), default=0)
    payload = {
        "slot": slot,
        "day": day_of(slot),
        "mod": minute_of_day(slot),
        "hour": hour_of(slot),
        "days": days_back(slot, longest + 1),
        "ttl": HISTORY_TTL,
        "tick_key": watchdog.key(store, "checks"),
        "tick_ttl": watchdog.TICK_TTL,
        "gap_s": config.settings.watchdog_gap,
        "gap_slots": max(1, math.ceil(config.settings.watchdog_gap / 60)),
        "checks": items,
    }
    return [store.prefix, now, json.dumps(payload, separators=(",", ":"))]


def recorded(raw: Any) -> Recorded:
    """RECORD's answer: what was evaluated and the transitions it caused."""
    out = raw if isinstance(raw, dict) else {}
    transitions = out.get("transitions") or []
    return Recorded(int(out.get("evaluated", 0)), int(out.get("stale", 0)), list(transitions))


def _links(check: Check, base_url: str) -> dict[str, str]:
    links = {"status": f"{base_url}/api/status"}
    if check.runbook:
        links["runbook"] = check.runbook
    if check.dashboard:
        links["dashboard"] = check.dashboard
    return links


def _labels(check: Check, alertname: str) -> dict[str, str]:
    """`host` lets inhibition tie a check to the rules scraping the same host (lib.incidents.inhibit)."""
    parts = urlsplit(check.url)
    host = f"{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}"
    return {"check": check.name, "alertname": alertname, "host": host}


def _since(slot: int | None, now: float) -> str:
    if slot is None:
        return ""
    return f"since {iso(slot * 60)[11:16]} UTC ({format_duration(slot_of(now) * 60 - slot * 60)})"


def _availability(check: Check, t: dict[str, Any], base: dict[str, Any], now: float) -> Signal:
    name = check.name
    title = check.title or f"{name} is down"
    labels = _labels(check, "ServiceDown")
    if t["kind"] == "down":
        summary = f"{t.get('reason') or 'failing'}; failing {_since(t.get('since'), now)}"
        return Signal(key=f"check:{name}", severity=check.severity, title=title, summary=summary,
                      labels=labels, **base)
    took = f" in {t['latency']:.2f} s" if t.get("latency") is not None else ""
    summary = f"{name} is up again: status {t.get('status')}{took}; it was down {_since(t.get('since'), now)}"
    return Signal(key=f"check:{name}", severity=check.severity, status="resolved", title=title,
                  summary=summary, labels=labels, **base)


def _tiers_text(tiers: dict[Severity, float], fmt: str) -> str:
    return ", ".join(fmt.format(sev=s.value, v=v) for s, v in sorted(tiers.items(), key=lambda kv: kv[0].rank))


def _level(check: Check, t: dict[str, Any], base: dict[str, Any]) -> Signal:
    name, sev = check.name, t.get("severity")
    firing = isinstance(sev, str)
    if t["kind"] == "latency":
        rule = check.latency
        key, title, alert = f"check:{name}:latency", f"SlowResponseTime: {name}", "SlowResponseTime"
        summary = (f"{t['slow']} of the last {t['n']} runs ({format_duration(rule.window)}) slower than "
                   f"{t['value']:g} s; median {t['median']:.2f} s ({_tiers_text(rule.above, '{sev} above {v:g} s')})")
        lowest = max(rule.above, key=lambda s: s.rank)
    else:
        rule_u = check.uptime
        key, title, alert = f"check:{name}:uptime", f"Uptime below target: {name}", "UptimeBelowTarget"
        summary = _uptime_summary(rule_u, t)
        lowest = max(rule_u.below, key=lambda s: s.rank)
    return Signal(key=key, severity=Severity(sev) if firing else lowest, status="firing" if firing else "resolved",
                  title=title, summary=summary, labels=_labels(check, alert), **base)


def _uptime_summary(rule: UptimeRule, t: dict[str, Any]) -> str:
    """What is true: the downtime seen against what the target allows, and over how much observed time."""
    window = format_duration(rule.window)
    down, seen = int(t["seen"]) - int(t["up"]), int(t["seen"])
    pct = f"{t['value']:.2f} % up over {format_duration(seen * 60)} observed of the last {window}"
    tiers = sorted(rule.below.items(), key=lambda kv: kv[0].rank)
    target = next((v for s, v in tiers if s.value == t.get("severity")), tiers[-1][1])
    allowed = round((100.0 - target) / 100 * rule.window / 60)
    verb = "is broken" if isinstance(t.get("severity"), str) else "holds again"
    return f"{window} uptime target {target:g} % {verb}: {down} minutes down (it allows {allowed}); {pct}"


def _flapping(check: Check, t: dict[str, Any], base: dict[str, Any]) -> Signal:
    rule, firing = check.flapping, bool(t.get("firing"))
    seen = f"{t['changes']} state changes in the last {t['n']} runs ({t['value']:.0f} % weighted"
    if firing:
        summary = f"{check.name} is flapping: {seen}; flapping from {rule.high:g} %, stable below {rule.low:g} %)"
    else:
        summary = f"{check.name} is stable again: {seen}, below {rule.low:g} %)"
    return Signal(key=f"check:{check.name}:flapping", severity=rule.severity, status="firing" if firing else "resolved",
                  title=f"{check.name} is flapping", summary=summary, labels=_labels(check, "CheckFlapping"), **base)


def _gap(t: dict[str, Any], now: float, base_url: str) -> Signal:
    minutes = round(float(t["value"]) / 60)
    if t.get("firing"):
        title = f"Monitoring gap: no check run for {minutes}m"
        summary = f"The checks cron did not run for {minutes} minutes before {iso(now)}; nothing was watched then."
        status = "firing"
    else:
        title, summary, status = "Monitoring gap: check runs are back", "The checks cron runs every minute again.", "resolved"
    return Signal(key=GAP_KEY, severity=Severity.P2, status=status, title=title, summary=summary, source="vigil",
                  labels={"alertname": "MonitoringGap"}, links={"status": f"{base_url}/api/status"}, occurred_at=now)


def signals(config: Config, recorded: Recorded, now: float, base_url: str) -> list[Signal]:
    """One Signal per transition, for lib.incidents.dispatch.handle."""
    out = []
    for t in recorded.transitions:
        if t["kind"] == "gap":
            out.append(_gap(t, now, base_url))
            continue
        check = config.check(t["name"])
        if check is None:
            continue
        base = {"source": SOURCE, "links": _links(check, base_url), "occurred_at": now}
        if t["kind"] in ("down", "up"):
            out.append(_availability(check, t, base, now))
        elif t["kind"] == "flapping":
            out.append(_flapping(check, t, base))
        else:
            out.append(_level(check, t, base))
    return out
