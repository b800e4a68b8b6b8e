"""What every notifier shares: the Message it renders and one classification of vendor answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import httpx

from lib.models import Delivery, Severity

Kind = Literal["trigger", "escalate", "resolve", "ack", "reminder", "test"]

# Slack Web API error codes that retrying will not fix.
PERMANENT_SLACK_ERRORS = {
    "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed",
    "account_inactive", "token_revoked", "missing_scope", "message_not_found",
    "cant_update_message", "edit_window_closed", "invalid_blocks", "msg_too_long",
}


@dataclass(frozen=True)
class Message:
    """One incident, rendered for one recipient on one channel. Pure data; no secrets."""

    kind: Kind
    incident_id: str  # "1042"
    severity: Severity
    title: str
    summary: str = ""
    status: str = "triggered"  # triggered | acknowledged | resolved
    source: str = ""
    service: str = "vigil"
    address: str = ""  # Slack channel, e-mail address or E.164 number
    to_name: str = ""
    mention: str = ""  # Slack: channel | here | ""
    links: dict[str, str] = field(default_factory=dict)  # runbook, dashboard, source, deploy
    ack_url: str | None = None
    false_positive_url: str | None = None
    postmortem_url: str | None = None
    status_url: str | None = None
    opened_at: float = 0.0
    now: float = 0.0
    occurrences: int = 1
    acked_by: str | None = None
    acked_at: float | None = None
    resolved_by: str | None = None
    resolved_at: float | None = None
    deploy_note: str | None = None  # "deployed 4 min ago: fix login by alice"
    escalation_note: str | None = None  # "unacknowledged for 15m"
    slack_channel: str | None = None  # where the incident was announced (for chat.update)
    slack_ts: str | None = None

    @property
    def ref(self) -> str:
        return f"#{self.incident_id}"


MAX_RETRY_AFTER = 3600.0  # a vendor may slow our retries, not stop them


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (Slack and Twilio send delta-seconds), at most MAX_RETRY_AFTER;
    None when absent or unreadable (an HTTP-date: the outbox's own backoff applies)."""
    text = (value or "").strip()
    if not text or len(text) > 10 or not text.isascii() or not text.isdigit():
        return None
    return min(float(text), MAX_RETRY_AFTER)


def classify(status: int, detail: str = "", retry_after: str | None = None) -> Delivery:
    """One rule for every vendor: 2xx ok; 408/425/429/5xx retryable (honouring Retry-After);
    other 4xx permanent."""
    if 200 <= status < 300:
        return Delivery(ok=True, status=status, detail=detail)
    if status in (408, 425, 429) or status >= 500:
        wait = retry_after_seconds(retry_after)
        suffix = f" (retry after {wait:.0f}s)" if wait is not None else ""
        return Delivery(ok=False, retryable=True, status=status, detail=f"HTTP {status}: {detail}{suffix}"[:300],
                        retry_after=wait)
    return Delivery(ok=False, permanent=True, status=status, detail=f"HTTP {status}: {detail}"[:300])


def transport_failure(exc: Exception) -> Delivery:
    """A timeout or connection error: retryable, described without the URL (it may hold a secret)."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
    return Delivery(ok=False, retryable=True, detail=f"transport: {kind}")


_KIND_PREFIX = {
    "escalate": "ESCALATED: ", "resolve": "RESOLVED: ", "ack": "Acknowledged: ",
    "reminder": "Postmortem due: ", "test": "TEST: ",
}


def headline(msg: Message, title: str | None = None) -> str:
    """`[P0] ESCALATED: api is down`: severity first, then what happened, for subjects, SMS and logs."""
    return f"[{msg.severity}] {_KIND_PREFIX.get(msg.kind, '')}{msg.title if title is None else title}"


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every non-empty secret replaced: a vendor may echo what it was sent."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text
