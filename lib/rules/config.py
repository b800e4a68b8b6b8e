"""The `rules:` section of monitoring.yaml: metric rules over Prometheus /metrics scrapes.

    rules:
      - name: HighErrorRate
        scrape: https://api.example.com/metrics
        ratio: {errors: http_errors_total, total: http_requests_total}
        window: 5m
        above: {P1: 0.005, P0: 0.01}
        for: 5m

One expression per rule: `ratio`, `quantile`, `gauge`, `gauge_ratio` or
`baseline`, with tiers under `above` or `below`. Metric names may carry PromQL
label matchers (`llm_requests_total{provider="openai"}`); `labels:` adds
matchers to every metric of the rule. See docs/rules.md.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Literal
from urllib.parse import urlsplit

from lib.durations import Duration
from lib.models import Severity
from lib.rules.promql import Selector, parse_selector
from lib.schema import config_class, spec

KINDS = ("ratio", "quantile", "gauge", "gauge_ratio", "baseline")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$")
_SIZES = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _check_selector(v: str) -> str:
    parse_selector(v)  # ValueError with the reason becomes the config error
    return v


def _maybe_selector(v: str | None) -> str | None:
    return v and _check_selector(v)


@config_class
class ScrapeAuth:
    """Credentials come from the environment, by variable name: never in the file."""

    bearer_env: str | None = None  # name of the env var holding a bearer token
    basic_user: str | None = None  # Supabase Metrics API: service_role
    basic_password_env: str | None = None  # name of the env var holding the password

    def _verify(self) -> None:
        basic = self.basic_user is not None or self.basic_password_env is not None
        if self.bearer_env and basic:
            raise ValueError("use either bearer_env or basic_user + basic_password_env")
        if basic and not (self.basic_user and self.basic_password_env):
            raise ValueError("basic auth needs both basic_user and basic_password_env")
        if not self.bearer_env and not basic:
            raise ValueError("needs bearer_env, or basic_user + basic_password_env")


@config_class
class Scrape:
    url: str = spec(pattern=r"^https?://")
    auth: ScrapeAuth | None = None
    timeout: Duration = 10.0
    max_bytes: int = spec(10 * 1024 * 1024, ge=1024)
    alert_after: Duration = 600.0  # failing this long raises one P2 "scrape failing"

    @property
    def where(self) -> str:
        """host + path: the scrape's identity in signal keys and messages (no query, no credentials)."""
        parts = urlsplit(self.url)
        return f"{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}{parts.path or '/'}"


@config_class
class Ratio:
    """increase(errors or success) / increase(total) over the window."""

    errors: str | None = spec(None, after=_maybe_selector)
    success: str | None = spec(None, after=_maybe_selector)
    total: str = spec(after=_check_selector)

    def _verify(self) -> None:
        if (self.errors is None) == (self.success is None):
            raise ValueError("needs exactly one of 'errors' or 'success' beside 'total'")

    @property
    def numerator(self) -> str:
        return self.errors or self.success or ""


@config_class
class Quantile:
    """histogram_quantile(q, sum by (le) (increase(<histogram>_bucket[window])))."""

    histogram: str = spec(after=_check_selector)
    q: float = spec(gt=0, lt=1)


def _quota(v: object) -> object:
    if isinstance(v, str) and (m := _SIZE.match(v)):
        return float(m.group(1)) * _SIZES[m.group(2) or "B"]
    if isinstance(v, str):
        _check_selector(v)
    elif isinstance(v, (int, float)) and v <= 0:
        raise ValueError("a fixed max must be above 0")
    return v


@config_class
class GaugeRatio:
    """value / max, both gauges summed over their series; `max` may be a fixed quota ("8GB")."""

    value: str = spec(after=_check_selector)
    max: str | float = spec(before=_quota)


@config_class
class Baseline:
    """rate(counter[window]) divided by rate(counter[baseline]): 2.0 means twice the usual."""

    counter: str = spec(after=_check_selector)
    baseline: Duration = 3600.0


