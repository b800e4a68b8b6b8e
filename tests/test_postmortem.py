"""The runbook's step 4: a P0/P1 resolved without a postmortem gets a reminder 24 h after it opened."""

from __future__ import annotations

import json
import re

from lib.store import Store
from tests.support.world import World, world

P0 = {"key": "db", "severity": "P0", "title": "Database down"}


def link(w: World, action: str = "ack") -> str:
    mail = " ".join(m.get_body(("plain",)).get_content() for m in w.smtp.messages)
    found = re.findall(r"https://vigil\.test/api/ack\?[^\s\"<>]+", json.dumps(w.slack.posts) + mail)
    for url in found:
        if (action == "ack" and "a=" not in url) or f"a={action}" in url:
            return url.replace("https://vigil.test", "")
    raise AssertionError(f"no {action} link")


def ack_by_link_then_resolve(w: World) -> str:
    incident = w.alert(**P0).json()["decisions"][0]["incident"].lstrip("#")
    w.advance(120)
    lead_mail = next(m for m in w.smtp.messages if m["To"].addresses[0].addr_spec == "eng-lead@example.com")
    lead_link = re.search(r"https://vigil\.test(/api/ack\?\S+u=eng_lead\S*)", lead_mail.get_body(("plain",)).get_content())
    assert lead_link and "a=" not in lead_link.group(1)
    assert w.http.post(lead_link.group(1)).status_code == 200
    w.advance(600)
    w.alert(**{**P0, "status": "resolved"})
    return incident


def reminders(w: World) -> tuple[list, list]:
    thread = [p for p in w.slack.posts if p.get("thread_ts") and "Postmortem due" in p["text"]]
    mails = [m for m in w.smtp.messages if "Postmortem" in str(m["Subject"])]
    return thread, mails


def test_undocumented_p0_gets_a_thread_reply_and_an_email_to_the_acker_at_24h(store: Store) -> None:
    with world(store) as w:
        ack_by_link_then_resolve(w)
        w.advance(24 * 3600 - 722)
        w.cron("escalations")
        assert reminders(w) == ([], [])
        w.advance(2)
        w.cron("escalations")
        w.cron("escalations")
        thread, mails = reminders(w)
        assert len(thread) == 1 and len(mails) == 1
        assert mails[0]["To"].addresses[0].addr_spec == "eng-lead@example.com"  # whoever acknowledged it
        assert "api/ack?" in mails[0].get_body(("plain",)).get_content()


def test_no_reminder_for_a_false_positive(store: Store) -> None:
    with world(store) as w:
        incident = w.alert(**P0).json()["decisions"][0]["incident"].lstrip("#")
        fp = link(w, "false_positive")
        assert w.http.get(fp).status_code == 200  # the confirm page
        r = w.http.post(fp, data={"reason": "probe hit a maintenance window"})
        assert r.status_code == 200 and "false positive" in r.text
        w.advance(2 * 86400)
        w.cron("escalations")
        assert reminders(w) == ([], [])
        events = [e for e in w.archive() if e["type"] == "false_positive"]
        assert events[0]["incident"] == incident and events[0]["data"]["reason"] == "probe hit a maintenance window"


def test_no_reminder_once_a_postmortem_is_attached_by_signed_link(store: Store) -> None:
    with world(store) as w:
        ack_by_link_then_resolve(w)
        pm = link(w, "postmortem")
        assert w.http.post(pm, data={"url": "javascript:alert(1)"}).status_code == 400
        r = w.http.post(pm, data={"url": "https://docs.example.com/pm/db-outage"})
        assert r.status_code == 200 and "Postmortem attached" in r.text
        w.advance(2 * 86400)
        w.cron("escalations")
        assert reminders(w) == ([], [])
        assert [e["data"]["url"] for e in w.archive() if e["type"] == "postmortem"] == [
            "https://docs.example.com/pm/db-outage"
        ]


def test_p2_gets_no_reminder(store: Store) -> None:
    with world(store) as w:
        w.alert(**{**P0, "severity": "P2"})
        w.alert(**{**P0, "severity": "P2", "status": "resolved"})
        w.advance(2 * 86400)
        w.cron("escalations")
        assert reminders(w) == ([], [])


def test_a_test_alert_gets_no_reminder(store: Store) -> None:
    import scripts.send_test_alert as send_test_alert

    with world(store) as w:
        assert send_test_alert.main(["--severity", "P0", "--resolve"]) == 0
        assert {"opened", "resolved"} <= {e["type"] for e in w.archive()}
        w.advance(2 * 86400)
        w.cron("escalations")
        assert reminders(w) == ([], [])


def test_the_reminder_says_postmortem_due_once_on_every_channel(store: Store) -> None:
    with world(store) as w:
        ack_by_link_then_resolve(w)
        w.advance(2 * 86400)
        w.cron("escalations")
        thread, mails = reminders(w)
        texts = [p["text"] for p in thread] + [str(m["Subject"]) for m in mails]
        texts += [m.get_body(("plain",)).get_content() for m in mails]
        assert texts and all(t.count("Postmortem due") == 1 for t in texts), texts
