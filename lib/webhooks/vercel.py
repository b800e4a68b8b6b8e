"""Vercel deployment webhooks -> Signals (VENDORS.md b.).

| type                                                   | outcome                                      |
|--------------------------------------------------------|----------------------------------------------|
| `deployment.error`, legacy `deployment-error`          | firing   `vercel:deploy:<project id>:<target>` |
| `deployment.succeeded`/`.ready`/`.promoted`, `deployment-ready` | resolved, same key                  |
| `deployment.created`, `deployment.canceled`, the rest  | Ignored                                      |

`<target>` is `production`, `staging` (or another custom environment), or `preview`
when Vercel sends null. Legacy hyphenated types carry a flat payload
(`payload.deploymentId`, `payload.projectId`, `payload.url`); one that cannot be read
is Ignored, never an error.

Deploy info: every Signal carries the deployment in its labels (`event`, `project`,
`project_id`, `target`, `deployment_id`, `deployment_url`, `commit_sha`,
`commit_message`, `commit_ref`, `author`), so an incident shows which commit broke.
`live_deployment(signals)` reads back the production deployment that went live in a
delivery as a `Deployment`, for the caller to remember (`Incident.deploy`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lib.config import VercelSource
from lib.models import Signal
from lib.signing import equal, hmac_hex
from lib.webhooks import (
    BadPayload,
    Ignored,
    Outcome,
    clip,
    epoch,
    header,
    ident,
    join,
    kind,
    load_object,
    make_signal,
    text,
)

SOURCE = "vercel"
MAX_AGE = 86400  # seconds: Vercel retries a delivery for up to 24 h (DOCS webhooks-api)
FAILED = frozenset({"deployment.error", "deployment-error"})
LIVE = frozenset({"deployment.succeeded", "deployment.ready", "deployment.promoted", "deployment-ready"})
_TARGET = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_GIT_PROVIDERS = ("github", "gitlab", "bitbucket")


@dataclass(frozen=True)
class Deployment:
    """A deployment as the webhooks describe it; `as_dict()` fits `Incident.deploy`."""

    id: str
    project_id: str
    project: str = ""
    target: str = "preview"
    url: str = ""  # https://<deployment host>
    commit_sha: str = ""
    commit_message: str = ""
    commit_ref: str = ""
    author: str = ""
    event: str = ""
    at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify(headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
    """HMAC-SHA1 hex of the raw body in `x-vercel-signature` (DOCS webhooks-api, Securing webhooks)."""
    if not secret:
        return False
    signature = header(headers, "x-vercel-signature")
    if not signature:
        return False
    return equal(hmac_hex(secret, body, "sha1"), signature.strip().lower())


def parse(headers: Mapping[str, str], body: bytes, cfg: VercelSource, now: float | None = None) -> Outcome:
    """With `now` (Vigil's clock), a delivery created more than MAX_AGE ago is refused:
    Vercel retries for 24 h and the engine remembers a delivery id for as long, so an
    older one can only be a replay of a recorded body (`createdAt` is signed)."""
    envelope = load_object(body)
    if now is not None:
        created = epoch(envelope.get("createdAt"), 1000.0)
        if created is None:
            raise BadPayload("createdAt missing")
        if created < now - MAX_AGE:
            raise BadPayload("createdAt is more than 24 h ago: refused as a replay")
    event = text(envelope, "type")
    if not event:
        raise BadPayload("type missing")
    if event not in FAILED | LIVE:
        return Ignored(f"vercel {clip(event, 60)} ignored")
    try:
        deployment = _deployment(envelope, event)
    except BadPayload as exc:
        if "." not in event:  # a deprecated legacy hook: read what we can, never fail the delivery
            return Ignored(f"vercel {event} ignored: {exc.reason}")
        raise
    return [_signal(deployment, envelope, cfg)]


def live_deployment(signals: Iterable[Signal], target: str = "production") -> Deployment | None:
    """The deployment to `target` that went live in these signals (succeeded, ready, promoted)."""
    for s in signals:
        labels = s.labels
        if s.source == SOURCE and labels.get("event") in LIVE and labels.get("target") == target:
            return Deployment(
                id=labels.get("deployment_id", ""),
                project_id=labels.get("project_id", ""),
                project=labels.get("project", ""),
                target=target,
                url=labels.get("deployment_url", ""),
                commit_sha=labels.get("commit_sha", ""),
                commit_message=labels.get("commit_message", ""),
                commit_ref=labels.get("commit_ref", ""),
                author=labels.get("author", ""),
                event=labels.get("event", ""),
                at=s.occurred_at,
            )
    return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _git(meta: Mapping[str, Any], field: str) -> str:
    """`githubCommitSha`, `gitlabCommitSha`, `bitbucketCommitSha`: whichever is set."""
    return next((v for p in _GIT_PROVIDERS if (v := text(meta, f"{p}Commit{field}"))), "")


def _deployment(envelope: Mapping[str, Any], event: str) -> Deployment:
    """The deployment from the current payload shape, or the legacy flat one."""
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise BadPayload(
            "payload missing" if payload is None else f"payload: expected an object, got {kind(payload)}"
        )
    dep = _dict(payload.get("deployment"))
    project = _dict(payload.get("project"))
    project_id = ident({"id": text(project, "id") or text(payload, "projectId")}, "id", "payload.project.id")
    deployment_id = text(dep, "id") or text(payload, "deploymentId")
    target_raw = payload.get("target", dep.get("target"))
    if target_raw is not None and not isinstance(target_raw, str):
        raise BadPayload("payload.target: expected a string or null")
    target = (target_raw or "preview").strip().lower() or "preview"
    if not _TARGET.match(target):
        raise BadPayload("payload.target: expected an environment name like production or preview")
    host = text(dep, "url") or text(payload, "url")
    meta = _dict(dep.get("meta")) or _dict(payload.get("meta"))
    return Deployment(
        id=clip(deployment_id, 128),
        project_id=project_id,
        project=text(dep, "name") or text(payload, "name") or text(project, "name") or project_id,
        target=target,
        url=host
        if not host or host.startswith(("https://", "http://"))
        else f"https://{host}",  # a bare host
        commit_sha=_git(meta, "Sha"),
        commit_message=next(iter(_git(meta, "Message").splitlines()), ""),  # the subject line
        commit_ref=_git(meta, "Ref"),
        author=_git(meta, "AuthorLogin") or _git(meta, "AuthorName"),
        event=event,
        at=epoch(envelope.get("createdAt"), 1000.0),  # JavaScript milliseconds
    )


def _signal(d: Deployment, envelope: Mapping[str, Any], cfg: VercelSource) -> Signal:
    failed = d.event in FAILED
    payload = _dict(envelope.get("payload"))
    inspector = text(_dict(payload.get("links")), "deployment") or text(
        _dict(payload.get("deployment")), "inspectorUrl"
    )
    commit = join(
        [
            d.commit_sha[:7],
            f"“{d.commit_message}”" if d.commit_message else "",
            f"by {d.author}" if d.author else "",
            f"on {d.commit_ref}" if d.commit_ref else "",
        ],
        " ",
    )
    verb = d.event.replace("-", ".").rsplit(".", 1)[-1]  # error, succeeded, ready, promoted
    return make_signal(
        key=f"vercel:deploy:{d.project_id}:{d.target}",
        source=SOURCE,
        severity=cfg.production if d.target == "production" else cfg.preview,
        status="firing" if failed else "resolved",
        title=f"Deployment {'failed' if failed else verb}: {d.project} ({d.target})",
        summary=join(
            [
                commit,
                # Vercel sends no error message with deployment.error: it is in the build logs.
                "see the build logs in the Vercel inspector" if failed else "",
            ]
        ),
        labels={
            "event": d.event,
            "project": d.project,
            "project_id": d.project_id,
            "target": d.target,
            "deployment_id": d.id,
            "deployment_url": d.url,
            "commit_sha": d.commit_sha,
            "commit_message": d.commit_message,
            "commit_ref": d.commit_ref,
            "author": d.author,
        },
        links={"source": inspector, "deployment": d.url},
        occurred_at=d.at,
        delivery_id=text(envelope, "id") or None,
    )
