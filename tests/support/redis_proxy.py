"""A loopback TCP proxy in front of the real Redis that injects faults at a chosen
script (by SHA) or command, for the fault suite.

    with RedisProxy(redis_server) as proxy:
        store = RedisStore.from_url(proxy.url, prefix=prefix, timeout=0.5)
        proxy.fault(engine.COMPLETE, "swallow")      # Redis runs it, the client never hears back
        proxy.fault("EVALSHA", "drop", times=3)      # never reaches Redis
        proxy.fault(engine.APPLY, "stall", seconds=0.8)  # the reply comes late

Actions:
- `drop`: the connection is cut before the command reaches Redis (nothing happened).
- `swallow`: Redis runs the command, the reply is thrown away and the connection cut
  (it happened, the client cannot know).
- `stall`: Redis runs the command and the reply is held `seconds` before it is sent.
- `outage()`: every command is dropped until `heal()`, or until `times` commands were dropped.

RESP is parsed just enough to name each command; `seen` counts them by name (a script by
its SHA, EVAL included), so a test can say which calls were made.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, BinaryIO

ANY = "*"


@dataclass
class Fault:
    target: str  # a script SHA, an upper-case command name, or "*"
    action: str  # drop | swallow | stall
    times: int
    seconds: float = 0.0


def _read_line(f: BinaryIO) -> bytes:
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed")
    return line


def read_resp(f: BinaryIO) -> tuple[bytes, Any]:
    """One RESP2 value: (its raw bytes, the value; bulk strings as bytes)."""
    line = _read_line(f)
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-", b":"):
        return line, rest
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return line, None
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise ConnectionError("connection closed")
        return line + data, data[:-2]
    if kind == b"*":
        n = int(rest)
        raw, items = [line], []
        for _ in range(max(n, 0)):
            r, v = read_resp(f)
            raw.append(r)
            items.append(v)
        return b"".join(raw), (items if n >= 0 else None)
    raise ConnectionError(f"not RESP: {line[:20]!r}")


def command_name(args: list[Any]) -> str:
    """EVALSHA/EVAL by the script's SHA, anything else by its upper-case name."""
    if not args:
        return ""
    name = bytes(args[0]).upper().decode(errors="replace")
    if name == "EVALSHA" and len(args) > 1:
        return bytes(args[1]).decode(errors="replace").lower()
    if name == "EVAL" and len(args) > 1:
        return hashlib.sha1(bytes(args[1])).hexdigest()
    return name


class RedisProxy:
    def __init__(self, upstream: Any) -> None:
        """`upstream`: a tests.support.redis_server.RedisServer (TCP or unix socket)."""
        self._upstream = upstream
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.seen: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # -- for tests ------------------------------------------------------------------------

    def fault(self, target: Any, action: str, times: int = 1, seconds: float = 0.0) -> None:
        """Inject `action` into the next `times` commands matching `target` (a Script, a SHA,
        a command name, or "*")."""
        assert action in ("drop", "swallow", "stall"), action
        key = getattr(target, "sha", None) or (target if target == ANY or len(target) == 40 else target.upper())
        with self._lock:
            self._faults.append(Fault(key, action, times, seconds))

    def outage(self, times: int = 10**9) -> None:
        """Redis is unreachable: drop every command (the next `times` of them)."""
        self.fault(ANY, "drop", times)

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.times for f in self._faults)

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def __enter__(self) -> RedisProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- machinery ------------------------------------------------------------------------

    def _take(self, name: str) -> Fault | None:
        with self._lock:
            self.seen[name] += 1
            for f in self._faults:
                if f.times > 0 and f.target in (name, ANY):
                    f.times -= 1
                    self.faulted[name] += 1
                    self._faults = [x for x in self._faults if x.times > 0]
                    return f
        return None

    def _connect_upstream(self) -> socket.socket:
        if getattr(self._upstream, "socket", None) and not self._upstream.port:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self._upstream.socket)
            return s
        return socket.create_connection((self._upstream.host or "127.0.0.1", self._upstream.port))

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        up = None
        try:
            up = self._connect_upstream()
            cin, uin = client.makefile("rb"), up.makefile("rb")
            while True:
                raw, args = read_resp(cin)
                fault = self._take(command_name(args if isinstance(args, list) else []))
                if fault and fault.action == "drop":
                    return
                up.sendall(raw)
                reply, _ = read_resp(uin)
                if fault and fault.action == "swallow":
                    return
                if fault and fault.action == "stall":
                    time.sleep(fault.seconds)  # the fault itself: a slow Redis
                client.sendall(reply)
        except (OSError, ConnectionError, ValueError):
            return
        finally:
            for s in (client, up):
                if s is not None:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    s.close()
