"""Alertmanager notifications through the real route and engine: one incident per group,
tiers upgrade it, the alert's own startsAt/endsAt order what arrives, and no group is lost
to its size. (The same against a real Alertmanager: tests/test_alertmanager_real.py.)"""

from __future__ import annotations

import json
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from lib.incidents import engine
from lib.metrics import METRICS
from lib.models import Incident
from lib.store import Store
from tests.support.world import SECRETS, World, world

STARTS = "2027-01-15T07:50:00Z"
ZERO = "0001-01-01T00:00:00Z"


def alert(name: str, instance: str, severity: str = "critical", status: str = "firing",
          starts: str = STARTS, ends: str = ZERO, **labels: str) -> dict[str, Any]:
    lbl = {"alertname": name, "instance": instance, "job": "api", **({"severity": severity} if severity else {}),
           **labels}
    return {"status": status, "labels": lbl, "annotations": {"summary": f"{name} on {instance}"},
            "startsAt": starts, "endsAt": ends, "fingerprint": f"{name}-{instance}-{severity}"[:64],
            "generatorURL": "http://prometheus:9090/graph"}


def notify(w: World, *alerts: dict[str, Any], group_by: tuple[str, ...] = ("alertname",),
           receiver: str = "vigil") -> httpx.Response:
    first = alerts[0]["labels"]
    group_labels = {k: first[k] for k in group_by if k in first}
    common = {k: v for k, v in first.items() if all(a["labels"].get(k) == v for a in alerts)}
    body = {
        "version": "4", "receiver": receiver, "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "groupKey": "{}:{" + ",".join(f'{k}="{v}"' for k, v in group_labels.items()) + "}",
        "groupLabels": group_labels, "commonLabels": common, "commonAnnotations": {}, "alerts": list(alerts),
    }
    return w.alert(**body)


def open_(w: World) -> list[Incident]:
    return engine.open_incidents(w.store)


