"""The benchmark sections beyond imports and health: incidents, webhooks, checks,
rules, archive, logs. Registered into scripts/bench.py's SECTIONS on import."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import ROOT, Row, section

FIX = ROOT / "tests" / "fixtures"


@contextmanager
def scratch_store() -> Iterator[Any]:
    """The machine's Redis (or an embedded one) under a throwaway prefix."""
    from lib.store.redis_backend import RedisStore
    from tests.support.redis_server import RedisServer

    server = RedisServer()
    store = RedisStore.from_url(server.url, prefix=f"vigil-bench-{uuid.uuid4().hex[:8]}:")
    try:
        yield store
    finally:
        store.delete_prefix()
        store.close()
        server.stop()


@section("incidents", "Redis round trips of the incident engine (warm scripts)")
def incidents_section(args: argparse.Namespace) -> list[Row]:
    from lib.incidents import engine
    from lib.models import Severity, Signal
    from tests.support.world import default_config

    cfg = default_config()
    with scratch_store() as store:
        engine.apply(store, cfg, Signal(key="warm", severity=Severity.P3), 1.8e9)
        engine.sweep(store, cfg, 1.8e9)
        rows = []
        for label, signals in (
            ("apply: one new P0", [Signal(key="a", severity=Severity.P0)]),
            ("apply: the same signal again (dedup)", [Signal(key="a", severity=Severity.P0)]),
            ("apply: a batch of 20 signals", [Signal(key=f"b{i}", severity=Severity.P2) for i in range(20)]),
        ):
            before = store.round_trips
            engine.apply_many(store, cfg, signals, 1.8e9 + 1)
            rows.append(Row(label, store.round_trips - before, "round trips"))
        engine.complete(store, cfg, [], 1.8e9)
        store.call("DEL", store.key("outbox", "due"))  # what the webhook path would have delivered
        before = store.round_trips
        engine.sweep(store, cfg, 1.8e9 + 2)
        rows.append(Row("escalation run with nothing due", store.round_trips - before, "round trips"))
    return rows


def _signed_sentry(i: int) -> tuple[bytes, dict[str, str]]:
    from tests.support.world import T0  # the world's clock: Sentry's timestamp must be fresh
    data = json.loads((FIX / "sentry" / "metric_alert_critical.json").read_text())
    data["data"]["metric_alert"]["alert_rule"]["id"] = str(10_000 + i)
    raw = json.dumps(data, separators=(",", ":")).encode()
    sig = hmac.new(b"sentry-client-secret", raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "Sentry-Hook-Resource": "metric_alert",
                 "Sentry-Hook-Signature": sig, "Request-ID": uuid.uuid4().hex,
                 "Sentry-Hook-Timestamp": str(int(T0))}


def _signed_vercel(i: int) -> tuple[bytes, dict[str, str]]:
    from tests.support.world import T0  # a delivery older than 24 h is refused as a replay
    data = json.loads((FIX / "vercel" / "deployment_error_production.json").read_text())
    data["id"] = f"evt_{i}_{uuid.uuid4().hex[:6]}"
    data["payload"]["project"]["id"] = f"prj_bench{i}"
    data["createdAt"] = int(T0 * 1000)
    raw = json.dumps(data).encode()
    sig = hmac.new(b"vercel-webhook-secret", raw, hashlib.sha1).hexdigest()
    return raw, {"Content-Type": "application/json", "x-vercel-signature": sig}


def _alerts(i: int) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps({"key": f"bench-{i}", "severity": "P0", "title": f"Bench {i}"}).encode()
    return raw, {"Content-Type": "application/json", "Authorization": "Bearer alerts-token-0123456789"}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


@section("webhooks", "Webhook request and its post-response deliveries in process, every vendor answering after 300 ms")
def webhooks_section(args: argparse.Namespace) -> list[Row]:
    from tests.support.world import world

    n = 40
    rows = []
    with scratch_store() as store, world(store, slack_delay=0.3, twilio_delay=0.3, smtp_delay=0.3) as w:
        for name, path, make in (("alerts API (P0: Slack, SMS, 2 e-mails)", "/api/webhooks/alerts", _alerts),
                                 ("Sentry metric alert (P1: Slack, 2 e-mails)", "/api/webhooks/sentry", _signed_sentry),
                                 ("Vercel deployment.error (P1)", "/api/webhooks/vercel", _signed_vercel)):
            w.http.post(path, content=make(999)[0], headers=make(999)[1])  # warm
            times = []
            for i in range(n):
                raw, headers = make(i)
                started = time.perf_counter()
                r = w.http.post(path, content=raw, headers=headers)
                times.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
            rows.append(Row(f"{name} p50", round(statistics.median(times) * 1000), "ms", f"n={n}"))
            rows.append(Row(f"{name} p99", round(_pct(times, 0.99) * 1000), "ms", "target < 1000"))
    return rows


