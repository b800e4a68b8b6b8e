"""The PromQL semantics Vigil's metric rules rely on, as pure functions.

Each mirrors Prometheus's own code (promql/functions.go `extrapolatedRate`,
promql/quantile.go `bucketQuantile`, rules/alerting.go `Eval`) so a rule here
means what the same rule means in a Prometheus server:

- `increase` over a window handles counter resets (a value lower than the one
  before: the target restarted, so the pre-reset value is added) and
  extrapolates to the window's edges like Prometheus.
- `histogram_quantile` interpolates linearly inside the bucket the rank falls
  in; a rank in the +Inf bucket answers the highest finite upper bound.
- `step_alert` is the pending/firing state of one alert: pending from the first
  evaluation that holds, firing once it has held for `for`.

Nothing here does I/O or reads the clock. Times are Unix seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lib.matchers import Matcher, make
from lib.models import Severity

Sample = tuple[float, float]  # (time, value)

# --- selectors ------------------------------------------------------------------------------

_NAME = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,)?')


@dataclass(frozen=True)
class Selector:
    """`name{label="value",...}`: the series of one metric, summed after matching."""

    name: str
    matchers: tuple[Matcher, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def with_labels(self, labels: dict[str, str]) -> Selector:
        extra = tuple(Matcher(k, "=", v) for k, v in sorted(labels.items()))
        return Selector(self.name, tuple(sorted({*self.matchers, *extra}, key=str)))

    def __str__(self) -> str:
        inner = ",".join(str(m) for m in self.matchers)
        return f"{self.name}{{{inner}}}" if inner else self.name


def parse_selector(text: str) -> Selector:
    """`http_requests_total{provider="openai",code=~"5.."}` -> Selector; ValueError saying why."""
    m = _NAME.match(text)
    if not m:
        raise ValueError(f"'{text}' is not a metric name like http_requests_total")
    name, rest = m.group(1), text[m.end():]
    matchers: list[Matcher] = []
    if rest.startswith("{"):
        body, pos = rest[1:], 0
        while True:
            if body[pos:].lstrip().startswith("}"):
                rest = body[pos:].lstrip()[1:]
                break
            mm = _MATCHER.match(body, pos)
            if not mm:
                raise ValueError(f"'{text}': expected label=\"value\" at '{body[pos:pos + 20]}'")
            value = mm.group(3).replace('\\"', '"').replace("\\\\", "\\")
            try:
                matchers.append(make(mm.group(1), mm.group(2), value))
            except re.error as exc:
                raise ValueError(f"'{text}': bad regex for {mm.group(1)}: {exc}") from None
            pos = mm.end()
            if mm.group(4) is None and not body[pos:].lstrip().startswith("}"):
                raise ValueError(f"'{text}': expected ',' or '}}' after {mm.group(1)}")
    if rest.strip():
        raise ValueError(f"'{text}': unexpected '{rest.strip()}' after the selector")
    return Selector(name, tuple(sorted(matchers, key=str)))


# --- increase / rate ------------------------------------------------------------------------


def in_range(samples: list[Sample], start: float, end: float) -> list[Sample]:
    """The samples a range selector [window] sees at `end`: (end - window, end], in time order."""
    return sorted((t, v) for t, v in samples if start < t <= end and not math.isnan(v))


def increase(samples: list[Sample], start: float, end: float) -> float | None:
    """PromQL `increase(x[end-start])`: None when fewer than two samples are in range.

    1. Sum the rises, adding a sample's full value after a drop (a counter reset).
    2. Extrapolate to the window's edges when the first/last sample is within 1.1
       average intervals of them (else by half an interval), never below zero.
    """
    pts = in_range(samples, start, end)
    if len(pts) < 2:
        return None
    result, prev = 0.0, pts[0][1]
    for _, v in pts[1:]:
        result += v - prev if v >= prev else v
        prev = v
    first_t, last_t = pts[0][0], pts[-1][0]
    sampled = last_t - first_t
    if sampled <= 0:
        return None
    avg = sampled / (len(pts) - 1)
    to_start, to_end = first_t - start, end - last_t
    threshold = avg * 1.1
    if to_start >= threshold:
        to_start = avg / 2
    if result > 0 and pts[0][1] >= 0:
        # A counter cannot have been below zero: do not extrapolate past that point.
        to_start = min(to_start, sampled * (pts[0][1] / result))
    if to_end >= threshold:
        to_end = avg / 2
    extrapolate_to = sampled + to_start + to_end
    return result * (extrapolate_to / sampled)


def rate(samples: list[Sample], start: float, end: float) -> float | None:
    """PromQL `rate`: `increase` per second of the window."""
    inc = increase(samples, start, end)
    return None if inc is None else inc / (end - start)


def sum_increase(series: Iterable[list[Sample]], start: float, end: float) -> float | None:
    """PromQL `sum(increase(x[w]))`: increase per series, then the sum of those that have one.

    A series with fewer than two samples in range is absent from the vector; none
    left: None (an empty vector). A series that appears, vanishes or comes back
    never reads as a reset of the others.
    """
    got = [v for s in series if (v := increase(s, start, end)) is not None]
    return math.fsum(got) if got else None


def divide(num: float | None, den: float | None) -> float | None:
    """PromQL `a / b` of two one-element vectors: empty if either is, x/0 = ±Inf, 0/0 = NaN."""
    if num is None or den is None:
        return None
    if den == 0:
        return math.nan if num == 0 or math.isnan(num) else math.copysign(math.inf, num)
    return num / den


# --- histogram_quantile ---------------------------------------------------------------------


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """PromQL `histogram_quantile(q, ...)` over {upper bound: cumulative count}.

    None (Prometheus: NaN) without a +Inf bucket, with fewer than two buckets or
    no observations.
    """
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    bounds = sorted(buckets)
    if len(bounds) < 2 or not math.isinf(bounds[-1]):
        return None
    counts, highest = [], 0.0
    for b in bounds:  # Prometheus `ensureMonotonic`: counts never decrease with the bound
        highest = max(highest, buckets[b])
        counts.append(highest)
    observations = counts[-1]
    if observations <= 0 or math.isnan(observations):
        return None
    rank = q * observations
    b = next(i for i, c in enumerate(counts) if c >= rank)
    if b == len(bounds) - 1:
        return bounds[-2]  # in the +Inf bucket: the highest finite upper bound
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start = 0.0 if b == 0 else bounds[b - 1]
    count = counts[b] - (counts[b - 1] if b else 0.0)
    rank -= counts[b - 1] if b else 0.0
    return start + (bounds[b] - start) * (rank / count)


# --- tiers and the for-state ----------------------------------------------------------------


def tiers_holding(value: float | None, tiers: dict[Severity, float], above: bool) -> list[Severity]:
    """The severities whose threshold `value` crosses (strictly), most urgent first."""
    if value is None or math.isnan(value):
        return []
    hit = [s for s, limit in tiers.items() if (value > limit if above else value < limit)]
    return sorted(hit, key=lambda s: s.rank)


@dataclass(frozen=True)
class AlertState:
    """One rule's alert: when each tier started holding, which tiers fire, what was announced."""

    active: dict[str, float] = field(default_factory=dict)  # severity -> active_at
    fired: Severity | None = None
    firing: tuple[str, ...] = ()  # the tiers firing at the last evaluation (Prometheus StateFiring)
    no_data_since: float | None = None  # first evaluation without a value while something fired

    def to_json(self) -> dict[str, object]:
        return {"active": self.active, "fired": self.fired.value if self.fired else None,
                "firing": list(self.firing), "no_data_since": self.no_data_since}

    @classmethod
    def from_json(cls, data: object) -> AlertState:
        if not isinstance(data, dict):
            return cls()
        active = data.get("active") if isinstance(data.get("active"), dict) else {}
        fired = data.get("fired")
        firing = data.get("firing") if isinstance(data.get("firing"), list) else []
        since = data.get("no_data_since")
        return cls(
            active={str(k): float(v) for k, v in (active or {}).items()},
            fired=Severity(fired) if fired in Severity.__members__ else None,
            firing=tuple(str(f) for f in firing if f in Severity.__members__),
            no_data_since=float(since) if isinstance(since, (int, float)) else None,
        )


