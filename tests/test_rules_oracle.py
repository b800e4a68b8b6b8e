"""Vigil's metric rules held against Prometheus itself, minute by minute.

Each test builds the pages an app serves, one per minute (or a failed scrape),
feeds them to Vigil through a real loopback target and the real cron route,
and to `promtool test rules` as the series Prometheus would have stored, then
asks promtool whether exactly the tiers Vigil says are firing fire at every
minute (tests/support/promtool.py). Where Vigil differs on purpose (docs/rules.md,
"Differences"), the test writes Prometheus's answer out and shows Vigil's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from lib.durations import parse_duration
from lib.store import Store
from tests.support import promtool
from tests.support.metrics_target import MetricsTarget
from tests.support.world import default_config, world

ERRORS = {"name": "HighErrorRate", "window": "5m", "for": "5m",
          "ratio": {"errors": "http_errors_total", "total": "http_requests_total"},
          "above": {"P1": 0.005, "P0": 0.01}}
SLOW = {"name": "SlowResponseTime", "window": "5m",
        "quantile": {"histogram": "http_request_duration_seconds", "q": 0.95}, "above": {"P1": 1, "P0": 2}}


def render(page: promtool.Page) -> str:
    return "".join(f"{name} {value!r}\n" for name, value in (page or {}).items())


def vigil(store: Store, rule: dict[str, Any], pages: Sequence[promtool.Page]) -> list[dict[str, Any]]:
    """Vigil's cron run at each minute over `pages`, through a real target and the real route."""
    runs = []
    with MetricsTarget() as target:
        with world(store, default_config(rules=[{**rule, "scrape": target.url}])) as w:
            for m, page in enumerate(pages):
                if m:
                    w.advance(60)
                target.set(render(page), status=200 if page is not None else 500)
                r = w.cron("rules")
                assert r.status_code == 200, r.text
                runs.append(r.json())
    return runs


