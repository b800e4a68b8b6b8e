"""A check URL's user:password becomes Basic auth in httpx and silently replaces a
configured Authorization header: the combination is refused at load, at its place."""

from __future__ import annotations

import pytest

from lib.config import ConfigError, parse_config
from tests.support.world import PEOPLE


def _checks(*checks: dict[str, object]) -> dict[str, object]:
    return {"people": PEOPLE, "checks": list(checks)}


@pytest.mark.parametrize("header", ["Authorization", "authorization", "AUTHORIZATION"])
def test_url_credentials_and_an_authorization_header_are_refused_at_load(header: str) -> None:
    ok = {"name": "ok", "url": "https://api.example.com/health"}
    both = {"name": "api", "url": "https://bot:s3cr3t-pw@api.example.com/health",
            "headers": {header: "Bearer ${API_TOKEN}"}}
    with pytest.raises(ConfigError) as info:
        parse_config(_checks(ok, both))
    assert info.value.problems == [
        "checks[1].headers: the url's user:password would replace the Authorization header; keep one of them"
    ]
    assert "s3cr3t-pw" not in str(info.value)


def test_either_one_alone_is_fine() -> None:
    cfg = parse_config(_checks(
        {"name": "basic", "url": "https://bot:pw@api.example.com/health", "headers": {"X-Trace": "1"}},
        {"name": "bearer", "url": "https://api.example.com/health", "headers": {"Authorization": "Bearer t"}},
    ))
    assert [c.name for c in cfg.checks] == ["basic", "bearer"]
