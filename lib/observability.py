"""Vigil's own errors in Sentry: initialised only when SENTRY_DSN is set, lean, and
holding no secret.

Defaults cost ~120 ms of cold start (41 auto-enabling integrations and a
`git rev-parse` subprocess for the release); we pass the release and
environment from Vercel's variables and enable only the httpx integration.
The runbook samples traces and profiles at 10%. On Vercel nothing runs after
the response, so every request flushes before it returns.

The SDK is imported and initialised on the first event, not on the first request:
importing it costs 130 ms with .pyc and 350 ms without (PLATFORM.md 0), which a
webhook's cold start would pay before answering a 401. Events are only ever sent
through `capture` and `message`, so nothing is lost; the first event of an instance
carries no breadcrumbs from before it.

No secret reaches Sentry: frame local variables are off (they held the config's
repr and the WSGI environ, with a check URL's password and SMTP_URL's), and
`scrub` runs on every event, transaction and breadcrumb: URL credentials and
query strings, `Authorization`-style values, fields named like secrets, and every
known secret value (the environment's secrets and the config's, `register_secrets`)
are replaced by "[redacted]".
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
_lock = threading.Lock()
_state: dict[str, Any] = {"init": False, "enabled": False, "sdk": None}
_secrets: set[str] = set()
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")
_QUERY = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s'\"<>?#]*\?)[^\s'\"<>#]+")
_SCHEME = re.compile(r"(?i)\b(bearer|basic|token|digest)\s+[A-Za-z0-9._~+/=:-]{4,}")
_SECRET_FIELD = re.compile(r"(?i)(authorization|cookie|token|passw|secret|signature|api[-_]?key|dsn|credential"
                           r"|smtp_url|redis_url|query_string)")
_SECRET_ENV = re.compile(r"(?i)(secret|token|passw|key|dsn|auth|_url$)")


def register_secrets(values: Iterable[str | None]) -> None:
    """Values to replace wherever they appear in an event (e.g. a config's header values)."""
    _secrets.update(v for v in values if v and len(v) >= 6)


def secrets_in_url(url: str) -> list[str]:
    """The password and the query values of a URL: what `scrub` must never let through."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    try:
        password = parts.password
    except ValueError:
        password = None
    return [p for p in (password, *(v for _, v in parse_qsl(parts.query))) if p]


def _environ_secrets() -> list[str]:
    out: list[str] = []
    for name, value in os.environ.items():
        if _SECRET_ENV.search(name):
            out += secrets_in_url(value) if "://" in value else [value]
    return out


def scrub_text(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _QUERY.sub(rf"\1{REDACTED}", text)
    return _SCHEME.sub(rf"\1 {REDACTED}", text)


def scrub(value: Any) -> Any:
    """`value` (an event, or any part of one) with every secret replaced; frame vars dropped."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_FIELD.search(k) and v not in (None, "", {}, [])
                else scrub(v))
            for k, v in value.items()
            if k != "vars"  # frame locals, should an integration turn them back on
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _before_send(event: Any, hint: Any) -> Any:
    return scrub(event)


def _before_breadcrumb(crumb: Any, hint: Any) -> Any:
    return scrub(crumb)


def init() -> bool:
    """Whether Sentry is configured (SENTRY_DSN). Cheap: the SDK waits for an event."""
    if not _state["init"]:
        _state["enabled"] = bool(os.environ.get("SENTRY_DSN", "").strip())
        _state["init"] = True
    return bool(_state["enabled"])


def _sdk() -> Any:
    """sentry_sdk, initialised once per instance; None without a DSN."""
    if not init():
        return None
    if _state["sdk"] is None:
        with _lock:
            if _state["sdk"] is None:
                _state["sdk"] = _start(os.environ.get("SENTRY_DSN", "").strip())
    return _state["sdk"]


def _start(dsn: str) -> Any:
    import sentry_sdk
    from sentry_sdk.integrations.httpx import HttpxIntegration

    register_secrets(_environ_secrets())
    sentry_sdk.init(
        dsn=dsn,
        release=os.environ.get("VERCEL_GIT_COMMIT_SHA") or "dev",
        environment=os.environ.get("VERCEL_ENV") or "development",
        auto_enabling_integrations=False,
        integrations=[HttpxIntegration()],
        traces_sample_rate=0.1,
        profiles_sample_rate=0.1,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        before_send=_before_send,
        before_send_transaction=_before_send,
        before_breadcrumb=_before_breadcrumb,
        shutdown_timeout=2,
    )
    return sentry_sdk


def capture(exc: BaseException) -> None:
    sdk = _sdk()
    if sdk is not None:
        sdk.capture_exception(exc)


def message(text: str, level: str = "error", **context: object) -> None:
    sdk = _sdk()
    if sdk is not None:
        with sdk.new_scope() as scope:
            for k, v in context.items():
                scope.set_extra(k, v)
            sdk.capture_message(text, level=level)


def flush(timeout: float = 2.0) -> None:
    sdk = _state["sdk"]
    if sdk is not None:  # nothing was captured in this instance: nothing to send
        sdk.flush(timeout=timeout)


def reset_for_tests() -> None:
    _state.update(init=False, enabled=False, sdk=None)
    _secrets.clear()
