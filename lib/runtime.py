"""One Runtime per process: the environment, the config and the store, built lazily
on the first request and reused by warm invocations. Tests build their own."""

from __future__ import annotations

import os
import re
import threading

from lib import observability
from lib.config import Config, load_config
from lib.env import Env
from lib.store import Store, open_store

_lock = threading.Lock()
_store_lock = threading.Lock()


class Runtime:
    """The environment, the config and the store. The store opens on first use: a request
    refused before it reads anything (a bad signature, a wrong token) costs no client."""

    def __init__(self, env: Env, config: Config, store: Store | None = None) -> None:
        self.env, self.config, self._store = env, config, store

    @property
    def store(self) -> Store:
        if self._store is None:
            with _store_lock:
                if self._store is None:
                    self._store = open_store(self.env)
        return self._store

    @store.setter
    def store(self, store: Store) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"Runtime(env={self.env!r}, store={self._store!r})"


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def config_secrets(config: Config) -> list[str]:
    """What a config holds that must never reach Sentry: check header values (and the
    environment variables they name) and the passwords and query values of its URLs."""
    out: list[str] = []
    for check in config.checks:
        out += observability.secrets_in_url(check.url)
        for value in check.headers.values():
            out += [value, *(os.environ.get(v, "") for v in _VAR.findall(value))]
    for rule in config.rules:
        scrape = getattr(rule, "scrape", None)
        out += observability.secrets_in_url(getattr(scrape, "url", None) or str(scrape or ""))
    return out


_current: Runtime | None = None


def get() -> Runtime:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                env = Env.from_environ()
                config = load_config(env.config_path)
                observability.register_secrets(config_secrets(config))
                _current = Runtime(env=env, config=config)
    return _current


def install(runtime: Runtime | None) -> None:
    """Use this runtime for every entry point in this process (tests, local server)."""
    global _current
    if runtime is not None:
        observability.register_secrets(config_secrets(runtime.config))
    with _lock:
        _current = runtime