@dataclass(frozen=True)
class Transition:
    """What a rule's evaluation announces: `firing` at a severity (new or higher), or `resolved`."""

    status: str  # "firing" | "resolved"
    severity: Severity
    held: float = 0.0  # seconds the announced tier has held


def step_alert(
    state: AlertState, holding: list[Severity] | None, t: float, hold: float, no_data_limit: float = math.inf
) -> tuple[AlertState, Transition | None]:
    """Advance one rule's alert to evaluation time `t`, as Prometheus rules/alerting.go `Eval`.

    `holding` is None when the rule has no value ("no data"), else the tiers it crosses.

    1. Tiers that hold keep their active_at (or start pending at `t`); the others drop
       (a pending alert missing from the result is deleted).
    2. A tier fires once `t - active_at >= hold` (Prometheus `for`).
    3. The most urgent firing tier is announced when nothing was, or when it is
       more urgent than what was (an upgrade). A less urgent one says nothing:
       incidents do not downgrade.
    4. Nothing firing while something was announced: resolved.
    5. No data (on purpose unlike Prometheus, which resolves): pending tiers drop,
       firing tiers keep firing, nothing is announced. Only a value says resolved, or
       `no_data_limit` seconds without one (so every incident can end).
    """
    if holding is None:
        since = state.no_data_since if state.no_data_since is not None else t
        if state.fired is not None and t - since >= no_data_limit:
            return AlertState(), Transition("resolved", state.fired, t - since)
        active = {s: a for s, a in state.active.items() if s in state.firing}
        return AlertState(active, state.fired, state.firing, since if state.fired else None), None
    active = {s.value: state.active.get(s.value, t) for s in holding}
    firing = [s for s in holding if t - active[s.value] >= hold]
    names = tuple(s.value for s in firing)
    top = firing[0] if firing else None
    if top is None:
        if state.fired is not None:
            return AlertState(active, None, names), Transition("resolved", state.fired)
        return AlertState(active, None, names), None
    if state.fired is None or top.rank < state.fired.rank:
        return AlertState(active, top, names), Transition("firing", top, t - active[top.value])
    return AlertState(active, state.fired, names), None
