"""The nouns every part of Vigil shares: Severity, Signal, Incident, Decision, Delivery.

Times are Unix epoch seconds (float). Nothing here reads the clock.

Stdlib dataclasses, not pydantic: a request's path builds no pydantic model (issue 15).
Each checks its fields on construction (lib/fields.py: `Invalid`, a ValueError whose
message starts with the field's name); `as_dict()` is the JSON the Lua scripts read,
`from_dict()` reads it back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from lib.fields import (
    Model,
    choice,
    each,
    flag,
    integer,
    items,
    mapping,
    member,
    number,
    optional_integer,
    optional_number,
    optional_text,
    strings,
    text,
)

AlertStatus = Literal["firing", "resolved"]
IncidentStatus = Literal["triggered", "acknowledged", "resolved"]
Channel = Literal["slack", "email", "sms", "call", "console"]
SendKind = Literal["trigger", "escalate", "resolve", "ack", "reminder", "test"]


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


@dataclass(kw_only=True)
class GroupMember(Model):
    """One alert of an Alertmanager group. The engine merges members into the group's
    state in the same round trip as the decision (lib/incidents/lua/group_lib.lua):
    the alert's own `starts`/`ends` order them, whatever order notifications arrive in."""

    id: str  # the fingerprint, 1..64 characters
    starts: float  # startsAt, Unix seconds: with `id`, one firing of the alert
    ends: float | None = None  # endsAt of a resolved alert
    status: AlertStatus = "firing"
    severity: Severity = Severity.P2
    name: str = ""  # alertname and the labels that tell it apart, at most 200 characters

    def __post_init__(self) -> None:
        self.id = text("id", self.id, 1, 64)
        self.starts = number("starts", self.starts)
        self.ends = optional_number("ends", self.ends)
        self.status = choice("status", self.status, get_args(AlertStatus))  # type: ignore[assignment]
        self.severity = member("severity", self.severity, Severity)
        self.name = text("name", self.name, 0, 200)


@dataclass(kw_only=True)
class AlertGroup(Model):
    """An Alertmanager notification's alerts. `ended`: the notification says the whole group
    resolved, at the latest endsAt it lists: alerts it no longer lists (silenced, inhibited
    or long gone) that started before then resolved with it."""

    members: list[GroupMember]
    ended: float | None = None
    # Which Alertmanager group said it (a hash of its groupKey): `ended` speaks only for
    # that group's alerts, not for the other groups (tiers routed apart) of one incident.
    origin: str = ""  # at most 64 characters

    def __post_init__(self) -> None:
        self.members = each("members", self.members, GroupMember)
        self.ended = optional_number("ended", self.ended)
        self.origin = text("origin", self.origin, 0, 64)


@dataclass(kw_only=True)
class Signal(Model):
    """What a source saw, normalised. `key` is the dedup identity of the problem.
    `from_dict` refuses a key that is not a field."""

    key: str  # 1..400 characters
    severity: Severity = Severity.P3
    status: AlertStatus = "firing"
    title: str = ""  # at most 500 characters
    summary: str = ""  # at most 4000 characters
    source: str = "alerts"
    labels: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    occurred_at: float | None = None
    # Open only when more than `burst` (>= 1) firing signals with this key arrive within
    # `burst_window` seconds (Sentry: more than 10 errors a minute is a spike).
    burst: int | None = None
    burst_window: float = 60.0
    # Dedup identity of the delivery itself (Sentry Request-ID, Vercel envelope id), at
    # most 200 characters: the same delivery twice changes nothing.
    delivery_id: str | None = None
    # When the source last saw the problem, signed inside the body (Sentry: the issue's
    # lastSeen or the event's time). A resolve whose evidence is older than the open
    # incident's is stale (a replayed recording) and resolves nothing.
    evidence_at: float | None = None
    # A target that was muted by inhibition and still fires once its source resolved
    # (lib.incidents.inhibit): applied only while it is still held as muted.
    release: bool = False
    # An Alertmanager group: severity, status and summary come from the merged members.
    group: AlertGroup | None = None

    def __post_init__(self) -> None:
        self.key = text("key", self.key, 1, 400)
        self.severity = member("severity", self.severity, Severity)
        self.status = choice("status", self.status, get_args(AlertStatus))  # type: ignore[assignment]
        self.title = text("title", self.title, 0, 500)
        self.summary = text("summary", self.summary, 0, 4000)
        self.source = text("source", self.source)
        self.labels = strings("labels", self.labels)
        self.links = strings("links", self.links)
        self.occurred_at = optional_number("occurred_at", self.occurred_at)
        self.burst = optional_integer("burst", self.burst, 1)
        self.burst_window = number("burst_window", self.burst_window)
        self.delivery_id = optional_text("delivery_id", self.delivery_id, 200)
        self.evidence_at = optional_number("evidence_at", self.evidence_at)
        self.release = flag("release", self.release)
        if self.group is not None:
            self.group = AlertGroup.from_dict(self.group, "group")


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


