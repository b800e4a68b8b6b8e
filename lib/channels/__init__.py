"""Outbound channels: one module each (slack.py, email.py, twilio.py, console.py) and the
one registry that names them (NOTIFIERS, below). Open first: base.py (Message, classify),
then the channel's module: `payload(message)` is pure, `send` posts it through lib.http.
May import: the core only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lib.channels.base import Message
from lib.channels.console import Console
from lib.channels.email import Email
from lib.channels.slack import Slack
from lib.channels.twilio import Call, Sms
from lib.env import Env
from lib.models import Delivery


class Notifier(Protocol):
    def send(self, msg: Message, timeout: float) -> Delivery: ...


NOTIFIERS: dict[str, Callable[[Env], Notifier]] = {
    "slack": Slack,
    "email": Email,
    "sms": Sms,
    "call": Call,
    "console": Console,
}


def notifier_for(channel: str, env: Env) -> Notifier:
    """The channel's notifier when it has credentials, else a Console that logs what it would send."""
    if env.channels().get(channel) and channel in NOTIFIERS:
        return NOTIFIERS[channel](env)
    return Console(env, channel=channel)
