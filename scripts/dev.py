"""Vigil's local server: every api/ route as Vercel serves it, plus vercel.json's crons.

    python scripts/dev.py [--port 3000] [--no-cron] [--fake-clock] [--demo [--demo-port 3001]]

1. Reads the environment and monitoring.yaml (invalid: prints every problem, exits 2).
2. Opens the store (no Upstash or REDIS_URL: an embedded Redis under ./.vigil/).
3. Serves api/**/*.py at Vercel's paths, each module imported on its first request,
   concurrently, until SIGINT or SIGTERM (exit 0).
4. Unless --no-cron, calls each cron of vercel.json at every minute boundary of the
   clock with `Authorization: Bearer $CRON_SECRET`. With --fake-clock, time stands
   still until POST /__dev/clock moves it, and the crons of every minute crossed
   run, in order, before that POST answers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devserver import (
    CLOCK_PATH,
    ROOT,
    Crons,
    DevClock,
    QuietHandler,
    Router,
    Scheduler,
    ThreadingWSGIServer,
    discover,
    logged,
)

from lib import clock, log, runtime, watchdog
from lib.config import Config, ConfigError, load_config
from lib.cronexpr import Schedule
from lib.durations import format_duration
from lib.env import Env
from lib.store import Store, StoreUnavailable, open_store


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Vigil local server")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--no-cron", action="store_true", help="do not run vercel.json's crons")
    p.add_argument("--fake-clock", action="store_true", help="time stands still until POST /__dev/clock")
    p.add_argument("--demo", action="store_true",
                   help="also run a demo app (scripts/demo_target.py) that fails on an hourly cycle, and watch "
                        "it with demo/monitoring.yaml (unless MONITORING_CONFIG is set)")
    p.add_argument("--verbose", action="store_true",
                   help="log every request, every log line, and the exact text of each console message")
    p.add_argument("--demo-port", type=int, default=DEMO_PORT,
                   help=f"the demo app's port (default {DEMO_PORT}; 0 picks a free one)")
    return p.parse_args(argv)


DEMO_PORT = 3001  # the port demo/monitoring.yaml names
LOCAL_TOKENS = ("ALERTS_TOKEN", "REPORT_TOKEN", "STATUS_TOKEN")  # printed in the banner, to try those routes


def _local_secret(name: str) -> str:
    """A random secret kept under .vigil/, so links sent before a restart still work after it."""
    path = Path(os.environ.get("VIGIL_DATA_DIR", "").strip() or ".vigil") / f"dev-{name.lower()}"
    try:
        return path.read_text().strip()
    except OSError:
        value = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
        return value


def prepare_environ(notes: list[str], port: int = 3000) -> None:
    """Fill what a local run needs and Vercel would provide, before the runtime reads it."""
    if not os.environ.get("ACK_SIGNING_SECRET", "").strip():
        os.environ["ACK_SIGNING_SECRET"] = _local_secret("ACK_SIGNING_SECRET")
        notes.append("ACK_SIGNING_SECRET was unset: using a local one from .vigil/ so ack links work")
    if not os.environ.get("PUBLIC_BASE_URL", "").strip() and not os.environ.get("VERCEL_URL", "").strip():
        os.environ["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    for name in LOCAL_TOKENS:
        if not os.environ.get(name, "").strip():
            os.environ[name] = _local_secret(name)
            notes.append(f"{name} was unset: using a local one from .vigil/: {os.environ[name]}")
    if not os.environ.get("CRON_SECRET", "").strip():
        os.environ["CRON_SECRET"] = secrets.token_urlsafe(24)
        notes.append("CRON_SECRET was unset: generated a random one for this process")
    if not os.environ.get("MONITORING_CONFIG", "").strip() and not Path("monitoring.yaml").exists():
        shipped = ROOT / "monitoring.yaml"
        if shipped.exists():
            os.environ["MONITORING_CONFIG"] = str(shipped)


def demo_config(port: int) -> Path:
    """demo/monitoring.yaml, or a copy under .vigil/ that names the demo's actual port."""
    shipped = ROOT / "demo" / "monitoring.yaml"
    if port == DEMO_PORT:
        return shipped
    copy = Path(os.environ.get("VIGIL_DATA_DIR", "").strip() or ".vigil") / "demo-monitoring.yaml"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(shipped.read_text().replace(f"127.0.0.1:{DEMO_PORT}", f"127.0.0.1:{port}"))
    return copy


