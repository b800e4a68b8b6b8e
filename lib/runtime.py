"""One Runtime per process: the environment, the config and the store, built lazily
on the first request and reused by warm invocations. Tests build their own."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lib.config import Config, load_config
from lib.env import Env
from lib.store import Store, open_store


@dataclass
class Runtime:
    env: Env
    config: Config
    store: Store


_lock = threading.Lock()
_current: Runtime | None = None


def get() -> Runtime:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                env = Env.from_environ()
                _current = Runtime(env=env, config=load_config(env.config_path), store=open_store(env))
    return _current


def install(runtime: Runtime | None) -> None:
    """Use this runtime for every entry point in this process (tests, local server)."""
    global _current
    with _lock:
        _current = runtime
