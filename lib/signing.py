"""HMAC: vendor signature checks and Vigil's own signed acknowledge links."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

SLACK_MAX_AGE = 300  # Slack: reject requests whose timestamp is more than 5 minutes old


def digits(text: str | None, max_len: int = 12) -> int | None:
    """`text` as a non-negative integer when it is 1 to `max_len` ASCII digits, else None.

    Stricter than `str.isdigit()` + `int()`: "²" is a digit to isdigit() and an error
    to int(), and int() of 5000 digits is an error too (both were 500s)."""
    if not text or len(text) > max_len or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def hmac_hex(secret: str, body: bytes, digest: str = "sha256") -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, digest)).hexdigest()


def equal(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison of two strings or byte strings."""
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_b, b_b)


def bearer_ok(header: str | None, secret: str | None) -> bool:
    """`Authorization: Bearer <secret>`, compared in constant time; False when no secret is set."""
    if not secret or not header:
        return False
    return equal(header.strip(), f"Bearer {secret}")


def verify_slack(secret: str | None, timestamp: str | None, signature: str | None, body: bytes, now: float) -> bool:
    """Slack v0: HMAC-SHA256 over `v0:<ts>:<raw body>`; stale timestamps are rejected."""
    if not secret or not timestamp or not signature:
        return False
    ts = digits(timestamp)
    if ts is None or abs(now - ts) > SLACK_MAX_AGE:
        return False
    expected = "v0=" + hmac_hex(secret, b"v0:" + timestamp.encode() + b":" + body)
    return equal(expected, signature)


def _ack_message(action: str, incident: str, expires: int, who: str) -> bytes:
    return f"{action}|{incident}|{expires}|{who}".encode()


def sign_link(secret: str, base_url: str, incident: str, expires: int, who: str = "", action: str = "ack") -> str:
    """`<base>/api/ack?i=<incident>&e=<expiry>&s=<sig>[&u=<who>][&a=<action>]`."""
    sig = hmac_hex(secret, _ack_message(action, incident, expires, who))[:32]
    params = {"i": incident, "e": str(expires), "s": sig}
    if who:
        params["u"] = who
    if action != "ack":
        params["a"] = action
    return f"{base_url}/api/ack?{urlencode(params)}"


def verify_link(secret: str | None, params: dict[str, str], now: float) -> tuple[bool, str]:
    """(ok, why) for the fields of a signed link; `why` is shown to the person."""
    if not secret:
        return False, "acknowledge links are not configured (ACK_SIGNING_SECRET is unset)"
    incident, sig = params.get("i", ""), params.get("s", "")
    who, action = params.get("u", ""), params.get("a", "ack")
    expires = digits(params.get("e"))
    if not incident or expires is None or not sig:
        return False, "this link is incomplete"
    expected = hmac_hex(secret, _ack_message(action, incident, expires, who))[:32]
    if not equal(expected, sig):
        return False, "this link has been altered or was not issued by Vigil"
    if now > expires:
        return False, "this link has expired"
    return True, ""
