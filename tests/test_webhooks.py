"""Sentry, Vercel and Alertmanager webhooks end to end: signed real payloads,
hostile input, dedup, deploy-aware incidents."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from lib.store import Store
from tests.support.world import SECRETS, World, world

FIX = Path(__file__).parent / "fixtures"
RESOURCE = {
    "comment": "comment", "error": "error", "event": "event_alert", "installation": "installation",
    "issue": "issue", "metric": "metric_alert",
}


def sentry_post(w: World, name: str, request_id: str | None = None, body: bytes | None = None,
                secret: str = SECRETS["SENTRY_CLIENT_SECRET"], resource: str | None = None):
    raw = body if body is not None else json.dumps(json.loads((FIX / "sentry" / name).read_text()),
                                                   separators=(",", ":")).encode()
    sig = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Sentry-Hook-Signature": sig,
               "Sentry-Hook-Resource": resource or RESOURCE[name.split("_")[0]],
               "Sentry-Hook-Timestamp": str(int(w.now)), "Request-ID": request_id or hashlib.md5(raw).hexdigest()}
    return w.http.post("/api/webhooks/sentry", content=raw, headers=headers)


def vercel_post(w: World, name: str, secret: str = SECRETS["VERCEL_WEBHOOK_SECRET"], **changes: object):
    data = json.loads((FIX / "vercel" / name).read_text())
    data.update({"createdAt": int(w.now * 1000), **changes})  # Vercel sends it as it delivers
    raw = json.dumps(data).encode()
    sig = hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()
    return w.http.post("/api/webhooks/vercel", content=raw,
                       headers={"Content-Type": "application/json", "x-vercel-signature": sig})


SENTRY_CASES = [
    ("issue_created.json", 200, "OPENED"),
    ("event_alert_triggered.json", 200, "OPENED"),
    ("event_alert_2020_auth_rule.json", 200, "OPENED"),
    ("metric_alert_critical.json", 200, "OPENED"),
    ("metric_alert_warning.json", 200, "OPENED"),
    ("metric_alert_resolved.json", 200, "NOT_OPEN"),
    ("issue_resolved.json", 200, "NOT_OPEN"),
    ("issue_ignored.json", 200, "NOT_OPEN"),
    ("issue_unresolved_regressed.json", 200, "OPENED"),
    ("error_created.json", 200, "BELOW_THRESHOLD"),
    ("issue_assigned.json", 202, None),
    ("comment_created.json", 202, None),
    ("installation_created.json", 202, None),
]


@pytest.mark.parametrize(("name", "status", "reason"), SENTRY_CASES, ids=[c[0] for c in SENTRY_CASES])
def test_every_sentry_fixture_signed_gets_2xx_and_the_right_change(redis_store: Store, name: str, status: int,
                                                                 reason: str | None) -> None:
    with world(redis_store) as w:
        r = sentry_post(w, name)
        assert r.status_code == status, r.text
        if reason:
            assert [d["reason"] for d in r.json()["decisions"]] == [reason]
        else:
            assert "ignored" in r.json()


VERCEL_CASES = [
    ("deployment_error_production.json", 200, "OPENED"),
    ("deployment_error_preview.json", 200, "OPENED"),
    ("deployment_succeeded_production.json", 200, "NOT_OPEN"),
    ("deployment_promoted_production.json", 200, "NOT_OPEN"),
    ("legacy_deployment_error.json", 200, "OPENED"),
    ("legacy_deployment_ready.json", 200, "NOT_OPEN"),
    ("deployment_canceled.json", 202, None),
    ("deployment_created.json", 202, None),
    ("legacy_deployment.json", 202, None),
    ("legacy_deployment_error_without_project.json", 202, None),
]


@pytest.mark.parametrize(("name", "status", "reason"), VERCEL_CASES, ids=[c[0] for c in VERCEL_CASES])
def test_every_vercel_fixture_signed_gets_2xx_and_the_right_change(redis_store: Store, name: str, status: int,
                                                                 reason: str | None) -> None:
    with world(redis_store) as w:
        r = vercel_post(w, name)
        assert r.status_code == status, r.text
        if reason:
            assert [d["reason"] for d in r.json()["decisions"]] == [reason]


HOSTILE = [
    ("tampered body", lambda raw, sig: (raw.replace(b"error", b"errur"), sig, "application/json"), 401),
    ("wrong secret", lambda raw, sig: (raw, "0" * len(sig), "application/json"), 401),
    ("missing header", lambda raw, sig: (raw, None, "application/json"), 401),
    ("empty body", lambda raw, sig: (b"", "sign", "application/json"), 400),
    ("non-JSON", lambda raw, sig: (b"<xml/>", "sign", "application/json"), 400),
    ("JSON array", lambda raw, sig: (b"[1,2]", "sign", "application/json"), 400),
    ("2 MB", lambda raw, sig: (b"{" + b" " * (2 * 1024 * 1024) + b"}", "sign", "application/json"), 413),
    ("wrong content type", lambda raw, sig: (raw, sig, "text/plain"), 200),
]


@pytest.mark.parametrize(("case", "mutate", "status"), HOSTILE, ids=[h[0] for h in HOSTILE])
@pytest.mark.parametrize("source", ["sentry", "vercel"])
def test_hostile_input_never_5xx_and_never_notifies(redis_store: Store, source: str, case: str, mutate, status: int) -> None:
    with world(redis_store) as w:
        if source == "sentry":
            raw = (FIX / "sentry" / "issue_created.json").read_bytes()
            secret, algo, header = SECRETS["SENTRY_CLIENT_SECRET"], hashlib.sha256, "Sentry-Hook-Signature"
        else:
            raw = (FIX / "vercel" / "deployment_error_production.json").read_bytes()
            raw = raw.replace(b"1769601676612", str(int(w.now * 1000)).encode())  # createdAt: delivered now
            secret, algo, header = SECRETS["VERCEL_WEBHOOK_SECRET"], hashlib.sha1, "x-vercel-signature"
        sig = hmac.new(secret.encode(), raw, algo).hexdigest()
        body, signature, ctype = mutate(raw, sig)
        if signature == "sign":
            signature = hmac.new(secret.encode(), body, algo).hexdigest()
        headers = {"Content-Type": ctype, "Sentry-Hook-Resource": "issue", "Request-ID": "r-" + case,
                   "Sentry-Hook-Timestamp": str(int(w.now))}
        if signature:
            headers[header] = signature
        r = w.http.post(f"/api/webhooks/{source}", content=body, headers=headers)
        assert r.status_code == status and "error" in r.json() if status >= 400 else r.status_code == status
        if status >= 400:
            assert w.slack.requests == [] and w.twilio.requests == [] and w.smtp.messages == []
            assert w.archive() == []


def test_unknown_sentry_resource_is_ignored(redis_store: Store) -> None:
    with world(redis_store) as w:
        r = sentry_post(w, "issue_created.json", resource="seer")
        assert r.status_code == 202 and w.slack.requests == []


def test_unset_secret_is_401(redis_store: Store) -> None:
    with world(redis_store, extra_env={"SENTRY_CLIENT_SECRET": ""}) as w:
        assert sentry_post(w, "issue_created.json").status_code == 401


def test_the_same_delivery_twice_notifies_once(redis_store: Store) -> None:
    with world(redis_store) as w:
        assert sentry_post(w, "issue_created.json", request_id="a" * 32).json()["decisions"][0]["reason"] == "OPENED"
        assert sentry_post(w, "issue_created.json", request_id="a" * 32).json()["decisions"][0]["reason"] == "DUPLICATE"
        assert len(w.slack.posts) == 1


def test_metric_alert_critical_then_resolved_opens_then_resolves(redis_store: Store) -> None:
    with world(redis_store) as w:
        opened = sentry_post(w, "metric_alert_critical.json").json()["decisions"][0]
        assert opened["reason"] == "OPENED" and opened["severity"] == "P1"
        w.advance(300)
        resolved = sentry_post(w, "metric_alert_resolved.json").json()["decisions"][0]
        assert resolved["reason"] == "RESOLVED" and resolved["incident"] == opened["incident"]
        assert w.slack.posts[0]["text"].startswith("<!here> [P1]")


def test_more_than_ten_errors_a_minute_is_an_error_spike(redis_store: Store) -> None:
    with world(redis_store) as w:
        error = json.loads((FIX / "sentry" / "error_created.json").read_text())

        def one(i: int) -> bytes:  # each error its own event, as Sentry sends them
            error["data"]["error"]["event_id"] = f"{i:032x}"
            return json.dumps(error, separators=(",", ":")).encode()

        reasons = [sentry_post(w, "error_created.json", body=one(i)).json()["decisions"][0]["reason"]
                   for i in range(11)]
        assert reasons[:10] == ["BELOW_THRESHOLD"] * 10 and reasons[10] == "OPENED"
        assert "<!here> [P1] Error rate spike" in w.slack.posts[0]["text"]


def test_failed_production_deploy_pages_p1_and_the_next_success_resolves(redis_store: Store) -> None:
    with world(redis_store) as w:
        r = vercel_post(w, "deployment_error_production.json")
        d = r.json()["decisions"][0]
        assert d["reason"] == "OPENED" and d["severity"] == "P1"
        assert w.slack.posts[0]["text"].startswith("<!here> [P1]")
        assert len(w.smtp.messages) == 2 and w.twilio.requests == []
        w.advance(600)
        r = vercel_post(w, "deployment_succeeded_production.json", id="evt_success_2")
        assert r.json()["decisions"][0]["reason"] == "RESOLVED"


def test_incidents_opening_soon_after_a_production_deploy_say_so(redis_store: Store) -> None:
    with world(redis_store) as w:
        vercel_post(w, "deployment_succeeded_production.json", createdAt=int(w.now * 1000))
        w.advance(4 * 60)
        w.alert(key="checkout", severity="P2", title="Checkout errors")
        text = json.dumps(w.slack.posts[-1])
        assert "deployed 4m ago" in text
        mail = w.smtp.messages[-1].get_body(("plain",)).get_content()
        assert "deployed 4m ago" in mail
        w.advance(31 * 60)
        w.alert(key="later", severity="P3", title="Later")
        assert "deployed" not in json.dumps(w.slack.posts[-1])


def test_alertmanager_v4_payload_fires_and_resolves_per_alert(redis_store: Store) -> None:
    with world(redis_store) as w:
        raw = (FIX / "alertmanager" / "v4_mixed_fingerprints.json").read_text()
        r = w.http.post("/api/webhooks/alerts", content=raw,
                        headers={"Authorization": f"Bearer {SECRETS['ALERTS_TOKEN']}", "Content-Type": "application/json"})
        assert r.status_code == 200 and all(d["reason"] in ("OPENED", "NOT_OPEN") for d in r.json()["decisions"])
        assert len(r.json()["decisions"]) >= 1


def test_webhook_outcomes_are_counted_for_api_metrics(redis_store: Store) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    with world(redis_store) as w:
        sentry_post(w, "issue_created.json")
        sentry_post(w, "comment_created.json")
        sentry_post(w, "issue_created.json", secret="wrong")
        vercel_post(w, "deployment_canceled.json")
        body = w.http.get("/api/metrics", headers={"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"}).text
        counts = {
            (s.labels["source"], s.labels["outcome"]): s.value
            for fam in text_string_to_metric_families(body) if fam.name.startswith("vigil_webhooks")
            for s in fam.samples if s.name.endswith("_total")
        }
        assert counts == {("sentry", "accepted"): 1, ("sentry", "ignored"): 1, ("sentry", "unauthorized"): 1,
                          ("vercel", "ignored"): 1}


def test_an_accepted_webhook_costs_one_round_trip_before_delivery(redis_store: Store) -> None:
    with world(redis_store) as w:
        sentry_post(w, "comment_created.json")  # warm: the server learns the script
        before = redis_store.round_trips
        sentry_post(w, "metric_alert_warning.json")
        # apply (with the counter) + recording the deliveries
        assert redis_store.round_trips - before == 2
