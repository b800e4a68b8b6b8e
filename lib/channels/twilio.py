"""Twilio REST API 2010-04-01: SMS (Messages.json) and voice calls with inline TwiML (Calls.json).

Vendor facts: ../shared/VENDORS.md section d. Bodies are form-encoded, auth is HTTP Basic
AccountSid:AuthToken, success is 201, errors are JSON {"code", "message", "status"}.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape as xml_escape

import httpx

from lib import http
from lib.channels.base import Message, classify, headline, redact, transport_failure
from lib.durations import format_duration
from lib.env import Env
from lib.models import Delivery

# Two GSM-7 segments of 160 characters (Twilio: a segment holds 160 GSM-7 characters).
MAX_SMS = 320
MAX_TWIML = 4000  # Twilio Calls.json: `Twiml` is at most 4000 characters
ELLIPSIS = "..."  # "…" is not GSM-7 and would turn the whole SMS into 70-character UCS-2 segments


def _cut(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    return text[: max(0, room - len(ELLIPSIS))].rstrip() + ELLIPSIS


def _tail(msg: Message) -> str:
    """What follows the title in an SMS: the incident ref and the one link that matters."""
    if msg.kind == "resolve":
        return f" {msg.ref} after {format_duration(max(0.0, (msg.resolved_at or msg.now) - msg.opened_at))}"
    if msg.kind == "ack":
        return f" {msg.ref} by {msg.acked_by}" if msg.acked_by else f" {msg.ref}"
    if msg.kind == "reminder":
        return f" {msg.ref} {msg.postmortem_url}" if msg.postmortem_url else f" {msg.ref}"
    return f" {msg.ref} ack: {msg.ack_url}" if msg.ack_url else f" {msg.ref}"


def sms_body(msg: Message) -> str:
    """`[P0] api is down #1042 ack: <link>`, at most MAX_SMS characters: the title is cut, never the link."""
    tail = _tail(msg)
    full = headline(msg) + tail
    if len(full) <= MAX_SMS:
        return full
    room = MAX_SMS - len(tail) - len(headline(msg, title=""))
    return headline(msg, title=_cut(msg.title, room)) + tail


def _spoken(msg: Message, title: str) -> str:
    sev = f"priority {msg.severity.rank}"
    what = {"resolve": "resolved", "ack": "acknowledged", "escalate": "escalated, still unacknowledged",
            "test": "test call"}.get(msg.kind, "alert")
    return f"Vigil {what}, {sev}: {title}. Incident {msg.incident_id}."


def speech(msg: Message) -> str:
    """What the call says (twice), as plain text."""
    return _spoken(msg, msg.title)


def _render(msg: Message, title: str) -> str:
    said = xml_escape(_spoken(msg, title))
    return f'<Response><Say>{said}</Say><Pause length="1"/><Say>{said}</Say></Response>'


def twiml(msg: Message) -> str:
    """Say the incident, pause, say it again; XML-escaped and at most MAX_TWIML characters."""
    doc = _render(msg, msg.title)
    room = (MAX_TWIML - len(_render(msg, ""))) // 2
    while len(doc) > MAX_TWIML:  # escaping lengthens a title (& -> &amp;): shrink until it fits
        doc = _render(msg, _cut(msg.title, room))
        room -= max(10, (len(doc) - MAX_TWIML) // 2 + 1)
    return doc


class _Twilio:
    resource = ""

    def __init__(self, env: Env) -> None:
        self.env = env

    def __repr__(self) -> str:
        return f"{type(self).__name__}(account={self.env.twilio_account_sid!r})"

    def form(self, msg: Message) -> dict[str, str]:
        raise NotImplementedError

    def send(self, msg: Message, timeout: float) -> Delivery:
        sid = self.env.twilio_account_sid
        token = self.env.twilio_auth_token.get_secret_value() if self.env.twilio_auth_token else ""
        if not (sid and token and self.env.twilio_from):
            return Delivery(ok=False, permanent=True, detail="twilio: TWILIO_ACCOUNT_SID/AUTH_TOKEN/FROM not set")
        url = f"{self.env.twilio_api_url.rstrip('/')}/2010-04-01/Accounts/{sid}/{self.resource}"
        try:
            r = http.client().post(url, data=self.form(msg), auth=(sid, token), timeout=http.timeout_for(timeout))
        except httpx.HTTPError as exc:
            return transport_failure(exc)
        return _outcome(r, token)


class Sms(_Twilio):
    resource = "Messages.json"

    def form(self, msg: Message) -> dict[str, str]:
        return {"To": msg.address, "From": self.env.twilio_from or "", "Body": sms_body(msg)}


class Call(_Twilio):
    resource = "Calls.json"

    def form(self, msg: Message) -> dict[str, str]:
        return {"To": msg.address, "From": self.env.twilio_from or "", "Twiml": twiml(msg)}


def _outcome(r: httpx.Response, token: str) -> Delivery:
    """201 with the resource's sid; otherwise `HTTP 400: 21211 The 'To' number ...`."""
    try:
        data: Any = r.json()
    except ValueError:
        data = None
    if 200 <= r.status_code < 300:
        sid = str(data.get("sid", "")) if isinstance(data, dict) else ""
        return Delivery.success(r.status_code, sid=sid)
    if isinstance(data, dict) and (data.get("code") or data.get("message")):
        detail = f"{data.get('code') or ''} {data.get('message') or ''}".strip()
    else:
        detail = r.text[:200]
    return classify(r.status_code, redact(detail, token)[:250], r.headers.get("Retry-After"))
