"""Log rules in Redis: count a batch (lua/logs_ingest.lua), evaluate on the cron (lua/logs_eval.lua).

Counts live per rule and minute (`logs:c:<rule>`, field = unix minute), so a batch of
any size is one script and a window is a sum of fields. A line counts in the minute of
its own timestamp (a batch Vercel delivers late still lands where it belongs); a line
older than every rule's horizon counts nowhere ("late"); one from the future counts now.

Evaluation is stateless: at minute S a rule's value is the sum over minutes S-W..S
(the window's whole minutes plus the current one so far); a tier holds when the value
is above it at every minute S-F..S (`for: F`). While a rule holds it sends its firing
Signal each run (the engine dedups; a run that failed to deliver is simply repeated);
for RESOLVE_RUNS runs after it stops holding it sends the resolved one, and once more when
its last counts age out (so cron runs missed for longer cannot strand it). The cron asks
only while `logs:active` exists: set by a batch that counted something, deleted by the
evaluation once no rule has a count within its horizon.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lib.logs.config import LogRule
from lib.logs.drain import LogLine
from lib.logs.redact import redact
from lib.models import Severity
from lib.store import Script, Store

INGEST = Script.load(__file__, "logs_ingest")
EVAL = Script.load(__file__, "logs_eval")
RESOLVE_RUNS = 5  # minutes a resolved signal is repeated (a lost delivery is retried by the next run)
# Counts, samples and the cron's flag outlive a long stop of the crons (the next run still sees
# what aged out and resolves it); each run trims them to the horizon and deletes them when empty.
STATE_TTL = 7 * 86400
SAMPLES = 3


def minute_of(ts: float) -> int:
    return int(ts // 60)


def horizon(rule: LogRule) -> int:
    """Minutes of counts a rule needs: its window and `for`, plus the resolve runs."""
    return rule.minutes + rule.for_minutes + RESOLVE_RUNS + 1


def max_horizon(rules: Iterable[LogRule]) -> int:
    return max((horizon(r) for r in rules), default=0)


@dataclass
class Counted:
    """What one batch asks of Redis (`payload`) and what it found (for the answer)."""

    matched: int = 0
    late: int = 0
    per_rule: dict[str, int] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)


def sample_of(line: LogLine) -> str:
    text = line.fields.get("message") or line.fields.get("msg") or line.message
    return json.dumps({
        "t": line.ts, "level": line.level, "source": line.source, "path": redact(line.path, 120),
        "status": line.status, "request_id": line.request_id, "deployment_id": line.deployment_id,
        "project": line.project_name or line.project_id, "host": line.host, "message": redact(text),
    }, separators=(",", ":"))


def count(rules: list[LogRule], lines: list[LogLine], now: float) -> Counted:
    """Match every line against every rule (pure); the ingest payload for what counted."""
    out = Counted(per_rule={r.name: 0 for r in rules})
    now_m = minute_of(now)
    oldest = now_m - max_horizon(rules)
    entries, samples, taken = [], [], [0] * len(rules)
    for line in lines:
        own = minute_of(line.ts)
        m = min(own, now_m)  # a line from the future counts now; its id is kept under its own minute
        if m < oldest:
            out.late += 1
            continue
        num, den = [], []
        for i, rule in enumerate(rules):
            hit, scoped = rule.counts(line)
            if hit:
                num.append(i)
                out.per_rule[rule.name] += 1
                if taken[i] < SAMPLES:
                    taken[i] += 1
                    samples.append({"r": i, "id": line.id, "s": sample_of(line)})
            if scoped:
                den.append(i)
        if num or den:
            entries.append({"id": line.id, "m": m, "k": own, "n": num, "d": den})
            out.matched += bool(num)
    out.payload = {"rules": [r.name for r in rules], "lines": entries, "samples": samples,
                   "ids_ttl": (max_horizon(rules) + 2) * 60, "ttl": STATE_TTL}
    return out


def ingest(store: Store, counted: Counted, counters: list[list[Any]]) -> dict[str, Any]:
    """One round trip: dedup by id, add the counts and samples, mark the cron's work."""
    payload = {**counted.payload, "counters": counters}
    raw = store.run_json(INGEST, [], [store.prefix, json.dumps(payload, separators=(",", ":"))])
    return raw if isinstance(raw, dict) else {}


# --- evaluation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One rule at minute S: the tier holding now (None: not firing), the value, and
    whether it held at some minute of the last RESOLVE_RUNS (a resolve is due)."""

    severity: Severity | None
    value: float | None
    lines: int
    total: int | None
    recently: bool


def _sum(counts: dict[str, Any], first: int, last: int, suffix: str = "") -> int:
    total = 0
    for m in range(first, last + 1):
        raw = counts.get(f"{m}{suffix}")
        total += int(raw) if raw is not None and str(raw).lstrip("-").isdigit() else 0
    return total


def value_at(rule: LogRule, counts: dict[str, Any], m: int) -> tuple[float | None, int, int | None]:
    """(value, matching lines, scope lines) of the window ending at minute m."""
    n = _sum(counts, m - rule.minutes, m)
    if not rule.is_ratio:
        return float(n), n, None
    d = _sum(counts, m - rule.minutes, m, ":of")
    return (n / d if d >= rule.min_lines else None), n, d


def tier_at(rule: LogRule, counts: dict[str, Any], m: int) -> Severity | None:
    """The most severe tier above which the value stayed at every minute m-F..m."""
    values = [value_at(rule, counts, t)[0] for t in range(m - rule.for_minutes, m + 1)]
    for sev, limit in sorted(rule.above.items(), key=lambda kv: kv[0].rank):
        if all(v is not None and v > limit for v in values):
            return sev
    return None


def verdict(rule: LogRule, counts: dict[str, Any], slot: int) -> Verdict:
    value, n, d = value_at(rule, counts, slot)
    now = tier_at(rule, counts, slot)
    recently = now is None and any(tier_at(rule, counts, slot - i) for i in range(1, RESOLVE_RUNS + 1))
    return Verdict(now, value, n, d, recently)


@dataclass
class Evaluation:
    claimed: bool = True
    quiet: bool = False
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)  # rules with counts no longer in the config
    emptied: list[str] = field(default_factory=list)  # rules whose last counts aged out this run


def _samples(raw: object) -> list[dict[str, Any]]:
    out = []
    for item in raw if isinstance(raw, list) else []:
        try:
            doc = json.loads(item)
        except (TypeError, ValueError):
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def evaluate(store: Store, rules: list[LogRule], now: float) -> Evaluation:
    """One round trip: every rule's counts at this minute slot, judged."""
    slot = minute_of(now)
    spec = {"rules": [{"name": r.name, "from": slot - horizon(r)} for r in rules]}
    raw = store.run_json(EVAL, [], [store.prefix, slot, json.dumps(spec, separators=(",", ":"))])
    if not isinstance(raw, dict) or not raw.get("claimed"):
        return Evaluation(claimed=False)
    counts = raw.get("counts") if isinstance(raw.get("counts"), dict) else {}
    samples = raw.get("samples") if isinstance(raw.get("samples"), dict) else {}
    gone, emptied = raw.get("gone"), raw.get("emptied")
    out = Evaluation(quiet=bool(raw.get("quiet")), gone=[str(g) for g in gone] if isinstance(gone, list) else [],
                     emptied=[str(e) for e in emptied] if isinstance(emptied, list) else [])
    for rule in rules:
        c = counts.get(rule.name)
        out.verdicts[rule.name] = verdict(rule, c if isinstance(c, dict) else {}, slot)
        out.samples[rule.name] = _samples(samples.get(rule.name))
    return out