def start_demo(port: int, notes: list[str]) -> Any:
    """The demo app on `port`, watched with the demo config unless MONITORING_CONFIG is set.

    A port it cannot take is an error: Vigil would otherwise watch whatever answers there."""
    from demo_target import DemoTarget

    try:
        demo = DemoTarget(port=port)
    except OSError as exc:
        raise SystemExit(f"demo app cannot listen on 127.0.0.1:{port} ({exc.strerror}): something else holds "
                         "that port, and the demo's checks would watch it; pick another with --demo-port "
                         "(make dev ARGS=\"--demo-port 3101\"), or 0 for any free port") from None
    taken = int(demo.url.rsplit(":", 1)[1])
    if not os.environ.get("MONITORING_CONFIG", "").strip():
        os.environ["MONITORING_CONFIG"] = str(demo_config(taken))
    notes.append(f"demo app on {demo.url}: {demo.story()}; every page prints on the console")
    return demo


TEST_ALERT_PATH = "/__dev/test-alert"


def test_alert_route(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """POST /__dev/test-alert {severity, title, resolve}: scripts/send_test_alert.py, sent by this
    server (its config, clock, store and console)."""
    from send_test_alert import fire

    def answer(status: str, obj: Any) -> list[bytes]:
        data = json.dumps(obj).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    if environ.get("REQUEST_METHOD") != "POST":
        return answer("405 Method Not Allowed", {"error": "POST {\"severity\": \"P0\"}"})
    try:
        body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)) or b"{}")
        severity, title = str(body.get("severity", "P3")), str(body.get("title", "Vigil test alert"))
        if severity not in ("P0", "P1", "P2", "P3"):
            raise ValueError("severity must be one of P0..P3")
    except (ValueError, AttributeError) as exc:
        return answer("400 Bad Request", {"error": str(exc)})
    now = clock.now()
    lines = fire(runtime.get(), severity, title, bool(body.get("resolve")), now)
    return answer("200 OK", {"now": clock.iso(now), "lines": lines})


def announce(url: str) -> Path:
    """.vigil/dev-server.json: how scripts/send_test_alert.py finds this server."""
    path = Path(os.environ.get("VIGIL_DATA_DIR", "").strip() or ".vigil") / "dev-server.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    return path


def cron_jobs(routes_app: Router, notes: list[str]) -> list[tuple[str, Schedule]]:
    """vercel.json's crons whose route exists here."""
    try:
        spec = json.loads((ROOT / "vercel.json").read_text())
    except (OSError, ValueError) as exc:
        notes.append(f"vercel.json unreadable ({exc}); no crons")
        return []
    jobs = []
    for item in spec.get("crons", []):
        path, expr = item.get("path", ""), item.get("schedule", "")
        try:
            schedule = Schedule.parse(expr)
        except ValueError as exc:
            notes.append(f"cron {path}: {exc}; skipped")
            continue
        if routes_app.find(path) is None:
            notes.append(f"cron {path}: no api file for it yet; skipped")
            continue
        jobs.append((path, schedule))
    return jobs


def start_clock(fake: bool, store: Store, notes: list[str]) -> str:
    """Freeze a fake clock where the store left off, or warn that the real one is behind it.

    The store refuses to evaluate a minute at or before the newest it has run, so a
    fake clock restarted at wall time, behind a fake run that went ahead, would make
    every check and rule skip until wall time caught up. Returns the banner's note."""
    wall = clock.now()
    try:
        seen = watchdog.latest(store)
    except StoreUnavailable:
        seen = None
    ahead = seen is not None and seen > wall
    if fake:
        clock.freeze(seen if ahead and seen is not None else wall)
        if ahead and seen is not None:
            return (f" (resumed at the latest time the store has seen, {format_duration(seen - wall)} "
                    "ahead of wall time)")
        return ""
    if ahead and seen is not None and seen - wall >= 60:
        notes.append(f"the store has run up to {clock.iso(seen)}, {format_duration(seen - wall)} ahead of this "
                     "clock (an earlier --fake-clock run): checks and rules evaluate nothing until then; "
                     "restart with --fake-clock to resume there, or remove .vigil/ to start afresh")
    return ""


