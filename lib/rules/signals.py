"""What a metric rules run announces: a rule's transition, or a target failing to
scrape, as a Signal whose summary says the value and the threshold it crossed."""

from __future__ import annotations

import math

from lib.durations import format_duration
from lib.models import Severity, Signal
from lib.rules.config import Rule, Scrape
from lib.rules.promql import Transition


def fmt(value: float | None, unit: str, threshold: bool = False) -> str:
    """A value as people read it: "2.0 %", "1.25 s", "2.1×"; thresholds without padding ("1 %")."""
    if value is None or math.isnan(value):
        return "no data"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"  # x / 0: errors with no request completing
    if unit == "percent":
        return f"{value * 100:g} %" if threshold else f"{value * 100:.1f} %"
    if unit == "seconds":
        return f"{value:g} s" if threshold else f"{value:.3g} s"
    if unit == "times":
        return f"{value:g}×" if threshold else f"{value:.1f}×"
    if unit == "bytes":
        for size, name in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= size:
                return f"{value / size:.3g} {name}"
        return f"{value:g} B"
    return f"{value:g}" if threshold else f"{value:.4g}"


def explain(rule: Rule, value: float | None, severity: Severity | None) -> str:
    """"error rate 2.0 % > 1 % (P0)", or the value and the nearest tier it does not cross."""
    unit, op = rule.display_unit, ">" if rule.is_above else "<"
    if severity is not None:
        text = f"{rule.what} {fmt(value, unit)} {op} {fmt(rule.tiers[severity], unit, True)} ({severity})"
        return text + _pending(rule, value, severity)
    if value is None or math.isnan(value):
        return f"{rule.what}: no data"
    least = min(rule.tiers.items(), key=lambda kv: -kv[0].rank)
    back = "≤" if rule.is_above else "≥"
    return f"{rule.what} {fmt(value, unit)} {back} {fmt(least[1], unit, True)} ({least[0]})"


def _pending(rule: Rule, value: float | None, severity: Severity) -> str:
    """"; also > 1 % (P0): pending, it must hold 2m" when the value already crosses a more urgent
    tier that has not held for `for` yet (the page says so instead of hiding it)."""
    if value is None or math.isnan(value):
        return ""
    crossed = [(s, th) for s, th in rule.tiers.items()
               if s.rank < severity.rank and (value > th if rule.is_above else value < th)]
    if not crossed:
        return ""
    sev, th = min(crossed, key=lambda kv: kv[0].rank)
    op = ">" if rule.is_above else "<"
    hold = f", it must hold {format_duration(rule.for_)}" if rule.for_ else ""
    return f"; also {op} {fmt(th, rule.display_unit, True)} ({sev}): pending{hold}"


def links(rule: Rule) -> dict[str, str]:
    out = {"scrape": rule.scrape_config.url.split("?")[0]}
    if rule.runbook:
        out["runbook"] = rule.runbook
    if rule.dashboard:
        out["dashboard"] = rule.dashboard
    return out


def rule_signal(rule: Rule, tr: Transition, value: float | None, t: float) -> Signal:
    if tr.status == "firing":
        summary = explain(rule, value, tr.severity) + (f" for {format_duration(tr.held)}" if rule.for_ else "")
    elif value is None:
        summary = f"resolved: no data for {format_duration(tr.held)}"
    else:
        summary = "resolved: " + explain(rule, value, None)
    return Signal(
        key=f"rule:{rule.name}",
        severity=tr.severity,
        status="firing" if tr.status == "firing" else "resolved",
        title=rule.title or rule.name,
        summary=summary,
        source="rules",
        labels={"rule": rule.name, "scrape": rule.scrape_config.where, "value": fmt(value, rule.display_unit)},
        links=links(rule),
        occurred_at=t,
    )


def scrape_signal(scrape: Scrape, firing: bool, error: str, since: float, t: float) -> Signal:
    """One P2 per target failing longer than `alert_after`, saying why; resolved when it scrapes again."""
    where = scrape.where
    summary = (
        f"GET {scrape.url.split('?')[0]} has failed for {format_duration(t - since)}: {error}"
        if firing
        else f"{where} scrapes again"
    )
    return Signal(
        key=f"scrape:{where}",
        severity=Severity.P2,
        status="firing" if firing else "resolved",
        title=f"Scrape failing: {where}",
        summary=summary,
        source="rules",
        labels={"scrape": where},
        links={"scrape": scrape.url.split("?")[0]},
        occurred_at=t,
    )
