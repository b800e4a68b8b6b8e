"""The validated config snapshot (lib/config_snapshot.py): a cold start reads it instead of
validating monitoring.yaml, and only when it is of that very file and code."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lib import config_snapshot
from lib.config import ConfigError, load_config
from lib.env import Env
from lib.routes.health import snapshot_warning
from lib.schema import build, dump
from scripts.validate_config import main as validate

ROOT = Path(__file__).resolve().parent.parent

# Every config class at least once, with values away from their defaults.
RICH = textwrap.dedent("""
    service: shop
    people:
      oncall: {name: On Call, email: oncall@example.com, phone: "+15550000001", slack: U1}
      cto: {name: CTO, email: cto@example.com, phone: "+15550000002"}
    routing:
      P0: {slack: {channel: "#inc", mention: channel}, sms: [oncall], email: [oncall], call: [cto]}
      P3: {slack: {channel: "#low"}}
    escalation:
      P0: [{after: 15m, notify: {sms: [cto], call: [cto], email: [cto]}}]
    checks:
      - name: api
        url: https://api.example.com/health
        method: POST
        headers: {X-Key: "${API_KEY}"}
        timeout: 5s
        expect: {status: [200, 204], json: {status: ok}, max_latency: 2s, body_contains: ok}
        down_after: 3m
        up_after: 2
        severity: P1
        latency: {window: 10m, min_slow: 0.9, above: {P1: 1500ms}}
        uptime: {window: 7d, below: {P1: 99.5}}
        flapping: {results: 30, high: 50, low: 25, severity: P2}
    rules:
      - name: HighErrorRate
        scrape: {url: https://api.example.com/metrics, auth: {bearer_env: TOKEN}, timeout: 5s, max_bytes: 2048}
        ratio: {errors: 'http_requests_total{status=~"5.."}', total: http_requests_total}
        above: {P1: 0.005, P0: 0.01}
        for: 5m
      - name: Latency
        scrape: https://api.example.com/metrics
        quantile: {histogram: http_request_duration_seconds, q: 0.95}
        above: {P1: 1.0}
        labels: {job: api}
      - name: Pool
        scrape: https://db.example.com/metrics
        gauge_ratio: {value: pg_pool_used, max: 8GB}
        above: {P2: 0.8}
        unit: percent
      - name: Rate
        scrape: https://api.example.com/metrics
        baseline: {counter: http_requests_total, baseline: 2h}
        above: {P2: 3}
      - name: Up
        scrape: https://api.example.com/metrics
        gauge: up
        below: {P0: 1}
    logs:
      - name: Errors
        match: {level: error, message: ["/timeout/", boom], status: 5xx, fields: {proxy.path: /api/}}
        above: {P2: 10, P1: 50}
      - name: ErrorShare
        match: [{level: error}]
        of: {source: lambda}
        min_lines: 50
        above: {P1: 0.2}
        for: 5m
    sources:
      sentry: {levels: {error: P1}, org: acme}
      vercel: {production: P0, team: acme-team}
      alertmanager: {severities: {CRITICAL: P0}, default: P3}
    silences:
      - {key: "check:api", starts: "2026-03-02T09:00:00Z", ends: "2026-03-02T10:00:00Z", reason: deploy}
      - {labels: {env: staging}}
    inhibit:
      - {name: down, source_matchers: [alertname = ServiceDown], target_matchers: [source = rules],
         equal: [host], hold: 5m}
    settings: {retry_backoff: [30s, 1m], resolve_quiet: {"sentry:*": 2h}, max_attempts: 4}
""")


def _written(tmp_path: Path, text: str, name: str = "monitoring.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("source", ["rich", "shipped", "demo"])
def test_a_config_read_from_its_snapshot_equals_the_validated_one(tmp_path: Path, source: str) -> None:
    text = {"rich": RICH, "shipped": (ROOT / "monitoring.yaml").read_text(),
            "demo": (ROOT / "demo" / "monitoring.yaml").read_text()}[source]
    path = _written(tmp_path, text)
    validated = load_config(path, snapshot=False)
    assert build(type(validated), json.loads(json.dumps(dump(validated)))) == validated
    config_snapshot.write(path, validated)
    assert config_snapshot.status(path) == "fresh"
    from_snapshot = load_config(path)
    assert from_snapshot == validated
    assert from_snapshot is not validated
    if source == "rich":  # what a request reads of it behaves the same
        assert from_snapshot.rules[0].selectors == validated.rules[0].selectors
        assert from_snapshot.logs[1].is_ratio and from_snapshot.logs[0].match[0].compiled
        assert from_snapshot.rules[2].gauge_ratio.max == 8e9


def test_the_shipped_snapshot_is_fresh() -> None:
    """A stale shipped snapshot would make every cold start validate again."""
    shipped = ROOT / "monitoring.yaml"
    assert config_snapshot.status(shipped) == "fresh", (
        "monitoring.validated.json is not of monitoring.yaml and this code: run `make validate` and commit it")


def test_an_edited_file_is_validated_again_and_its_stale_snapshot_is_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = _written(tmp_path, RICH)
    config_snapshot.write(path, load_config(path, snapshot=False))
    path.write_text(RICH.replace("service: shop", "service: shop2"), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="vigil.config"):
        assert load_config(path).service == "shop2"
    assert "monitoring.validated.json is not of this monitoring.yaml and code" in caplog.text
    assert config_snapshot.status(path) == "stale"
    warning = snapshot_warning(Env(config_path=str(path)))
    assert warning is not None and "run make validate and commit monitoring.validated.json" in warning


def test_a_stale_snapshot_never_hides_an_invalid_file(tmp_path: Path) -> None:
    path = _written(tmp_path, RICH)
    config_snapshot.write(path, load_config(path, snapshot=False))
    path.write_text(RICH.replace("severity: P1", "severity: critical", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="'critical' is not one of P0, P1, P2, P3"):
        load_config(path)


@pytest.mark.parametrize("content", ["{not json", '{"fingerprint": 1}', "[]"])
def test_a_broken_or_foreign_snapshot_means_validating(tmp_path: Path, content: str) -> None:
    path = _written(tmp_path, RICH)
    config_snapshot.path_for(path).write_text(content)
    assert load_config(path).service == "shop"
    assert config_snapshot.status(path) == "stale"


def test_a_snapshot_that_no_longer_fits_the_classes_means_validating(tmp_path: Path) -> None:
    """The fingerprint covers the code, but a snapshot whose fields are not the classes' is
    refused as well (an edited snapshot, a fingerprint forged by hand)."""
    path = _written(tmp_path, RICH)
    snap = config_snapshot.write(path, load_config(path, snapshot=False))
    doc = json.loads(snap.read_text())
    doc["config"]["settings"]["retries"] = 3
    snap.write_text(json.dumps(doc))
    assert load_config(path).settings.max_attempts == 4


def test_a_file_that_is_not_utf8_is_a_config_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "monitoring.yaml"
    path.write_bytes(b"service: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(path)


def test_missing_snapshot_is_a_warning_only_in_a_deployment(tmp_path: Path) -> None:
    path = _written(tmp_path, RICH)
    assert config_snapshot.status(path) == "missing"
    assert snapshot_warning(Env(config_path=str(path))) is None
    assert "is missing" in (snapshot_warning(Env(config_path=str(path), environment="production")) or "")
    config_snapshot.write(path, load_config(path, snapshot=False))
    assert snapshot_warning(Env(config_path=str(path), environment="production")) is None


def test_make_validate_writes_the_snapshot_beside_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _written(tmp_path, RICH)
    assert validate([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: 2 people, 1 checks, 5 rules, 2 log rules\n")
    assert "commit it" in out
    assert config_snapshot.status(path) == "fresh"
    assert validate([str(path)]) == 0  # fresh already: nothing more to say
    assert capsys.readouterr().out == "ok: 2 people, 1 checks, 5 rules, 2 log rules\n"
    bad = _written(tmp_path, "checks: [{name: x}]\n", "bad.yaml")
    assert validate([str(bad)]) == 1
    assert config_snapshot.status(bad) == "missing"


def test_a_cold_start_with_a_fresh_snapshot_neither_validates_nor_parses_yaml(tmp_path: Path) -> None:
    shutil.copy(ROOT / "monitoring.yaml", tmp_path / "monitoring.yaml")
    path = tmp_path / "monitoring.yaml"
    config_snapshot.write(path, load_config(path, snapshot=False))
    code = textwrap.dedent(f"""
        import sys
        from lib.config import load_config
        cfg = load_config({str(path)!r})
        assert cfg.checks and cfg.rules and cfg.logs
        print(sorted(m for m in ("yaml", "lib.config_schema", "lib.config_checks") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "[]"
