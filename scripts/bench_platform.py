"""Benchmark sections about what the platform bills: cold start and Redis commands.
Registered into scripts/bench.py's SECTIONS on import.

Cold start is measured in Vercel's interpreter (`.venv312`, Python 3.12, which
`make bench` creates): process start to the first answer of the Sentry webhook
(config loaded, signature checked, answer 401), against a bare WSGI app that
imports httpx, each in a fresh process, with `.pyc` files and without (a default
Vercel cold start compiles every module outside the standard library).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import _NO_PYC, ROOT, Row, section

PYTHON312 = ROOT / ".venv312" / "bin" / "python"

# Runs in the fresh interpreter: import the entry point, answer one request, print the status.
_ANSWER = """
import importlib, io
app = importlib.import_module({module!r}).app
body = b'{{"action":"created","data":{{}}}}'
environ = {{"REQUEST_METHOD": "POST", "PATH_INFO": "/api/webhooks/sentry", "QUERY_STRING": "",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "HTTP_SENTRY_HOOK_RESOURCE": "issue", "HTTP_SENTRY_HOOK_SIGNATURE": "0" * 64}}
status = []
b"".join(app(environ, lambda s, h, exc=None: status.append(s)))
print(status[0], flush=True)
"""

_BARE = """import httpx  # noqa: F401 - what every real function pays at least


def app(environ, start_response):
    start_response("401 Unauthorized", [("Content-Type", "application/json")])
    return [b'{"error":"bad or missing signature"}']
"""


def _first_answer_ms(python: str, module: str, env: dict[str, str], pyc: bool) -> tuple[float, float, str]:
    """(wall ms to the first answer, CPU ms of the whole process, the status line)."""
    code = _ANSWER.format(module=module)
    if not pyc:
        code = _NO_PYC.replace("{stmt}", code).replace("print((time.perf_counter() - t) * 1000)", "")
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    status = proc.stdout.readline().strip()
    elapsed = (time.perf_counter() - t0) * 1000
    proc.stdout.read()
    err = proc.stderr.read() if proc.stderr else ""
    _, code, usage = os.wait4(proc.pid, 0)  # CPU time: steadier than wall time on a shared machine
    proc.returncode = os.waitstatus_to_exitcode(code)
    if not status:
        raise RuntimeError(f"{module} gave no answer:\n{err}")
    return elapsed, (usage.ru_utime + usage.ru_stime) * 1000, status


def coldstart_env(bare_dir: str, bridge_url: str, token: str, prefix: str) -> dict[str, str]:
    """What a deployment sets: the shipped config, Upstash, a Sentry DSN, the client secret."""
    return {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/"),
        "PYTHONPATH": bare_dir, "MONITORING_CONFIG": str(ROOT / "monitoring.yaml"),
        "UPSTASH_REDIS_REST_URL": bridge_url, "UPSTASH_REDIS_REST_TOKEN": token, "VIGIL_KEY_PREFIX": prefix,
        "SENTRY_DSN": "http://public@127.0.0.1:9/1", "SENTRY_CLIENT_SECRET": "bench-client-secret",
        "PYTHONDONTWRITEBYTECODE": "1",  # Vercel's read-only bundle: nothing compiled is kept
    }


@section("coldstart", "Cold start: process start to the Sentry webhook's first answer (401), Python 3.12")
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
            label = "with .pyc" if pyc else "no .pyc (Vercel's default)"
            modules = ("bare_httpx_app", "api.webhooks.sentry")
            # Interleaved, so a burst of load on the machine hits both alike.
            samples = [[_first_answer_ms(python, m, env, pyc) for m in modules] for _ in range(runs)]
            wall = {m: statistics.median(s[i][0] for s in samples) for i, m in enumerate(modules)}
            cpu = {m: statistics.median(s[i][1] for s in samples) for i, m in enumerate(modules)}
            for i, m in enumerate(modules):
                rows.append(Row(f"{label}: {m}", round(wall[m]), "ms",
                                f"CPU {round(cpu[m])} ms; medians of {runs}, {samples[0][i][2]}"))
            rows.append(Row(f"{label}: ratio", round(wall[modules[1]] / wall[modules[0]], 2), "x",
                            f"CPU {round(cpu[modules[1]] / cpu[modules[0]], 2)}x; goal: at most 2x the bare httpx app"))
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
