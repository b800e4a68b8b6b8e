"""Strangers' input on the ack and Slack routes: a clear 4xx, never a 5xx, nothing changed."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from lib.store import Store
from tests.support.world import SECRETS, world

ACK_CASES = [
    ("no params", "", 403),
    ("garbage", "?i=1&e=abc&s=zz", 403),
    ("unknown action", "?i=1&e=9999999999&s=00&a=delete", 403),
    ("huge incident", "?i=" + "9" * 5000 + "&e=1&s=1", 403),
    ("non-utf8", "?i=%ff%fe&e=1&s=%00", 403),
]


@pytest.mark.parametrize(("case", "query", "status"), ACK_CASES, ids=[c[0] for c in ACK_CASES])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_ack_links(redis_store: Store, case: str, query: str, status: int, method: str) -> None:
    with world(redis_store) as w:
        r = w.http.request(method, "/api/ack" + query)
        assert r.status_code == status and "cannot be used" in r.text
        assert w.archive() == []


def test_ack_post_with_a_non_utf8_form_is_400(redis_store: Store) -> None:
    with world(redis_store) as w:
        r = w.http.post("/api/ack", content=b"\xff\xfe=\x00", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 400


def signed(body: bytes, ts: int) -> dict[str, str]:
    sig = "v0=" + hmac.new(SECRETS["SLACK_SIGNING_SECRET"].encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sig}


SLACK_BODIES = [
    ("no payload field", b"foo=bar", 400),
    ("payload not JSON", b"payload=%7Bnope", 400),
    ("payload a list", b"payload=%5B1%5D", 400),
    ("empty body", b"", 400),
    ("other interaction", b"payload=%7B%22type%22%3A%22view_submission%22%7D", 200),
    ("actions not a list", b"payload=%7B%22type%22%3A%22block_actions%22%2C%22actions%22%3A5%7D", 200),
    ("value not an id", b"payload=%7B%22type%22%3A%22block_actions%22%2C%22actions%22%3A%5B%7B%22action_id%22%3A%22ack%22%2C%22value%22%3A%22x%22%7D%5D%7D", 200),
]


@pytest.mark.parametrize(("case", "body", "status"), SLACK_BODIES, ids=[c[0] for c in SLACK_BODIES])
def test_signed_but_malformed_slack_payloads(redis_store: Store, case: str, body: bytes, status: int) -> None:
    with world(redis_store) as w:
        r = w.http.post("/api/slack/actions", content=body, headers=signed(body, int(w.now)))
        assert r.status_code == status
        assert w.archive() == [] and w.slack.requests == []


def test_unsigned_slack_request_is_401(redis_store: Store) -> None:
    with world(redis_store) as w:
        r = w.http.post("/api/slack/actions", content=b"payload=%7B%7D",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 401


def test_slack_with_the_fixture_form_body_verifies_against_the_official_vector() -> None:
    import json
    from pathlib import Path

    from lib.signing import verify_slack

    vector = json.loads((Path(__file__).parent / "fixtures/slack/signature_test_vector.json").read_text())
    body, secret = vector["raw_body"], vector["signing_secret"]
    headers = {k.lower(): v for k, v in vector["headers"].items()}
    ts, expected = headers["x-slack-request-timestamp"], headers["x-slack-signature"]
    assert verify_slack(secret, ts, expected, body.encode(), float(ts))
    assert not verify_slack(secret, ts, expected, body.encode() + b" ", float(ts))
    assert not verify_slack(secret, ts, expected, body.encode(), float(ts) + 301)


def test_slacks_real_block_actions_body_signed_is_accepted_and_changes_nothing(redis_store: Store) -> None:
    from pathlib import Path

    body = (Path(__file__).parent / "fixtures/slack/block_actions_form_body.txt").read_bytes().strip()
    with world(redis_store) as w:
        r = w.http.post("/api/slack/actions", content=body, headers=signed(body, int(w.now)))
        assert r.status_code == 200 and r.json()["results"] == [{"action": "a", "ignored": "no incident id"}]
        assert w.archive() == []
