"""Slack Web API: chat.postMessage to announce, chat.update to show ack/resolve, thread replies.

Payloads are built by pure methods (`payload`, `update_payload`, `thread_payload`) and
`send` only posts them. Vendor facts: ../shared/VENDORS.md section c.
"""

from __future__ import annotations

from typing import Any

import httpx

from lib import clock, http
from lib.channels.base import PERMANENT_SLACK_ERRORS, Message, classify, redact, transport_failure
from lib.durations import format_duration
from lib.env import Env
from lib.models import Delivery

# Slack answers HTTP 200 {"ok": false} for these; a later attempt can succeed.
RETRYABLE_SLACK_ERRORS = {
    "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
}
# chat.update cannot edit the announcement any more: post a fresh message instead.
GONE_SLACK_ERRORS = {"message_not_found", "cant_update_message", "edit_window_closed"}

MAX_BUTTON_URL = 3000  # Slack Block Kit: a button's url is at most 3000 characters
MAX_SECTION_TEXT = 3000  # Slack Block Kit: a section's text is at most 3000 characters
MENTIONS = {"channel": "<!channel> ", "here": "<!here> "}  # docs.slack.dev/messaging/formatting-message-text
REMINDER = "Postmortem due: "  # the reminder summary never repeats it (lib/incidents/messages.py)


def escape(text: str) -> str:
    """Slack mrkdwn: &, < and > are control characters outside markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    return f"<{url.replace('>', '%3E').replace('|', '%7C')}|{escape(label)}>"


def _when(ts: float) -> str:
    """Shown in each reader's own time zone; the ISO fallback for clients that cannot."""
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{clock.iso(ts)}>"


def _lasted(msg: Message) -> str:
    end = msg.resolved_at if msg.resolved_at is not None else msg.now
    return format_duration(max(0.0, end - msg.opened_at))


