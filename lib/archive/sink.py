"""The durable record in Supabase, fed from an outbox in Redis.

The hot path never talks to Supabase: its Lua scripts RPUSH JSON events onto
`<prefix>archive` (`append` does the same for Python producers). The archive
cron drains the list, oldest first, in batches through
`rpc("vigil_record", {"events": [...]})` (supabase/migrations), which records
each event once by its id.

Drain, in order:
1. Claim: one script takes the lock (`SET NX PX` with a random token) and reads
   the first batch. A second drain running meanwhile finds the lock and leaves.
2. Send the batch, retrying a few times on timeouts, network errors and 5xx.
3. Commit: one script that, only while the lock is still ours, LTRIMs exactly
   the events sent, renews the lock and reads the next batch. A failure trims
   nothing, so nothing is lost; a batch sent again after a timeout that had in
   fact committed is absorbed by vigil_record's idempotency.
4. Release the lock and record the outcome (`archive:state`), which health
   reads back with the backlog in one round trip (`status`).

`supabase` costs ~600 ms to import cold (PLATFORM.md 0): it is imported inside
`_connect` only, never at module level, since webhook paths import lib modules.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lib.env import Env
from lib.store import Script, Store, StoreError, StoreUnavailable

log = logging.getLogger("vigil.archive")

OUTBOX = "archive"
LOCK_SLACK_S = 10.0  # the lock outlives a batch's worst case (attempts x timeout + backoff) by this
STATE_TTL = 7 * 86400
DISABLED_KEEP = 1000  # without Supabase, keep only the newest events (for a local look)
ALERT_AGE = 3600.0  # settings.archive_alert_age
ALERT_SIZE = 10_000  # settings.archive_alert_size
TIMEOUT = 10.0
ATTEMPTS = 3
BACKOFF = (0.5, 2.0)

Send = Callable[[list[dict[str, Any]]], int]
_clients: dict[tuple[str, str, float], Any] = {}
_clients_lock = threading.Lock()

# KEYS: outbox, lock. ARGV: token, lock_ms, batch. -> {claimed, len, items}
_CLAIM = Script("archive_claim", """
local n = redis.call("LLEN", KEYS[1])
if not redis.call("SET", KEYS[2], ARGV[1], "NX", "PX", ARGV[2]) then
  return cjson.encode({claimed = false, len = n})
end
return cjson.encode({claimed = true, len = n, items = redis.call("LRANGE", KEYS[1], 0, tonumber(ARGV[3]) - 1)})
""")

# KEYS: outbox, lock, state. ARGV: token, sent, batch, lock_ms, state JSON ("" to keep going), state TTL.
_COMMIT = Script("archive_commit", """
if redis.call("GET", KEYS[2]) ~= ARGV[1] then
  return cjson.encode({lost = true, len = redis.call("LLEN", KEYS[1])})
end
redis.call("LTRIM", KEYS[1], tonumber(ARGV[2]), -1)
local n = redis.call("LLEN", KEYS[1])
if ARGV[5] ~= "" then
  redis.call("DEL", KEYS[2])
  redis.call("SET", KEYS[3], ARGV[5], "EX", ARGV[6])
  return cjson.encode({len = n, head = redis.call("LINDEX", KEYS[1], 0)})
end
redis.call("PEXPIRE", KEYS[2], ARGV[4])
return cjson.encode({len = n, items = redis.call("LRANGE", KEYS[1], 0, tonumber(ARGV[3]) - 1)})
""")

# KEYS: outbox, lock, state. ARGV: token, state JSON, state TTL. Trims nothing.
_RELEASE = Script("archive_release", """
if redis.call("GET", KEYS[2]) == ARGV[1] then redis.call("DEL", KEYS[2]) end
redis.call("SET", KEYS[3], ARGV[2], "EX", ARGV[3])
return cjson.encode({len = redis.call("LLEN", KEYS[1]), head = redis.call("LINDEX", KEYS[1], 0)})
""")


@dataclass(frozen=True)
class DrainResult:
    sent: int  # events sent and removed from the outbox
    remaining: int  # events still in the outbox
    error: str | None = None  # why the last batch failed (no secrets)
    backlog_age: float | None = None  # seconds since the oldest remaining event
    new: int = 0  # events vigil_record had not seen before
    status: str = "connected"  # "connected" | "error" | "disabled" | "busy" (another drain holds the lock)
    alert: str | None = None  # set when the backlog is too old or too large: raise a P2

    @property
    def backlog_size(self) -> int:
        return self.remaining


def outbox_key(store: Store) -> str:
    return store.key(OUTBOX)


def _keys(store: Store) -> list[str]:
    return [store.key(OUTBOX), store.key(OUTBOX, "lock"), store.key(OUTBOX, "state")]


def append(store: Store, events: Iterable[Mapping[str, Any]]) -> int:
    """Queue events for the archive in one round trip; returns the outbox length."""
    items = [json.dumps(dict(e), separators=(",", ":")) for e in events]
    if not items:
        return 0
    return int(store.call("RPUSH", outbox_key(store), *items))


def enabled(env: Env) -> bool:
    return bool(env.supabase_url and env.supabase_key)


def backlog_alert(size: int, age: float | None, alert_size: int = ALERT_SIZE, alert_age: float = ALERT_AGE) -> str | None:
    """Why the backlog deserves a P2, or None."""
    if age is not None and age > alert_age:
        return f"archive backlog: oldest event {age:.0f}s old (more than {alert_age:.0f}s)"
    if size > alert_size:
        return f"archive backlog: {size} events (more than {alert_size})"
    return None


def _age(head: Any, now: float) -> float | None:
    """Seconds since the event `head` (a raw list item) happened."""
    if not head:
        return None
    try:
        return round(max(0.0, now - float(json.loads(head)["at"])), 3)
    except (ValueError, KeyError, TypeError):
        return None


def _items(reply: Mapping[str, Any]) -> list[str]:
    items = reply.get("items") or []
    return list(items) if isinstance(items, list) else []  # cjson: an empty table is {}


# -- health -------------------------------------------------------------------------------


def status_commands(store: Store) -> list[list[Any]]:
    """What `status` reads, for a caller's pipeline (health folds them into its own)."""
    outbox, _, state = _keys(store)
    return [["LLEN", outbox], ["LINDEX", outbox, 0], ["GET", state]]


