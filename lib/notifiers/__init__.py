"""Outbound channels, one module each, and the one registry that names them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lib.env import Env
from lib.models import Delivery
from lib.notifiers.base import Message
from lib.notifiers.console import Console
from lib.notifiers.email import Email
from lib.notifiers.slack import Slack
from lib.notifiers.twilio import Call, Sms


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