class Slack:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.base = env.slack_api_url.rstrip("/")

    def __repr__(self) -> str:
        return f"Slack(api={self.base!r})"

    # -- pure rendering -------------------------------------------------------------------

    def text(self, msg: Message) -> str:
        """The notification text: the mention first, then `[P0] title`, then what changed."""
        head = f"{MENTIONS.get(msg.mention, '')}[{msg.severity}] {escape(msg.title)}"
        if msg.kind == "ack" or (msg.status == "acknowledged" and msg.kind != "resolve"):
            at = f" at {clock.iso(msg.acked_at)}" if msg.acked_at else ""
            return f"{head}: Acknowledged by {escape(msg.acked_by or 'someone')}{at}"
        if msg.kind == "reminder":
            return f"{head}: {REMINDER}{escape(msg.summary)}"
        if msg.kind == "resolve" or msg.status == "resolved":
            return f"{head}: Resolved after {_lasted(msg)}"
        if msg.kind == "escalate":
            return f"{head}: escalated, {escape(msg.escalation_note or 'still unacknowledged')}"
        if msg.kind == "test":
            return f"{head} (test message)"
        return head

    def blocks(self, msg: Message) -> list[dict[str, Any]]:
        blocks = [self._section(msg)]
        context = self._context(msg)
        if context:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
        buttons = self._buttons(msg)
        if buttons:
            blocks.append({"type": "actions", "block_id": f"incident:{msg.incident_id}", "elements": buttons})
        return blocks

    def payload(self, msg: Message) -> dict[str, Any]:
        """chat.postMessage body announcing the incident in `msg.address`."""
        return {
            "channel": msg.address, "text": self.text(msg), "blocks": self.blocks(msg),
            "unfurl_links": False, "unfurl_media": False,
        }

    def update_payload(self, msg: Message) -> dict[str, Any]:
        """chat.update body rewriting the announcement to its current state."""
        return {"channel": msg.slack_channel, "ts": msg.slack_ts, "text": self.text(msg), "blocks": self.blocks(msg)}

    def thread_payload(self, msg: Message) -> dict[str, Any]:
        """A short reply under the announcement: "Resolved after 12m", or a reminder."""
        if msg.kind == "resolve" or (msg.status == "resolved" and msg.kind != "reminder"):
            by = f" by {escape(msg.resolved_by)}" if msg.resolved_by else ""
            text = f"Resolved{by} after {_lasted(msg)}"
        else:
            text = (REMINDER if msg.kind == "reminder" else "") + escape(msg.summary or msg.title)
        body = {"channel": msg.slack_channel or msg.address, "text": text}
        return body | ({"thread_ts": msg.slack_ts} if msg.slack_ts else {})

    def _section(self, msg: Message) -> dict[str, Any]:
        lines = [f"*[{msg.severity}] {escape(msg.title)}*"]
        if msg.summary:
            lines.append(escape(msg.summary))
        times = "1 occurrence" if msg.occurrences == 1 else f"{msg.occurrences} occurrences"
        facts = [f"Incident {msg.ref}", times]
        if msg.opened_at:
            facts.append(f"opened {_when(msg.opened_at)}")
        lines.append(" · ".join(facts))
        if msg.kind == "escalate" and msg.escalation_note:
            lines.append(f":rotating_light: Escalated: {escape(msg.escalation_note)}")
        if msg.acked_by and msg.status != "resolved":
            at = f" at {_when(msg.acked_at)}" if msg.acked_at else ""
            lines.append(f":white_check_mark: Acknowledged by {escape(msg.acked_by)}{at}")
        if msg.kind == "resolve" or msg.status == "resolved":
            by = f" by {escape(msg.resolved_by)}" if msg.resolved_by else ""
            lines.append(f":large_green_circle: Resolved{by} after {_lasted(msg)}")
        text = "\n".join(lines)
        if len(text) > MAX_SECTION_TEXT:
            text = text[: MAX_SECTION_TEXT - 1] + "…"
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    def _context(self, msg: Message) -> str:
        parts = [_link(msg.links[k], label) for k, label in
                 (("runbook", "Runbook"), ("dashboard", "Dashboard"), ("source", "Source")) if msg.links.get(k)]
        if msg.deploy_note:
            deploy = msg.links.get("deploy")
            parts.append(_link(deploy, msg.deploy_note) if deploy else escape(msg.deploy_note))
        if msg.postmortem_url and (msg.kind in ("resolve", "reminder") or msg.status == "resolved"):
            parts.append(_link(msg.postmortem_url, "Postmortem"))
        return " · ".join(parts)

    def _buttons(self, msg: Message) -> list[dict[str, Any]]:
        if msg.kind in ("resolve", "reminder") or msg.status == "resolved":
            # The runbook's step 4: document within 24 hours. The button opens the signed page.
            if msg.postmortem_url and len(msg.postmortem_url) <= MAX_BUTTON_URL:
                pm = _button("Attach postmortem", "postmortem", msg.incident_id)
                return [pm | {"url": msg.postmortem_url}]
            return []
        buttons: list[dict[str, Any]] = []
        if msg.ack_url and msg.kind != "ack" and msg.status != "acknowledged":
            ack = _button("Acknowledge", "ack", msg.incident_id, style="primary")
            if len(msg.ack_url) <= MAX_BUTTON_URL:
                ack["url"] = msg.ack_url
            buttons.append(ack)
        buttons.append(_button("Resolve", "resolve", msg.incident_id))
        buttons.append(_button("False positive", "false_positive", msg.incident_id))
        return buttons

    # -- sending --------------------------------------------------------------------------

    def send(self, msg: Message, timeout: float) -> Delivery:
        """1. ack/resolve with an announcement: chat.update it (resolve adds a thread reply).
        2. reminder with an announcement: reply in its thread.
        3. otherwise, or when the announcement is gone: post a new message."""
        deadline = clock.monotonic() + timeout
        announced = bool(msg.slack_channel and msg.slack_ts)
        if msg.kind in ("ack", "resolve") and announced:
            updated = self._call("chat.update", self.update_payload(msg), timeout)
            if not (updated.permanent and updated.detail.removeprefix("slack: ") in GONE_SLACK_ERRORS):
                if msg.kind == "resolve" and updated.ok:
                    self._thread_reply(msg, deadline)
                return updated
        if msg.kind == "reminder" and announced:
            return self._call("chat.postMessage", self.thread_payload(msg) | {"blocks": self.blocks(msg)}, timeout)
        return self._call("chat.postMessage", self.payload(msg), max(0.05, deadline - clock.monotonic()))

    def _thread_reply(self, msg: Message, deadline: float) -> None:
        """Best effort: the update already shows the resolve; a retry must not edit it twice."""
        left = deadline - clock.monotonic()
        if left > 0.05:
            self._call("chat.postMessage", self.thread_payload(msg), left)

    def _call(self, method: str, body: dict[str, Any], timeout: float) -> Delivery:
        token = self.env.slack_bot_token.get_secret_value() if self.env.slack_bot_token else ""
        if not token:
            return Delivery(ok=False, permanent=True, detail="slack: SLACK_BOT_TOKEN is not set")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
        try:
            r = http.client().post(f"{self.base}/{method}", json=body, headers=headers,
                                   timeout=http.timeout_for(timeout))
        except httpx.HTTPError as exc:
            return transport_failure(exc)
        return _outcome(r, token)


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id, "value": value,
    }
    if style:
        button["style"] = style
    return button


def _outcome(r: httpx.Response, token: str) -> Delivery:
    """Slack: HTTP errors by status; HTTP 200 {"ok": false, "error": code} by its code."""
    try:
        data = r.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        if r.status_code == 200:
            return Delivery(ok=False, retryable=True, status=200, detail="slack: answer is not JSON")
        return classify(r.status_code, redact(r.text[:200], token), r.headers.get("Retry-After"))
    error = redact(str(data.get("error") or ""), token)[:100]
    if r.status_code != 200:
        return classify(r.status_code, error or redact(r.text[:200], token), r.headers.get("Retry-After"))
    if data.get("ok") is True:
        return Delivery.success(200, channel=str(data.get("channel", "")), ts=str(data.get("ts", "")))
    permanent = error in PERMANENT_SLACK_ERRORS and error not in RETRYABLE_SLACK_ERRORS
    return Delivery(ok=False, retryable=not permanent, permanent=permanent, status=200,
                    detail=f"slack: {error or 'unknown error'}")
