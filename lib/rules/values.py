"""A rule's value from the samples Vigil keeps: per series, then summed, as PromQL.

History is {selector id: {series key: [(t, value)]}} (a bucket's series key ends in
`|<le>`), decoded from the sorted sets lib/rules/state.py reads; pure functions only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from lib.rules import promql
from lib.rules import scrape as src
from lib.rules.config import Rule

BASELINE_COVERAGE = 0.9  # a baseline needs samples over 90 % of its window before it means anything

History = dict[str, dict[str, list[promql.Sample]]]  # selector id -> series key -> [(t, value)]


def decode_history(members: object) -> History:
    """Stored minutes -> {selector id: {series key: [(t, value)]}}, in time order.

    Members written before per-series storage (`"v"`, sums) are skipped: their
    sums cannot be split back into series."""
    out: History = {}
    for raw in members if isinstance(members, list) else []:
        try:
            doc = json.loads(raw)
            t, values = float(doc["t"]), doc["s"]
            for sid, series in values.items():
                for key, v in series.items():
                    out.setdefault(sid, {}).setdefault(key, []).append((t, float(v)))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return out


def add_minute(hist: History, t: float, obs: Mapping[str, Mapping[str, float]]) -> None:
    """Append one scrape's series to `hist` (a series it does not carry is stale from now)."""
    for sid, series in obs.items():
        for key, v in series.items():
            hist.setdefault(sid, {}).setdefault(key, []).append((t, float(v)))


def _buckets(series: Mapping[str, list[promql.Sample]], start: float, t: float) -> dict[float, float]:
    """sum by (le) (increase(h_bucket[w])): per series and bound, then summed by bound."""
    by_le: dict[float, list[list[promql.Sample]]] = {}
    for key, samples in series.items():
        _, _, le = key.partition("|")
        if le:
            by_le.setdefault(float(le), []).append(samples)
    out = {}
    for le, group in by_le.items():
        inc = promql.sum_increase(group, start, t)
        if inc is not None:
            out[le] = inc
    return out


def value_of(rule: Rule, hist: History, t: float) -> float | None:
    """The rule's expression at `t` over `hist` (which already holds this run's samples, if any).

    Everything is per series, then summed (PromQL `sum(increase(...))`); a value
    may be ±Inf (x / 0) or NaN (0 / 0, no value)."""
    sel = {role: src.selector_id(s) for role, s in rule.selectors.items()}
    start = t - rule.window

    def total(role: str, begin: float = start) -> float | None:
        return promql.sum_increase(hist.get(sel[role], {}).values(), begin, t)

    if rule.ratio:
        return promql.divide(total("num"), total("total"))
    if rule.quantile:
        return promql.histogram_quantile(rule.quantile.q, _buckets(hist.get(sel["buckets"], {}), start, t))
    if rule.baseline:
        series = hist.get(sel["counter"], {})
        first = min((s[0][0] for s in series.values() if s), default=None)
        span = rule.baseline.baseline
        if first is None or t - first < span * BASELINE_COVERAGE:
            return None
        now_rate, usual = total("counter"), total("counter", t - span)
        now_rate = None if now_rate is None else now_rate / rule.window
        return promql.divide(now_rate, None if usual is None else usual / span)
    return None


def instant_value(rule: Rule, obs: Mapping[str, Mapping[str, float]]) -> float | None:
    """Gauges: the sum of the series on this page (value / max for a ratio of gauges).

    No page (a failed scrape) or no series: no value; Prometheus marks a failed
    target's series stale, so an instant selector finds nothing either."""
    sel = {role: src.selector_id(s) for role, s in rule.selectors.items()}

    def sum_(role: str) -> float | None:
        series = obs.get(sel[role])
        return math.fsum(series.values()) if series else None

    value = sum_("value")
    if rule.gauge:
        return value
    assert rule.gauge_ratio
    limit = sum_("max") if "max" in sel else float(rule.gauge_ratio.max)
    return promql.divide(value, limit)


def jsonable(value: float | None) -> float | str | None:
    """A value for JSON: ±Inf as "+Inf"/"-Inf" (JSON has no infinity), NaN as None."""
    if value is None or math.isnan(value):
        return None
    return value if math.isfinite(value) else ("+Inf" if value > 0 else "-Inf")