@section("checks", "Health checks cron")
def checks_section(args: argparse.Namespace) -> list[Row]:
    from tests.support.checks_bench import hanging_run_wall_time, round_trips_per_run
    from tests.support.target import Target

    rows = []
    with Target() as target:
        for n in (1, 10, 100):
            with scratch_store() as store:  # its own history: minute slots are claimed once
                rows.append(Row(f"run with {n} healthy checks", round_trips_per_run(store, target, n),
                                "round trips", "target <= 2"))
    with scratch_store() as store:
        out = hanging_run_wall_time(store, n=1000, hang_fraction=0.05, timeout=2.0)
    rows.append(Row("1000 checks, 5 % hanging, 2 s timeout", out["wall_s"], "s",
                    f"{out['ratio']}x the timeout (target <= 1.5); first run {out['first_run_s']} s"))
    return rows


@section("rules", "Metric rules cron")
def rules_section(args: argparse.Namespace) -> list[Row]:
    from lib.rules.bench import benchmark

    with scratch_store() as store:
        out = benchmark(store)
    rows = [Row(f"run with {n} rules", trips, "round trips", "target <= 2") for n, trips in out["round_trips"].items()]
    rows.append(Row("50 rules x 20 series over a 5 MB page", out["seconds_50_rules_5mb"], "s",
                    "parse + evaluate per series + Redis, 6th minute"))
    return rows


