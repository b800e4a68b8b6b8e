"""monitoring.yaml -> validated settings.

`load_config(path)` parses and validates the file, then checks the
cross-references pydantic cannot see (lib/config_checks.py: people named in
routing and escalation, escalation order, unique names, tier order, silences).
Everything that could fail at run time fails here instead, every problem at
once, each with its exact place and line (lib/config_errors.py):
`monitoring.yaml:12: routing.P0.sms[0]: unknown person 'ctoo'`.

The classes are plain dataclasses (lib/schema.py): pydantic validates a file
(lib/config_schema.py) when `make validate` runs or no fresh snapshot of it
exists; a cold start otherwise reads the snapshot (lib/config_snapshot.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from lib import config_snapshot
from lib.checks.config import Check, Expect, FlapRule, LatencyRule, UptimeRule
from lib.clock import parse_iso
from lib.config_errors import ConfigError, Loc, read_yaml
from lib.durations import Duration
from lib.logs.config import LogRule
from lib.models import Severity
from lib.rules.config import Rule
from lib.schema import config_class, spec

# Check and its rules live with the checks (lib/checks/config.py); importable from here as before.
__all__ = ["Check", "Config", "ConfigError", "Expect", "FlapRule", "LatencyRule", "UptimeRule", "load_config",
           "parse_config"]


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]+$")  # one plain address: SMTP sends to it as is


def _e164(v: str | None) -> str | None:
    if v is not None and not _E164.match(v):
        raise ValueError(f"'{v}' is not an E.164 phone number like +15550000001")
    return v


def _email(v: str | None) -> str | None:
    if v is not None and not _EMAIL.match(v):
        raise ValueError(f"'{v}' is not an e-mail address like oncall@example.com")
    return v


@config_class
class Person:
    name: str = ""
    email: str | None = spec(None, after=_email)
    phone: str | None = spec(None, after=_e164)
    slack: str | None = None  # a Slack user id, for <@U123> mentions


@config_class
class SlackRoute:
    channel: str = "#alerts"
    mention: Literal["channel", "here", "none"] = "none"


@config_class
class Route:
    slack: SlackRoute | None = None
    sms: list[str] = spec(factory=list)
    email: list[str] = spec(factory=list)
    call: list[str] = spec(factory=list)


@config_class
class EscalationStep:
    after: Duration
    notify: Route


@config_class
class SentrySource:
    levels: dict[str, Severity] = spec(
        factory=lambda: {
            "fatal": Severity.P1,
            "error": Severity.P2,
            "warning": Severity.P3,
            "info": Severity.P3,
            "debug": Severity.P3,
        }
    )
    metric_alerts: dict[str, Severity] = spec(
        factory=lambda: {"critical": Severity.P1, "warning": Severity.P2}
    )
    # Alert rule name (case-insensitive substring) or "tag:value" -> severity.
    rules: dict[str, Severity] = spec(
        factory=lambda: {"authentication": Severity.P1, "auth failure": Severity.P1}
    )
    error_spike_per_minute: int = spec(10, ge=1)
    error_spike_severity: Severity = Severity.P1
    org: str | None = None  # for building https://<org>.sentry.io/issues/<id>/ links


@config_class
class VercelSource:
    production: Severity = Severity.P1
    preview: Severity = Severity.P2
    deploy_window: Duration = 1800.0  # incidents opened this soon after a deploy mention it
    team: str | None = spec(None, pattern=r"^[A-Za-z0-9_.-]{1,100}$")  # slug, for links to Vercel logs


def _lower_keys(v: object) -> object:
    return {str(k).lower(): sev for k, sev in v.items()} if isinstance(v, dict) else v


@config_class
class AlertmanagerSource:
    """Alertmanager's `severity` label -> Vigil severity (any case; `P0`..`P3` are read as is).
    A value not in the table, or no label, gets `default` and is counted and logged."""

    severities: dict[str, Severity] = spec(
        factory=lambda: {
            "critical": Severity.P0,
            "page": Severity.P0,
            "emergency": Severity.P0,
            "high": Severity.P1,
            "major": Severity.P1,
            "error": Severity.P1,
            "warning": Severity.P2,
            "warn": Severity.P2,
            "medium": Severity.P2,
            "minor": Severity.P2,
            "low": Severity.P3,
            "info": Severity.P3,
            "informational": Severity.P3,
        },
        before=_lower_keys,
    )
    default: Severity = Severity.P2


@config_class
class Sources:
    sentry: SentrySource = spec(factory=SentrySource)
    vercel: VercelSource = spec(factory=VercelSource)
    alertmanager: AlertmanagerSource = spec(factory=AlertmanagerSource)


def _iso(v: str | None) -> str | None:
    if v is None:
        return v
    try:
        parse_iso(v)
    except (ValueError, OverflowError):
        raise ValueError(f"'{v}' is not an ISO 8601 time like 2026-03-02T09:00:00Z") from None
    return v


@config_class
class Silence:
    key: str | None = None  # exact key, or a prefix ending in '*'
    labels: dict[str, str] = spec(factory=dict)
    starts: str | None = spec(None, after=_iso)  # ISO 8601 with a time zone (Z or +02:00); default: always
    ends: str | None = spec(None, after=_iso)
    reason: str = ""

    def _verify(self) -> None:
        if not self.key and not self.labels:
            raise ValueError("a silence needs a key (or key prefix ending in '*') or labels")

    @property
    def starts_at(self) -> float | None:
        return parse_iso(self.starts) if self.starts else None

    @property
    def ends_at(self) -> float | None:
        return parse_iso(self.ends) if self.ends else None


@config_class
class Inhibit:
    """Alertmanager's inhibit_rules: while a signal matching `source_matchers` fires, signals
    matching `target_matchers` whose `equal` labels have the same values open no incident.
    Matchers are Alertmanager's: `label = value`, `!=`, `=~` (anchored regex), `!~`."""

    name: str | None = None
    source_matchers: list[str] = spec(min_length=1)
    target_matchers: list[str] = spec(min_length=1)
    equal: list[str] = spec(factory=list)
    # After the source resolves, targets stay muted this long; those still firing then page once
    # (a 5-minute error-rate window still holds the outage's errors for 5 minutes after it).
    hold: Duration = spec(600.0, ge=0, le=86400)


