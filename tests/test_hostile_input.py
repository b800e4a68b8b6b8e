"""No input of any route gives a 500: hostile query strings, headers and bodies over
every api/ file, unsigned and (where a route verifies a signature) correctly signed.
JSON is bounded everywhere it is read from a request (lib/safejson.py): 400."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

import pytest

from lib import safejson
from lib.store import Store
from tests.support.world import SECRETS, Dispatcher, world

ROOT = Path(__file__).resolve().parent.parent
ROUTES = sorted("/" + str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "api").rglob("*.py")
                if not any(part.startswith(("_", ".")) for part in p.parts))
DEEP = b"[" * 100_000 + b"]" * 100_000
BIG_INT = b'{"a": ' + b"9" * 5000 + b"}"

QUERIES = [
    ("superscript digit", "?i=1&e=%C2%B2&s=x"),
    ("5000-digit expiry", "?i=1&e=" + "9" * 5000 + "&s=x"),
    ("arabic digits", "?i=%D9%A1&e=%D9%A1%D9%A2&s=%D9%A3&days=%D9%A1"),
    ("nan days", "?days=nan&format=html&token=%00"),
    ("huge days", "?days=1e999&format=json"),
    ("broken escapes", "?%zz=%&e=%ff%fe&a=%00&u=%C0%AF&token=%FF"),
]
HEADERS = [
    ("none", {}),
    ("superscript timestamps", {"X-Slack-Request-Timestamp": "\u00b2", "X-Slack-Signature": "v0=00",
                                "Sentry-Hook-Timestamp": "\u00b2", "Sentry-Hook-Signature": "00",
                                "Sentry-Hook-Resource": "issue", "x-vercel-signature": "00"}),
    ("5000-digit timestamps", {"X-Slack-Request-Timestamp": "9" * 5000, "Sentry-Hook-Timestamp": "9" * 5000,
                               "X-Slack-Signature": "v0=00", "Sentry-Hook-Signature": "00"}),
    ("latin-1 bearer", {"Authorization": "Bearer \u00ff\u00fe", "Accept": "text/html\u00ff"}),
    ("bad content length", {"Content-Length": "\u00b2"}),
]
BODIES = [
    ("empty", b""),
    ("deep", DEEP),
    ("big int", BIG_INT),
    ("nan", b'{"a": NaN}'),
    ("not utf-8", b"\xff\xfe{"),
    ("form", b"payload=" + quote(DEEP.decode()[:20000]).encode()),
]


def raw_call(method: str, path: str, query: str, headers: dict[str, str], body: bytes = b"") -> int:
    """One request straight into the WSGI apps, header values as any server passes them
    (PEP 3333: latin-1 strings), which httpx's WSGI transport cannot send."""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query.lstrip("?"),
        "SERVER_NAME": "vigil.test", "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "https",
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "203.0.113.9",
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    status: list[str] = []
    b"".join(Dispatcher()(environ, lambda s, h, exc_info=None: status.append(s)))
    return int(status[0].split()[0])


@pytest.mark.parametrize(("case", "query"), QUERIES, ids=[q[0] for q in QUERIES])
@pytest.mark.parametrize(("hcase", "headers"), HEADERS, ids=[h[0] for h in HEADERS])
def test_no_route_answers_500_to_a_hostile_query_or_header(redis_store: Store, case: str, query: str,
                                                           hcase: str, headers: dict[str, str]) -> None:
    with world(redis_store) as w:
        for route in ROUTES:
            for method in ("GET", "POST"):
                status = raw_call(method, route, query, headers)
                assert status < 500, (method, route, status)
        assert w.slack.requests == [] and w.twilio.requests == []


@pytest.mark.parametrize(("case", "body"), BODIES, ids=[b[0] for b in BODIES])
def test_no_route_answers_500_to_a_hostile_body(redis_store: Store, case: str, body: bytes) -> None:
    with world(redis_store) as w:
        for route in ROUTES:
            for ctype in ("application/json", "application/x-www-form-urlencoded"):
                r = w.http.post(route, content=body, headers={"Content-Type": ctype})
                assert r.status_code < 500, (route, ctype, r.status_code, r.text[:200])


def slack_signed(body: bytes, ts: int) -> dict[str, str]:
    sig = "v0=" + hmac.new(SECRETS["SLACK_SIGNING_SECRET"].encode(), f"v0:{ts}:".encode() + body,
                           hashlib.sha256).hexdigest()
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sig}


def _signed(route: str, body: bytes, now: float) -> tuple[bytes, dict[str, str]]:
    """The body as the route's vendor would sign and send it."""
    if route == "/api/slack/actions":
        form = b"payload=" + quote(body.decode("latin-1"), safe="").encode()
        return form, slack_signed(form, int(now))
    if route == "/api/webhooks/sentry":
        sig = hmac.new(SECRETS["SENTRY_CLIENT_SECRET"].encode(), body, hashlib.sha256).hexdigest()
        return body, {"Content-Type": "application/json", "Sentry-Hook-Resource": "issue",
                      "Sentry-Hook-Signature": sig, "Sentry-Hook-Timestamp": str(int(now)),
                      "Request-ID": hashlib.md5(body).hexdigest()}
    if route == "/api/webhooks/vercel":
        sig = hmac.new(SECRETS["VERCEL_WEBHOOK_SECRET"].encode(), body, hashlib.sha1).hexdigest()
        return body, {"Content-Type": "application/json", "x-vercel-signature": sig}
    return body, {"Content-Type": "application/json", "Authorization": f"Bearer {SECRETS['ALERTS_TOKEN']}"}


SIGNED_ROUTES = ["/api/slack/actions", "/api/webhooks/sentry", "/api/webhooks/vercel", "/api/webhooks/alerts"]
SIGNED_BODIES = [
    ("nested 100,000 deep", DEEP, "nested deeper than 64 levels"),
    ("5000-digit integer", BIG_INT, "holds a number longer than 40 characters"),
    ("50-digit integer in an action", b'{"type":"block_actions","actions":[{"action_id":"ack","value":'
     + b"1" * 50 + b'}],"alerts":[],"data":{},"action":"created"}', "holds a number longer than 40 characters"),
    ("NaN", b'{"type":"block_actions","x":NaN}', "holds NaN, which is not a JSON number"),
    ("Infinity", b'{"x":-Infinity}', "holds -Infinity, which is not a JSON number"),
]


@pytest.mark.parametrize(("case", "body", "reason"), SIGNED_BODIES, ids=[b[0] for b in SIGNED_BODIES])
@pytest.mark.parametrize("route", SIGNED_ROUTES)
def test_a_signed_body_too_deep_or_with_a_huge_number_is_400(redis_store: Store, route: str, case: str,
                                                              body: bytes, reason: str) -> None:
    with world(redis_store) as w:
        content, headers = _signed(route, body, w.now)
        r = w.http.post(route, content=content, headers=headers)
        assert r.status_code == 400, r.text[:300]
        assert reason in r.json()["error"]
        assert w.archive() == [] and w.slack.requests == []


def test_json_bounds_keep_what_vendors_send() -> None:
    sixty_four = "[" * 64 + "]" * 64
    assert safejson.depth_of(safejson.loads(sixty_four)) == 64
    assert safejson.loads(b'{"id": 18446744073709551615, "t": 1.7976931348623157e+308}')["id"] == 2**64 - 1
    for fixture in sorted((ROOT / "tests" / "fixtures").rglob("*.json")):
        assert safejson.loads(fixture.read_bytes()) == json.loads(fixture.read_bytes()), fixture
