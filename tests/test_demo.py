"""The demo app `make dev` watches: its API down minutes 3-7, its worker 10-30 of every hour."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from lib import clock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from demo_target import DemoTarget


def test_the_demo_app_fails_on_its_cycle_and_exports_a_rising_error_rate() -> None:
    clock.freeze(1_800_000_000.0)
    target = DemoTarget(port=0)
    try:
        ok = httpx.get(f"{target.url}/api/v1/health")
        assert ok.status_code == 200 and ok.json()["database"] == "connected"
        clock.advance(4 * 60)
        down = httpx.get(f"{target.url}/api/v1/health")
        assert down.status_code == 503 and down.json()["database"] == "disconnected"
        page = httpx.get(f"{target.url}/metrics").text
        values = {s.name: s.value for f in text_string_to_metric_families(page) for s in f.samples}
        assert values["http_requests_total"] == 24000 and 0 < values["http_errors_total"] <= 24000 * 0.02
        clock.advance(4 * 60)
        assert httpx.get(f"{target.url}/api/v1/health").status_code == 200
    finally:
        target.close()
        clock.unfreeze()


def test_the_demo_config_is_valid() -> None:
    from lib.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "demo" / "monitoring.yaml")
    assert [c.name for c in cfg.checks] == ["demo-api", "demo-worker"]
    assert [r.name for r in cfg.rules] == ["HighErrorRate"]


def test_the_demo_worker_is_down_long_enough_for_the_cto_to_be_paged() -> None:
    clock.freeze(1_800_000_000.0)
    target = DemoTarget(port=0)
    try:
        for minute, status in ((9, 200), (10, 503), (29, 503), (30, 200)):
            clock.freeze(target.started + minute * 60 + 1)
            assert httpx.get(f"{target.url}/worker/health").status_code == status, minute
    finally:
        target.close()
        clock.unfreeze()
