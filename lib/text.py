"""Text shared by every renderer that is not Slack.

Reasons and summaries are written once, with Slack's `code` marks around the
names they quote (``database` was `disconnected``). Slack renders those; an
e-mail, an SMS, the ack page and the status page would show the backticks, so
they show the plain words instead.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"`([^`\n]*)`")


def plain(text: str) -> str:
    """`text` without Slack's inline-code backticks: "database was disconnected"."""
    return _CODE.sub(r"\1", text)
