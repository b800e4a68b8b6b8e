"""Benchmark sections about what the platform bills: cold start and Redis commands.
Registered into scripts/bench.py's SECTIONS on import.

Cold start is measured in Vercel's interpreter (`.venv312`, Python 3.12, which
`make bench` creates): process start to the first answer of the Sentry webhook,
against a bare WSGI app that imports httpx, each in a fresh process, with `.pyc`
files and without (a default Vercel cold start compiles every module outside the
standard library). Two answers: a bad signature (401: config loaded, signature
checked; the refusal is counted after the answer), and the one a user waits for, a
correctly signed `issue.created` (Sentry's own bytes,
tests/fixtures/sentry/signature_test_vector.json, signed with the bench's client
secret) applied to Redis through the Upstash bridge: an incident opened, 200. What
runs after the answer (deliveries, counting a refusal) is not timed.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import _NO_PYC, ROOT, Row, section

PYTHON312 = ROOT / ".venv312" / "bin" / "python"

# Runs in the fresh interpreter: import the entry point, answer one request, print the status.
_ANSWER = """
import importlib, io, json, sys
request = json.loads(sys.argv[1])
app = importlib.import_module(request["module"]).app
body = request["body"].encode()
environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/webhooks/sentry", "QUERY_STRING": "",
           "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
           **request["headers"]}
status = []
b"".join(app(environ, lambda s, h, exc=None: status.append(s)))
print(status[0], flush=True)
"""

_BARE = """import httpx  # noqa: F401 - what every real function pays at least


def app(environ, start_response):
    start_response("401 Unauthorized", [("Content-Type", "application/json")])
    return [b'{"error":"bad or missing signature"}']
