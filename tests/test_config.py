"""monitoring.yaml validation: one fixture per error, each with its exact message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lib.config import ConfigError, load_config
from scripts.validate_config import main as validate

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "config"

ERRORS = [
    ("unknown_person", 8, "routing.P0.sms[0]: unknown person 'ctoo'"),
    ("bad_duration", 21, "checks[0].down_after: '2 minutes' is not a duration like 30s, 2m, 15m or 1h"),
    ("bare_duration", 14, "escalation.P0[0].after: 15 is a bare number: write it with a unit, like 15s or 15m"),
    ("escalation_order", 16, "escalation.P0[1].after: must be later than step 0"),
    ("unknown_field", 20, "checks[0].retries: unknown field (known: dashboard, down_after, expect, flapping, headers, "
     "latency, method, name, runbook, severity, timeout, title, up_after, uptime, url)"),
    ("unknown_field_typo", 19, "checks[0].timout: unknown field, did you mean 'timeout'?"),
    ("bad_severity_key", 11, "routing.P5: 'P5' is not one of P0, P1, P2, P3"),
    ("bad_severity_value", 22, "checks[0].severity: 'critical' is not one of P0, P1, P2, P3"),
    ("duplicate_check", 24, "checks[1].name: 'api' is also checks[0]"),
    ("duplicate_rule", 29, "rules[1].name: 'HighErrorRate' is also rules[0]"),
    ("duplicate_key", 20, "checks[0].timeout: duplicate key (first at line 19); YAML would keep only the last one"),
    ("bad_yaml", None, "line 7, column 1: not valid YAML (expected ',' or '}', but got '<scalar>')"),
    ("phone_missing_for_sms", 8, "routing.P0.sms[0]: person 'eng_lead' has no phone"),
    ("bad_phone", 6, "people.cto.phone: '555-0002' is not an E.164 phone number like +15550000001"),
    ("bad_email", 5, "people.eng_lead.email: 'Eng Lead <eng-lead>' is not an e-mail address like oncall@example.com"),
    ("latency_tier_order", 23,
     "checks[0].latency.above.P0: 2s must be above P1's 3s: the more urgent tier needs the worse value"),
    ("rule_tier_order", 29,
     "rules[0].above.P0: 0.005 must be above P1's 0.01: the more urgent tier needs the worse value"),
    ("silence_bad_time", 29,
     "silences[0].starts: 'next monday 9am' is not an ISO 8601 time like 2026-03-02T09:00:00Z"),
    ("silence_ends_before_start", 29, "silences[0].ends: '2026-03-02T08:00:00Z' is not after starts "
     "'2026-03-02T09:00:00Z': the silence can match nothing"),
    ("silence_matches_nothing", 29,
     "silences[0].key: 'check:apii' can match nothing: there is no check 'apii' (the checks are: api)"),
]


@pytest.mark.parametrize(("name", "line", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_config_error_is_reported_with_its_exact_place_and_line(
    name: str, line: int | None, message: str
) -> None:
    path = FIXTURES / f"{name}.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [message]
    assert info.value.report() == [f"{path}:{line}: {message}" if line else f"{path}: {message}"]


def test_every_config_fixture_but_the_valid_one_has_its_row() -> None:
    rows = {name for name, _, _ in ERRORS} | {"valid", "empty"}
    assert {p.stem for p in FIXTURES.glob("*.yaml")} == rows


def test_an_empty_file_says_the_unknown_people_come_from_the_default_routing() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(FIXTURES / "empty.yaml")
    problems = info.value.problems
    assert problems[0] == ("routing.P0.sms[0]: unknown person 'oncall' (from the default routing: "
                           "add these people, or write your own `routing:`)")
    assert all("from the default routing" in p for p in problems) and len(problems) == 7


def test_every_problem_is_reported_at_once() -> None:
    text = (FIXTURES / "valid.yaml").read_text()
    text = text.replace("timeout: 10s", "timout: 10s").replace("severity: P0", "severity: critical")
    with pytest.raises(ConfigError) as info:
        parse_yaml_text(text)
    assert [p.split(":")[0] for p in info.value.problems] == ["checks[0].severity", "checks[0].timout"]


def parse_yaml_text(text: str) -> object:
    from lib.config import parse_config
    from lib.config_errors import read_yaml

    data, lines = read_yaml(text, "inline.yaml")
    return parse_config(data, "inline.yaml", lines)


def test_a_silence_that_would_crash_a_cron_fails_the_load_not_the_run() -> None:
    """issue 11.2: `starts: "next monday 9am"` passed validation and crashed the first firing signal."""
    with pytest.raises(ConfigError, match="next monday 9am"):
        load_config(FIXTURES / "silence_bad_time.yaml")


def test_bare_numbers_are_seconds_only_for_code_not_for_the_file() -> None:
    from lib.config import Check

    assert Check(name="api", url="https://x.test", timeout=30).timeout == 30.0  # Python callers pass seconds


def test_a_bad_value_never_echoes_credentials() -> None:
    text = (FIXTURES / "valid.yaml").read_text().replace(
        "url: https://api.example.com/api/v1/health", "url: htps://user:hunter2@api.example.com/?token=abc123")
    with pytest.raises(ConfigError) as info:
        parse_yaml_text(text)
    assert "hunter2" not in str(info.value) and "abc123" not in str(info.value)
    assert info.value.problems[0].startswith("checks[0].url: String should match pattern")


def test_validate_script_prints_each_problem_prefixed_by_the_file_and_line_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = FIXTURES / "unknown_person.yaml"
    assert validate([str(path)]) == 1
    assert capsys.readouterr().out == f"{path}:8: routing.P0.sms[0]: unknown person 'ctoo'\n"


def test_validate_script_counts_people_checks_and_rules_of_a_valid_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert validate([str(FIXTURES / "valid.yaml"), "--no-snapshot"]) == 0
    assert capsys.readouterr().out == "ok: 3 people, 1 checks, 0 rules\n"


def test_the_shipped_monitoring_yaml_is_valid() -> None:
    shipped = ROOT / "monitoring.yaml"
    cfg = load_config(shipped if shipped.exists() else FIXTURES / "valid.yaml")
    assert cfg.people and cfg.checks


@pytest.mark.parametrize("flags", [[], ["-s"]])
def test_make_validate_prints_the_report_and_fails_or_says_ok_with_nothing_from_make(
    flags: list[str],
) -> None:
    import subprocess

    # As a person types it, not as a sub-make of `make test` (which prints "Entering directory").
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}

    def make_validate(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", *flags, "validate", f"ARGS={FIXTURES / name}"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    bad = make_validate("unknown_person.yaml")
    assert bad.returncode != 0
    assert bad.stdout == f"{FIXTURES / 'unknown_person.yaml'}:8: routing.P0.sms[0]: unknown person 'ctoo'\n"
    assert "***" not in bad.stderr and "Error" not in bad.stderr, bad.stderr
    good = make_validate("valid.yaml --no-snapshot")
    assert (good.returncode, good.stdout, good.stderr) == (0, "ok: 3 people, 1 checks, 0 rules\n", "")
