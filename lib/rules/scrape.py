"""Metric rules, the source half: scrape /metrics pages, parse them with
prometheus-client's parser, and pick the series each rule selects.

Everything but `fetch`/`scrape_all` is pure. The state half (Redis, the cron
run) is lib/rules/state.py; the PromQL semantics are lib/rules/promql.py; the
Signals a run announces, lib/rules/signals.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import httpx

from lib.durations import format_duration
from lib.rules.config import Rule, Scrape
from lib.rules.promql import Selector

ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"
_SAMPLE_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created", "_gcount", "_gsum")

Found = tuple[str, dict[str, str], float]  # (sample name, labels, value)
Samples = list[Found] | Mapping[str, list[Found]]  # a page's samples, or them by name (Page.by_name)


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

    @cached_property
    def by_name(self) -> dict[str, list[Found]]:
        """The samples by name: each selector reads only its own metric's samples."""
        return index(self.samples)


def index(samples: Iterable[Found]) -> dict[str, list[Found]]:
    out: dict[str, list[Found]] = {}
    for found in samples:
        out.setdefault(found[0], []).append(found)
    return out


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


MAX_SERIES = 2000  # per selector and minute: a page with more is cut there, and says so


def series_key(labels: Mapping[str, str]) -> str:
    """A short stable identity for one series of a selector: a hash of its labels (without `le`)."""
    canonical = ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "le")
    key = hashlib.sha1(canonical.encode()).hexdigest()[:12]
    return f"{key}|{float(labels['le'])!r}" if "le" in labels else key


def series_of(samples: Samples, sel: Selector, buckets: bool = False) -> dict[str, float]:
    """{series key: value} of every series `sel` matches (for buckets, one per series and `le`).

    A label set the page repeats keeps its first sample, as Prometheus does. At most
    MAX_SERIES series (in page order): per-series state stays bounded.
    """
    out: dict[str, float] = {}
    for name, labels, value in samples.get(sel.name, ()) if isinstance(samples, Mapping) else samples:
        if name != sel.name or (buckets and "le" not in labels) or not sel.matches(labels):
            continue
        try:
            key = series_key(labels)
        except ValueError:  # an `le` that is not a number: not a bucket Prometheus could use
            continue
        if key not in out and len(out) < MAX_SERIES:
            out[key] = value
    return out


def observe(rule: Rule, samples: Samples) -> dict[str, dict[str, float]]:
    """{selector id: {series key: value}} for every metric of the rule found on the page."""
    out: dict[str, dict[str, float]] = {}
    for role, sel in rule.selectors.items():
        found = series_of(samples, sel, buckets=role == "buckets")
        if found:
            out[selector_id(sel)] = found
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
