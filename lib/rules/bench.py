"""The metric rules benchmark (scripts/bench.py `--only rules`): round trips per cron
run with 1/10/50 rules, and the time of one run of 50 rules, each reading 20 series,
over a 5 MB page (the fetch is replaced by a parse of the page in memory)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from lib.config_schema import validate
from lib.rules import scrape as src
from lib.rules.config import Rule, Scrape
from lib.rules.state import run
from lib.store import Store

SERIES = 20  # series per metric each rule reads
_BOUNDS = ("0.1", "0.25", "0.5", "1", "2.5", "+Inf")


def synthetic_exposition(size: int, minute: int = 0, shards: int = 50) -> str:
    """A page of about `size` bytes: `shards` copies (label `shard`) of the metrics the
    benchmark rules read, SERIES series each (label `pod`), then filler series."""
    lines = ["# TYPE http_requests_total counter", "# TYPE http_errors_total counter",
             "# TYPE http_request_duration_seconds histogram", "# TYPE pool_active gauge"]
    for shard in range(shards):
        for pod in range(SERIES):
            lbl = f'shard="{shard}",pod="p{pod}"'
            lines += [f"http_requests_total{{{lbl}}} {100000 + 1000 * minute + pod}",
                      f"http_errors_total{{{lbl}}} {100 + minute}",
                      f"pool_active{{{lbl}}} {10 + minute}", f"pool_max{{{lbl}}} 60"]
            lines += [f'http_request_duration_seconds_bucket{{{lbl},le="{le}"}} {(i + 1) * 1000 * (minute + 1)}'
                      for i, le in enumerate(_BOUNDS)]
    lines.append("# TYPE filler_total counter")
    body = "\n".join(lines)
    filler, total, n = [], len(body), 0
    while total < size:
        filler.append(f'filler_total{{path="/api/v1/items/{n}",method="get",code="200"}} {n * 7 + minute}')
        total, n = total + len(filler[-1]) + 1, n + 1
    return body + "\n" + "\n".join(filler) + "\n"


def _rule(i: int, url: str) -> Rule:
    m = f'{{shard="{i}"}}'
    kinds: list[dict[str, Any]] = [
        {"ratio": {"errors": "http_errors_total" + m, "total": "http_requests_total" + m}, "above": {"P1": 0.5}},
        {"quantile": {"histogram": "http_request_duration_seconds" + m, "q": 0.95}, "above": {"P1": 10}},
        {"gauge_ratio": {"value": "pool_active" + m, "max": "pool_max" + m}, "above": {"P1": 0.99}},
        {"baseline": {"counter": "http_requests_total" + m}, "above": {"P2": 100}},
    ]
    return validate(Rule, {"name": f"bench{i}", "scrape": url, **kinds[i % len(kinds)]})


def benchmark(store: Store, counts: tuple[int, ...] = (1, 10, 50), size: int = 5 * 1024 * 1024) -> dict[str, Any]:
    """Run it on a store with a scratch prefix: it writes rule state and samples there."""
    url = "http://bench.invalid/metrics"
    out: dict[str, Any] = {"round_trips": {}, "page_bytes": size, "series_per_rule": SERIES}
    for n in counts:
        store.call("DEL", store.key("rules", "slot"))
        rules = [_rule(i, url) for i in range(n)]
        for minute in range(6):
            page = synthetic_exposition(size if n == max(counts) else 0, minute, shards=n)

            def fetch(scrapes: dict[str, Scrape], wanted: dict[str, set[str]], _env: Mapping[str, str],
                      page: str = page) -> dict[str, src.Page]:
                return {u: src.Page(u, samples=src.parse(page, "text/plain", wanted[u])) for u in scrapes}

            started = time.perf_counter()
            run_ = run(store, rules, 1_800_000_000 + 60 * minute + 3600 * n, {}, fetch)
            elapsed = time.perf_counter() - started
        out["round_trips"][n] = run_.round_trips
        if n == max(counts):
            out["seconds_50_rules_5mb"] = round(elapsed, 3)
    return out
