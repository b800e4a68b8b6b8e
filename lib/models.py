"""The nouns every part of Vigil shares: Severity, Signal, Incident, Decision, Delivery.

Times are Unix epoch seconds (float). Nothing here reads the clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Severity(str, enum.Enum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        """Lower is more urgent: P0 -> 0."""
        return int(self.value[1])

    def __str__(self) -> str:
        return self.value


class GroupMember(BaseModel):
    """One alert of an Alertmanager group. The engine merges members into the group's
    state in the same round trip as the decision (lib/incidents/lua/group_lib.lua):
    the alert's own `starts`/`ends` order them, whatever order notifications arrive in."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64)  # the fingerprint
    starts: float  # startsAt, Unix seconds: with `id`, one firing of the alert
    ends: float | None = None  # endsAt of a resolved alert
    status: Literal["firing", "resolved"] = "firing"
    severity: Severity = Severity.P2
    name: str = Field(default="", max_length=200)  # alertname and the labels that tell it apart


class AlertGroup(BaseModel):
    """An Alertmanager notification's alerts. `ended`: the notification says the whole group
    resolved, at the latest endsAt it lists: alerts it no longer lists (silenced, inhibited
    or long gone) that started before then resolved with it."""

    model_config = ConfigDict(extra="forbid")

    members: list[GroupMember]
    ended: float | None = None
    # Which Alertmanager group said it (a hash of its groupKey): `ended` speaks only for
    # that group's alerts, not for the other groups (tiers routed apart) of one incident.
    origin: str = Field(default="", max_length=64)


class Signal(BaseModel):
    """What a source saw, normalised. `key` is the dedup identity of the problem."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=400)
    severity: Severity = Severity.P3
    status: Literal["firing", "resolved"] = "firing"
    title: str = Field(default="", max_length=500)
    summary: str = Field(default="", max_length=4000)
    source: str = "alerts"
    labels: dict[str, str] = Field(default_factory=dict)
    links: dict[str, str] = Field(default_factory=dict)
    occurred_at: float | None = None
    # Open only when more than `burst` firing signals with this key arrive within
    # `burst_window` seconds (Sentry: more than 10 errors a minute is a spike).
    burst: int | None = Field(default=None, ge=1)
    burst_window: float = 60.0
    # Dedup identity of the delivery itself (Sentry Request-ID, Vercel envelope id):
    # the same delivery twice changes nothing.
    delivery_id: str | None = Field(default=None, max_length=200)
    # When the source last saw the problem, signed inside the body (Sentry: the issue's
    # lastSeen or the event's time). A resolve whose evidence is older than the open
    # incident's is stale (a replayed recording) and resolves nothing.
    evidence_at: float | None = None
    # A target that was muted by inhibition and still fires once its source resolved
    # (lib.incidents.inhibit): applied only while it is still held as muted.
    release: bool = False
    # An Alertmanager group: severity, status and summary come from the merged members.
    group: AlertGroup | None = None


class Reason(str, enum.Enum):
    """Why incidents.apply / acknowledge / resolve did what it did."""

    OPENED = "OPENED"
    DEDUPED = "DEDUPED"
    UPGRADED = "UPGRADED"
    RESOLVED = "RESOLVED"
    SILENCED = "SILENCED"
    INHIBITED = "INHIBITED"  # a symptom of an open cause (lib.incidents.inhibit): no incident yet
    NOT_OPEN = "NOT_OPEN"  # a resolve for a key with no open incident
    ACKNOWLEDGED = "ACKNOWLEDGED"
    ALREADY_ACKNOWLEDGED = "ALREADY_ACKNOWLEDGED"
    ALREADY_RESOLVED = "ALREADY_RESOLVED"
    UNKNOWN_INCIDENT = "UNKNOWN_INCIDENT"
    DUPLICATE = "DUPLICATE"  # the same vendor delivery again
    BELOW_THRESHOLD = "BELOW_THRESHOLD"  # a burst signal that has not reached its count yet
    POSTMORTEM = "POSTMORTEM"

    def __str__(self) -> str:
        return self.value


class Incident(BaseModel):
    """The hot state of one incident, as kept in Redis."""

    model_config = ConfigDict(extra="ignore")

    id: str  # "1042"; shown as "#1042"
    key: str
    severity: Severity
    status: Literal["triggered", "acknowledged", "resolved"] = "triggered"
    title: str = ""
    summary: str = ""
    source: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    links: dict[str, str] = Field(default_factory=dict)
    opened_at: float
    last_seen: float
    occurrences: int = 1
    acked_by: str | None = None
    acked_via: str | None = None
    acked_at: float | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    false_positive: str | None = None
    postmortem: str | None = None
    escalation: list[dict[str, Any]] = Field(default_factory=list)  # policy snapshot
    steps_done: list[int] = Field(default_factory=list)
    slack: dict[str, str] = Field(default_factory=dict)  # {"channel": "C..", "ts": "..."}
    notified: list[dict[str, str]] = Field(default_factory=list)  # who was told, for resolve notices
    deploy: dict[str, Any] | None = None  # the production deploy it followed, if recent
    acked_email: str | None = None

    @property
    def ref(self) -> str:
        return f"#{self.id}"


class Send(BaseModel):
    """One claimed delivery: a message of `kind` to `address` over `channel`."""

    model_config = ConfigDict(extra="ignore")

    id: str
    incident: str
    channel: Literal["slack", "email", "sms", "call", "console"]
    kind: Literal["trigger", "escalate", "resolve", "ack", "reminder", "test"] = "trigger"
    to: str = ""  # person key, or the Slack channel name
    address: str = ""  # e-mail address, E.164 phone number, Slack channel
    mention: str = ""  # Slack: "channel" | "here" | ""
    attempt: int = 1
    step: int | None = None  # escalation step index


@dataclass(frozen=True)
class Decision:
    """What incidents.apply decided, and the deliveries it claimed for the caller."""

    reason: Reason
    incident: Incident | None = None
    sends: list[Send] = field(default_factory=list)
    detail: str = ""


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt to send. Never holds a secret in `detail`."""

    ok: bool
    retryable: bool = False
    permanent: bool = False
    status: int | None = None
    detail: str = ""
    ref: dict[str, str] = field(default_factory=dict)  # e.g. Slack {"channel", "ts"}, Twilio {"sid"}
    retry_after: float | None = None  # seconds the vendor asked us to wait (Retry-After)

    @classmethod
    def success(cls, status: int | None = None, **ref: str) -> Delivery:
        return cls(ok=True, status=status, ref=dict(ref))
