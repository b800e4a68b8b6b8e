"""One drain delivery, start to answer, and the cron's side (signals for the engine).

1. Verify `x-vercel-signature` over the raw body (BadSignature -> 401).
2. Decode (content type, gzip within MAX_DECODED) and split into lines; a bad line is
   skipped and counted (BadBatch -> 400/415, TooLarge -> 413).
3. Match every line against every rule, pure.
4. One round trip (logs_ingest.lua) when anything counted or was malformed; none otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.logs import drain, state
from lib.logs.config import LogRule
from lib.logs.signal import log_signal, removed_signal
from lib.metrics import field_of
from lib.models import Signal
from lib.store import Store

MAX_BATCH = 4_500_000  # Vercel Functions accept request bodies up to 4.5 MB; no drain batch can be larger
MAX_DECODED = 16 * 1024 * 1024  # a gzip batch, inflated


@dataclass
class Outcome:
    lines: int
    malformed: int
    matched: int
    late: int
    counted: int = 0
    duplicate: int = 0
    round_trips: int = 0
    per_rule: dict[str, int] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines, "malformed": self.malformed, "matched": self.matched,
            "counted": self.counted, "duplicate": self.duplicate, "late": self.late,
            "rules": {k: v for k, v in (self.per_rule or {}).items() if v},
        }


def lines_counter(outcome: str, n: int) -> list[Any]:
    return ["log_lines", field_of("log_lines", {"outcome": outcome}), n]


def webhook_counter(outcome: str) -> list[Any]:
    return ["webhooks", field_of("webhooks", {"source": "logs", "outcome": outcome}), 1]


def accept(store: Store, rules: list[LogRule], headers: dict[str, str], body: bytes, now: float) -> Outcome:
    """Steps 2-4 (the signature is the caller's: it owns the secret)."""
    batch = drain.parse(drain.decode(headers, body, MAX_DECODED))
    counted = state.count(rules, batch.lines, now)
    out = Outcome(len(batch.lines) + batch.malformed, batch.malformed, counted.matched, counted.late,
                  per_rule=counted.per_rule)
    if not counted.payload["lines"] and not batch.malformed:
        return out  # nothing matched: no Redis at all
    counters = [webhook_counter("accepted")]
    counters += [lines_counter(name, n) for name, n in (("malformed", batch.malformed), ("late", counted.late)) if n]
    before = store.round_trips
    got = state.ingest(store, counted, counters)
    out.round_trips = store.round_trips - before
    out.counted, out.duplicate = int(got.get("counted") or 0), int(got.get("duplicate") or 0)
    return out


def signals(store: Store, rules: list[LogRule], now: float, team: str | None) -> list[Signal]:
    """The cron's half: evaluate (one round trip) and say what each active rule is doing."""
    ev = state.evaluate(store, rules, now)
    out = [removed_signal(name, state.minute_of(now) * 60.0) for name in ev.gone]
    for rule in rules:
        v = ev.verdicts.get(rule.name)
        if v is not None and (v.severity is not None or v.recently or rule.name in ev.emptied):
            out.append(log_signal(rule, v, ev.samples.get(rule.name, []), state.minute_of(now) * 60.0, team))
    return out
