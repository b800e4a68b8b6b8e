"""The generic alerts API (`POST /api/webhooks/alerts`): plain JSON or Alertmanager v4.

Plain JSON, one alert:

    {"key": "disk-full", "severity": "P1", "status": "firing", "title": "...",
     "summary": "...", "links": {"runbook": "https://..."}, "labels": {...}}

Only `key` is required: severity defaults to `cfg.default`, status to firing, title
to the key. The Signal's key is `alerts:<key>`.

Alertmanager webhook_config (VENDORS.md f.), recognised by its `alerts` list: one
Signal per alert, keyed `am:<fingerprint>`, or `am:<first 16 hex of sha256 of the
sorted labels>` for versions that send no fingerprint (<= 0.19).

Severity, both shapes: `P0`..`P3` (any case), else a name in `cfg.severities`
(critical, warning, ...), else `cfg.default` (Alertmanager only; the plain API
rejects a severity it cannot read).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from lib.config import AlertmanagerSource
from lib.models import Severity, Signal
from lib.signing import bearer_ok
from lib.webhooks import (
    BadPayload,
    Ignored,
    Outcome,
    epoch,
    header,
    iso_time,
    join,
    kind,
    load_object,
    make_signal,
    text,
)

SOURCE = "alerts"
AM_SOURCE = "alertmanager"
KEY_PREFIX = "alerts:"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager: endsAt of an alert that has not ended
_FINGERPRINT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DASHBOARD_ANNOTATIONS = ("dashboard_url", "dashboard", "grafana_url", "grafana_dashboard_url")
_SEVERITY_ERROR = "must be one of P0, P1, P2, P3"


def verify(headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
    """`Authorization: Bearer <ALERTS_TOKEN>`: Alertmanager does not sign, it authenticates
    with http_config `authorization` (or basic auth, which the route may add)."""
    return bearer_ok(header(headers, "Authorization"), secret)


def parse(headers: Mapping[str, str], body: bytes, cfg: AlertmanagerSource) -> Outcome:
    data = load_object(body)
    if "alerts" in data:
        return _alertmanager(data, cfg)
    return [_plain(data, cfg)]


def severity_of(value: str, cfg: AlertmanagerSource) -> Severity | None:
    """`P0`..`P3` in any case, or a severity name from the config; None if neither."""
    name = value.strip()
    if name.upper() in Severity.__members__:
        return Severity(name.upper())
    return cfg.severities.get(name.lower())


def label_hash(labels: Mapping[str, str]) -> str:
    """A stable identity for a label set when Alertmanager sends no fingerprint."""
    canonical = json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# -- plain JSON ---------------------------------------------------------------


def _string(data: Mapping[str, Any], field: str, required: bool = False) -> str:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise BadPayload(f"{field}: required")
        return ""
    if not isinstance(value, str):
        raise BadPayload(f"{field}: must be a string, got {kind(value)}")
    return value.strip()


def _string_map(data: Mapping[str, Any], field: str, urls: bool = False) -> dict[str, str]:
    value = data.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"{field}: must be an object, got {kind(value)}")
    out: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(item, str):
            raise BadPayload(f"{field}.{name[:60]}: must be a string, got {kind(item)}")
        if urls and not item.startswith(("https://", "http://")):
            raise BadPayload(f"{field}.{name[:60]}: must be an http(s) URL")
        out[name] = item
    return out


def _plain(data: Mapping[str, Any], cfg: AlertmanagerSource) -> Signal:
    key = _string(data, "key", required=True)
    if len(key) > 300:
        raise BadPayload("key: at most 300 characters")
    raw_severity = _string(data, "severity")
    severity = severity_of(raw_severity, cfg) if raw_severity else cfg.default
    if severity is None:
        raise BadPayload(f"severity: {_SEVERITY_ERROR}")
    status = (_string(data, "status") or "firing").lower()
    if status not in ("firing", "resolved"):
        raise BadPayload("status: must be firing or resolved")
    when = data.get("occurred_at")
    occurred_at = epoch(when) if not isinstance(when, str) else iso_time(when)
    if when is not None and occurred_at is None:
        raise BadPayload("occurred_at: must be epoch seconds or an ISO 8601 time")
    return make_signal(
        key=key if key.startswith(KEY_PREFIX) else KEY_PREFIX + key,
        source=SOURCE,
        severity=severity,
        status=status,
        title=_string(data, "title") or key,
        summary=_string(data, "summary"),
        labels=_string_map(data, "labels"),
        links=_string_map(data, "links", urls=True),
        occurred_at=occurred_at,
    )


# -- Alertmanager -------------------------------------------------------------


def _alertmanager(data: Mapping[str, Any], cfg: AlertmanagerSource) -> Outcome:
    alerts = data["alerts"]
    if not isinstance(alerts, list):
        raise BadPayload(f"alerts: must be a list, got {kind(alerts)}")
    if not alerts:
        return Ignored("alertmanager notification with no alerts")
    group_status = text(data, "status").lower()
    return [_am_alert(i, alert, cfg, group_status) for i, alert in enumerate(alerts)]


def _am_strings(alert: Mapping[str, Any], field: str, place: str) -> dict[str, str]:
    value = alert.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"{place}.{field}: must be an object, got {kind(value)}")
    return {k: v.strip() for k, v in value.items() if isinstance(v, str)}


def _am_status(alert: Mapping[str, Any], place: str, group_status: str) -> str:
    """The alert's own status wins; without one, a real endsAt means it ended."""
    status = text(alert, "status").lower()
    if status in ("firing", "resolved"):
        return status
    if status:
        raise BadPayload(f"{place}.status: must be firing or resolved")
    ends = text(alert, "endsAt")
    if ends and ends != GO_ZERO_TIME and iso_time(ends) is not None:
        return "resolved"
    return group_status if group_status in ("firing", "resolved") else "firing"


def _am_alert(i: int, alert: object, cfg: AlertmanagerSource, group_status: str) -> Signal:
    place = f"alerts[{i}]"
    if not isinstance(alert, dict):
        raise BadPayload(f"{place}: must be an object, got {kind(alert)}")
    labels = _am_strings(alert, "labels", place)
    notes = _am_strings(alert, "annotations", place)
    status = _am_status(alert, place, group_status)
    fingerprint = text(alert, "fingerprint")
    if not _FINGERPRINT.match(fingerprint):
        if not labels:
            raise BadPayload(f"{place}: needs a fingerprint or labels to tell it apart")
        fingerprint = label_hash(labels)
    name = labels.get("alertname", "")
    severity = severity_of(labels.get("severity", ""), cfg) or cfg.default
    ends = text(alert, "endsAt")
    dashboard = next((notes[a] for a in _DASHBOARD_ANNOTATIONS if notes.get(a)), "")
    return make_signal(
        key=f"am:{fingerprint}",
        source=AM_SOURCE,
        severity=severity,
        status=status,
        title=join([name, notes.get("summary", "")], ": ") or f"Alertmanager alert {fingerprint}",
        summary=notes.get("description") or notes.get("summary", ""),
        labels=labels,
        links={
            "source": text(alert, "generatorURL"),
            "runbook": notes.get("runbook_url") or notes.get("runbook", ""),
            "dashboard": dashboard,
        },
        occurred_at=iso_time(alert.get("startsAt")) if status == "firing" else iso_time(ends),
    )
