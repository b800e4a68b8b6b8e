"""The generic alerts API (`POST /api/webhooks/alerts`): plain JSON or Alertmanager v4.

Plain JSON, one alert:

    {"key": "disk-full", "severity": "P1", "status": "firing", "title": "...",
     "summary": "...", "links": {"runbook": "https://..."}, "labels": {...}}

Only `key` is required: severity defaults to `cfg.default`, status to firing, title
to the key. The Signal's key is `alerts:<key>`.

Alertmanager webhook_config (VENDORS.md f.), recognised by its `alerts` list: one
Signal per notification, for its group (`group_key`: one incident per group, the
tiers of an alert included), titled by the common labels, carrying every alert as a
GroupMember (fingerprint, or `<first 16 hex of sha256 of the sorted labels>` for
versions that send none, <= 0.19; startsAt/endsAt; status; severity). The engine
merges them and decides severity, status and the alert list in one round trip.

Severity, both shapes: `P0`..`P3` (any case), else a name in `cfg.severities`
(docs: README, sources.alertmanager), else `cfg.default` (Alertmanager only, counted
and logged as unmapped; the plain API rejects a severity it cannot read).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from lib.config import AlertmanagerSource
from lib.models import AlertGroup, GroupMember, Severity, Signal
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
SEVERITY_LABEL = "severity"
MAX_MEMBERS = 5000  # alerts of one group tracked; the summary counts the rest


def verify(headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
    """`Authorization: Bearer <ALERTS_TOKEN>`: Alertmanager does not sign, it authenticates
    with http_config `authorization` (or basic auth, which the route may add)."""
    return bearer_ok(header(headers, "Authorization"), secret)


def parse(headers: Mapping[str, str], body: bytes, cfg: AlertmanagerSource) -> Outcome:
    return parse_counted(headers, body, cfg)[0]


def parse_counted(headers: Mapping[str, str], body: bytes, cfg: AlertmanagerSource) -> tuple[Outcome, dict[str, int]]:
    """`parse`, and the severity label values the table does not map ({value: alerts}, "" = missing)."""
    data = load_object(body)
    unmapped: dict[str, int] = {}
    if "alerts" in data:
        return _alertmanager(data, cfg, unmapped), unmapped
    return [_plain(data, cfg)], unmapped


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


def group_key(data: Mapping[str, Any], common: Mapping[str, str]) -> str:
    """One incident per Alertmanager group: its group labels without `severity`, so the
    warning and critical tiers of one alert (grouped apart or routed apart) upgrade one
    incident. Without group labels (`group_by: []`), the groupKey itself."""
    grouped = _am_strings(data, "groupLabels", "")
    labels = {k: v for k, v in grouped.items() if k != SEVERITY_LABEL}
    if labels:
        return f"am:g:{label_hash(labels)}"
    raw = text(data, "groupKey") or json.dumps(dict(sorted(common.items())))
    return f"am:g:{hashlib.sha256(raw.encode()).hexdigest()[:16]}"


def _title(data: Mapping[str, Any], common: Mapping[str, str], notes: Mapping[str, str]) -> str:
    """The common labels, alertname first: "HighErrorRate (job=api)", then the common summary."""
    name = common.get("alertname", "")
    rest = [f"{k}={v}" for k, v in sorted(common.items()) if k not in ("alertname", SEVERITY_LABEL)]
    head = (f"{name} ({', '.join(rest)})" if name and rest else name or ", ".join(rest)) or "Alertmanager group"
    return join([head, notes.get("summary", "")], ": ")[:500]


def _member_name(labels: Mapping[str, str], common: Mapping[str, str]) -> str:
    """What tells an alert apart in its group: "HighErrorRate{instance=a}" (alertname kept)."""
    own = [f"{k}={v}" for k, v in sorted(labels.items())
           if k not in ("alertname", SEVERITY_LABEL) and common.get(k) != v]
    name = labels.get("alertname", "") + ("{" + ", ".join(own) + "}" if own else "")
    return name[:200]


def _alertmanager(data: Mapping[str, Any], cfg: AlertmanagerSource, unmapped: dict[str, int]) -> Outcome:
    alerts = data["alerts"]
    if not isinstance(alerts, list):
        raise BadPayload(f"alerts: must be a list, got {kind(alerts)}")
    if not alerts:
        return Ignored("alertmanager notification with no alerts")
    group_status = text(data, "status").lower()
    common = _am_strings(data, "commonLabels", "")
    notes = _am_strings(data, "commonAnnotations", "")
    parsed = [_am_alert(i, alert, cfg, group_status, common, unmapped) for i, alert in enumerate(alerts)]
    members = [m for m, _ in parsed]
    firing = [m for m in members if m.status == "firing"]
    dropped = max(0, len(members) - MAX_MEMBERS)
    truncated = data.get("truncatedAlerts")
    truncated = truncated if isinstance(truncated, int) and not isinstance(truncated, bool) and truncated > 0 else 0
    first = next((links for m, links in parsed if m.status == "firing"), parsed[0][1])
    more = f"{dropped + truncated} more alerts not listed" if dropped + truncated else ""
    return [make_signal(
        key=group_key(data, common),
        source=AM_SOURCE,
        severity=min((m.severity for m in firing or members), key=lambda s: s.rank),
        status="firing" if firing else "resolved",
        title=_title(data, common, notes),
        summary=join([notes.get("description", "")[:1000], more], "\n"),
        labels=common,
        links={
            "source": first.get("source", ""),
            "runbook": notes.get("runbook_url") or notes.get("runbook") or first.get("runbook", ""),
            "dashboard": next((notes[a] for a in _DASHBOARD_ANNOTATIONS if notes.get(a)), first.get("dashboard", "")),
        },
        group=AlertGroup(members=members[:MAX_MEMBERS], ended=None if firing or group_status != "resolved"
                         else max(m.ends or m.starts for m in members),
                         origin=hashlib.sha256(text(data, "groupKey").encode()).hexdigest()[:16]),
    )]


def _am_strings(alert: Mapping[str, Any], field: str, place: str) -> dict[str, str]:
    value = alert.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadPayload(f"{join([place, field], '.')}: must be an object, got {kind(value)}")
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


def am_severity(labels: Mapping[str, str], cfg: AlertmanagerSource, unmapped: dict[str, int]) -> Severity:
    """The alert's `severity` label through the table; a missing or unknown value is
    counted in `unmapped` (by value, "" for missing) and gets `cfg.default`."""
    raw = labels.get(SEVERITY_LABEL, "")
    found = severity_of(raw, cfg) if raw else None
    if found is None:
        value = raw[:40]
        unmapped[value] = unmapped.get(value, 0) + 1
    return found or cfg.default


def _am_alert(
    i: int, alert: object, cfg: AlertmanagerSource, group_status: str, common: Mapping[str, str],
    unmapped: dict[str, int],
) -> tuple[GroupMember, dict[str, str]]:
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
    ends = text(alert, "endsAt")
    member = GroupMember(
        id=fingerprint,
        starts=iso_time(alert.get("startsAt")) or 0.0,
        ends=iso_time(ends) if ends and ends != GO_ZERO_TIME else None,
        status=status,
        severity=am_severity(labels, cfg, unmapped),
        name=_member_name(labels, common),
    )
    links = {
        "source": text(alert, "generatorURL"),
        "runbook": notes.get("runbook_url") or notes.get("runbook", ""),
        "dashboard": next((notes[a] for a in _DASHBOARD_ANNOTATIONS if notes.get(a)), ""),
    }
    return member, links
