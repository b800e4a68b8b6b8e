"""Replayed webhooks change nothing. Sentry signs neither `Sentry-Hook-Timestamp` nor
`Request-ID`: the timestamp is required and must be fresh by Vigil's clock, and a
delivery is known by a digest of its signed body, so a replay with new headers is a
DUPLICATE. Vercel signs `createdAt`: a delivery older than 24 h (when its seen key
expires) is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

import httpx

from lib.store import Store
from tests.support.world import SECRETS, World, world

FIX = Path(__file__).parent / "fixtures"


def recorded(name: str) -> bytes:
    return json.dumps(json.loads((FIX / "sentry" / name).read_text()), separators=(",", ":")).encode()


def sentry_deliver(w: World, raw: bytes, timestamp: float | None, request_id: str | None = None) -> httpx.Response:
    """What Sentry (or someone replaying what it sent) posts: signed body, unsigned headers."""
    sig = hmac.new(SECRETS["SENTRY_CLIENT_SECRET"].encode(), raw, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Sentry-Hook-Resource": "issue", "Sentry-Hook-Signature": sig,
               "Request-ID": request_id or uuid.uuid4().hex}
    if timestamp is not None:
        headers["Sentry-Hook-Timestamp"] = str(int(timestamp))
    return w.http.post("/api/webhooks/sentry", content=raw, headers=headers)


def reasons(r: httpx.Response) -> list[str]:
    return [d["reason"] for d in r.json()["decisions"]]


def test_a_sentry_delivery_without_a_timestamp_or_a_stale_one_is_refused(redis_store: Store) -> None:
    with world(redis_store) as w:
        raw = recorded("issue_created.json")
        assert sentry_deliver(w, raw, None).status_code == 401
        assert sentry_deliver(w, raw, w.now - 301).status_code == 401
        assert sentry_deliver(w, raw, w.now + 301).status_code == 401
        assert w.slack.requests == [] and w.archive() == []
        assert reasons(sentry_deliver(w, raw, w.now - 299)) == ["OPENED"]


def test_a_replayed_sentry_resolve_with_new_headers_resolves_nothing(redis_store: Store) -> None:
    with world(redis_store) as w:
        assert reasons(sentry_deliver(w, recorded("issue_created.json"), w.now)) == ["OPENED"]
        resolve = recorded("issue_resolved.json")
        assert reasons(sentry_deliver(w, resolve, w.now)) == ["RESOLVED"]
        w.advance(120)
        assert reasons(sentry_deliver(w, recorded("issue_unresolved_regressed.json"), w.now)) == ["OPENED"]
        w.advance(60)
        # The recorded resolve again, a fresh timestamp and a new Request-ID forged onto it.
        replay = sentry_deliver(w, resolve, w.now, request_id=uuid.uuid4().hex)
        assert replay.status_code == 200 and reasons(replay) == ["DUPLICATE"]
        assert len(redis_store.call("ZRANGE", redis_store.key("open"), 0, -1)) == 1  # still open
        assert [e["type"] for e in w.archive()].count("resolved") == 1


def test_sentrys_freshness_window_moves_with_vigils_clock(redis_store: Store) -> None:
    with world(redis_store) as w:
        w.advance(3 * 86400)  # a fake clock three days ahead of the wall clock
        raw = recorded("issue_created.json")
        assert sentry_deliver(w, raw, time.time()).status_code == 401
        assert reasons(sentry_deliver(w, raw, w.now)) == ["OPENED"]


def vercel_deliver(w: World, data: dict[str, object]) -> httpx.Response:
    raw = json.dumps(data).encode()
    sig = hmac.new(SECRETS["VERCEL_WEBHOOK_SECRET"].encode(), raw, hashlib.sha1).hexdigest()
    return w.http.post("/api/webhooks/vercel", content=raw,
                       headers={"Content-Type": "application/json", "x-vercel-signature": sig})


def test_a_vercel_delivery_older_than_its_seen_key_is_refused(redis_store: Store) -> None:
    with world(redis_store) as w:
        failed = json.loads((FIX / "vercel" / "deployment_error_production.json").read_text())
        fixed = json.loads((FIX / "vercel" / "deployment_succeeded_production.json").read_text())
        failed["createdAt"], fixed["createdAt"] = int(w.now * 1000), int((w.now + 60) * 1000)
        assert reasons(vercel_deliver(w, failed)) == ["OPENED"]
        w.advance(60)
        assert reasons(vercel_deliver(w, fixed)) == ["RESOLVED"]
        w.advance(3600)
        assert reasons(vercel_deliver(w, failed)) == ["DUPLICATE"]  # its seen key holds for 24 h
        w.advance(86400)
        for key in redis_store.call("KEYS", redis_store.key("seen", "*")):
            redis_store.call("DEL", key)  # what Redis has done by now (its TTL runs on the wall clock)
        r = vercel_deliver(w, failed)
        assert r.status_code == 400 and "replay" in r.json()["error"]
        assert len(redis_store.call("ZRANGE", redis_store.key("open"), 0, -1)) == 0
        assert [p["text"] for p in w.slack.posts].count(w.slack.posts[0]["text"]) == 1  # paged once


def test_a_sentry_resolve_replayed_after_its_seen_key_expired_resolves_nothing(redis_store: Store) -> None:
    """Past 24 h the engine no longer remembers the delivery, and the timestamp can be
    forged; the body's own `lastSeen` cannot: a resolve that saw the issue last before
    the open incident's evidence is stale."""
    with world(redis_store) as w:
        sentry_deliver(w, recorded("issue_created.json"), w.now)
        resolve = recorded("issue_resolved.json")
        assert reasons(sentry_deliver(w, resolve, w.now)) == ["RESOLVED"]
        w.advance(3 * 86400)
        assert reasons(sentry_deliver(w, recorded("issue_unresolved_regressed.json"), w.now)) == ["OPENED"]
        for key in redis_store.call("KEYS", redis_store.key("seen", "*")):
            redis_store.call("DEL", key)  # what Redis has done by now
        replay = sentry_deliver(w, resolve, w.now)
        assert reasons(replay) == ["NOT_OPEN"] and "stale" in replay.json()["decisions"][0]["detail"]
        assert len(redis_store.call("ZRANGE", redis_store.key("open"), 0, -1)) == 1
        # Sentry's real resolve of the regression saw the issue last at or after it: it resolves.
        fresh = json.loads(resolve)
        fresh["data"]["issue"]["lastSeen"] = "2019-08-20T09:12:44.000000Z"
        assert reasons(sentry_deliver(w, json.dumps(fresh, separators=(",", ":")).encode(), w.now)) == ["RESOLVED"]
