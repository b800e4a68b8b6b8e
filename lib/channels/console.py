"""The console channel: for a channel without credentials, one readable log line per message.

It is the product's visible output in a local run with no accounts, so it logs at WARNING.
"""

from __future__ import annotations

import logging

from lib.channels.base import Message, headline
from lib.env import Env
from lib.models import Delivery

log = logging.getLogger("vigil.console")


def line(msg: Message, channel: str = "console") -> str:
    """`[console] would send sms to +1555...: [P0] api is down #1 ack: http://...`."""
    text = f"{headline(msg)} {msg.ref}"
    if msg.summary and msg.kind in ("reminder", "trigger", "escalate", "test"):
        summary = " ".join(msg.summary.split())
        text += f": {summary[:157] + '...' if len(summary) > 160 else summary}"
    if msg.ack_url and msg.kind in ("trigger", "escalate", "test"):
        text += f" ack: {msg.ack_url}"
    if msg.kind == "ack" and msg.acked_by:
        text += f" by {msg.acked_by}"
    target = f" to {msg.address}" if msg.address else ""
    return f"[console] would send {channel}{target}: {text}"


class Console:
    def __init__(self, env: Env | None = None, channel: str = "console") -> None:
        self.env = env
        self.channel = channel

    def __repr__(self) -> str:
        return f"Console(channel={self.channel!r})"

    def send(self, msg: Message, timeout: float = 0.0) -> Delivery:
        log.warning("%s", line(msg, self.channel))
        return Delivery.success(None, channel="console")
