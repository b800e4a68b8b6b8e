"""The `rules:` section of monitoring.yaml: metric rules over Prometheus /metrics scrapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lib.durations import Duration
from lib.models import Severity


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScrapeAuth(_Strict):
    bearer_env: str | None = None  # name of the env var holding a bearer token
    basic_user: str | None = None
    basic_password_env: str | None = None  # name of the env var holding the password


class Scrape(_Strict):
    url: str = Field(pattern=r"^https?://")
    auth: ScrapeAuth | None = None
    timeout: Duration = 10.0
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)


class Ratio(_Strict):
    """increase(errors) / increase(total) over the window. `errors` is the numerator."""

    errors: str
    total: str


class Quantile(_Strict):
    histogram: str
    q: float = Field(gt=0, lt=1)


class GaugeRatio(_Strict):
    value: str
    max: str


class Baseline(_Strict):
    """rate(counter) over the window divided by its average rate over `baseline`."""

    counter: str
    baseline: Duration = 3600.0


class Rule(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")
    scrape: str | Scrape
    ratio: Ratio | None = None
    quantile: Quantile | None = None
    gauge: str | None = None
    gauge_ratio: GaugeRatio | None = None
    baseline: Baseline | None = None
    labels: dict[str, str] = Field(default_factory=dict)  # matchers applied to every metric
    window: Duration = 300.0
    above: dict[Severity, float] = Field(default_factory=dict)
    below: dict[Severity, float] = Field(default_factory=dict)
    for_: Duration = Field(default=0.0, alias="for")
    title: str | None = None
    summary: str | None = None
    runbook: str | None = None
    dashboard: str | None = None
    unit: Literal["ratio", "percent", "seconds", "bytes", "count", ""] = ""

    @model_validator(mode="after")
    def _one_expression(self) -> Rule:
        kinds = [k for k in ("ratio", "quantile", "gauge", "gauge_ratio", "baseline") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                "needs exactly one of ratio, quantile, gauge, gauge_ratio, baseline"
                + (f" (has {', '.join(kinds)})" if kinds else "")
            )
        if bool(self.above) == bool(self.below):
            raise ValueError("needs tiers under exactly one of 'above' or 'below'")
        return self

    @property
    def scrape_config(self) -> Scrape:
        return self.scrape if isinstance(self.scrape, Scrape) else Scrape(url=self.scrape)
