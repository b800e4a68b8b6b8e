"""The alert-quality replay: seeded histories of per-minute check results and metric
scrapes, ground-truth incidents of each kind on top of noise, run through the real
path (the minute cron route over WSGI, a real Redis, the fake clock, a real loopback
target serving the health check and /metrics, loopback Slack/Twilio/SMTP), then
scored: false pages, missed incidents, duplicate pages, page-sets per incident,
time to page against the runbook's window.

    python scripts/bench.py --only alert_quality       # days, several seeds
    tests/test_alert_quality.py                        # hours, one seed

Scenario mix and seeds live here (MIX, SEEDS) so anyone can rerun them.

Kinds (what happens to the app, what must page, the runbook's window):
- outage: health 503 and 30 % of requests fail, 4-12 min -> ServiceDown (down_after 2m);
  the error-rate rule and the check's symptoms are muted by inhibition
- slowdown: every probe 0.4-0.6 s (the bench's P1 tier is 300 ms) for 8-20 min ->
  SlowResponseTime (5m)
- error_rate: 0.8 % of requests fail for 12-30 min (P1 above 0.5 %) -> HighErrorRate, its
  window counted from the minute the 5-minute ratio crossed 0.5 % (for: 5m)
- flapping: the check fails about half its runs, never twice in a row, 30-50 min ->
  CheckFlapping (the 21-result flap history)
- scrape_gap: /metrics answers 503 for 13-25 min -> Scrape failing (alert_after 10m)
Noise everywhere else: isolated failed probes, isolated slow probes, latency jitter,
counter resets (an app restart), short scrape blips, late cron runs (0-50 s into the
minute) and skipped cron minutes (never two in a row).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lib.config import Config, parse_config
from lib.store import Store
from tests.support.metrics_target import FakeApp
from tests.support.target import Target
from tests.support.world import ESCALATION, PEOPLE, T0, world

KINDS = ("outage", "slowdown", "error_rate", "flapping", "scrape_gap")
MIX = {"outage": 3, "slowdown": 2, "error_rate": 2, "flapping": 1, "scrape_gap": 1}  # per cycle of incidents
SEEDS = (1, 2, 3)
BENCH_DAYS = 1  # per seed: make bench ARGS="--only alert_quality"
WINDOW_MIN = {"outage": 2, "slowdown": 5, "error_rate": 5, "flapping": 21, "scrape_gap": 10}
QUIET_MIN = (45, 90)  # healthy minutes between incidents
REQUESTS_PER_MIN = 2000
BASE_ERROR = 0.001  # the runbook's target: < 0.1 %
P1_LATENCY = 0.3  # the runbook's 1 s scaled down: slow probes cost real time (a loaded machine adds ~0.1 s)


@dataclass
class Minute:
    ok: bool = True
    latency: float = 0.005
    error_ratio: float = BASE_ERROR
    scrape_ok: bool = True
    restart: bool = False
    skip: bool = False  # no cron run this minute
    second: int = 5  # how late the cron runs


@dataclass
class Truth:
    kind: str
    start: int  # minute index
    end: int  # first minute after it
    ref: int = -1  # the minute its condition became true by the runbook's definition
    pages: list[tuple[int, str]] = field(default_factory=list)  # (minute, incident key)


@dataclass
class Scenario:
    seed: int
    minutes: list[Minute]
    truths: list[Truth]


def _incident(rng: random.Random, kind: str, start: int, minutes: list[Minute]) -> Truth:
    length = {"outage": (4, 12), "slowdown": (8, 20), "error_rate": (12, 30), "flapping": (30, 50),
              "scrape_gap": (13, 25)}[kind]
    end = start + rng.randint(*length)
    last_failed = False
    for m in range(start, end):
        minute = minutes[m]
        if kind == "outage":
            minute.ok, minute.error_ratio = False, 0.3
        elif kind == "slowdown":
            minute.latency = rng.uniform(0.4, 0.6)
        elif kind == "error_rate":
            minute.error_ratio = 0.008
        elif kind == "flapping":
            minute.ok = last_failed or m == start or rng.random() < 0.4
            last_failed = not minute.ok
        else:
            minute.scrape_ok = False
    return Truth(kind, start, end)


def _noise(rng: random.Random, minutes: list[Minute], busy: set[int], flapping: set[int]) -> None:
    last_slow = last_fail = last_skip = -10
    for i, minute in enumerate(minutes):
        minute.latency = minute.latency if i in busy else rng.uniform(0.002, 0.03)
        minute.second = rng.randint(0, 50)
        # Not while flapping: "failed, nobody looked, failed" is failing continuously (down_after).
        if i - last_skip > 1 and i not in flapping and rng.random() < 0.01:
            minute.skip, last_skip = True, i
        if i in busy or any(j in busy for j in range(i - 10, i + 3)):
            continue  # noise stays out of incidents and the minutes around them
        # At most 3 isolated failures in any 21 runs (6 state changes, under 40 %: not flapping).
        if i - last_fail > 7 and rng.random() < 0.01:
            minute.ok, last_fail = False, i
        elif i - last_slow > 2 and rng.random() < 0.03:  # at most 2 slow probes in any 5 minutes
            minute.latency, last_slow = rng.uniform(0.4, 0.8), i
        if rng.random() < 0.003:
            minute.restart = True
        if rng.random() < 0.01 and minutes[i - 1].scrape_ok:
            minute.scrape_ok = False  # one failed scrape


def build(seed: int, hours: float, mix: dict[str, int] | None = None,
          quiet: tuple[int, int] = QUIET_MIN) -> Scenario:
    """A seeded history: incidents in MIX order, quiet stretches between, noise on the rest."""
    rng = random.Random(seed)
    total = int(hours * 60)
    minutes = [Minute() for _ in range(total)]
    order = [k for k, n in (mix or MIX).items() for _ in range(n)]
    rng.shuffle(order)
    truths: list[Truth] = []
    at, i = rng.randint(*quiet), 0
    while at + 60 < total:
        truths.append(_incident(rng, order[i % len(order)], at, minutes))
        at = truths[-1].end + rng.randint(*quiet)
        i += 1
    busy = {m for t in truths for m in range(t.start, t.end)}
    flapping = {m for t in truths if t.kind == "flapping" for m in range(t.start - 1, t.end + 1)}
    _noise(rng, minutes, busy, flapping)
    return Scenario(seed, minutes, truths)


def noise(sc: Scenario) -> dict[str, int]:
    """How much noise the quiet minutes held (what must not page)."""
    busy = {m for t in sc.truths for m in range(t.start, t.end)}
    quiet = [m for i, m in enumerate(sc.minutes) if i not in busy]
    return {
        "minutes": len(sc.minutes),
        "isolated failures": sum(1 for m in quiet if not m.ok),
        "slow probes": sum(1 for m in quiet if m.latency > P1_LATENCY),
        "counter resets": sum(1 for m in sc.minutes if m.restart),
        "failed scrapes": sum(1 for m in quiet if not m.scrape_ok),
        "skipped cron minutes": sum(1 for m in sc.minutes if m.skip),
    }


def config(target: Target) -> Config:
    """The runbook's numbers (latency scaled, see P1_LATENCY) on one check and one rule."""
    return parse_config({
        "service": "alert-quality", "people": PEOPLE, "escalation": ESCALATION,
        "checks": [{"name": "api", "url": target.url(), "timeout": "2s",
                    "expect": {"status": 200, "json": {"status": "healthy"}},
                    "latency": {"above": {"P1": f"{int(P1_LATENCY * 1000)}ms", "P0": "2s"}}}],
        "rules": [{"name": "HighErrorRate", "scrape": {"url": target.url("/metrics"), "timeout": "2s",
                                                       "alert_after": "10m"},
                   "ratio": {"errors": "http_errors_total", "total": "http_requests_total"},
                   "window": "5m", "above": {"P1": 0.005, "P0": 0.01}, "for": "5m"}],
    })


