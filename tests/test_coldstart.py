"""What a cold start imports before its first answer. Sentry unsubscribes a webhook
after 1,000 timeouts a day and webhooks are rarely warm: every module on this path is
paid, compiled from source, before Sentry's second runs out (figures:
`make bench ARGS="--only coldstart"`). Each case is a fresh interpreter, configured as
a deployment is (Upstash, a Sentry DSN), answering one request; then what it imported."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from lib import clock
from lib.store.redis_backend import RedisStore
from tests.support.redis_server import RedisServer
from tests.support.upstash_bridge import UpstashBridge
from tests.support.vercel_runtime import ROOT

SECRET = "coldstart-secret"

# Runs in a fresh interpreter: one request, then its answer and what got imported by then.
_FIRST_ANSWER = """
import importlib, io, json, sys
req = json.loads(sys.argv[1])
app = importlib.import_module(req["module"]).app
body = req["body"].encode()
environ = {"REQUEST_METHOD": req["method"], "PATH_INFO": req["path"], "QUERY_STRING": req["query"],
           "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
           **req["headers"]}
status = []
answer = b"".join(app(environ, lambda s, h, exc=None: status.append(s)))
print(json.dumps({"status": status[0], "answer": answer.decode(), "modules": sorted(sys.modules)}))
"""

# Heavy, or needed only after the answer: none of these may load before it, on any route below.
OFF_THE_PATH = [
    "sentry_sdk",  # imported on the first event, not the first request (130 ms, 350 ms without .pyc)
    "supabase", "postgrest",  # the archive and report routes only
    "prometheus_client",  # /api/metrics and the rules cron
    "redis",  # redis-py: REDIS_URL only; a deployment's store is Upstash over httpx
    "smtplib",  # an e-mail delivery
    "lib.channels",  # every channel (email.py pulls in the email package), imported by the delivery that needs it
    "lib.incidents.messages",  # rendering: a delivery's
    "lib.archive", "lib.checks", "lib.rules", "lib.logs",
    # The shipped config is read from its snapshot (monitoring.validated.json): no validation, no YAML.
    "pydantic", "pydantic_core", "yaml", "lib.config_schema", "lib.config_checks",
]
# lib.config assembles the one Config from each feature's own config model (tests/test_layout.py).
CONFIG_MODELS = {"lib.checks", "lib.checks.config", "lib.rules", "lib.rules.config", "lib.rules.promql",
                 "lib.logs", "lib.logs.config"}
PARSERS = {"sentry": "lib.webhooks.sentry", "vercel": "lib.webhooks.vercel", "alerts": "lib.webhooks.alerts"}


def _signed_issue() -> tuple[str, dict[str, str]]:
    """Sentry's own bytes of an issue.created, signed with SECRET and stamped now."""
    vector = json.loads((Path(__file__).parent / "fixtures/sentry/signature_test_vector.json").read_text())
    body = vector["raw_body"]
    return body, {"HTTP_SENTRY_HOOK_RESOURCE": "issue", "HTTP_SENTRY_HOOK_TIMESTAMP": str(int(clock.now())),
                  "HTTP_SENTRY_HOOK_SIGNATURE": hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()}


def _request(case: str) -> dict[str, Any]:
    route = case.split()[0]
    req: dict[str, Any] = {"module": f"api.webhooks.{route}", "method": "POST", "path": f"/api/webhooks/{route}",
                           "query": "", "body": '{"action":"created","data":{}}', "headers": {}}
    if case == "sentry signed":
        req["body"], req["headers"] = _signed_issue()
    elif route == "sentry":
        req["headers"] = {"HTTP_SENTRY_HOOK_RESOURCE": "issue", "HTTP_SENTRY_HOOK_SIGNATURE": "0" * 64}
    elif route == "vercel":
        req["headers"] = {"HTTP_X_VERCEL_SIGNATURE": "0" * 40}
    elif route == "alerts":
        req["headers"] = {"HTTP_AUTHORIZATION": "Bearer wrong"}
    elif route == "ack":
        req.update(module="api.ack", method="GET", path="/api/ack", query="i=1001&e=1&s=bad", body="")
    elif route == "health":
        req.update(module="api.v1.health", method="GET", path="/api/v1/health", body="")
    return req


CASES = {  # case -> the status it answers
    "sentry unsigned": "401 Unauthorized", "sentry signed": "200 OK", "vercel unsigned": "401 Unauthorized",
    "alerts unsigned": "401 Unauthorized", "ack forged": "403 Forbidden", "health": "200 OK",
}


@pytest.fixture(scope="module", params=list(CASES))
def first_answer(request: pytest.FixtureRequest, redis_server: RedisServer, upstash_bridge: UpstashBridge) -> dict:
    prefix = f"vigil-test-coldstart-{uuid.uuid4().hex[:8]}:"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MONITORING_CONFIG": str(ROOT / "monitoring.yaml"),
           "UPSTASH_REDIS_REST_URL": upstash_bridge.url, "UPSTASH_REDIS_REST_TOKEN": upstash_bridge.token,
           "VIGIL_KEY_PREFIX": prefix, "SENTRY_DSN": "http://public@127.0.0.1:9/1", "SENTRY_CLIENT_SECRET": SECRET}
    try:
        out = subprocess.run([sys.executable, "-c", _FIRST_ANSWER, json.dumps(_request(request.param))], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120)
    finally:
        RedisStore.from_url(redis_server.url, prefix=prefix).delete_prefix()
    assert out.returncode == 0, out.stderr
    return {"case": request.param, **json.loads(out.stdout.strip().splitlines()[-1])}


def test_a_cold_instance_answers(first_answer: dict) -> None:
    assert first_answer["status"] == CASES[first_answer["case"]], first_answer["answer"]
    if first_answer["case"] == "sentry signed":  # the answer a user waits for: the incident is open
        assert [d["reason"] for d in json.loads(first_answer["answer"])["decisions"]] == ["OPENED"]


def test_nothing_the_answer_does_not_need_is_imported_before_it(first_answer: dict) -> None:
    route = first_answer["case"].split()[0]
    off = [*OFF_THE_PATH, *(module for source, module in PARSERS.items() if source != route)]
    loaded = sorted(m for m in first_answer["modules"] if m not in CONFIG_MODELS
                    and any(m == o or m.startswith(o + ".") for o in off))
    assert loaded == [], f"imported before the first answer of {first_answer['case']}: {', '.join(loaded)}"


# The nouns and the environment every request builds: stdlib only (issue 15: the first
# pydantic model class alone costs a cold start ~100 ms).
_NOUNS = """
import json, sys
from lib.env import Env
from lib.models import Signal
env = Env.from_environ({"CRON_SECRET": "x" * 20, "REDIS_URL": "redis://127.0.0.1:6379"})
signal = Signal(key="k", severity="P1", group={"members": [{"id": "a", "starts": 1}]})
print(json.dumps({"store": env.describe_store(), "severity": signal.as_dict()["severity"],
                  "pydantic": sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core"))}))
"""


def test_the_models_and_the_environment_do_not_import_pydantic() -> None:
    out = subprocess.run([sys.executable, "-c", _NOUNS], cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"store": "redis (127.0.0.1:6379)", "severity": "P1", "pydantic": []}