@section("archive", "Archive: drain throughput and the webhook path's imports")
def archive_section(args: argparse.Namespace) -> list[Row]:
    from tests.support.archive_bench import run

    rows = []
    for module in ("api.webhooks.sentry", "api.webhooks.vercel", "api.webhooks.alerts", "api.slack.actions", "api.ack"):
        out = subprocess.run([sys.executable, "-c", f"import sys, {module}; print('supabase' in sys.modules)"],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        rows.append(Row(f"{module} imports supabase", out.stdout.strip(), "", "must be False"))
    drained = run(events=10_000, batch=500)
    rows.append(Row("drain 10,000 events, batch 500", drained["events_per_s"], "events/s",
                    f"{drained['seconds']} s through supabase-py -> loopback PostgREST -> PostgreSQL"))
    return rows


__all__ = ["Path"]


def _drain_batch(t: float, n: int, start: int, matching: bool) -> bytes:
    """n NDJSON lines shaped like Vercel's docs; matching ones are structured database errors."""
    out = []
    for i in range(start, start + n):
        inner = ({"level": "ERROR", "message": "insert failed: too many connections", "request_id": f"req_{i}",
                  "error": {"type": "DatabaseError", "code": "53300"}} if matching
                 else {"level": "INFO", "message": "API request processed", "request_id": f"req_{i}"})
        out.append(json.dumps({
            "id": f"{int(t * 1000)}{i:012d}", "deploymentId": "dpl_233NRGRjVZX1caZrXWtz5g1TAksD",
            "source": "lambda", "host": "my-app-abc123.vercel.app", "timestamp": int(t * 1000) + i % 1000,
            "projectId": "gdufoJxB6b9b1fEqr1jUtFkyavUU", "projectName": "my-app", "level": "info",
            "message": json.dumps(inner), "requestId": f"643af4e3-{i:08d}", "statusCode": 500 if matching else 200,
            "path": "/api/orders", "environment": "production"}, separators=(",", ":")))
    return "\n".join(out).encode()


@section("logs", "Log drains: a 1,000-line batch (the shipped monitoring.yaml's 4 log rules)")
def logs_section(args: argparse.Namespace) -> list[Row]:
    from bench import installed_runtime, wsgi_client

    from api.webhooks.logs import app
    from lib import clock

    secret, n, t0 = "bench-drain-secret", 30, 1_800_000_000.0
    rows = []
    clock.freeze(t0)
    try:
        with installed_runtime(log_drain_secret=secret, cron_secret="bench-cron-secret-0123") as rt:
            http = wsgi_client(app)
            for label, matching in (("every line a database error (2 rules each)", True),
                                    ("no line matching", False)):
                times, cpu, trips = [], [], []
                for k in range(n + 1):
                    body = _drain_batch(t0, 1000, (k + (0 if matching else 10 * n)) * 1000, matching)
                    headers = {"Content-Type": "application/x-ndjson",
                               "x-vercel-signature": hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}
                    before, started, cpu0 = rt.store.round_trips, time.perf_counter(), time.process_time()
                    r = http.post("/api/webhooks/logs", content=body, headers=headers)
                    elapsed, used = time.perf_counter() - started, time.process_time() - cpu0
                    assert r.status_code == 200, r.text
                    if k:  # the first one warms the script cache
                        times.append(elapsed)
                        cpu.append(used)
                        trips.append(rt.store.round_trips - before)
                rows.append(Row(f"1,000 lines, {label}: p50", round(statistics.median(times) * 1000, 1), "ms",
                                f"n={n}"))
                rows.append(Row(f"1,000 lines, {label}: p99", round(_pct(times, 0.99) * 1000, 1), "ms",
                                "target < 100"))
                rows.append(Row(f"1,000 lines, {label}: fastest / CPU p50", f"{min(times) * 1000:.1f} / "
                                f"{statistics.median(cpu) * 1000:.1f}", "ms", "what an idle core does"))
                rows.append(Row(f"1,000 lines, {label}: Redis round trips", max(trips), "per batch",
                                "target <= 1"))
            rt.config = replace(rt.config, rules=[], checks=[])  # the log rules alone
            cron = wsgi_client(rules_route_app())
            auth = {"Authorization": "Bearer bench-cron-secret-0123"}
            def cron_trips(advance: float) -> int:
                clock.advance(advance)
                before = rt.store.round_trips
                r = cron.get("/api/cron/minute", headers=auth)
                assert r.status_code == 200, r.text
                return rt.store.round_trips - before

            rows.append(Row("minute cron, log rules active (matching lines in the window)", cron_trips(60),
                            "round trips", "its 2 + log evaluation + engine.apply + delivery record"))
            cron_trips(3600)  # the drains go quiet; the watchdog opens "monitoring gap" for the hour skipped
            cron_trips(60)  # ... and resolves it
            rows.append(Row("minute cron, log rules quiet", cron_trips(60), "round trips", "the same as below"))
            rt.config = replace(rt.config, logs=[])
            rows.append(Row("minute cron, no log rules configured", cron_trips(60), "round trips", "(baseline)"))
    finally:
        clock.unfreeze()
    return rows


def rules_route_app() -> Any:
    from api.cron.minute import app

    return app


@section("alert_quality", "Alert quality: seeded days of per-minute checks and scrapes, incidents on top of noise")
def alert_quality_section(args: argparse.Namespace) -> list[Row]:
    import logging

    from tests.support import alert_quality as aq

    logging.disable(logging.INFO)  # a page per incident is a few console lines each; the table says it all
    scores, noise = [], {}
    started = time.perf_counter()
    for seed in aq.SEEDS:
        scenario = aq.build(seed, hours=aq.BENCH_DAYS * 24)
        noise = {k: noise.get(k, 0) + v for k, v in aq.noise(scenario).items()}
        with scratch_store() as store, aq.replay(store, scenario) as pages:
            scores.append(aq.score(scenario, pages))
    logging.disable(logging.NOTSET)
    merged = aq.merge(scores)
    print(aq.table(merged))
    rows = [Row("simulated", f"{len(aq.SEEDS)} seeds x {aq.BENCH_DAYS} days", "",
                f"{time.perf_counter() - started:.0f} s wall"),
            *[Row(f"noise: {k}", v) for k, v in noise.items()]]
    for kind, r in merged.items():
        sets = ",".join(str(n) for n in sorted(set(r["page_sets"]))) or "-"
        rows.append(Row(f"{kind}: incidents / false / missed / dup", f"{r['incidents']} / {r['false']} / "
                        f"{r['missed']} / {r['duplicates']}", "", "target n / 0 / 0 / 0"))
        if r["delays"]:
            rows.append(Row(f"{kind}: page-sets per incident; time to page p50 / max",
                            f"{sets}; {statistics.median(r['delays']):g} / {max(r['delays'])}", "min",
                            f"target 1; <= {r['window'] + 1} (window + 1)"))
    misses = aq.meets_targets(merged)
    rows.append(Row("targets met", "yes" if not misses else "; ".join(misses)))
    return rows