def banner(args: argparse.Namespace, env: Env, config: Config, jobs: list[tuple[str, Schedule]],
           router: Router, notes: list[str], resumed: str = "") -> str:
    url = f"http://{args.host}:{args.port}"
    channels = "\n".join(
        f"    {name:<6} {'configured' if ok else '→ console (not configured)'}"
        for name, ok in env.channels().items()
    )
    if args.no_cron:
        crons = "off (--no-cron)"
    else:
        crons = "on: " + (", ".join(f"{p} ({s.expression})" for p, s in jobs) or "none found")
    if args.fake_clock:
        clock_line = (f"fake, frozen at {clock.iso(clock.now())}{resumed}; move it with "
                      f"POST {url}{CLOCK_PATH} {{\"advance_s\": 60}}")
    else:
        clock_line = "real"
    lines = [
        f"Vigil local server: {url}",
        f"  health:   {url}/api/v1/health",
        f"  status:   {url}/api/status (public view; full view: ?token=$STATUS_TOKEN)",
        f"  store:    {env.describe_store()}",
        f"  config:   {env.config_path}: {len(config.people)} people, {len(config.checks)} checks, "
        f"{len(config.rules)} rules",
        "  channels:",
        channels,
        f"  crons:    {crons}",
        f"  clock:    {clock_line}",
        f"  routes:   {', '.join(r.path for r in router.routes) or 'none'}",
        *(f"  note:     {n}" for n in notes),
        "Ctrl-C stops it. One line per incident event below"
        + (" (--verbose: every request and log line too)." if args.verbose else "; --verbose adds every request."),
    ]
    return "\n".join(lines)


def close_store(store: Store) -> None:
    """Close the store; the embedded one saves and stops its redis-server (every time)."""
    store.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    notes: list[str] = []
    demo = start_demo(args.demo_port, notes) if args.demo else None  # first: it picks the config
    prepare_environ(notes, port=args.port)
    log.use_text_format(verbose=args.verbose)
    env = Env.from_environ()
    try:
        config = load_config(env.config_path)
    except ConfigError as exc:
        print("\n".join(exc.report()), file=sys.stderr)
        if demo is not None:
            demo.close()
        return 2
    stop = threading.Event()  # before the store opens: a signal from here on still closes it
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    store = open_store(env)
    resumed = start_clock(args.fake_clock, store, notes)
    if demo is not None:
        demo.started = clock.now() // 60 * 60  # its cycle counts from the (possibly resumed) clock
    runtime.install(runtime.Runtime(env=env, config=config, store=store))

    dev_clock = DevClock(None, fake=args.fake_clock)
    router = Router(discover(ROOT / "api"), dev_clock, {TEST_ALERT_PATH: test_alert_route})
    app = logged(router, verbose=args.verbose)
    jobs = [] if args.no_cron else cron_jobs(router, notes)
    crons = None if args.no_cron else Crons(jobs, app, os.environ["CRON_SECRET"])
    dev_clock.crons = crons if args.fake_clock else None
    try:
        server = make_server(args.host, args.port, app, server_class=ThreadingWSGIServer,
                             handler_class=QuietHandler)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror}; try --port", file=sys.stderr)
        close_store(store)
        if demo is not None:
            demo.close()
        return 1
    print(banner(args, env, config, jobs, router, notes, resumed), flush=True)
    announced = announce(f"http://{args.host}:{args.port}")

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    serving.start()
    scheduler = Scheduler(crons) if crons is not None and not args.fake_clock else None
    if scheduler is not None:
        scheduler.start()
    while not stop.wait(0.5):
        pass
    print("stopping", file=sys.stderr, flush=True)
    if scheduler is not None:
        scheduler.stop()
    server.shutdown()
    server.server_close()
    if demo is not None:
        demo.close()
    announced.unlink(missing_ok=True)
    close_store(store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
