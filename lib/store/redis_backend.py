"""redis-py backend, for REDIS_URL and the embedded server."""

from __future__ import annotations

from typing import Any

import redis
import redis.exceptions as rx

from lib.store import PATIENT_TIMEOUT, Store, StoreError, StoreUnavailable


class RedisStore(Store):
    backend = "redis"

    def __init__(self, client: redis.Redis, prefix: str = "vigil:") -> None:
        super().__init__(prefix)
        self.client = client
        self._patient: RedisStore | None = None

    @classmethod
    def from_url(cls, url: str, prefix: str = "vigil:", timeout: float = 3.0) -> RedisStore:
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            protocol=2,
        )
        return cls(client, prefix)

    def patient(self) -> RedisStore:
        if self._patient is None:
            pool = self.client.connection_pool
            kwargs = {**pool.connection_kwargs, "socket_timeout": PATIENT_TIMEOUT}
            client = redis.Redis(connection_pool=type(pool)(connection_class=pool.connection_class, **kwargs))
            self._patient = RedisStore(client, self.prefix)
        return self._patient

    def _command(self, command: list[str]) -> Any:
        self.round_trips += 1
        try:
            return self.client.execute_command(*command)
        except (rx.ConnectionError, rx.TimeoutError, rx.AuthenticationError) as exc:
            raise StoreUnavailable(f"redis: {type(exc).__name__}") from None
        except rx.NoScriptError as exc:
            raise StoreError(f"NOSCRIPT {exc}") from None
        except rx.ResponseError as exc:
            raise StoreError(str(exc)) from None

    def _pipeline(self, commands: list[list[str]]) -> list[Any]:
        self.round_trips += 1
        pipe = self.client.pipeline(transaction=False)
        for cmd in commands:
            pipe.execute_command(*cmd)
        try:
            results = pipe.execute(raise_on_error=False)
        except (rx.ConnectionError, rx.TimeoutError, rx.AuthenticationError) as exc:
            raise StoreUnavailable(f"redis: {type(exc).__name__}") from None
        for r in results:
            if isinstance(r, Exception):
                raise StoreError(str(r))
        return list(results)

    def close(self) -> None:
        if self._patient is not None:
            self._patient.close()
        self.client.close()