def _scrape_url(v: object) -> object:
    if isinstance(v, str) and not re.match(r"^https?://", v):
        raise ValueError(f"'{v}' is not an http(s) URL")
    return v


@config_class
class Rule:
    name: str = spec(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")
    scrape: str | Scrape = spec(before=_scrape_url)
    ratio: Ratio | None = None
    quantile: Quantile | None = None
    gauge: str | None = spec(None, after=_maybe_selector)
    gauge_ratio: GaugeRatio | None = None
    baseline: Baseline | None = None
    labels: dict[str, str] = spec(factory=dict)  # matchers added to every metric
    window: Duration = 300.0
    above: dict[Severity, float] = spec(factory=dict)
    below: dict[Severity, float] = spec(factory=dict)
    for_: Duration = spec(0.0, alias="for")
    title: str | None = None
    describe: str | None = None  # what the value is, in messages: "error rate"
    runbook: str | None = None
    dashboard: str | None = None
    unit: Literal["ratio", "percent", "seconds", "bytes", "count", "times", ""] = ""

    def _verify(self) -> None:
        kinds = [k for k in KINDS if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                "needs exactly one of ratio, quantile, gauge, gauge_ratio, baseline"
                + (f" (has {', '.join(kinds)})" if kinds else "")
            )
        if bool(self.above) == bool(self.below):
            raise ValueError("needs tiers under exactly one of 'above' or 'below'")
        if self.window < 60:
            raise ValueError("window must be at least 1m: Vigil scrapes once a minute")

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k))

    @property
    def scrape_config(self) -> Scrape:
        return self.scrape if isinstance(self.scrape, Scrape) else Scrape(url=self.scrape)

    @property
    def tiers(self) -> dict[Severity, float]:
        return dict(self.above or self.below)

    @property
    def is_above(self) -> bool:
        return bool(self.above)

    def _sel(self, text: str) -> Selector:
        return parse_selector(text).with_labels(self.labels)

    @cached_property
    def selectors(self) -> dict[str, Selector]:
        """The rule's metrics by role, with `labels:` folded in as matchers."""
        if self.ratio:
            return {"num": self._sel(self.ratio.numerator), "total": self._sel(self.ratio.total)}
        if self.quantile:
            s = self._sel(self.quantile.histogram)
            name = s.name if s.name.endswith("_bucket") else s.name + "_bucket"
            return {"buckets": Selector(name, s.matchers)}
        if self.gauge:
            return {"value": self._sel(self.gauge)}
        if self.gauge_ratio:
            out = {"value": self._sel(self.gauge_ratio.value)}
            if isinstance(self.gauge_ratio.max, str):
                out["max"] = self._sel(self.gauge_ratio.max)
            return out
        assert self.baseline
        return {"counter": self._sel(self.baseline.counter)}

    @property
    def keeps_history(self) -> bool:
        """Counters and histograms are evaluated over stored samples; gauges are instant."""
        return self.kind in ("ratio", "quantile", "baseline")

    @property
    def history(self) -> float:
        """Seconds of samples this rule needs kept."""
        return max(self.window, self.baseline.baseline if self.baseline else 0.0)

    @property
    def what(self) -> str:
        if self.describe:
            return self.describe
        if self.ratio:
            return "error rate" if self.ratio.errors else "success rate"
        if self.quantile:
            return f"p{self.quantile.q * 100:g}"
        if self.gauge_ratio:
            return "usage"
        if self.baseline:
            return "rate vs baseline"
        return parse_selector(self.gauge or "").name

    @property
    def display_unit(self) -> str:
        if self.unit:
            return self.unit
        if self.kind in ("ratio", "gauge_ratio"):
            return "percent"
        if self.kind == "baseline":
            return "times"
        if self.quantile and self.quantile.histogram.split("{")[0].endswith("_seconds"):
            return "seconds"
        return ""