def status_from(replies: list[Any], env: Env, now: float, alert_size: int = ALERT_SIZE,
                alert_age: float = ALERT_AGE) -> dict[str, Any]:
    """{"database": "connected"|"disabled"|"error", "backlog_size", "backlog_age", ...}."""
    size, head, raw_state = (list(replies) + [None, None, None])[:3]
    size = int(size or 0)
    age = _age(head, now)
    out: dict[str, Any] = {"database": "disabled" if not enabled(env) else "connected",
                           "backlog_size": size, "backlog_age": age}
    if not enabled(env):
        return out
    try:
        state = json.loads(raw_state) if raw_state else {}
    except ValueError:
        state = {}
    if state.get("at") is not None:
        out["last_drain_age"] = round(max(0.0, now - float(state["at"])), 3)
    alert = backlog_alert(size, age, alert_size, alert_age)
    if state.get("error"):
        out["database"], out["error"] = "error", str(state["error"])
    elif alert and not state:  # never drained successfully, and the backlog is overdue
        out["database"] = "error"
    if alert:
        out["alert"] = alert
    return out


def status(store: Store, env: Env, now: float, alert_size: int = ALERT_SIZE, alert_age: float = ALERT_AGE) -> dict[str, Any]:
    """Health's view of the archive: one round trip (LLEN, LINDEX 0, the last drain's outcome)."""
    return status_from(store.pipeline(status_commands(store)), env, now, alert_size, alert_age)


# -- drain --------------------------------------------------------------------------------


def supabase_client(env: Env, timeout: float = TIMEOUT) -> Any:
    """A supabase-py client on an httpx client with explicit timeouts (its default is 120 s),
    one per process and settings, reused across warm invocations (create_client costs ~90 ms).

    The import lives here, not at module level: `supabase` costs ~600 ms cold."""
    if not (env.supabase_url and env.supabase_key):
        raise ValueError("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are not set")
    key = env.supabase_key.get_secret_value()
    ident = (env.supabase_url, hashlib.sha256(key.encode()).hexdigest(), timeout)
    with _clients_lock:
        if ident not in _clients:
            _clients[ident] = _create(env.supabase_url, key, timeout)
        return _clients[ident]


def _create(url: str, key: str, timeout: float) -> Any:
    import httpx

    from lib.http import USER_AGENT, ssl_context
    from supabase import ClientOptions, create_client

    http = httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
        headers={"User-Agent": USER_AGENT},
        verify=ssl_context(),
        follow_redirects=False,
    )
    return create_client(url, key, options=ClientOptions(httpx_client=http))


def _connect(env: Env, timeout: float) -> Send:
    """A sender calling vigil_record through supabase-py."""
    sb = supabase_client(env, timeout)

    def send(events: list[dict[str, Any]]) -> int:
        return int(sb.rpc("vigil_record", {"events": events}).execute().data or 0)

    return send


