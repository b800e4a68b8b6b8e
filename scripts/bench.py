"""Benchmarks (not tests): prints one table per section.

    python scripts/bench.py [--only imports] [--runs 5]

A section is a function `(args) -> list[Row]` registered in SECTIONS; add yours
at the bottom (round trips per apply, webhook p99 with fake vendors at 300 ms,
checks fan-out, rules...). Helpers for sections: `installed_runtime()` gives a
Runtime on a real Redis (REDIS_URL, else 127.0.0.1:6379, else embedded under a
temp dir) with its own key prefix; `wsgi_client(app)` calls an api/ app in-process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Row:
    name: str
    value: float | int | str
    unit: str = ""
    note: str = ""


Section = Callable[[argparse.Namespace], list[Row]]
SECTIONS: dict[str, tuple[str, Section]] = {}


def section(key: str, title: str) -> Callable[[Section], Section]:
    """Register a section: `@section("roundtrips", "Redis round trips per request")`."""

    def register(fn: Section) -> Section:
        SECTIONS[key] = (title, fn)
        return fn

    return register


# --- helpers --------------------------------------------------------------------


def entry_points() -> list[str]:
    """Module names of every api/**/*.py Vercel would make a function."""
    out = []
    for file in sorted((ROOT / "api").rglob("*.py")):
        rel = file.relative_to(ROOT).with_suffix("")
        if not any(p.startswith(("_", ".")) for p in rel.parts):
            out.append(".".join(rel.parts))
    return out


# Runs in the fresh interpreter: no .pyc is read for anything outside the standard
# library (Vercel's runtime image has a compiled stdlib; the function bundle has none).
_NO_PYC = """
import sys, time, _frozen_importlib_external as fx
_orig, _stdlib = fx.cache_from_source, __import__("sysconfig").get_paths()["stdlib"]
def _cache(path, *a, **k):
    if path.startswith(_stdlib) and "site-packages" not in path:
        return _orig(path, *a, **k)
    return "/nonexistent/" + path.replace("/", "_") + ".pyc"
fx.cache_from_source = _cache
t = time.perf_counter()
{stmt}
print((time.perf_counter() - t) * 1000)
"""


def cold_import_ms(statement: str, runs: int) -> float:
    """Median wall time of `statement` in a fresh interpreter that compiles every
    non-stdlib module from source, as a default Vercel cold start does (PLATFORM.md 1.7)."""

    def once() -> float:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        out = subprocess.run([sys.executable, "-c", _NO_PYC.format(stmt=statement)], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])

    return statistics.median(once() for _ in range(runs))


@contextmanager
def installed_runtime(**env: Any) -> Iterator[Any]:
    """A Runtime on a real Redis, installed for every api/ app in this process."""
    from lib import runtime
    from lib.config import load_config
    from lib.env import Env
    from lib.store.redis_backend import RedisStore

    prefix = f"vigil-bench-{uuid.uuid4().hex[:8]}:"
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    store: Any = RedisStore.from_url(url, prefix=prefix, timeout=1.0)
    tmp = None
    if not store.ping():
        from lib.store.embedded import open_embedded

        tmp = tempfile.TemporaryDirectory()
        store = open_embedded(tmp.name, prefix=prefix)
    config_path = ROOT / "monitoring.yaml"
    if not config_path.exists():
        config_path = ROOT / "tests" / "fixtures" / "config" / "valid.yaml"
    rt = runtime.Runtime(env=Env(**env), config=load_config(config_path), store=store)
    runtime.install(rt)
    try:
        yield rt
    finally:
        runtime.install(None)
        store.delete_prefix()
        store.close()
        if tmp is not None:
            tmp.cleanup()


def wsgi_client(app: Any) -> Any:
    import httpx

    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://vigil.bench")


# --- sections -------------------------------------------------------------------


@section("imports", "Cold import of each entry point (no .pyc, median)")
def imports(args: argparse.Namespace) -> list[Row]:
    rows = [Row("(baseline) import httpx", round(cold_import_ms("import httpx", args.runs), 1), "ms")]
    for module in entry_points():
        rows.append(Row(f"import {module}", round(cold_import_ms(f"import {module}", args.runs), 1), "ms"))
    return rows


@section("health", "Redis round trips for one health request")
def health(args: argparse.Namespace) -> list[Row]:
    from api.v1.health import app

    with installed_runtime() as rt:
        http = wsgi_client(app)
        http.get("/api/v1/health")  # warm: connection opened
        before = rt.store.round_trips
        status = http.get("/api/v1/health").status_code
        trips = rt.store.round_trips - before
    return [Row("GET /api/v1/health", trips, "round trips", f"{rt.store.backend}, HTTP {status}")]


# More sections (incidents, webhooks, checks, rules, archive) live in bench_sections.py.


# --- table ----------------------------------------------------------------------


def render(title: str, rows: list[Row]) -> str:
    cells = [(r.name, f"{r.value}", r.unit, r.note) for r in rows]
    widths = [max([len(c[i]) for c in cells] + [4]) for i in range(4)]
    lines = [f"## {title}"]
    for name, value, unit, note in cells:
        lines.append(f"  {name:<{widths[0]}}  {value:>{widths[1]}} {unit:<{widths[2]}}  {note}".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.modules.setdefault("bench", sys.modules[__name__])
    import logging

    import bench_faults  # noqa: F401 - registers its sections
    import bench_platform  # noqa: F401 - registers its sections
    import bench_sections  # noqa: F401 - registers its sections

    logging.getLogger("vigil").setLevel(logging.ERROR)  # the tables, not the logs of what they run

    p = argparse.ArgumentParser(description="Vigil benchmarks")
    p.add_argument("--only", action="append", choices=sorted(SECTIONS), help="run only this section (repeatable)")
    p.add_argument("--runs", type=int, default=3, help="runs per cold-import measurement (median)")
    args = p.parse_args(argv)
    for key, (title, fn) in SECTIONS.items():
        if args.only and key not in args.only:
            continue
        print(render(title, fn(args)), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
