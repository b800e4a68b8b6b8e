"""Metric rules, the source half: scrape /metrics pages, parse them with
prometheus-client's parser, sum the series each rule selects, and turn a
rule's value and alert transition into a Signal.

Everything but `fetch`/`scrape_all` is pure. The state half (Redis, the cron
run) is lib/rules/state.py; the PromQL semantics are lib/rules/promql.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from lib.durations import format_duration
from lib.models import Severity, Signal
from lib.rules.config import Rule, Scrape
from lib.rules.promql import Selector, Transition

ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
_SAMPLE_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created", "_gcount", "_gsum")

Found = tuple[str, dict[str, str], float]  # (sample name, labels, value)


@dataclass(frozen=True)
class Page:
    """One scrape's outcome. `error` says why it failed, without credentials."""

    url: str
    samples: list[Found] = field(default_factory=list)
    error: str = ""
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.error


def url_id(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()[:12]


def selector_id(sel: Selector) -> str:
    return hashlib.sha1(str(sel).encode()).hexdigest()[:10]


def scrapes_of(rules: Iterable[Rule]) -> dict[str, Scrape]:
    """One scrape per distinct URL; the first rule that spells out its settings wins."""
    out: dict[str, Scrape] = {}
    for r in rules:
        sc = r.scrape_config
        if sc.url not in out or (isinstance(r.scrape, Scrape) and out[sc.url] == Scrape(url=sc.url)):
            out[sc.url] = sc
    return out


def wanted_names(rules: Iterable[Rule]) -> dict[str, set[str]]:
    """The metric families each URL's rules read, by base name (suffixes stripped)."""
    out: dict[str, set[str]] = {}
    for r in rules:
        for sel in r.selectors.values():
            out.setdefault(r.scrape_config.url, set()).update({sel.name, _base(sel.name)})
    return out


def _base(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# --- parsing ------------------------------------------------------------------------------------


def _keep_lines(text: str, wanted: set[str]) -> str:
    """The lines of the families in `wanted` (and `# EOF`), so the parser reads only those.

    A 5 MB page parses in seconds; the few families rules read, in milliseconds.
    A line that is neither a comment nor starts with a metric name is garbage:
    the page is rejected, as the full parse would have rejected it.
    """
    kept: list[str] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if line.startswith("# EOF") or (len(parts) > 2 and parts[2] in wanted):
                kept.append(line)
            continue
        m = _SAMPLE_NAME.match(line)
        if m is None or m.end() >= len(line) or line[m.end()] not in "{ \t":
            raise ValueError(f"line {n} is not a sample: {line[:60]!r}")
        name = m.group(0)
        if name in wanted or _base(name) in wanted:
            kept.append(line)
    return "\n".join(kept) + "\n"


def parse(text: str, content_type: str, wanted: set[str]) -> list[Found]:
    """The samples of the wanted families. OpenMetrics when the page says so, else text 0.0.4.

    Raises ValueError for a page either parser rejects.
    """
    body = _keep_lines(text, wanted)
    if "application/openmetrics-text" in content_type.lower():
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse

        families = om_parse(body)
    else:
        from prometheus_client.parser import text_string_to_metric_families

        families = text_string_to_metric_families(body)
    try:
        return [(s.name, dict(s.labels), float(s.value)) for fam in families for s in fam.samples]
    except (KeyError, IndexError, TypeError) as exc:  # the parsers leak these on some garbage
        raise ValueError(f"{type(exc).__name__}: {exc}") from None


def sum_of(samples: list[Found], sel: Selector) -> float | None:
    """sum(sel): None when no series matches (PromQL: an empty vector)."""
    total, seen = 0.0, False
    for name, labels, value in samples:
        if name == sel.name and sel.matches(labels):
            total, seen = total + value, True
    return total if seen else None


def buckets_of(samples: list[Found], sel: Selector) -> dict[str, float] | None:
    """sum by (le) (sel): {le as written by float(): count}; None when nothing matches."""
    out: dict[str, float] = {}
    for name, labels, value in samples:
        if name == sel.name and "le" in labels and sel.matches(labels):
            le = repr(float(labels["le"]))
            out[le] = out.get(le, 0.0) + value
    return out or None


def observe(rule: Rule, samples: list[Found]) -> dict[str, Any]:
    """{selector id: value or {le: count}} for every metric of the rule found on the page."""
    out: dict[str, Any] = {}
    for role, sel in rule.selectors.items():
        value = buckets_of(samples, sel) if role == "buckets" else sum_of(samples, sel)
        if value is not None:
            out[selector_id(sel)] = value
    return out


# --- fetching ------------------------------------------------------------------------------------


def auth_headers(scrape: Scrape, environ: Mapping[str, str]) -> dict[str, str]:
    """Authorization from the environment; KeyError names the variable that is missing."""
    a = scrape.auth
    if a is None:
        return {}
    if a.bearer_env:
        token = environ.get(a.bearer_env, "").strip()
        if not token:
            raise KeyError(a.bearer_env)
        return {"Authorization": f"Bearer {token}"}
    password = environ.get(a.basic_password_env or "", "").strip()
    if not password:
        raise KeyError(a.basic_password_env)
    pair = base64.b64encode(f"{a.basic_user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


async def _get(client: httpx.AsyncClient, scrape: Scrape, headers: dict[str, str]) -> tuple[str, str, int]:
    async with client.stream("GET", scrape.url, headers={"Accept": ACCEPT, **headers}) as resp:
        if not 200 <= resp.status_code < 300:
            raise _Failed(f"HTTP {resp.status_code}")
        chunks, size = [], 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > scrape.max_bytes:
                raise _Failed(f"body over the limit of {scrape.max_bytes} bytes")
            chunks.append(chunk)
        try:
            text = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise _Failed("unparsable: the body is not UTF-8") from None
        return text, resp.headers.get("content-type", ""), size


class _Failed(Exception):
    pass


async def fetch(client: httpx.AsyncClient, scrape: Scrape, wanted: set[str], environ: Mapping[str, str]) -> Page:
    """One scrape, bounded by its timeout and body limit, parsed. Never raises."""
    try:
        headers = auth_headers(scrape, environ)
    except KeyError as exc:
        return Page(scrape.url, error=f"credentials not configured: environment variable {exc.args[0]} is not set")
    try:
        text, ctype, size = await asyncio.wait_for(_get(client, scrape, headers), scrape.timeout)
    except (TimeoutError, httpx.TimeoutException):
        return Page(scrape.url, error=f"timeout after {format_duration(scrape.timeout)}")
    except _Failed as exc:
        return Page(scrape.url, error=str(exc))
    except httpx.HTTPError as exc:
        return Page(scrape.url, error=f"connection failed ({type(exc).__name__})")
    try:
        return Page(scrape.url, samples=parse(text, ctype, wanted), bytes=size)
    except ValueError as exc:
        return Page(scrape.url, error=f"unparsable: {str(exc)[:200]}")


async def scrape_all(scrapes: dict[str, Scrape], wanted: dict[str, set[str]], environ: Mapping[str, str]) -> dict[str, Page]:
    """Every URL at once, one request each."""
    from lib.http import async_client

    if not scrapes:
        return {}
    async with async_client(max_connections=max(10, len(scrapes))) as client:
        pages = await asyncio.gather(*(fetch(client, s, wanted.get(u, set()), environ) for u, s in scrapes.items()))
    return {p.url: p for p in pages}


# --- signals -------------------------------------------------------------------------------------


def fmt(value: float | None, unit: str, threshold: bool = False) -> str:
    """A value as people read it: "2.0 %", "1.25 s", "2.1×"; thresholds without padding ("1 %")."""
    if value is None or math.isnan(value):
        return "no data"
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
        return f"{rule.what} {fmt(value, unit)} {op} {fmt(rule.tiers[severity], unit, True)} ({severity})"
    if value is None or math.isnan(value):
        return f"{rule.what}: no data"
    least = min(rule.tiers.items(), key=lambda kv: -kv[0].rank)
    back = "≤" if rule.is_above else "≥"
    return f"{rule.what} {fmt(value, unit)} {back} {fmt(least[1], unit, True)} ({least[0]})"


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