def _describe(exc: Exception, secret: str | None) -> tuple[str, bool]:
    """(detail without secrets, retryable). Timeouts, network errors, 5xx: retryable."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or ""
    name = type(exc).__name__
    detail = f"{name}: {code} {message}".strip() if code or message else name
    if secret:
        detail = detail.replace(secret, "[redacted]")
    if name == "APIError":
        # postgrest raises APIError for any non-2xx; a JSON body's code is a SQLSTATE or PGRSTxxx.
        retryable = str(code or "").startswith(("PGRST0", "5", "08", "40", "429")) or not code
        return detail[:300], retryable
    return detail[:300], True  # httpx errors: timeouts, refused, reset


def _send_with_retries(send: Send, events: list[dict[str, Any]], secret: str | None, attempts: int,
                       backoff: tuple[float, ...], sleep: Callable[[float], None]) -> tuple[int | None, str | None]:
    error = None
    for attempt in range(attempts):
        try:
            return send(events), None
        except Exception as exc:  # vendor errors become a value, never a crash of the cron
            error, retryable = _describe(exc, secret)
            log.warning("archive batch failed", extra={"attempt": attempt + 1, "detail": error})
            if not retryable:
                break
            if attempt + 1 < attempts:
                sleep(backoff[min(attempt, len(backoff) - 1)] if backoff else 0.0)
    return None, error


def _decode(items: list[str]) -> list[dict[str, Any]]:
    out = []
    for raw in items:
        try:
            ev = json.loads(raw)
        except ValueError:
            ev = None
        if isinstance(ev, dict):
            out.append(ev)
        else:  # kept for a human in vigil_rejected_events rather than silently dropped
            out.append({"invalid": True, "raw": raw[:2000]})
    return out


def _trim_disabled(store: Store, now: float) -> DrainResult:
    outbox = outbox_key(store)
    _, size, head = store.pipeline([["LTRIM", outbox, -DISABLED_KEEP, -1], ["LLEN", outbox], ["LINDEX", outbox, 0]])
    return DrainResult(sent=0, remaining=int(size), backlog_age=_age(head, now), status="disabled",
                       error="SUPABASE_URL or SUPABASE_SERVICE_ROLE_KEY not set")


def drain(store: Store, env: Env, now: float, batch: int = 500, max_batches: int = 20, *,
          send: Send | None = None, timeout: float = TIMEOUT, attempts: int = ATTEMPTS,
          backoff: tuple[float, ...] = BACKOFF, lock_ms: int | None = None, alert_size: int = ALERT_SIZE,
          alert_age: float = ALERT_AGE, sleep: Callable[[float], None] = time.sleep) -> DrainResult:
    """Send up to `max_batches` batches of the outbox to Supabase, oldest first (see module doc).

    `send` replaces the supabase client (benchmarks); it gets a batch and returns the new count."""
    if not enabled(env):
        return _trim_disabled(store, now)
    if lock_ms is None:  # outlive the worst case of one batch, so a slow batch is never sent twice
        lock_ms = int(1000 * (attempts * timeout + sum(backoff) + LOCK_SLACK_S))
    keys = _keys(store)
    token = secrets.token_hex(16)
    try:
        claim = store.run_json(_CLAIM, keys[:2], [token, lock_ms, batch])
    except (StoreUnavailable, StoreError) as exc:
        return DrainResult(0, 0, error=f"store: {type(exc).__name__}", status="error")
    if not claim.get("claimed"):  # another drain is at it: it sends these, not us
        size = int(claim.get("len") or 0)
        return DrainResult(0, size, status="busy", alert=backlog_alert(size, None, alert_size, alert_age))
    secret = env.supabase_key.get_secret_value() if env.supabase_key else None
    items, sent, new, error, n = _items(claim), 0, 0, None, 0
    while items:
        n += 1
        send = send or _connect(env, timeout)
        recorded, error = _send_with_retries(send, _decode(items), secret, attempts, backoff, sleep)
        if recorded is None:
            break  # nothing trimmed: the batch stays first in line for the next run
        last = n >= max_batches
        done = json.dumps({"at": now, "ok": True, "sent": sent + len(items)}) if last else ""
        reply = store.run_json(_COMMIT, keys, [token, len(items), batch, lock_ms, done, STATE_TTL])
        if reply.get("lost"):  # our lock expired and another drain took over: it owns the rest
            return DrainResult(sent, int(reply.get("len") or 0), "lock lost", None, new, "busy")
        sent, new = sent + len(items), new + recorded
        if last:  # the commit released the lock and recorded the outcome
            return _result(sent, int(reply.get("len") or 0), None, reply.get("head"), new, now, alert_size, alert_age)
        items = _items(reply)
    outcome = {"at": now, "ok": error is None, "sent": sent, **({"error": error} if error else {})}
    reply = store.run_json(_RELEASE, keys, [token, json.dumps(outcome), STATE_TTL])
    return _result(sent, int(reply.get("len") or 0), error, reply.get("head"), new, now, alert_size, alert_age)


def _result(sent: int, size: int, error: str | None, head: Any, new: int, now: float,
            alert_size: int, alert_age: float) -> DrainResult:
    age = _age(head, now)
    return DrainResult(sent, size, error, age, new, "error" if error else "connected",
                       backlog_alert(size, age, alert_size, alert_age))
