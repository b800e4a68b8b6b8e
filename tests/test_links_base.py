"""Where the links in messages point. Vercel's default Standard Deployment Protection
puts every deployment URL ($VERCEL_URL) behind a Vercel login, not the production
domain: an ack link on the deployment URL opens a login page on the on-call's phone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from lib import runtime
from lib.config import load_config
from lib.env import Env
from lib.store import Store

CONFIG = Path(__file__).parent / "fixtures" / "config" / "valid.yaml"
DEPLOYMENT = "vigil-3kd9x2a1b-acme.vercel.app"
PRODUCTION = "vigil-acme.vercel.app"


@pytest.mark.parametrize(("environ", "base"), [
    ({"VERCEL_URL": DEPLOYMENT, "VERCEL_PROJECT_PRODUCTION_URL": PRODUCTION}, f"https://{PRODUCTION}"),
    ({"VERCEL_URL": DEPLOYMENT, "VERCEL_PROJECT_PRODUCTION_URL": PRODUCTION,
      "PUBLIC_BASE_URL": "https://alerts.acme.com/"}, "https://alerts.acme.com"),
    ({"VERCEL_URL": DEPLOYMENT}, f"https://{DEPLOYMENT}"),
    ({}, "http://localhost:3000"),
], ids=["production-domain-by-default", "public-base-url-wins", "deployment-url-last", "local"])
def test_links_default_to_the_production_domain(environ: dict[str, str], base: str) -> None:
    assert Env.from_environ(environ).public_base_url == base


def _health(store: Store, environ: dict[str, str]) -> dict:
    runtime.install(runtime.Runtime(env=Env.from_environ(environ), config=load_config(CONFIG), store=store))
    try:
        from api.v1.health import app

        http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t")
        r = http.get("/api/v1/health")
        assert r.status_code == 200, r.text
        return r.json()
    finally:
        runtime.install(None)


def test_health_warns_when_links_point_at_a_deployment_url(redis_store: Store) -> None:
    body = _health(redis_store, {"VERCEL_URL": DEPLOYMENT})
    assert len(body["warnings"]) == 1 and DEPLOYMENT in body["warnings"][0]
    assert "PUBLIC_BASE_URL" in body["warnings"][0]
    assert body["status"] == "healthy"  # Vigil works; its links may not open for a person


@pytest.mark.parametrize("environ", [
    {"VERCEL_URL": DEPLOYMENT, "VERCEL_PROJECT_PRODUCTION_URL": PRODUCTION},
    {"VERCEL_URL": DEPLOYMENT, "PUBLIC_BASE_URL": "https://alerts.acme.com"},
], ids=["production-domain", "custom-domain"])
def test_health_has_no_warning_when_links_use_a_public_domain(redis_store: Store, environ: dict[str, str]) -> None:
    assert "warnings" not in _health(redis_store, environ)