"""


def _first_answer_ms(python: str, request: dict[str, Any], env: dict[str, str], pyc: bool) -> tuple[float, float, str]:
    """(wall ms to the first answer, CPU ms of the whole process, the status line)."""
    code = _ANSWER
    if not pyc:
        code = _NO_PYC.replace("{stmt}", code).replace("print((time.perf_counter() - t) * 1000)", "")
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-c", code, json.dumps(request)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    status = proc.stdout.readline().strip()
    elapsed = (time.perf_counter() - t0) * 1000
    proc.stdout.read()
    err = proc.stderr.read() if proc.stderr else ""
    _, code, usage = os.wait4(proc.pid, 0)  # CPU time: steadier than wall time on a shared machine
    proc.returncode = os.waitstatus_to_exitcode(code)
    if not status:
        raise RuntimeError(f"{request['module']} gave no answer:\n{err}")
    return elapsed, (usage.ru_utime + usage.ru_stime) * 1000, status


CLIENT_SECRET = "bench-client-secret"
_VECTOR = ROOT / "tests" / "fixtures" / "sentry" / "signature_test_vector.json"


def bad_signature() -> dict[str, Any]:
    body = '{"action":"created","data":{}}'
    return {"module": "api.webhooks.sentry", "body": body,
            "headers": {"HTTP_SENTRY_HOOK_RESOURCE": "issue", "HTTP_SENTRY_HOOK_SIGNATURE": "0" * 64}}


def signed_issue() -> dict[str, Any]:
    """Sentry's bytes of an issue.created, signed with CLIENT_SECRET and stamped now (the route
    refuses a timestamp over 5 minutes old)."""
    from lib import clock

    vector = json.loads(_VECTOR.read_text())
    body = vector["raw_body"]
    signature = hmac.new(CLIENT_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    return {"module": "api.webhooks.sentry", "body": body,
            "headers": {"HTTP_SENTRY_HOOK_RESOURCE": "issue", "HTTP_SENTRY_HOOK_SIGNATURE": signature,
                        "HTTP_SENTRY_HOOK_TIMESTAMP": str(int(clock.now())),
                        "HTTP_REQUEST_ID": vector["headers"]["Request-ID"]}}


def bare() -> dict[str, Any]:
    return {"module": "bare_httpx_app", "body": "", "headers": {}}


# (row name, request, the status it must answer): measured interleaved, the bare app first.
CASES: tuple[tuple[str, Callable[[], dict[str, Any]], str], ...] = (
    ("bare app (imports httpx)", bare, "401"),
    ("Sentry 401, bad signature", bad_signature, "401"),
    ("Sentry 200, signed issue applied", signed_issue, "200"),
)


def coldstart_env(bare_dir: str, bridge_url: str, token: str, prefix: str) -> dict[str, str]:
    """What a deployment sets: the shipped config, Upstash, a Sentry DSN, the client secret."""
    return {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"),
        "PYTHONPATH": bare_dir, "MONITORING_CONFIG": str(ROOT / "monitoring.yaml"),
        "UPSTASH_REDIS_REST_URL": bridge_url, "UPSTASH_REDIS_REST_TOKEN": token, "VIGIL_KEY_PREFIX": prefix,
        "SENTRY_DSN": "http://public@127.0.0.1:9/1", "SENTRY_CLIENT_SECRET": CLIENT_SECRET,
        "PYTHONDONTWRITEBYTECODE": "1",  # Vercel's read-only bundle: nothing compiled is kept
    }


@section("coldstart", "Cold start: process start to the Sentry webhook's first answer, Python 3.12")
def coldstart(args: argparse.Namespace) -> list[Row]:
    from lib.store.redis_backend import RedisStore
    from tests.support.redis_server import RedisServer
    from tests.support.upstash_bridge import UpstashBridge

    python = str(PYTHON312) if PYTHON312.exists() else sys.executable
    runs = max(args.runs, 5)
    server, prefix = RedisServer(), f"vigil-bench-{uuid.uuid4().hex[:8]}:"
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as bare_dir, UpstashBridge(server.url) as bridge:
        Path(bare_dir, "bare_httpx_app.py").write_text(_BARE)
        env = coldstart_env(bare_dir, bridge.url, bridge.token, prefix)
        for pyc in (True, False):
            if pyc:  # write the .pyc files once, as a precompiled bundle would ship them
                subprocess.run([python, "-m", "compileall", "-q", str(ROOT / "lib"), str(ROOT / "api"), bare_dir],
                               check=False, capture_output=True)
            label = "with .pyc" if pyc else "no .pyc"  # no .pyc: Vercel's default
            # Interleaved, so a burst of load on the machine hits every case alike. Each run has
            # its own key prefix: the signed issue opens a new incident every time, not a duplicate.
            samples = [[_first_answer_ms(python, request(), {**env, "VIGIL_KEY_PREFIX": f"{prefix}{int(pyc)}-{run}:"}, pyc)
                        for _, request, _ in CASES] for run in range(runs)]
            wall = [statistics.median(s[i][0] for s in samples) for i in range(len(CASES))]
            cpu = [statistics.median(s[i][1] for s in samples) for i in range(len(CASES))]
            for i, (name, _, expected) in enumerate(CASES):
                status = sorted({s[i][2] for s in samples})
                if status != [s for s in status if s.startswith(expected)]:
                    raise RuntimeError(f"{name}: answered {status}, expected {expected}")
                rows.append(Row(f"{label}: {name}", round(wall[i]), "ms", f"CPU {round(cpu[i])} ms; {', '.join(status)}"))
            for i, (name, _, _) in enumerate(CASES[1:], 1):
                rows.append(Row(f"{label}: ratio {name.split(',')[0]} / bare", round(wall[i] / wall[0], 2), "x",
                                f"CPU {round(cpu[i] / cpu[0], 2)}x; goal: at most 2x the bare app"))
    rows.append(Row("(medians of)", runs, "runs", "each case in its own fresh process, interleaved"))
    RedisStore.from_url(server.url, prefix=prefix).delete_prefix()
    server.stop()
    return rows


@section("quiet", "Redis commands of a quiet minute (every cron of vercel.json as scheduled; Upstash bills each)")
def quiet(args: argparse.Namespace) -> list[Row]:
    from lib.store.redis_backend import RedisStore
    from tests.support.quiet_minute import quiet_world
    from tests.support.redis_server import RedisServer

    server, rows = RedisServer(), []
    for shipped, label in ((False, "1 healthy check + 2 steady rules"), (True, "shipped monitoring.yaml")):
        store = RedisStore.from_url(server.url, prefix=f"vigil-bench-{uuid.uuid4().hex[:8]}:")
        try:
            with quiet_world(store, shipped=shipped) as q:
                q.run(minutes=6)
                cost = q.measure(minutes=30)
        finally:
            store.delete_prefix()
            store.close()
        jobs = ", ".join(f"{job} {n}" for job, n in cost["by_job"].items())
        rows.append(Row(f"{label}: per minute", cost["commands"], "commands", f"goal <= 3; {jobs}"))
        rows.append(Row(f"{label}: per month", f"{cost['per_month']:,}", "commands", "free tier: 500,000"))
    server.stop()
    return rows