def reasons(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [d["reason"] for d in r.json()["decisions"]]


def sms(w: World) -> list[str]:
    return [m["To"] for m in w.twilio.messages]


def test_a_group_of_two_critical_alerts_is_one_p0_updated_as_alerts_join_and_leave(redis_store: Store) -> None:
    with world(redis_store) as w:
        a, b, c = (alert("HighErrorRate", i) for i in ("a", "b", "c"))
        assert reasons(notify(w, a, b)) == ["OPENED"]
        assert len(sms(w)) == 1 and len(w.slack.posts) == 1
        assert w.slack.posts[0]["text"].startswith("<!channel> [P0] HighErrorRate (job=api)")
        assert reasons(notify(w, a, b, c)) == ["DEDUPED"]  # a third joins: no new page
        assert len(sms(w)) == 1 and len(w.slack.posts) == 1
        [inc] = open_(w)
        assert inc.summary.startswith("3 firing: [P0] HighErrorRate{instance=a}, [P0] HighErrorRate{instance=b}")
        gone = {**b, "status": "resolved", "endsAt": "2027-01-15T07:59:00Z"}
        assert reasons(notify(w, a, gone, c)) == ["DEDUPED"]  # one leaves: the group still fires
        assert open_(w)[0].summary.startswith("2 firing:")
        done = [{**x, "status": "resolved", "endsAt": "2027-01-15T08:00:00Z"} for x in (a, c)]
        assert reasons(notify(w, *done)) == ["RESOLVED"]
        assert open_(w) == []


def test_warning_then_critical_of_one_alert_upgrade_one_incident(redis_store: Store) -> None:
    """Grouped by severity too (or routed by it): the tiers still share the group's incident."""
    with world(redis_store) as w:
        warn = alert("HighErrorRate", "a", severity="warning")
        assert reasons(notify(w, warn, group_by=("alertname", "severity"))) == ["OPENED"]
        crit = alert("HighErrorRate", "a", severity="critical")
        r = notify(w, crit, group_by=("alertname", "severity"), receiver="vigil-critical")
        assert reasons(r) == ["UPGRADED"] and r.json()["decisions"][0]["severity"] == "P0"
        assert len(open_(w)) == 1 and len(sms(w)) == 1
        # the critical tier resolves, the warning still fires: the incident stays (no downgrade)
        assert reasons(notify(w, {**crit, "status": "resolved", "endsAt": "2027-01-15T08:01:00Z"},
                              group_by=("alertname", "severity"))) == ["DEDUPED"]
        assert reasons(notify(w, {**warn, "status": "resolved", "endsAt": "2027-01-15T08:02:00Z"},
                              group_by=("alertname", "severity"))) == ["RESOLVED"]


def test_a_late_duplicate_firing_after_its_resolve_does_not_reopen(redis_store: Store) -> None:
    with world(redis_store) as w:
        a = alert("DiskFull", "db1")
        assert reasons(notify(w, a)) == ["OPENED"]
        assert reasons(notify(w, {**a, "status": "resolved", "endsAt": "2027-01-15T07:58:00Z"})) == ["RESOLVED"]
        assert reasons(notify(w, a)) == ["NOT_OPEN"]  # the same firing (same startsAt), delivered late
        assert open_(w) == [] and len(sms(w)) == 1
        again = alert("DiskFull", "db1", starts="2027-01-15T08:05:00Z")  # a new firing of it
        assert reasons(notify(w, again)) == ["OPENED"]


def test_a_resolve_delivered_before_its_firing_leaves_nothing_open(redis_store: Store) -> None:
    with world(redis_store) as w:
        a = alert("DiskFull", "db1")
        assert reasons(notify(w, {**a, "status": "resolved", "endsAt": "2027-01-15T07:58:00Z"})) == ["NOT_OPEN"]
        assert reasons(notify(w, a)) == ["NOT_OPEN"]
        assert open_(w) == [] and sms(w) == []


def test_re_sends_after_repeat_interval_dedup(redis_store: Store) -> None:
    with world(redis_store) as w:
        a = alert("HighErrorRate", "a")
        assert reasons(notify(w, a)) == ["OPENED"]
        for _ in range(3):
            w.advance(4 * 3600)
            assert reasons(notify(w, a)) == ["DEDUPED"]
        assert len(sms(w)) == 1


def _counts(w: World, metric: str) -> dict[tuple[str, ...], float]:
    """{label values in the metric's declared order: count} from GET /api/metrics."""
    body = w.http.get("/api/metrics", headers={"Authorization": f"Bearer {SECRETS['METRICS_TOKEN']}"}).text
    names = METRICS[metric.removeprefix("vigil_")].labels
    return {tuple(s.labels[n] for n in names): s.value for fam in text_string_to_metric_families(body)
            if fam.name == metric for s in fam.samples if s.name.endswith("_total")}


def test_1500_alerts_in_one_group_page_once(redis_store: Store) -> None:
    with world(redis_store) as w:
        many = [alert("InstanceDown", f"10.0.{i // 250}.{i % 250}", severity="page",
                      description="x" * 700) for i in range(1500)]
        r = notify(w, *many)
        assert len(r.request.content) > 1024 * 1024  # the 1.48 MB group the old 1 MB limit lost
        assert reasons(r) == ["OPENED"] and len(sms(w)) == 1
        [inc] = open_(w)
        assert inc.severity == "P0" and inc.summary.startswith("1500 firing:") and "and 1490 more" in inc.summary


def test_a_notification_over_the_limit_is_refused_counted_and_raises_its_own_incident(redis_store: Store) -> None:
    with world(redis_store) as w:
        huge = json.dumps({"version": "4", "alerts": [alert("X", str(i), description="y" * 3000)
                                                      for i in range(1500)]})
        headers = {"Authorization": f"Bearer {SECRETS['ALERTS_TOKEN']}", "Content-Type": "application/json"}
        r = w.http.post("/api/webhooks/alerts", content=huge, headers=headers)
        assert r.status_code == 413 and "limit" in r.json()["error"]
        assert _counts(w, "vigil_webhooks")[("alerts", "oversized")] == 1
        [inc] = open_(w)
        assert inc.key == "alerts:oversized" and inc.severity == "P1" and "max_alerts" in inc.summary
        assert w.http.post("/api/webhooks/alerts", content=huge, headers=headers).status_code == 413
        assert len(open_(w)) == 1  # the next refusal dedups
        bad = w.http.post("/api/webhooks/alerts", content=huge, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and _counts(w, "vigil_webhooks")[("alerts", "oversized")] == 2


def test_unmapped_severities_are_counted_and_get_the_default(redis_store: Store) -> None:
    with world(redis_store) as w:
        r = notify(w, alert("A", "1", severity="sev-9"), alert("A", "2", severity=""), alert("A", "3", severity="bogus"))
        assert r.json()["decisions"][0]["severity"] == "P2"
        assert _counts(w, "vigil_alert_severity_unmapped") == {("sev-9",): 1, ("",): 1, ("bogus",): 1}


def test_a_group_resolving_without_a_silenced_alert_resolves_the_incident(redis_store: Store) -> None:
    """Alertmanager stops listing a silenced alert; when the rest of its group resolves it
    says the group resolved, and the incident must not wait for the silenced one."""
    with world(redis_store) as w:
        a, b = alert("HighErrorRate", "a"), alert("HighErrorRate", "b")
        assert reasons(notify(w, a, b)) == ["OPENED"]
        assert reasons(notify(w, {**b, "status": "resolved", "endsAt": "2027-01-15T07:59:00Z"})) == ["RESOLVED"]
        late = alert("HighErrorRate", "c", starts="2027-01-15T08:10:00Z")  # started after the group ended
        assert reasons(notify(w, late)) == ["OPENED"]
        old = {**b, "status": "resolved", "endsAt": "2027-01-15T07:59:00Z"}  # the old resolve, delivered again
        assert reasons(notify(w, old)) == ["DEDUPED"] and len(open_(w)) == 1
