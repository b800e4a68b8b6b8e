"""What a webhook's cold start imports before its first answer. Sentry unsubscribes a
webhook after 1,000 timeouts a day and webhooks are rarely warm: every module on this
path is paid, compiled from source, before Sentry's second runs out (figures:
`make bench --only coldstart`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lib.store.redis_backend import RedisStore
from tests.support.redis_server import RedisServer
from tests.support.vercel_runtime import ROOT

# Runs in a fresh interpreter: one unsigned Sentry delivery, then what got imported.
_FIRST_ANSWER = """
import importlib, io, json, sys
app = importlib.import_module("api.webhooks.sentry").app
body = b'{"action":"created","data":{}}'
environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/webhooks/sentry", "QUERY_STRING": "",
           "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
           "HTTP_SENTRY_HOOK_RESOURCE": "issue", "HTTP_SENTRY_HOOK_SIGNATURE": "0" * 64}
status = []
b"".join(app(environ, lambda s, h, exc=None: status.append(s)))
print(json.dumps({"status": status[0], "modules": sorted(sys.modules)}))
"""

# Heavy or unrelated to a webhook: none of these may load before its first answer.
OFF_THE_WEBHOOK_PATH = [
    "sentry_sdk",  # imported on the first event, not the first request (130 ms, 350 ms without .pyc)
    "supabase", "postgrest",  # the archive and report routes only
    "prometheus_client",  # /api/metrics and the rules cron
    "lib.archive", "lib.rules.scrape", "lib.checks.probe", "lib.checks.status_page",
]


@pytest.fixture(scope="module")
def first_answer(redis_server: RedisServer) -> dict:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MONITORING_CONFIG": str(ROOT / "monitoring.yaml"),
           "REDIS_URL": redis_server.url, "VIGIL_KEY_PREFIX": "vigil-test-coldstart:",
           "SENTRY_DSN": "http://public@127.0.0.1:9/1", "SENTRY_CLIENT_SECRET": "coldstart-secret"}
    out = subprocess.run([sys.executable, "-c", _FIRST_ANSWER], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    RedisStore.from_url(redis_server.url, prefix="vigil-test-coldstart:").delete_prefix()
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_unsigned_sentry_delivery_is_refused_on_a_cold_instance(first_answer: dict) -> None:
    assert first_answer["status"] == "401 Unauthorized"


@pytest.mark.parametrize("module", OFF_THE_WEBHOOK_PATH)
def test_the_webhook_path_does_not_import(first_answer: dict, module: str) -> None:
    loaded = [m for m in first_answer["modules"] if m == module or m.startswith(module + ".")]
    assert not loaded, f"{module} is imported before the Sentry webhook's first answer"


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
