"""Synthetic health checks: probe every configured URL concurrently -> CheckResult.

No Redis and no settings lookups: the checks, the environment for "${VAR}"
header values, the run's deadline and the suspects to probe first are
arguments. Each probe is bounded by its check's timeout (the whole exchange,
not each read), the run by its deadline; at most MAX_IN_FLIGHT probes run at
once, suspects (slow or unanswered last run) first, so hanging targets time out
alongside the rest instead of after it.
A failure says why in words an on-call engineer can act on: "status 503
(expected 200)", "`database` was `disconnected` (expected `connected`)",
"timed out after 10 s", "TLS error: certificate verify failed", "connection
refused". Reasons never hold header values (they may be tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import ssl
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from lib import clock, http

try:
    import sniffio  # noqa: F401
except ImportError:
    # httpcore 1.0.9 runs `import sniffio` on every async request; anyio 4 no longer
    # installs it, and each failed import rescans sys.path (~1.7 ms a request: with
    # 1000 checks, healthy probes starved into false timeouts). Caching the absence
    # keeps the same behaviour, fast. Installing sniffio makes this a no-op.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
from lib.config import Check, Expect
from lib.webhooks import kind

MAX_BODY = 256 * 1024  # a health answer is small; read no more than this
CHECKS_PER_CLIENT = 4
# Probes in flight at once. Each costs ~2 ms of CPU in httpx; with every probe in
# flight at once, a busy event loop makes healthy answers look like timeouts (false
# "down"s): 1000 at once measured up to 1.75 s for a 5 ms answer, 256 at most ~0.5 s.
# Queued probes start their timeout only when they get a slot.
MAX_IN_FLIGHT = 256
CPU_PER_PROBE_S = 0.003
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MISSING = object()


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    status: int | None = None  # HTTP status, None when no answer came
    latency: float | None = None  # seconds to the whole answer, None when no answer came
    reason: str = ""  # why it failed; "" when ok
    skipped: bool = False  # the run's deadline came first: not evaluated, nothing recorded


def safe_url(url: str) -> str:
    """scheme://host/path: no userinfo, no query (either may carry a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def expand_headers(headers: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """Replace "${VAR}" in header values from `environ`; KeyError names a missing variable."""
    out = {}
    for name, value in headers.items():
        for var in _VAR.findall(value):
            if not environ.get(var):
                raise KeyError(f"header {name}: environment variable {var} is not set")
        out[name] = _VAR.sub(lambda m: environ[m.group(1)], value)
    return out


def lookup(data: Any, path: str) -> Any:
    """`checks.db` -> data["checks"]["db"]; list items by index (`items.0.ok`); _MISSING if absent."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _same(got: Any, want: Any) -> bool:
    if isinstance(got, bool) or isinstance(want, bool):
        return got is want
    return bool(got == want)


def json_problems(body: bytes, fields: Mapping[str, Any]) -> list[str]:
    """What differs between the JSON body and the expected `path: value` fields."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return ["body is not JSON"]
    problems = []
    for path, want in fields.items():
        got = lookup(data, path)
        if got is _MISSING:
            problems.append(f"`{path}` is missing (expected `{_shown(want)}`)")
        elif not _same(got, want):
            if _shown(got) == _shown(want):  # same text, another type: say which
                problems.append(f"`{path}` was `{_shown(got)}` ({kind(got)}, expected {kind(want)})")
            else:
                problems.append(f"`{path}` was `{_shown(got)}` (expected `{_shown(want)}`)")
    return problems


