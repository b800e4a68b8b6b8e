"""The one seam for vendor HTTP: a shared httpx client with explicit timeouts
and a User-Agent. Notifiers and sources never build their own clients."""

from __future__ import annotations

import ssl
import threading

import httpx

USER_AGENT = "Vigil/0.1 (+https://github.com/vigil-alerting/vigil)"
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=3.0)

_lock = threading.Lock()
_client: httpx.Client | None = None
_ssl: ssl.SSLContext | None = None


def ssl_context() -> ssl.SSLContext:
    """One SSL context per process: each new one costs ~20 ms (certifi load)."""
    global _ssl
    with _lock:
        if _ssl is None:
            _ssl = ssl.create_default_context()
        return _ssl


def client() -> httpx.Client:
    """The process-wide sync client (thread-safe; reused across warm invocations)."""
    global _client
    if _client is None:
        ctx = ssl_context()
        with _lock:
            if _client is None:
                _client = httpx.Client(
                    timeout=DEFAULT_TIMEOUT,
                    headers={"User-Agent": USER_AGENT},
                    verify=ctx,
                    follow_redirects=False,
                    limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                )
    return _client


def async_client(timeout: httpx.Timeout | float = DEFAULT_TIMEOUT, max_connections: int = 200) -> httpx.AsyncClient:
    """A new async client for one fan-out (checks, scrapes); close it when done."""
    return httpx.AsyncClient(
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
        verify=ssl_context(),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
    )


def timeout_for(seconds: float) -> httpx.Timeout:
    """A timeout that bounds the whole exchange by `seconds` (at least 50 ms)."""
    s = max(0.05, seconds)
    return httpx.Timeout(s, connect=min(s, 3.0))
