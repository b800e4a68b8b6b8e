"""Upstash REST backend through the upstash-redis SDK.

The SDK's defaults are wrong for a function with a 1 s budget: no timeout at
all, and one retry after a 3 s sleep (PLATFORM.md 2.3). We turn retries off
and give its httpx client explicit timeouts (a private attribute: the SDK
version is pinned in requirements.txt).
"""

from __future__ import annotations

from typing import Any

import httpx
from upstash_redis import Redis
from upstash_redis.errors import UpstashError

from lib.store import Store, StoreError, StoreUnavailable

TIMEOUT = httpx.Timeout(3.0, connect=2.0)


class UpstashStore(Store):
    backend = "upstash"

    def __init__(self, url: str, token: str, prefix: str = "vigil:", timeout: httpx.Timeout = TIMEOUT) -> None:
        super().__init__(prefix)
        # A trailing slash makes the SDK post to ".../pipeline" with a double slash.
        self.client = Redis(url.rstrip("/"), token, rest_retries=0, allow_telemetry=False)
        self.client._http._client.close()
        self.client._http._client = httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"UpstashStore(url={self.client._url!r})"

    def _command(self, command: list[str]) -> Any:
        self.round_trips += 1
        try:
            return self.client.execute(command)
        except UpstashError as exc:
            raise StoreError(str(exc)) from None
        except (httpx.HTTPError, ValueError, KeyError, AttributeError) as exc:
            # ValueError: a non-JSON answer; KeyError/AttributeError: an error envelope (401)
            raise StoreUnavailable(f"upstash: {type(exc).__name__}") from None

    def _pipeline(self, commands: list[list[str]]) -> list[Any]:
        self.round_trips += 1
        pipe = self.client.pipeline()
        for cmd in commands:
            pipe.execute(cmd)
        try:
            return pipe.exec()
        except UpstashError as exc:
            raise StoreError(str(exc)) from None
        except (httpx.HTTPError, ValueError, KeyError, AttributeError, TypeError) as exc:
            raise StoreUnavailable(f"upstash: {type(exc).__name__}") from None

    def close(self) -> None:
        self.client.close()