def evaluate(expect: Expect, status: int, body: bytes, latency: float) -> str:
    """Why an answer fails `expect` ("" when it passes). Pure."""
    allowed = expect.status if isinstance(expect.status, list) else [expect.status]
    problems = []
    if status not in allowed:
        problems.append(f"status {status} (expected {' or '.join(map(str, allowed))})")
    if expect.json_fields:
        found = json_problems(body, expect.json_fields)
        # A wrong status with a non-JSON body (an HTML 502 page) says enough already.
        problems += [p for p in found if not (problems and p == "body is not JSON")]
    if expect.body_contains is not None and expect.body_contains.encode() not in body:
        problems.append(f"body does not contain {expect.body_contains!r}")
    if expect.max_latency is not None and latency > expect.max_latency:
        problems.append(f"took {latency:.2f} s (limit {expect.max_latency:g} s)")
    return "; ".join(problems)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_error(exc: BaseException, timeout: float, url: str = "") -> str:
    """A short, secret-free reason for a request that got no answer."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return f"timed out after {timeout:g} s"
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS error: {cause.verify_message or 'certificate verify failed'}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {(cause.reason or type(cause).__name__).lower().replace('_', ' ')}"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {urlsplit(url).hostname or 'the host'}"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the server"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without a valid answer"
    return f"request failed ({type(exc).__name__})"


async def _exchange(client: httpx.AsyncClient, check: Check, headers: dict[str, str]) -> tuple[int, bytes]:
    async with client.stream(check.method, check.url, headers=headers, timeout=http.timeout_for(check.timeout)) as r:
        body = bytearray()
        async for chunk in r.aiter_bytes():
            body += chunk
            if len(body) >= MAX_BODY:
                break
        return r.status_code, bytes(body[:MAX_BODY])


async def probe(
    client: httpx.AsyncClient,
    check: Check,
    environ: Mapping[str, str],
    slots: asyncio.Semaphore | None = None,
    cap: float | None = None,
) -> CheckResult:
    """One check, bounded by its timeout (at most `cap`), which starts once the probe has a slot."""
    try:
        headers = expand_headers(check.headers, environ)
    except KeyError as exc:
        return CheckResult(check.name, False, reason=str(exc.args[0]))
    timeout = check.timeout if cap is None else min(check.timeout, cap)
    async with slots or contextlib.nullcontext():
        started = clock.monotonic()
        try:
            async with asyncio.timeout(timeout):
                status, body = await _exchange(client, check, headers)
        except Exception as exc:
            return CheckResult(check.name, False, reason=describe_error(exc, timeout, check.url))
        latency = round(clock.monotonic() - started, 4)
    reason = evaluate(check.expect, status, body, latency)
    return CheckResult(check.name, not reason, status, latency, reason)


def _order(checks: Sequence[Check], first: Collection[str]) -> list[int]:
    """Indexes of checks, suspects (slow or unanswered last run) first so their timeouts overlap the rest."""
    return sorted(range(len(checks)), key=lambda i: checks[i].name not in first)


async def run_all(
    checks: Sequence[Check], environ: Mapping[str, str], deadline: float, first: Collection[str] = ()
) -> list[CheckResult]:
    """Every check concurrently, at most MAX_IN_FLIGHT at once, within the run's `deadline` (seconds).

    A check the deadline cuts off is not evaluated (`skipped`): the run ran out of
    time, which says nothing about the target.
    """
    if not checks:
        return []
    # httpcore's pool rescans every waiting request on each change (quadratic): with
    # hundreds of checks in one pool, healthy probes queue behind each other until they
    # time out. Small pools (SSL context shared, ~0.4 ms each) keep a run linear.
    clients = [http.async_client(max_connections=CHECKS_PER_CLIENT) for _ in range(0, len(checks), CHECKS_PER_CLIENT)]
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    cap = deadline * 0.95  # a timeout longer than the run still ends inside it, as a failure
    tasks: dict[int, asyncio.Task[CheckResult]] = {}
    try:
        for i in _order(checks, first):
            client = clients[i // CHECKS_PER_CLIENT]
            tasks[i] = asyncio.create_task(probe(client, checks[i], environ, slots, cap))
        done, pending = await asyncio.wait(tasks.values(), timeout=deadline)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
    out = []
    for i, check in enumerate(checks):
        task = tasks[i]
        if task in done and not task.cancelled() and task.exception() is None:
            out.append(task.result())
        else:
            out.append(CheckResult(check.name, False, reason=f"not checked: the run's {deadline:g} s deadline came first",
                                   skipped=True))
    return out


def run_checks(
    checks: Sequence[Check], environ: Mapping[str, str], deadline: float, first: Collection[str] = ()
) -> list[CheckResult]:
    """The synchronous entry: one event loop for the whole fan-out."""
    return asyncio.run(run_all(checks, environ, deadline, first))


def run_deadline(checks: Sequence[Check], limit: float = 30.0) -> float:
    """How long probing may take: the slowest timeout, plus the CPU the probes cost
    (~2-3 ms each in httpx), plus a margin; at most `limit`, leaving room in the
    function's 60 s for recording and delivering (each send to its own timeout)."""
    longest = max((c.timeout for c in checks), default=1.0)
    return min(limit, longest + 1.0 + CPU_PER_PROBE_S * len(checks))
