"""Sentry integration-platform webhooks -> Signals (VENDORS.md a.).

Resource (the `Sentry-Hook-Resource` header) and action decide what a delivery means:

| resource       | action                          | Signal                                        |
|----------------|---------------------------------|-----------------------------------------------|
| `issue`        | created, unresolved             | firing  `sentry:issue:<id>`                   |
| `issue`        | resolved, ignored, archived     | resolved `sentry:issue:<id>`                  |
| `event_alert`  | triggered                       | firing  `sentry:issue:<issue id>`             |
| `metric_alert` | critical, warning / resolved    | firing / resolved `sentry:metric:<rule id>`   |
| `error`        | created                         | firing  `sentry:errors:<project>` with a burst |

Everything else (installation, comment, seer, assigned, ...) is Ignored.

Severity: the issue or event level through `cfg.levels`, raised (never lowered) by
`cfg.rules`. A rule pattern matches when it is a case-insensitive substring of the
alert rule's name or the title, or when it is `tag:value` and the event carries
that tag (`level`, `project` and, for event alerts, every event tag count as tags).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lib.config import SentrySource
from lib.models import Severity
from lib.signing import digits, equal, hmac_hex
from lib.webhooks import (
    BadPayload,
    Ignored,
    Outcome,
    clip,
    epoch,
    header,
    ident,
    iso_time,
    join,
    load_object,
    make_signal,
    most_severe,
    obj,
    opt_obj,
    text,
)

SOURCE = "sentry"
MAX_AGE = 300  # seconds; as Slack's window, Sentry documents none
_ISSUE_FIRING = {"created", "unresolved"}  # unresolved: regressed or escalating
_ISSUE_RESOLVING = {"resolved", "ignored", "archived"}  # DOCS say archived, CODE sends ignored
_ISSUE_URL = re.compile(r"/issues/(\d{1,30})/?(?:$|[?#])")
_PROJECT_IN_URL = re.compile(r"/projects/[^/]+/([^/]+)/")
_Data = dict[str, Any]  # the envelope's `data`


def verify(headers: Mapping[str, str], body: bytes, secret: str | None, now: float | None = None) -> bool:
    """HMAC-SHA256 hex of the raw body, keyed by the client secret, and a fresh timestamp.

    Sentry signs the exact bytes it sends, so re-serialising the JSON never matches.
    UI-component requests carry the signature in `Sentry-App-Signature` instead.
    With `now` (Vigil's clock: under --fake-clock the window moves with it), the
    `Sentry-Hook-Timestamp` header is required and must be within MAX_AGE of it.
    Sentry signs neither the timestamp nor `Request-ID`, so a replay can forge both:
    what stops one is `parse`'s delivery id, a digest of the signed body, remembered
    by the engine for 24 h (a replay in that time is a DUPLICATE and changes nothing).
    """
    if not secret:
        return False
    signature = header(headers, "Sentry-Hook-Signature") or header(headers, "Sentry-App-Signature")
    if not signature:
        return False
    if now is not None and not fresh(header(headers, "Sentry-Hook-Timestamp"), now):
        return False
    return equal(hmac_hex(secret, body, "sha256"), signature.strip().lower())


def fresh(timestamp: str | None, now: float) -> bool:
    """A Unix-seconds timestamp (`str(int(time()))`) within MAX_AGE of `now`; absent is stale."""
    ts = digits(timestamp.strip() if timestamp else None)
    return ts is not None and abs(now - ts) <= MAX_AGE


def delivery_id(body: bytes) -> str:
    """What identifies a delivery: its signed bytes (Sentry's retries resend them unchanged)."""
    return "sha256:" + hashlib.sha256(body).hexdigest()[:40]


def parse(headers: Mapping[str, str], body: bytes, cfg: SentrySource) -> Outcome:
    resource = (header(headers, "Sentry-Hook-Resource") or "").strip().lower()
    if not resource:
        return Ignored("no Sentry-Hook-Resource header")
    handler = _HANDLERS.get(resource)
    if handler is None:
        return Ignored(f"sentry {clip(resource, 40)} webhooks are ignored")
    envelope = load_object(body)
    action = text(envelope, "action").lower()
    if not action:
        raise BadPayload("action missing")
    data = obj(envelope, "data", "data")
    return handler(action, data, cfg, delivery_id(body))


# -- severity -----------------------------------------------------------------


def _level_severity(cfg: SentrySource, level: str) -> Severity:
    return cfg.levels.get(level) or cfg.levels.get("error") or Severity.P2


def rule_severity(
    rules: Mapping[str, Severity], texts: Iterable[str], tags: Mapping[str, str]
) -> Severity | None:
    """The most severe rule matching the texts (substring) or the tags (`tag:value`), if any."""
    haystacks = [t.lower() for t in texts if t]
    hits: list[Severity] = []
    for pattern, severity in rules.items():
        p = pattern.strip().lower()
        if not p:
            continue
        tag, colon, value = p.partition(":")
        if any(p in h for h in haystacks) or (colon and tags.get(tag.strip()) == value.strip()):
            hits.append(severity)
    return min(hits, key=lambda s: s.rank) if hits else None


def _tags(event: Mapping[str, Any]) -> dict[str, str]:
    """Event tags, lowercased: a list of [key, value] pairs (or, tolerated, an object)."""
    raw = event.get("tags")
    pairs: Iterable[Any] = raw.items() if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    out: dict[str, str] = {}
    for pair in pairs:
        if isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair):
            out[pair[0].lower()] = pair[1].lower()
    return out


# -- resources ----------------------------------------------------------------


def _issue_link(cfg: SentrySource, issue_id: str, ui: Iterable[str], api: str) -> str:
    """The UI link from the payload, else built from the org (workflow events lack web_url), else the API url."""
    for url in ui:
        if url:
            return url
    return f"https://{cfg.org}.sentry.io/issues/{issue_id}/" if cfg.org else api


def _issue(action: str, data: _Data, cfg: SentrySource, delivery: str | None) -> Outcome:
    if action not in _ISSUE_FIRING | _ISSUE_RESOLVING:
        return Ignored(f"sentry issue.{clip(action, 40)} ignored")
    issue = obj(data, "issue", "data.issue")
    issue_id = ident(issue, "id", "data.issue.id")
    project = opt_obj(issue, "project")
    project_name = text(project, "slug") or text(project, "name")
    level = text(issue, "level").lower() or "error"
    title = text(issue, "title") or text(issue, "shortId") or f"Sentry issue {issue_id}"
    firing = action in _ISSUE_FIRING
    severity = most_severe(
        _level_severity(cfg, level),
        rule_severity(cfg.rules, [title], {"level": level, "project": project_name.lower()}),
    )
    count = text(issue, "count")
    seen = iso_time(issue.get("lastSeen")) or iso_time(issue.get("firstSeen"))
    if firing:
        summary = join(
            [
                text(issue, "culprit"),
                f"{count} event{'' if count == '1' else 's'}" if count else "",
                f"project {project_name}" if project_name else "",
            ]
        )
    else:
        how = text(data, "resolution_type").replace("_", " ")  # now, in release, in commit, ...
        summary = f"{'Resolved' if action == 'resolved' else 'Archived'} in Sentry" + (
            f" ({how})" if how else ""
        )
    link = _issue_link(cfg, issue_id, [text(issue, "web_url"), text(issue, "permalink")], text(issue, "url"))
    return [
        make_signal(
            key=f"sentry:issue:{issue_id}",
            source=SOURCE,
            severity=severity,
            status="firing" if firing else "resolved",
            title=title,
            summary=summary,
            labels={
                "project": project_name,
                "level": level,
                "issue_id": issue_id,
                "short_id": text(issue, "shortId"),
                "substatus": text(issue, "substatus"),
                "action": action,
            },
            links={"source": link},
            occurred_at=seen if firing else None,  # a workflow event carries no time of its own
            evidence_at=seen,  # lastSeen, inside the signed body: a replayed resolve is stale
            delivery_id=delivery,
        )
    ]


def _event_issue_id(event: Mapping[str, Any]) -> str:
    """`issue_id`, or the id at the end of `issue_url` (payloads from 2020 lack issue_id)."""
    issue_id = text(event, "issue_id")
    if not issue_id:
        match = _ISSUE_URL.search(text(event, "issue_url"))
        issue_id = match.group(1) if match else ""
    if not issue_id:
        raise BadPayload("data.event.issue_id missing (and no data.event.issue_url to derive it from)")
    return ident({"id": issue_id}, "id", "data.event.issue_id")


def _event_alert(action: str, data: _Data, cfg: SentrySource, delivery: str | None) -> Outcome:
    if action != "triggered":
        return Ignored(f"sentry event_alert.{clip(action, 40)} ignored")
    event = obj(data, "event", "data.event")
    issue_id = _event_issue_id(event)
    rule = text(data, "triggered_rule") or text(opt_obj(data, "issue_alert"), "title")
    level = text(event, "level").lower() or "error"
    project = _project_slug(event) or text(event, "project")
    title = text(event, "title") or text(event, "message") or f"Sentry issue {issue_id}"
    tags = {**_tags(event), "level": level, "project": project.lower()}
    severity = most_severe(_level_severity(cfg, level), rule_severity(cfg.rules, [rule, title], tags))
    link = _issue_link(cfg, issue_id, [text(event, "web_url")], text(event, "url"))
    return [
        make_signal(
            key=f"sentry:issue:{issue_id}",
            source=SOURCE,
            severity=severity,
            title=title,
            summary=join(
                [
                    f"Alert rule “{rule}” fired" if rule else "A Sentry alert rule fired",
                    text(event, "culprit"),
                    f"project {project}" if project else "",
                    text(event, "environment"),
                ]
            ),
            labels={
                "project": project,
                "level": level,
                "rule": rule,
                "issue_id": issue_id,
                "event_id": text(event, "event_id"),
                "environment": text(event, "environment"),
                "release": text(event, "release"),
            },
            links={"source": link},
            occurred_at=epoch(event.get("timestamp")) or iso_time(event.get("datetime")),
            evidence_at=epoch(event.get("timestamp")) or iso_time(event.get("datetime")),
            delivery_id=delivery,
        )
    ]


def _metric_alert(action: str, data: _Data, cfg: SentrySource, delivery: str | None) -> Outcome:
    if action not in ("critical", "warning", "resolved"):
        return Ignored(f"sentry metric_alert.{clip(action, 40)} ignored")
    incident = obj(data, "metric_alert", "data.metric_alert")
    rule = obj(incident, "alert_rule", "data.metric_alert.alert_rule")
    rule_id = ident(rule, "id", "data.metric_alert.alert_rule.id")
    name = text(rule, "name") or text(data, "description_title") or f"Sentry metric alert {rule_id}"
    firing = action != "resolved"
    projects = incident.get("projects")
    project = ",".join(p for p in projects if isinstance(p, str)) if isinstance(projects, list) else ""
    default = Severity.P1 if action == "critical" else Severity.P2
    severity = most_severe(
        cfg.metric_alerts.get("warning" if not firing else action, default),
        rule_severity(cfg.rules, [name], {"project": project.lower()}),
    )
    # The DOCS sample carries a literal backslash-n; real deliveries a newline.
    description = text(data, "description_text").replace("\\n", "\n")
    when = (
        (incident.get("date_detected") or incident.get("date_started"))
        if firing
        else incident.get("date_closed")
    )
    return [
        make_signal(
            key=f"sentry:metric:{rule_id}",
            source=SOURCE,
            severity=severity,
            status="firing" if firing else "resolved",
            title=name,
            summary=description or text(data, "description_title"),
            labels={
                "project": project,
                "alert_rule_id": rule_id,
                "aggregate": text(rule, "aggregate"),
                "query": text(rule, "query"),
                "incident": text(incident, "identifier"),
                "action": action,
            },
            links={"source": text(data, "web_url")},
            occurred_at=iso_time(when),
            delivery_id=delivery,
        )
    ]


def _project_slug(event: Mapping[str, Any]) -> str:
    """Events carry the project as an int id; the slug is in the API url."""
    match = _PROJECT_IN_URL.search(text(event, "url"))
    return match.group(1) if match else ""


def _error(action: str, data: _Data, cfg: SentrySource, delivery: str | None) -> Outcome:
    if action != "created":
        return Ignored(f"sentry error.{clip(action, 40)} ignored")
    error = obj(data, "error", "data.error")
    slug = _project_slug(error)
    project_id = text(error, "project")
    if not project_id and not slug:
        raise BadPayload("data.error.project missing")
    project = ident({"p": project_id or slug}, "p", "data.error.project")
    name = slug or f"project {project}"
    latest = text(error, "title") or text(error, "message")
    links = {"source": text(error, "web_url")}
    if cfg.org and project_id:
        links["project"] = f"https://{cfg.org}.sentry.io/issues/?project={project_id}"
    return [
        make_signal(
            key=f"sentry:errors:{project}",
            source=SOURCE,
            severity=cfg.error_spike_severity,
            title=f"Error rate spike in {name}",
            summary=join(
                [
                    f"More than {cfg.error_spike_per_minute} errors in a minute",
                    f"latest: {latest}" if latest else "",
                    text(error, "culprit"),
                ]
            ),
            labels={
                "project": slug or project,
                "level": text(error, "level").lower(),
                "issue_id": text(error, "issue_id"),
                "environment": text(error, "environment"),
            },
            links=links,
            occurred_at=epoch(error.get("timestamp")) or iso_time(error.get("datetime")),
            # The engine opens the incident only past this many a minute (the runbook's spike).
            burst=cfg.error_spike_per_minute,
            burst_window=60.0,
            delivery_id=delivery,
        )
    ]


_Handler = Callable[[str, _Data, SentrySource, str | None], Outcome]
_HANDLERS: dict[str, _Handler] = {
    "issue": _issue,
    "event_alert": _event_alert,
    "metric_alert": _metric_alert,
    "error": _error,
}
