"""Outbound channels: one module each (slack.py, email.py, twilio.py, console.py) and the
one registry that names them (NOTIFIERS, below). Open first: base.py (Message, classify),
then the channel's module: `payload(message)` is pure, `send` posts it through lib.http.
May import: the core only.

A channel's module is imported when that channel first sends, not when this package
is: deliveries run after a webhook's answer, so a cold start answers without compiling
any of them (email.py alone pulls in the standard library's email package).
tests/test_coldstart.py holds that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from lib.env import Env

if TYPE_CHECKING:
    from lib.channels.base import Message
    from lib.models import Delivery


class Notifier(Protocol):
    def send(self, msg: Message, timeout: float) -> Delivery: ...


# One factory per channel, each importing its module on first use (see the docstring).
def _slack(env: Env) -> Notifier:
    from lib.channels.slack import Slack

    return Slack(env)


def _email(env: Env) -> Notifier:
    from lib.channels.email import Email

    return Email(env)


def _sms(env: Env) -> Notifier:
    from lib.channels.twilio import Sms

    return Sms(env)


def _call(env: Env) -> Notifier:
    from lib.channels.twilio import Call

    return Call(env)


def _console(env: Env, channel: str = "console") -> Notifier:
    from lib.channels.console import Console

    return Console(env, channel=channel)


NOTIFIERS: dict[str, Callable[[Env], Notifier]] = {
    "slack": _slack,
    "email": _email,
    "sms": _sms,
    "call": _call,
    "console": _console,
}


def notifier_for(channel: str, env: Env) -> Notifier:
    """The channel's notifier when it has credentials, else a Console that logs what it would send."""
    if env.channels().get(channel) and channel in NOTIFIERS:
        return NOTIFIERS[channel](env)
    return _console(env, channel=channel)