def both(store: Store, tmp_path: Path, rule: dict[str, Any], pages: Sequence[promtool.Page],
         prometheus: Sequence[Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """Run Vigil, then assert promtool fires what Vigil fires at each minute (or `prometheus`)."""
    runs = vigil(store, rule, pages)
    firing = [run["firing"][rule["name"]] for run in runs]
    oracle = {**rule, "window_s": parse_duration(rule.get("window", "5m"))}
    ok, out = promtool.check(tmp_path, oracle, parse_duration(rule.get("for", "0s")), pages,
                             prometheus if prometheus is not None else firing)
    assert ok, f"Prometheus disagrees with Vigil's tiers {firing}:\n{out}"
    return runs


def signals(runs: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(m, s) for m, run in enumerate(runs) for s in run["signals"]]


def counters(minutes: int, series: dict[str, Callable[[int], float | None]],
             fail: Sequence[int] = ()) -> list[promtool.Page]:
    """One page a minute: each series' value at minute m (None: not on the page); `fail`: failed scrapes."""
    pages: list[promtool.Page] = []
    for m in range(minutes):
        page = {name: v for name, f in series.items() if (v := f(m)) is not None}
        pages.append(None if m in fail else page)
    return pages


def test_steady_two_percent_fires_p0_at_minute_6_with_prometheus(redis_store: Store, tmp_path: Path) -> None:
    pages = counters(12, {"http_requests_total": lambda m: 1000.0 * m, "http_errors_total": lambda m: 20.0 * m})
    runs = both(redis_store, tmp_path, ERRORS, pages)
    assert signals(runs) == [(6, "rule:HighErrorRate firing P0")]


def test_an_idle_error_series_flapping_in_and_out_pages_nobody(redis_store: Store, tmp_path: Path) -> None:
    """Summed first, the idle series vanishing read as a reset and its 50 as new errors: a P0 at 9.4 %."""
    pages = counters(16, {
        "http_requests_total": lambda m: 1000.0 * m,
        'http_errors_total{route="/api"}': lambda m: 1.0 * m,  # 0.1 %
        'http_errors_total{route="/idle"}': lambda m: 50.0 if m % 3 else None,
    })
    runs = both(redis_store, tmp_path, {**ERRORS, "for": "0s"}, pages)
    assert signals(runs) == []
    assert all(run["rules"]["HighErrorRate"] < 0.002 for run in runs[1:])


def test_a_request_series_flapping_during_an_outage_does_not_delay_the_p0(redis_store: Store, tmp_path: Path) -> None:
    pages = counters(14, {
        'http_requests_total{code="200"}': lambda m: 1000.0 * m,
        'http_requests_total{code="204"}': lambda m: 40_000.0 if m % 2 else None,  # idle, flapping
        "http_errors_total": lambda m: 20.0 * m,
    })
    runs = both(redis_store, tmp_path, ERRORS, pages)
    assert signals(runs) == [(6, "rule:HighErrorRate firing P0")]


def test_a_request_series_first_seen_at_a_large_value_does_not_delay_the_p0(redis_store: Store, tmp_path: Path) -> None:
    pages = counters(14, {
        'http_requests_total{pod="a"}': lambda m: 1000.0 * m,
        'http_requests_total{pod="b"}': lambda m: None if m < 3 else 500_000.0 + 10 * m,  # a new pod
        "http_errors_total": lambda m: 20.0 * m,
    })
    runs = both(redis_store, tmp_path, ERRORS, pages)
    assert [s for _, s in signals(runs)][:1] == ["rule:HighErrorRate firing P0"]
    assert signals(runs)[0][0] == 6


def test_errors_with_no_request_completing_are_inf_and_page_p0(redis_store: Store, tmp_path: Path) -> None:
    """Requests counted when a response completes stay flat in a total outage: x / 0 = +Inf."""
    pages = counters(10, {"http_requests_total": lambda m: 1000.0 * min(m, 2), "http_errors_total": lambda m: 30.0 * m})
    runs = both(redis_store, tmp_path, {**ERRORS, "for": "2m"}, pages)
    assert runs[8]["rules"]["HighErrorRate"] == "+Inf"
    first = signals(runs)[0]
    assert first[1] == "rule:HighErrorRate firing P0"


def test_no_traffic_at_all_is_no_value_and_fires_nothing(redis_store: Store, tmp_path: Path) -> None:
    pages = counters(8, {"http_requests_total": lambda m: 5000.0, "http_errors_total": lambda m: 7.0})
    runs = both(redis_store, tmp_path, {**ERRORS, "for": "0s"}, pages)
    assert signals(runs) == [] and all(run["rules"]["HighErrorRate"] is None for run in runs)


def test_a_failed_scrape_at_the_due_minute_still_fires_on_time(redis_store: Store, tmp_path: Path) -> None:
    pages = counters(16, {"http_requests_total": lambda m: 1000.0 * m,
                          "http_errors_total": lambda m: 20.0 * m if m <= 8 else 160.0 + m},
                     fail=(6, 7, 13))
    runs = both(redis_store, tmp_path, ERRORS, pages)
    assert signals(runs)[0] == (6, "rule:HighErrorRate firing P0")
    assert runs[6]["scrape_errors"]  # the page answered 500 at the minute the alert was due


def test_a_resolve_due_during_a_failed_scrape_is_on_time(redis_store: Store, tmp_path: Path) -> None:
    pages = counters(20, {"http_requests_total": lambda m: 1000.0 * m,
                          "http_errors_total": lambda m: 20.0 * min(m, 9) + (m - 9 if m > 9 else 0)},
                     fail=(13, 14))
    runs = both(redis_store, tmp_path, ERRORS, pages)
    assert [s for _, s in signals(runs)] == ["rule:HighErrorRate firing P0", "rule:HighErrorRate resolved P0"]


def test_no_data_after_a_long_outage_is_not_resolved(redis_store: Store, tmp_path: Path) -> None:
    """Different on purpose: Prometheus resolves when the range runs out of samples and fires
    again `for` later; Vigil says "no data" and keeps the incident until a value says otherwise."""
    down = tuple(range(8, 16))
    pages = counters(24, {"http_requests_total": lambda m: 1000.0 * m, "http_errors_total": lambda m: 20.0 * m},
                     fail=down)
    # Prometheus: at 11 only minute 7's sample is in range (no value: resolved); two samples
    # again at 17 (pending), firing at 22.
    prometheus = [["P1", "P0"] if 6 <= m <= 10 or m >= 22 else [] for m in range(24)]
    runs = both(redis_store, tmp_path, ERRORS, pages, prometheus=prometheus)
    assert signals(runs) == [(6, "rule:HighErrorRate firing P0")]  # never resolved, never re-opened
    assert runs[13]["rules"]["HighErrorRate"] is None and runs[13]["firing"]["HighErrorRate"] == ["P0", "P1"]
    assert runs[16]["rules"]["HighErrorRate"] is None  # one sample after the outage: still no data


def _histogram(pod: str, slow_share: Callable[[int], float], present: Callable[[int], bool]) -> dict[str, Any]:
    bounds = ("0.5", "1", "2.5", "5", "+Inf")

    def bucket(le: str) -> Callable[[int], float | None]:
        def value(m: int) -> float | None:
            if not present(m):
                return None
            fast, slow = 100.0 * m * (1 - slow_share(m)), 100.0 * m * slow_share(m)
            return fast + (slow if le in ("5", "+Inf") else 0.0) if le != "0.5" else fast
        return value

    return {f'http_request_duration_seconds_bucket{{pod="{pod}",le="{le}"}}': bucket(le) for le in bounds}


def test_a_histogram_series_leaving_a_good_page_keeps_its_samples_for_the_window(
    redis_store: Store, tmp_path: Path,
) -> None:
    pages = counters(16, {
        **_histogram("a", lambda m: 0.0, lambda m: True),
        **_histogram("b", lambda m: 0.5, lambda m: m < 9),  # the slow pod goes away at minute 9
    })
    runs = both(redis_store, tmp_path, SLOW, pages)
    fired = signals(runs)
    assert fired[0] == (1, "rule:SlowResponseTime firing P0")
    assert fired[1][1] == "rule:SlowResponseTime resolved P0" and fired[1][0] >= 12


def test_a_counter_reset_of_one_series_agrees(redis_store: Store, tmp_path: Path) -> None:
    pages = counters(14, {
        'http_requests_total{pod="a"}': lambda m: 1000.0 * m if m < 7 else 1000.0 * (m - 7),  # restarted
        'http_requests_total{pod="b"}': lambda m: 1000.0 * m,
        "http_errors_total": lambda m: 12.0 * m,
    })
    runs = both(redis_store, tmp_path, ERRORS, pages)
    assert [s for _, s in signals(runs)] == ["rule:HighErrorRate firing P1"]


@pytest.mark.parametrize("share", [0.004, 0.008, 0.012])
def test_tier_edges_agree(redis_store: Store, tmp_path: Path, share: float) -> None:
    pages = counters(10, {"http_requests_total": lambda m: 1000.0 * m,
                          "http_errors_total": lambda m: 1000.0 * share * m if m < 5 else 5000 * share})
    both(redis_store, tmp_path, {**ERRORS, "for": "2m"}, pages)


def test_a_gauge_series_leaving_the_page_is_stale_at_once(redis_store: Store, tmp_path: Path) -> None:
    """Prometheus marks a series a good page stops carrying stale: sum() drops it at once."""
    rule = {"name": "PoolBusy", "gauge": "pool_active", "above": {"P1": 50, "P0": 80}, "for": "1m"}
    pages = counters(10, {'pool_active{pod="a"}': lambda m: 40.0,
                          'pool_active{pod="b"}': lambda m: 45.0 if m < 5 else None})
    runs = both(redis_store, tmp_path, rule, pages)
    assert [s for _, s in signals(runs)] == ["rule:PoolBusy firing P0", "rule:PoolBusy resolved P0"]
    assert signals(runs)[1][0] == 5