def _ratio_refs(sc: Scenario) -> None:
    """Where each error-rate rise crossed 0.5 % over 5 minutes (what `for: 5m` counts from)."""
    for t in sc.truths:
        if t.kind != "error_rate":
            t.ref = t.start
            continue
        for m in range(t.start, t.end):
            window = [sc.minutes[j].error_ratio for j in range(max(0, m - 4), m + 1)]
            if statistics.fmean(window) > 0.005:
                t.ref = m
                break


def _serve(target: Target, app: FakeApp, minute: Minute) -> None:
    from tests.support.target import HEALTHY

    if minute.restart:
        app.restart()
    app.traffic(REQUESTS_PER_MIN, minute.error_ratio)
    body = HEALTHY if minute.ok else {"status": "unhealthy", "database": "disconnected"}
    target.set(status=200 if minute.ok else 503, body=body, delay=minute.latency)
    target.set("/metrics", status=200 if minute.scrape_ok else 503,
               body=app.render().encode() if minute.scrape_ok else b"upstream error")


@contextmanager
def replay(store: Store, sc: Scenario) -> Iterator[list[dict[str, Any]]]:
    """Run every minute through the crons; yields the pages (opened / upgraded incidents)."""
    with Target() as target, world(store, config(target)) as w:
        app = FakeApp(requests=0, errors=0)
        for i, minute in enumerate(sc.minutes):
            _serve(target, app, minute)
            if not minute.skip:
                w.now = w.advance(T0 + i * 60 + minute.second - w.now)
                assert w.cron("minute").status_code == 200  # what Vercel calls: checks, rules, escalations
        pages = [{"minute": int((e["at"] - T0) // 60), "type": e["type"], "incident": e.get("incident"),
                  "key": e.get("data", {}).get("key")} for e in w.archive() if e["type"] in ("opened", "upgraded")]
        keys = {p["incident"]: p["key"] for p in pages if p["type"] == "opened"}
        for p in pages:
            p["key"] = p["key"] or keys.get(p["incident"])
        yield pages


def expected_key(kind: str) -> str:
    return {"outage": "check:api", "slowdown": "check:api:latency", "error_rate": "rule:HighErrorRate",
            "flapping": "check:api:flapping", "scrape_gap": "scrape:"}[kind]


def _is_kind(key: str, kind: str) -> bool:
    want = expected_key(kind)
    return key.startswith(want) if want.endswith(":") else key == want


def score(sc: Scenario, pages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind: incidents, false pages, missed, duplicates, page-sets per incident, delays to page.
    A page belongs to a ground-truth incident when its key is the kind's and it came between the
    incident's start and 20 minutes after its end; any other page is false ("other": no kind's key)."""
    _ratio_refs(sc)
    false_pages = {k: 0 for k in (*KINDS, "other")}
    for p in pages:
        kind = next((k for k in KINDS if _is_kind(p["key"] or "", k)), "other")
        owner = next((t for t in sc.truths if t.kind == kind and t.start - 1 <= p["minute"] <= t.end + 20), None)
        if owner is None:
            false_pages[kind] += 1
        else:
            owner.pages.append((p["minute"], p["key"]))
    out: dict[str, dict[str, Any]] = {}
    for kind in (*KINDS, "other"):
        ts = [t for t in sc.truths if t.kind == kind]
        out[kind] = {
            "incidents": len(ts),
            "false": false_pages[kind],
            "missed": sum(1 for t in ts if not t.pages),
            "duplicates": sum(max(0, len(t.pages) - 1) for t in ts),
            "page_sets": [len(t.pages) for t in ts],
            "delays": [t.pages[0][0] - t.ref for t in ts if t.pages],
            "window": WINDOW_MIN.get(kind),
        }
    return out


def merge(scores: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Several seeds' scores as one."""
    out: dict[str, dict[str, Any]] = {}
    for kind, first in scores[0].items():
        rows = [s[kind] for s in scores]
        out[kind] = {k: ([x for r in rows for x in r[k]] if isinstance(v, list) else
                         (v if k == "window" else sum(r[k] for r in rows))) for k, v in first.items()}
    return out


def table(scores: dict[str, dict[str, Any]]) -> str:
    """The report: one row per kind; time to page in minutes from the condition's start."""
    lines = [f"{'kind':<11} {'incidents':>9} {'false':>5} {'missed':>6} {'dup':>4} {'page-sets':>9} "
             f"{'ttp p50':>8} {'ttp max':>8} {'window+1':>8}"]
    for kind, r in scores.items():
        sets = ",".join(str(n) for n in sorted(set(r["page_sets"]))) or "-"
        p50 = f"{statistics.median(r['delays']):g}m" if r["delays"] else "-"
        worst = f"{max(r['delays'])}m" if r["delays"] else "-"
        window = f"{r['window'] + 1}m" if r["window"] is not None else "-"
        lines.append(f"{kind:<11} {r['incidents']:>9} {r['false']:>5} {r['missed']:>6} {r['duplicates']:>4} "
                     f"{sets:>9} {p50:>8} {worst:>8} {window:>8}")
    return "\n".join(lines)


def meets_targets(scores: dict[str, dict[str, Any]]) -> list[str]:
    """What misses the issue's targets: 0 false, 0 missed, 0 duplicates, one page-set per
    incident, time to page within the runbook's window + 1 minute."""
    bad = []
    for kind, r in scores.items():
        for what in ("false", "missed", "duplicates"):
            if r[what]:
                bad.append(f"{kind}: {r[what]} {what}")
        if any(n != 1 for n in r["page_sets"]):
            bad.append(f"{kind}: page-sets per incident {sorted(set(r['page_sets']))}")
        if r["delays"] and r["window"] is not None and max(r["delays"]) > r["window"] + 1:
            bad.append(f"{kind}: time to page {max(r['delays'])}m > {r['window'] + 1}m")
    return bad
