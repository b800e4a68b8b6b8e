"""A log rule's verdict as a Signal: the count and the window, up to three redacted sample
lines with their request ids, and a link to the deployment's logs in Vercel."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from lib.clock import iso
from lib.durations import format_duration
from lib.logs.config import LogRule
from lib.logs.state import Verdict
from lib.models import Severity, Signal

SOURCE = "logs"


def key_of(rule: LogRule | str) -> str:
    return f"log:{rule if isinstance(rule, str) else rule.name}"


def removed_signal(name: str, t: float) -> Signal:
    """A rule taken out of the config while it had counts: resolve its incident rather than strand it."""
    return Signal(key=key_of(name), severity=Severity.P3, status="resolved", title=name, source=SOURCE,
                  summary="resolved: the log rule was removed from the configuration", occurred_at=t)


def _fmt(rule: LogRule, value: float | None) -> str:
    if value is None:
        return "no data"
    return f"{value * 100:.1f} %" if rule.is_ratio else f"{int(value)}"


def headline(rule: LogRule, v: Verdict) -> str:
    """"57 error lines in 5m (P1 above 50)", or for a ratio "12.0 % of 250 lines in 5m"."""
    window = format_duration(rule.window)
    if rule.is_ratio:
        what = f"{_fmt(rule, v.value)} {rule.what} ({v.lines} of {v.total or 0} lines) in {window}"
    else:
        what = f"{v.lines} {rule.what} in {window}"
    if v.severity is None:
        return what
    limit = rule.above[v.severity]
    held = f", for {format_duration(rule.for_)}" if rule.for_ else ""
    return f"{what} ({v.severity.value} above {_fmt(rule, limit) if rule.is_ratio else f'{limit:g}'}{held})"


def logs_link(team: str | None, sample: dict[str, Any] | None) -> str | None:
    """The project's Logs page in the Vercel dashboard (team slug from sources.vercel.team); messages
    show it as the incident's Source link."""
    project = (sample or {}).get("project")
    if not team or not isinstance(project, str) or not project:
        return None
    return f"https://vercel.com/{quote(team, safe='')}/{quote(project, safe='')}/logs"


def sample_line(s: dict[str, Any]) -> str:
    at = iso(float(s["t"]))[11:19] if isinstance(s.get("t"), int | float) else "--:--:--"
    where = " ".join(str(x) for x in (s.get("source"), s.get("path"), s.get("status")) if x not in (None, ""))
    rid = f" (request {s['request_id']})" if s.get("request_id") else ""
    return f"• {at} [{s.get('level') or '?'}] {where}: {s.get('message') or ''}{rid}"


def log_signal(rule: LogRule, v: Verdict, samples: list[dict[str, Any]], slot_t: float,
               team: str | None) -> Signal:
    firing = v.severity is not None
    body = [headline(rule, v)]
    if firing and samples:
        body += ["Latest lines:", *(sample_line(s) for s in samples[:3])]
    link = logs_link(team, samples[0] if samples else None)
    links = {k: u for k, u in (("source", link), ("runbook", rule.runbook), ("dashboard", rule.dashboard)) if u}
    first = samples[0] if samples else {}
    labels = {"rule": rule.name, "lines": str(v.lines)}
    for name in ("project", "deployment_id", "request_id"):
        if first.get(name):
            labels[name] = str(first[name])[:200]
    return Signal(
        key=key_of(rule),
        severity=v.severity or min(rule.above, key=lambda s: -s.rank),
        status="firing" if firing else "resolved",
        title=rule.title or f"{rule.name}: {rule.what}",
        summary=("\n".join(body) if firing else "resolved: " + body[0])[:4000],
        source=SOURCE,
        labels=labels,
        links=links,
        occurred_at=slot_t,
    )
