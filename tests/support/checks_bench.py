"""Numbers for scripts/bench.py about the checks cron.

    round_trips_per_run(store, target, n) -> int
        Redis round trips of one steady-state run with n healthy checks.
    hanging_run_wall_time(store, n=1000, hang_fraction=0.05, timeout=2.0) -> dict
        Wall time of a whole run (claim, probes, record) with n loopback checks
        of which a fraction hang until their timeout, in steady state (the run
        after a first one). The target runs in its own process so its threads do
        not share the run's GIL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from lib import clock
from lib.config import Check, Config
from lib.env import Env
from lib.routes.checks import run
from lib.runtime import Runtime
from lib.store import Store
from tests.support.target import Target

ROOT = Path(__file__).resolve().parents[2]
T0 = 1767225600.0  # 2026-01-01T00:00:00Z


def runtime_for(store: Store, checks: list[Check]) -> Runtime:
    return Runtime(env=Env(cron_secret=SecretStr("bench-cron-secret-0000")), config=Config(checks=checks), store=store)


def healthy_checks(target: Target, n: int, timeout: float = 5.0) -> list[Check]:
    return [Check(name=f"svc-{i}", url=target.url(f"/svc/{i}"), timeout=timeout) for i in range(n)]


def round_trips_per_run(store: Store, target: Target, n: int, at: float = T0) -> int:
    """Round trips of the second of two runs a minute apart (the first loads the scripts)."""
    rt = runtime_for(store, healthy_checks(target, n))
    run(rt, at, {})
    before = store.round_trips
    out = run(rt, at + 60, {})
    assert out["evaluated"] == n and not out["decisions"], out
    return store.round_trips - before


def _spawn_target(hang_prefix: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.target", "--hang-prefix", hang_prefix],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _timed_run(rt: Runtime, at: float) -> tuple[float, dict[str, Any]]:
    started = clock.monotonic()
    out = run(rt, at, {})
    return clock.monotonic() - started, out


def hanging_run_wall_time(
    store: Store, n: int = 1000, hang_fraction: float = 0.05, timeout: float = 2.0, at: float = T0
) -> dict[str, Any]:
    """Two runs a minute apart: the first knows nothing; the second probes last run's
    suspects (the hanging ones) first, as every later run does."""
    proc, port = _spawn_target("/hang")
    try:
        hang_every = max(1, round(1 / hang_fraction)) if hang_fraction > 0 else n + 1
        checks = [
            Check(name=f"svc-{i}", url=f"http://127.0.0.1:{port}/{'hang' if i % hang_every == 0 else 'ok'}/{i}",
                  timeout=timeout)
            for i in range(n)
        ]
        rt = runtime_for(store, checks)
        first, _ = _timed_run(rt, at)
        wall, out = _timed_run(rt, at + 60)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    failed = [r for r in out["results"] if not r["ok"]]
    return {
        "checks": n,
        "hanging": sum(1 for c in checks if "/hang/" in c.url),
        "timeout_s": timeout,
        "first_run_s": round(first, 3),
        "wall_s": round(wall, 3),
        "ratio": round(wall / timeout, 3),
        "failed": len(failed),
        "failed_reasons": sorted({r["reason"] for r in failed}),
    }
