"""Incidents end to end: the alerts API, real Redis, fake Slack/Twilio, a real SMTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from urllib.parse import urlencode

from lib.store import Store
from tests.support.world import SECRETS, World, default_config, world

P0 = {"key": "api-down", "severity": "P0", "title": "API is down", "summary": "health returns 503"}


def to(m) -> str:
    return m["To"].addresses[0].addr_spec


def ack_link(w: World) -> str:
    body = w.twilio.messages[0]["Body"]
    return re.search(r"https://vigil\.test/api/ack\?\S+", body).group(0)  # type: ignore[union-attr]


def slack_request(w: World, payload: dict, ts: int | None = None, secret: str = SECRETS["SLACK_SIGNING_SECRET"]):
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = int(w.now) if ts is None else ts
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return w.http.post("/api/slack/actions", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig})


def button(incident: str, action: str = "ack") -> dict:
    return {"type": "block_actions", "user": {"id": "U1", "username": "alice", "name": "alice"},
            "actions": [{"action_id": action, "value": incident, "type": "button"}]}


def test_one_p0_tells_each_channel_exactly_once(store: Store) -> None:
    with world(store) as w:
        r = w.alert(**P0)
        assert r.status_code == 200 and r.json()["decisions"][0]["reason"] == "OPENED"
        assert len(w.slack.posts) == 1 and w.slack.posts[0]["text"].startswith("<!channel> [P0] API is down")
        actions = [b for b in w.slack.posts[0]["blocks"] if b["type"] == "actions"][0]["elements"]
        ack = next(e for e in actions if e["action_id"] == "ack")
        incident = r.json()["decisions"][0]["incident"].lstrip("#")
        assert ack["value"] == incident and ack["url"].startswith("https://vigil.test/api/ack?i=" + incident)
        assert [m["To"] for m in w.twilio.messages] == ["+15550000001"]
        assert "https://vigil.test/api/ack?" in w.twilio.messages[0]["Body"]
        assert sorted(to(m) for m in w.smtp.messages) == ["eng-lead@example.com", "oncall@example.com"]
        assert all(str(m["Subject"]).startswith("[P0]") for m in w.smtp.messages)
        w.advance(60)
        assert w.alert(**P0).json()["decisions"][0]["reason"] == "DEDUPED"
        assert w.cron("escalations").status_code == 200
        assert (len(w.slack.posts), len(w.twilio.messages), len(w.smtp.messages)) == (1, 1, 2)


def test_unacknowledged_p0_pages_the_cto_once_even_when_runs_race(store: Store) -> None:
    with world(store) as w:
        w.alert(**P0)
        w.advance(14 * 60 + 59)
        w.cron("escalations")
        assert w.twilio.calls == [] and w.emails_to("cto@example.com") == []
        w.advance(1)
        runs = [threading.Thread(target=w.cron, args=("escalations",)) for _ in range(4)]
        for t in runs:
            t.start()
        for t in runs:
            t.join()
        w.cron("escalations")  # cron fires twice
        assert [m["To"] for m in w.twilio.messages].count("+15550000002") == 1
        assert [c["To"] for c in w.twilio.calls] == ["+15550000002"]
        assert "Say" in w.twilio.calls[0]["Twiml"]
        cto_mail = w.emails_to("cto@example.com")
        assert len(cto_mail) == 1 and "https://vigil.test/api/ack?" in cto_mail[0].get_body(("plain",)).get_content()
        assert "api/ack?" in [m for m in w.twilio.messages if m["To"] == "+15550000002"][0]["Body"]


def test_ack_by_link_after_a_get_that_changed_nothing(store: Store) -> None:
    with world(store) as w:
        w.alert(**P0)
        link = ack_link(w).replace("https://vigil.test", "")
        page = w.http.get(link)
        assert page.status_code == 200 and "<form method=post" in page.text and "API is down" in page.text
        w.advance(15 * 60)
        w.cron("escalations")
        assert len(w.twilio.calls) == 1  # the GET acknowledged nothing: the CTO was paged
        w2_link = link
        done = w.http.post(w2_link)
        assert done.status_code == 200 and "Acknowledged" in done.text
        assert w.http.post(w2_link).status_code == 200  # twice: one ack
        acks = [e for e in w.archive() if e["type"] == "acknowledged"]
        assert len(acks) == 1 and acks[0]["data"]["by"] == "On-call engineer"
        assert len(w.slack.updates) == 1 and "Acknowledged by On-call engineer" in json.dumps(w.slack.updates[0])


def test_ack_link_stops_the_escalation(store: Store) -> None:
    with world(store) as w:
        w.alert(**P0)
        w.advance(60)
        assert w.http.post(ack_link(w).replace("https://vigil.test", "")).status_code == 200
        w.advance(30 * 60)
        w.cron("escalations")
        assert w.twilio.calls == [] and w.emails_to("cto@example.com") == []


def test_tampered_or_expired_links_are_refused_with_a_page(store: Store) -> None:
    with world(store) as w:
        w.alert(**P0)
        link = ack_link(w).replace("https://vigil.test", "")
        tampered = re.sub(r"s=[0-9a-f]{4}", "s=0000", link)
        r = w.http.post(tampered)
        assert r.status_code == 403 and "altered" in r.text
        w.advance(8 * 86400)
        r = w.http.post(link)
        assert r.status_code == 403 and "expired" in r.text
        assert [e["type"] for e in w.archive()].count("acknowledged") == 0


def test_slack_button_acknowledges_and_updates_the_message(store: Store) -> None:
    with world(store) as w:
        incident = w.alert(**P0).json()["decisions"][0]["incident"].lstrip("#")
        r = slack_request(w, button(incident))
        assert r.status_code == 200 and r.json()["results"][0]["result"] == "ACKNOWLEDGED"
        assert slack_request(w, button(incident)).json()["results"][0]["result"] == "ALREADY_ACKNOWLEDGED"
        assert len(w.slack.updates) == 1 and "Acknowledged by @alice" in json.dumps(w.slack.updates[0])
        assert w.slack.updates[0]["ts"] == w.slack.requests[0]["answer"]["ts"]
        w.advance(20 * 60)
        w.cron("escalations")
        assert w.twilio.calls == []


def test_bad_or_stale_slack_signatures_change_nothing(store: Store) -> None:
    with world(store) as w:
        incident = w.alert(**P0).json()["decisions"][0]["incident"].lstrip("#")
        assert slack_request(w, button(incident), secret="wrong").status_code == 401
        assert slack_request(w, button(incident), ts=int(w.now) - 301).status_code == 401
        w.advance(15 * 60)
        w.cron("escalations")
        assert len(w.twilio.calls) == 1 and w.slack.updates == []


def test_slack_failing_then_recovering_does_not_delay_sms_or_email(store: Store) -> None:
    with world(store) as w:
        w.slack.fail_next(1, status=500)
        w.alert(**P0)
        assert w.slack.posts == [] and len(w.twilio.messages) == 1 and len(w.smtp.messages) == 2
        w.advance(60)
        w.cron("escalations")
        assert len(w.slack.posts) == 1 and w.slack.posts[0]["text"].startswith("<!channel>")
        assert len(w.twilio.messages) == 1 and len(w.smtp.messages) == 2


def test_resolve_sends_a_resolved_notice_and_stops_pages(store: Store) -> None:
    with world(store) as w:
        w.alert(**P0)
        w.advance(5 * 60)
        r = w.alert(**{**P0, "status": "resolved"})
        assert r.json()["decisions"][0]["reason"] == "RESOLVED"
        assert len(w.slack.updates) == 1 and "Resolved" in json.dumps(w.slack.updates[0])
        assert any(p.get("thread_ts") for p in w.slack.posts)
        resolved_mail = [m for m in w.smtp.messages if "RESOLVED" in str(m["Subject"])]
        assert sorted(to(m) for m in resolved_mail) == ["eng-lead@example.com", "oncall@example.com"]
        w.advance(30 * 60)
        w.cron("escalations")
        assert w.twilio.calls == [] and len(w.twilio.messages) == 1


def test_a_silenced_key_pages_nobody(store: Store) -> None:
    cfg = default_config(silences=[{"key": "alerts:maint-*", "reason": "planned"}])
    with world(store, cfg) as w:
        r = w.alert(**{**P0, "key": "maint-db"})
        assert r.json()["decisions"][0]["reason"] == "SILENCED"
        assert w.slack.requests == [] and w.twilio.requests == [] and w.smtp.messages == []


def test_false_positive_button_resolves_and_silences_the_key(store: Store) -> None:
    with world(store) as w:
        incident = w.alert(**P0).json()["decisions"][0]["incident"].lstrip("#")
        r = slack_request(w, button(incident, "false_positive"))
        assert r.json()["results"][0]["result"] == "RESOLVED"
        w.advance(60)
        assert w.alert(**P0).json()["decisions"][0]["reason"] == "SILENCED"
        fp = [e for e in w.archive() if e["type"] == "false_positive"]
        assert len(fp) == 1 and "alice" in fp[0]["data"]["reason"]


def test_alerts_api_rejects_missing_token_and_bad_fields(store: Store) -> None:
    with world(store) as w:
        assert w.http.post("/api/webhooks/alerts", json=P0).status_code == 401
        r = w.alert(**{**P0, "severity": "P9"})
        assert r.status_code == 400 and "severity" in r.json()["error"]
        r = w.http.post("/api/webhooks/alerts", content=b"not json",
                        headers={"Authorization": f"Bearer {SECRETS['ALERTS_TOKEN']}"})
        assert r.status_code == 400
        assert w.slack.requests == [] and w.archive() == []


def test_a_p0_no_channel_could_deliver_is_logged_at_error(store: Store, caplog) -> None:
    import logging

    logging.getLogger("vigil").addHandler(caplog.handler)  # vigil logs do not propagate to the root
    with world(store) as w, caplog.at_level(logging.ERROR, logger="vigil.dispatch"):
        w.slack.fail_next(1, status=500)
        w.twilio.fail_next(1, status=503)
        w.smtp.fail_next(2, code=451)
        w.alert(**P0)
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "every channel failed" in errors[0]
        assert SECRETS["ALERTS_TOKEN"] not in errors[0] and w.slack.token not in errors[0]
        w.advance(60)
        w.cron("escalations")  # the retries go out once the vendors answer again
        assert len(w.slack.posts) == 1 and len(w.twilio.messages) == 1 and len(w.smtp.messages) == 2
    logging.getLogger("vigil").removeHandler(caplog.handler)
