"""Render an incident and one claimed delivery into the Message a notifier sends.

Every message names what fired, carries the signed ack link (per recipient,
same incident id everywhere), and says when the incident followed a
production deploy.
"""

from __future__ import annotations

from lib.channels.base import Message
from lib.config import Config
from lib.durations import format_duration
from lib.env import Env
from lib.models import Incident, Send
from lib.signing import sign_link


def links_for(env: Env, incident: Incident, who: str, now: float, ttl: float) -> dict[str, str | None]:
    """The signed links of one recipient: ack, false positive, postmortem."""
    if env.ack_signing_secret is None:
        return {"ack": None, "false_positive": None, "postmortem": None}
    secret = env.ack_signing_secret.get_secret_value()
    expires = int(now + ttl)
    base = env.public_base_url
    return {
        action: sign_link(secret, base, incident.id, expires, who, action)
        for action in ("ack", "false_positive", "postmortem")
    }


def deploy_note(incident: Incident) -> str | None:
    d = incident.deploy
    if not d or not d.get("at"):
        return None
    ago = format_duration(max(0.0, incident.opened_at - float(d["at"])))
    what = (d.get("commit_message") or d.get("url") or "a production deploy").strip().splitlines()[0][:120]
    by = f" by {d['author']}" if d.get("author") else ""
    return f"deployed {ago} ago: {what}{by}"


def render(env: Env, config: Config, incident: Incident, send: Send, now: float) -> Message:
    links = links_for(env, incident, send.to if send.channel != "slack" else "", now, config.settings.ack_link_ttl)
    person = config.people.get(send.to)
    all_links = dict(incident.links)
    if incident.deploy and incident.deploy.get("url"):
        all_links.setdefault("deploy", str(incident.deploy["url"]))
    summary = incident.summary
    if send.kind == "reminder":
        summary = (
            # No "Postmortem due:" here: every channel's headline already says it.
            f"This {incident.severity.value} incident was resolved without a postmortem. "
            f"Every P0 and P1 incident is documented within 24 hours (docs/policy.md)."
            + (f" Attach it here: {links['postmortem']}" if links["postmortem"] else "")
        )
    escalation = None
    if send.kind == "escalate":
        escalation = f"unacknowledged for {format_duration(now - incident.opened_at)}"
    return Message(
        kind=send.kind,
        incident_id=incident.id,
        severity=incident.severity,
        title=incident.title or incident.key,
        summary=summary,
        status=incident.status,
        source=incident.source,
        service=config.service,
        address=send.address,
        to_name=(person.name if person and person.name else send.to),
        mention=send.mention,
        links=all_links,
        ack_url=links["ack"] if incident.status == "triggered" else None,
        false_positive_url=links["false_positive"],
        postmortem_url=links["postmortem"],
        status_url=f"{env.public_base_url}/api/status",
        opened_at=incident.opened_at,
        now=now,
        occurrences=incident.occurrences,
        acked_by=incident.acked_by,
        acked_at=incident.acked_at,
        resolved_by=incident.resolved_by,
        resolved_at=incident.resolved_at,
        deploy_note=deploy_note(incident),
        escalation_note=escalation,
        slack_channel=incident.slack.get("channel"),
        slack_ts=incident.slack.get("ts"),
    )