def _quiet_periods(v: dict[str, float]) -> dict[str, float]:
    for pattern, after in v.items():
        if after < 60:
            raise ValueError(f"{pattern!r}: a quiet period is at least 1m")
    return v


@config_class
class Settings:
    """Runtime knobs with the runbook's defaults."""

    false_positive_silence: Duration = 3600.0
    ack_link_ttl: Duration = 7 * 86400.0
    retry_backoff: list[Duration] = spec(factory=lambda: [60.0, 120.0, 300.0, 600.0, 900.0])
    max_attempts: int = spec(8, ge=1)
    # Every incident can end. Where the source never says "resolved" (Sentry error spikes,
    # Sentry issues from alert rules, plain alerts), after this long without a firing
    # signal (key patterns, fnmatch, the first that matches); every other open incident
    # expires after `expire_after` without one, so Redis cannot grow without bound.
    resolve_quiet: dict[str, Duration] = spec(factory=lambda: {
        "sentry:errors:*": 3600.0, "sentry:issue:*": 86400.0, "alerts:*": 86400.0,
    }, after=_quiet_periods)
    expire_after: Duration = spec(30 * 86400.0, ge=60)
    watchdog_gap: Duration = 180.0
    postmortem_after: Duration = 86400.0
    archive_alert_age: Duration = 3600.0
    archive_alert_size: int = 10000


def _default_routing() -> dict[Severity, Route]:
    return {
        Severity.P0: Route(
            slack=SlackRoute(mention="channel"), sms=["oncall"], email=["oncall", "eng_lead"]
        ),
        Severity.P1: Route(slack=SlackRoute(mention="here"), email=["oncall", "eng_lead"]),
        Severity.P2: Route(slack=SlackRoute(), email=["oncall", "eng_lead"]),
        Severity.P3: Route(slack=SlackRoute()),
    }


@config_class
class Config:
    service: str = "vigil"
    people: dict[str, Person] = spec(factory=dict)
    routing: dict[Severity, Route] = spec(factory=_default_routing)
    escalation: dict[Severity, list[EscalationStep]] = spec(factory=dict)
    checks: list[Check] = spec(factory=list)
    rules: list[Rule] = spec(factory=list)
    logs: list[LogRule] = spec(factory=list)
    sources: Sources = spec(factory=Sources)
    silences: list[Silence] = spec(factory=list)
    inhibit: list[Inhibit] | None = None  # None: the defaults of lib/incidents/inhibit.py; []: none
    settings: Settings = spec(factory=Settings)

    def person(self, key: str) -> Person | None:
        return self.people.get(key)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


def parse_config(data: object, source: str = "monitoring.yaml", lines: dict[Loc, int] | None = None) -> Config:
    """Validate what monitoring.yaml holds (bare numbers are refused as durations here:
    the file must say 15s or 15m); ConfigError lists every problem."""
    # Validation is the only place that needs pydantic: imported here, not on a request's path.
    from pydantic import ValidationError

    from lib.config_checks import cross_references
    from lib.config_errors import problems_of
    from lib.config_schema import model_of, validate

    lines = lines or {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["(top level): must be a mapping of sections"], source)
    try:
        cfg: Config = validate(Config, data, from_file=True)
    except ValidationError as exc:
        raise ConfigError(problems_of(exc, lines, model_of(Config)), source) from None
    problems = cross_references(cfg, data, lines)
    if problems:
        raise ConfigError(problems, source)
    return cfg


def load_config(path: str | Path, *, snapshot: bool = True) -> Config:
    """The config of `path`: from its snapshot when the snapshot is of this very file and
    code (lib/config_snapshot.py), else validated now. `snapshot=False` always validates."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror}"], str(p)) from None
    except UnicodeDecodeError:
        raise ConfigError(["not UTF-8 text"], str(p)) from None
    if snapshot and (cfg := config_snapshot.read(p, raw, Config)) is not None:
        return cfg
    data, lines = read_yaml(text, str(p))
    return parse_config(data, str(p), lines)
