"""Inbound webhooks: one module per vendor (sentry.py, vercel.py, alerts.py), each a pair
of pure functions. Open first: the vendor's module; this file holds the shared helpers.
May import: the core only (no channel, no store: parsing does no I/O).

    verify(headers, body, secret) -> bool
    parse(headers, body, cfg) -> Outcome = list[Signal] | Ignored     (raises BadPayload)

No I/O, no clock, no settings lookups: the secret and the source's config model
are arguments. `parse` raises nothing but `BadPayload` for any bytes a stranger
could send; the helpers below are how each module keeps that promise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lib import safejson
from lib.clock import parse_iso
from lib.fields import Invalid
from lib.models import Severity, Signal

MAX_ID = 128  # vendor ids are short; a longer one is not an id
MAX_LABEL = 200
MAX_LABELS = 64
MAX_LINK = 2000  # Slack: a button's url is at most 3000 characters; leave room for ours


@dataclass(frozen=True)
class Ignored:
    """A valid delivery that asks for nothing (HTTP 202 `{"ignored": reason}`)."""

    reason: str


# What every parse returns: the Signals to apply, or why there are none.
Outcome = list[Signal] | Ignored


class BadPayload(ValueError):
    """A malformed body (HTTP 400 `{"error": reason}`); `reason` names the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by case-insensitive name; None when absent or not a string."""
    want = name.lower()
    value = headers.get(want)
    if value is None:
        value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == want), None)
    return value if isinstance(value, str) else None


def kind(value: object) -> str:
    """The JSON type of a value, for error messages ('a list', 'a string')."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def load_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object (depth and number size bounded), or BadPayload saying why not."""
    if not body or not body.strip():
        raise BadPayload("body is empty")
    try:
        data = safejson.loads(body)
    except safejson.Rejected as exc:
        raise BadPayload(f"body {exc.reason}") from None
    if not isinstance(data, dict):
        raise BadPayload(f"expected a JSON object, got {kind(data)}")
    return data


def obj(parent: Mapping[str, Any], key: str, place: str) -> dict[str, Any]:
    """A required nested object."""
    value = parent.get(key)
    if value is None:
        raise BadPayload(f"{place} missing")
    if not isinstance(value, dict):
        raise BadPayload(f"{place}: expected an object, got {kind(value)}")
    return value


def opt_obj(parent: Mapping[str, Any], key: str) -> dict[str, Any]:
    """An optional nested object; anything else reads as empty."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def text(parent: Mapping[str, Any], key: str) -> str:
    """An optional scalar as text ('' when absent, null or not a scalar)."""
    value = parent.get(key)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    return ""


def ident(parent: Mapping[str, Any], key: str, place: str) -> str:
    """A required id: a non-empty string or integer of at most MAX_ID characters."""
    value = parent.get(key)
    if value is None or value == "":
        raise BadPayload(f"{place} missing")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadPayload(f"{place}: expected a string or integer id, got {kind(value)}")
    out = str(value).strip()
    if not out or len(out) > MAX_ID:
        raise BadPayload(f"{place}: expected an id of 1 to {MAX_ID} characters")
    return out


def clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def iso_time(value: object) -> float | None:
    """Epoch seconds from an ISO 8601 string; None when absent or unreadable."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        ts = parse_iso(value)
    except (ValueError, OverflowError):
        return None
    return ts if math.isfinite(ts) and ts > 0 else None


def epoch(value: object, scale: float = 1.0) -> float | None:
    """Epoch seconds from a number (`scale=1000` for JavaScript milliseconds)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        ts = float(value) / scale
    except OverflowError:
        return None
    return ts if math.isfinite(ts) and ts > 0 else None


def most_severe(first: Severity, *others: Severity | None) -> Severity:
    return min((first, *(s for s in others if s is not None)), key=lambda s: s.rank)


def _labels(raw: Mapping[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in raw.items():
        if len(out) >= MAX_LABELS:
            break
        if not isinstance(k, str) or not k or len(k) > 100:
            continue
        value = v if isinstance(v, str) else text({"v": v}, "v")
        if value:
            out[k] = clip(value, MAX_LABEL)
    return out


def _links(raw: Mapping[str, object]) -> dict[str, str]:
    """Only http(s) URLs that fit in a message button; a cut URL would be a broken one."""
    return {
        k: v
        for k, v in raw.items()
        if isinstance(k, str)
        and isinstance(v, str)
        and v.startswith(("https://", "http://"))
        and len(v) <= MAX_LINK
    }


def make_signal(
    *,
    key: str,
    source: str,
    title: str = "",
    summary: str = "",
    labels: Mapping[str, object] | None = None,
    links: Mapping[str, object] | None = None,
    delivery_id: str | None = None,
    **fields: Any,
) -> Signal:
    """A Signal with its text clipped and its labels and links cleaned to fit the model."""
    if delivery_id is not None:
        delivery_id = delivery_id.strip()[:200] or None
    try:
        return Signal(
            key=key,
            source=source,
            title=clip(title.strip(), 500),
            summary=clip(summary.strip(), 4000),
            labels=_labels(labels or {}),
            links=_links(links or {}),
            delivery_id=delivery_id,
            **fields,
        )
    except Invalid as exc:  # a safety net: report where, never the (stranger's) value
        raise BadPayload(f"{exc.field or 'signal'}: {exc.reason}") from None


def join(parts: Iterable[str], sep: str = " · ") -> str:
    return sep.join(p for p in parts if p)
