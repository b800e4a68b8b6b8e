"""Upstash REST backend through the upstash-redis SDK.

The SDK's defaults are wrong for a function with a 1 s budget: no timeout at
all, and one retry after a 3 s sleep (PLATFORM.md 2.3). We turn retries off
and give its httpx client explicit timeouts (a private attribute: the SDK
version is pinned in requirements.txt).

The SDK ignores the HTTP status and raises `UpstashError` for every
`{"error": ...}` answer, Redis's own ("ERR ... script", NOSCRIPT) and Upstash's
("ERR max daily request limit exceeded", 401 "Unauthorized", a 5xx with a JSON
body) alike. Only the first kind is a bug of ours (StoreError, 500); the rest
mean the store cannot serve now (StoreUnavailable: 503, so the vendor retries).
A response hook sees the status first; the message tells the others apart.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from upstash_redis import Redis
from upstash_redis.errors import UpstashError

from lib.store import PATIENT_TIMEOUT, Store, StoreError, StoreUnavailable

TIMEOUT = httpx.Timeout(3.0, connect=2.0)
# Upstash's service errors (upstash.com/docs/redis/troubleshooting): quotas, auth, capacity.
_SERVICE = re.compile(
    r"(?i)max (daily )?requests? limit|max concurrent connections|max request size|quota exceeded"
    r"|\bWRONGPASS\b|\bNOAUTH\b|\bNOPERM\b|unauthori[sz]ed|auth token|rate limit|too many requests"
    r"|\bLOADING\b|\bBUSY\b|service unavailable|temporarily unavailable"
)


class _Refused(Exception):
    """An answer the SDK cannot read right: a status no Redis reply has (auth, rate
    limit, 5xx), or one error for a whole pipeline (the SDK expects a list)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}{': ' + detail if detail else ''}")
        self.status = status
        self.detail = detail


def _error_text(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return str(data.get("error") or "")[:160] if isinstance(data, dict) and "error" in data else None


def _check_status(response: httpx.Response) -> None:
    refused = response.status_code in (401, 403, 429) or response.status_code >= 500
    if refused or response.request.url.path.endswith(("/pipeline", "/multi-exec")):
        response.read()
        detail = _error_text(response.content)
        if refused or detail is not None:
            raise _Refused(response.status_code, detail or "")


class UpstashStore(Store):
    backend = "upstash"

    def __init__(self, url: str, token: str, prefix: str = "vigil:", timeout: httpx.Timeout = TIMEOUT) -> None:
        super().__init__(prefix)
        self._url, self._token = url, token
        self._patient: UpstashStore | None = None
        # A trailing slash makes the SDK post to ".../pipeline" with a double slash.
        self.client = Redis(url.rstrip("/"), token, rest_retries=0, allow_telemetry=False)
        # Set on the SDK's own client rather than a second one: the SDK's already loaded
        # certifi's CA bundle into an SSL context, and each more costs ~30 ms before a cold
        # start's first answer (lib.http's shared one is built after it, by a delivery).
        sdk_client = self.client._http._client
        sdk_client.timeout = timeout
        sdk_client.event_hooks = {"response": [_check_status]}

    def __repr__(self) -> str:
        return f"UpstashStore(url={self.client._url!r})"

    def _unavailable(self, what: str) -> StoreUnavailable:
        message = f"upstash: {what}"
        return StoreUnavailable(message.replace(self._token, "[redacted]") if self._token else message)

    def _translate(self, exc: Exception) -> Exception:
        if isinstance(exc, UpstashError):
            text = str(exc)
            return self._unavailable(text[:200]) if _SERVICE.search(text) else StoreError(text)
        if isinstance(exc, _Refused):
            if exc.status in (401, 403, 429) or exc.status >= 500 or _SERVICE.search(exc.detail):
                return self._unavailable(str(exc))
            return StoreError(exc.detail)
        # httpx errors; ValueError: a non-JSON answer; KeyError/AttributeError/TypeError: an error envelope
        return self._unavailable(type(exc).__name__)

    def patient(self) -> UpstashStore:
        if self._patient is None:
            self._patient = UpstashStore(self._url, self._token, self.prefix, httpx.Timeout(PATIENT_TIMEOUT, connect=3.0))
        return self._patient

    def _command(self, command: list[str]) -> Any:
        self.round_trips += 1
        try:
            return self.client.execute(command)
        except (UpstashError, _Refused, httpx.HTTPError, ValueError, KeyError, AttributeError) as exc:
            raise self._translate(exc) from None

    def _pipeline(self, commands: list[list[str]]) -> list[Any]:
        self.round_trips += 1
        pipe = self.client.pipeline()
        for cmd in commands:
            pipe.execute(cmd)
        try:
            return pipe.exec()
        except (UpstashError, _Refused, httpx.HTTPError, ValueError, KeyError, AttributeError, TypeError) as exc:
            raise self._translate(exc) from None

    def close(self) -> None:
        if self._patient is not None:
            self._patient.close()
        self.client.close()
