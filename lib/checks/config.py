"""The `checks:` section of monitoring.yaml: synthetic health checks, one probe a minute.

    checks:
      - name: api
        url: https://api.example.com/api/v1/health
        expect: {status: 200, json: {status: healthy}}
        down_after: 2m

Each check's `latency`, `uptime` and `flapping` rules have the defaults described in
docs/policy.md. lib/config.py assembles these into the one Config.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from lib.durations import Duration
from lib.models import Severity
from lib.schema import config_class, spec


@config_class
class LatencyRule:
    """Sustained slowness -> SlowResponseTime: the runbook's "p95 > 1 s for 5 minutes".

    One probe a minute cannot estimate a p95 (the p95 of 5 runs is their maximum, so
    one slow probe would page). A tier fires when at least `min_slow` of the runs in
    the last `window` were slower than it (default: 4 of 5 minutes), and resolves when
    that is no longer so. A run with no answer counts for availability, not here.
    """

    enabled: bool = True
    window: Duration = spec(300.0, ge=60, le=3600)
    min_slow: float = spec(0.8, gt=0.5, le=1)
    above: dict[Severity, Duration] = spec(
        factory=lambda: {Severity.P1: 1.0, Severity.P0: 2.0}
    )


def _percentages(v: dict[Severity, float]) -> dict[Severity, float]:
    for sev, pct in v.items():
        if not 0 < pct < 100:
            raise ValueError(f"{sev.value}: {pct:g} is not a percentage between 0 and 100")
    return v


@config_class
class UptimeRule:
    """The `window`'s uptime target already broken -> UptimeBelowTarget.

    A tier T fires once the downtime seen in the last `window` exceeds what T allows
    over the whole window: (100 - T) % of it (99 % of 30 days allows 432 minutes).
    Unobserved minutes are not counted as down, and a few failing minutes of a new
    install are not "0 % uptime": the figure only ever claims what was seen.
    """

    enabled: bool = True
    window: Duration = spec(30 * 86400.0, ge=86400, le=31 * 86400)
    below: dict[Severity, float] = spec(
        factory=lambda: {Severity.P1: 99.0, Severity.P0: 95.0}, after=_percentages
    )


@config_class
class FlapRule:
    """Nagios' flap detection: the weighted percent state change over the last `results`
    runs; flapping from `high` percent, stable again below `low` -> one CheckFlapping.

    Nagios ships 20 / 5 for services checked every few minutes; with one probe a
    minute and the odd isolated failure (2 state changes each), 20 % is two blips in
    21 minutes. Vigil's 40 / 20 needs about four failures in 21 runs to start and holds
    until at most about two are left.
    """

    enabled: bool = True
    results: int = spec(21, ge=5, le=60)
    high: float = spec(40.0, gt=0, le=100)
    low: float = spec(20.0, ge=0, le=100)
    severity: Severity = Severity.P1

    def _verify(self) -> None:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")


@config_class
class Expect:
    status: int | list[int] = 200
    json_fields: dict[str, Any] = spec(factory=dict, alias="json")
    max_latency: Duration | None = None
    body_contains: str | None = None


def _one_authorization(v: dict[str, str], data: dict[str, Any]) -> dict[str, str]:
    # httpx turns a URL's user:password into Basic auth, which silently replaces
    # a configured Authorization header: the check would probe with the wrong one.
    parts = urlsplit(str(data.get("url") or ""))
    if (parts.username or parts.password) and any(k.lower() == "authorization" for k in v):
        raise ValueError("the url's user:password would replace the Authorization header; keep one of them")
    return v


@config_class
class Check:
    name: str = spec(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    url: str = spec(pattern=r"^https?://")
    method: Literal["GET", "HEAD", "POST"] = "GET"
    headers: dict[str, str] = spec(factory=dict, after=_one_authorization)  # "${ENV_VAR}": from the environment
    timeout: Duration = 10.0
    expect: Expect = spec(factory=Expect)
    down_after: Duration = 120.0
    up_after: int = spec(1, ge=1)
    severity: Severity = Severity.P0
    title: str | None = None
    runbook: str | None = None
    dashboard: str | None = None
    latency: LatencyRule = spec(factory=LatencyRule)
    uptime: UptimeRule = spec(factory=UptimeRule)
    flapping: FlapRule = spec(factory=FlapRule)