@dataclass(kw_only=True)
class Incident(Model):
    """The hot state of one incident, as kept in Redis. `from_dict` drops keys that are
    not fields (the Lua scripts keep more)."""

    EXTRA = "ignore"

    id: str  # "1042"; shown as "#1042"
    key: str
    severity: Severity
    status: IncidentStatus = "triggered"
    title: str = ""
    summary: str = ""
    source: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
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
    escalation: list[dict[str, Any]] = field(default_factory=list)  # policy snapshot
    steps_done: list[int] = field(default_factory=list)
    slack: dict[str, str] = field(default_factory=dict)  # {"channel": "C..", "ts": "..."}
    notified: list[dict[str, str]] = field(default_factory=list)  # who was told, for resolve notices
    deploy: dict[str, Any] | None = None  # the production deploy it followed, if recent
    acked_email: str | None = None

    def __post_init__(self) -> None:
        for name in ("id", "key", "title", "summary", "source"):
            setattr(self, name, text(name, getattr(self, name)))
        for name in ("acked_by", "acked_via", "resolved_by", "false_positive", "postmortem", "acked_email"):
            setattr(self, name, optional_text(name, getattr(self, name)))
        for name in ("opened_at", "last_seen"):
            setattr(self, name, number(name, getattr(self, name)))
        for name in ("acked_at", "resolved_at"):
            setattr(self, name, optional_number(name, getattr(self, name)))
        for name in ("labels", "links", "slack"):
            setattr(self, name, strings(name, getattr(self, name)))
        self.severity = member("severity", self.severity, Severity)
        self.status = choice("status", self.status, get_args(IncidentStatus))  # type: ignore[assignment]
        self.occurrences = integer("occurrences", self.occurrences)
        self.escalation = [mapping(f"escalation[{i}]", s) for i, s in enumerate(items("escalation", self.escalation))]
        self.steps_done = [integer(f"steps_done[{i}]", n) for i, n in enumerate(items("steps_done", self.steps_done))]
        self.notified = [strings(f"notified[{i}]", n) for i, n in enumerate(items("notified", self.notified))]
        self.deploy = None if self.deploy is None else mapping("deploy", self.deploy)

    @property
    def ref(self) -> str:
        return f"#{self.id}"


@dataclass(kw_only=True)
class Send(Model):
    """One claimed delivery: a message of `kind` to `address` over `channel`. `from_dict`
    drops keys that are not fields (the outbox keeps more)."""

    EXTRA = "ignore"

    id: str
    incident: str
    channel: Channel
    kind: SendKind = "trigger"
    to: str = ""  # person key, or the Slack channel name
    address: str = ""  # e-mail address, E.164 phone number, Slack channel
    mention: str = ""  # Slack: "channel" | "here" | ""
    attempt: int = 1
    step: int | None = None  # escalation step index

    def __post_init__(self) -> None:
        for name in ("id", "incident", "to", "address", "mention"):
            setattr(self, name, text(name, getattr(self, name)))
        self.channel = choice("channel", self.channel, get_args(Channel))  # type: ignore[assignment]
        self.kind = choice("kind", self.kind, get_args(SendKind))  # type: ignore[assignment]
        self.attempt = integer("attempt", self.attempt)
        self.step = optional_integer("step", self.step)


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
