"""monitoring.yaml validation: one fixture per error, each with its exact message."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.config import ConfigError, load_config
from scripts.validate_config import main as validate

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "config"

ERRORS = [
    ("unknown_person", "routing.P0.sms[0]: unknown person 'ctoo'"),
    ("bad_duration", "checks[0].down_after: '2 minutes' is not a duration like 30s, 2m, 15m or 1h"),
    ("escalation_order", "escalation.P0[1].after: must be later than step 0"),
    ("unknown_field", "checks[0].retries: unknown field"),
    ("bad_severity_key", "routing.P5.[key]: Input should be 'P0', 'P1', 'P2' or 'P3'"),
    ("duplicate_check", "checks[1].name: 'api' is also checks[0]"),
    ("bad_yaml", "line 7, column 1: not valid YAML (expected ',' or '}', but got '<scalar>')"),
    ("phone_missing_for_sms", "routing.P0.sms[0]: person 'eng_lead' has no phone"),
]


@pytest.mark.parametrize(("name", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_config_error_is_reported_with_its_exact_place(name: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(FIXTURES / f"{name}.yaml")
    assert info.value.problems == [message]


def test_validate_script_prints_each_problem_prefixed_by_the_file_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = FIXTURES / "unknown_person.yaml"
    assert validate([str(path)]) == 1
    assert capsys.readouterr().out == f"{path}: routing.P0.sms[0]: unknown person 'ctoo'\n"


def test_validate_script_counts_people_checks_and_rules_of_a_valid_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert validate([str(FIXTURES / "valid.yaml")]) == 0
    assert capsys.readouterr().out == "ok: 3 people, 1 checks, 0 rules\n"


def test_the_shipped_monitoring_yaml_is_valid() -> None:
    shipped = ROOT / "monitoring.yaml"
    cfg = load_config(shipped if shipped.exists() else FIXTURES / "valid.yaml")
    assert cfg.people and cfg.checks
