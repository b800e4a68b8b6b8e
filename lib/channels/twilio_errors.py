"""What Twilio's error codes mean for an on-call page, and what to do about each.

Codes from Twilio's error catalog (twilio.com/docs/api/errors/<code>). The 2xxxx
codes come back at once from Messages.json / Calls.json; the 3xxxx ones are
delivery failures Twilio reports later on the message (Console → Monitor → Logs),
never in the create call: a 201 there does not mean the phone rang.
"""

from __future__ import annotations

import re

MEANINGS: dict[int, str] = {
    20003: "authentication failed: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or the API key pair)",
    20404: "the account or resource was not found: check TWILIO_ACCOUNT_SID",
    20429: "too many requests: Twilio is rate limiting this account; Vigil retries",
    21211: "the 'To' number is not a valid phone number: fix the person's phone in monitoring.yaml (E.164)",
    21219: "trial account: calls reach verified numbers only; verify it (Console → Verified Caller IDs) or upgrade",
    21408: "SMS to this country is not enabled: Console → Messaging → Settings → Geo permissions",
    21606: "TWILIO_FROM is not an SMS-capable number of this account",
    21608: "trial account: SMS reaches verified numbers only; verify it (Console → Verified Caller IDs) or upgrade",
    21610: "the recipient replied STOP: they must text START to this number before SMS reach them again",
    21612: "Twilio cannot route from TWILIO_FROM to this number (wrong number type or country)",
    21614: "the 'To' number is not a mobile number: SMS cannot reach it; page it by call instead",
    21659: "TWILIO_FROM is not a Twilio number of this account",
    30007: "carrier filtering: the message was blocked as spam; register the sender (10DLC / toll-free verification)",
    30032: "toll-free number not verified: US/Canada SMS from it are blocked until toll-free verification is approved",
    30034: "US A2P 10DLC: the sending number is not in a registered campaign; US carriers block it until it is",
}
_CODE = re.compile(r"\b([23]\d{4})\b")


def explain(detail: str) -> str | None:
    """`21608: trial account: ...` for the first Twilio code in a delivery's detail, if known."""
    m = _CODE.search(detail or "")
    if not m or int(m.group(1)) not in MEANINGS:
        return None
    return f"Twilio {m.group(1)}: {MEANINGS[int(m.group(1))]}"
