"""The console channel: for a channel without credentials, the message it would have sent.

It is the product's visible output in a local run with no accounts, so it logs at
WARNING: one line with what the person would receive (the SMS as sent, the Slack
text with its links, the e-mail's subject), the e-mail body on the lines below.
"""

from __future__ import annotations

import logging

from lib.channels.base import Message
from lib.channels.email import plain_text, subject
from lib.channels.slack import Slack
from lib.channels.twilio import sms_body, speech
from lib.env import Env
from lib.models import Delivery

log = logging.getLogger("vigil.console")


def body(msg: Message, channel: str) -> str:
    """What `channel` would deliver, as the person would read (or hear) it."""
    if channel == "sms":
        return sms_body(msg)
    if channel == "call":
        return f"(spoken) {speech(msg)}"
    if channel == "email":
        return subject(msg) + "\n" + "\n".join("    " + ln for ln in plain_text(msg).rstrip().splitlines())
    text = Slack(Env()).text(msg) if channel == "slack" else f"[{msg.severity}] {msg.title} {msg.ref}"
    links = [f"{k}: {v}" for k, v in (("ack", msg.ack_url), ("runbook", msg.links.get("runbook"))) if v]
    if msg.kind not in ("trigger", "escalate", "test"):
        links = links[1:] if msg.ack_url else links
    return " ".join([text, *links])


def line(msg: Message, channel: str = "console") -> str:
    """`[console] would send sms to +1555...: [P0] api is down #1 ack: http://...`."""
    target = f" to {msg.address}" if msg.address else ""
    return f"[console] would send {channel}{target}: {body(msg, channel)}"


class Console:
    def __init__(self, env: Env | None = None, channel: str = "console") -> None:
        self.env = env
        self.channel = channel

    def __repr__(self) -> str:
        return f"Console(channel={self.channel!r})"

    def send(self, msg: Message, timeout: float = 0.0) -> Delivery:
        log.warning("%s", line(msg, self.channel))
        ref = {"channel": "console"} | ({"ack": msg.ack_url} if msg.ack_url else {})
        return Delivery.success(None, **ref)
