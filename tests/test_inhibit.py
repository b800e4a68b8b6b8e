"""Inhibition with Alertmanager's semantics, on a real Redis (directly and through the
Upstash REST bridge): a firing source mutes its targets; when it resolves, the
targets that still fire page once after the hold, through the escalation cron."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from lib.config import ConfigError, parse_config
from lib.env import Env
from lib.incidents import dispatch, engine, inhibit
from lib.models import Reason, Severity, Signal
from lib.runtime import Runtime
from lib.store import Store

T0 = 1_800_000_000.0
PEOPLE = {"oncall": {"name": "On-call", "email": "oncall@example.com", "phone": "+15550000001"},
          "eng_lead": {"name": "Lead", "email": "lead@example.com"}}
CHECKS = [{"name": "api", "url": "https://api.example.com/health"},
          {"name": "www", "url": "https://www.example.com/"}]


def rt_for(store: Store, **cfg: Any) -> Runtime:
    config = parse_config({"people": PEOPLE, "checks": CHECKS, **cfg})
    return Runtime(env=Env(cron_secret=SecretStr("x" * 20), public_base_url="https://vigil.test"),
                   config=config, store=store)


def check_sig(alert: str, check: str = "api", status: str = "firing", severity: str = "P0") -> Signal:
    key = {"ServiceDown": f"check:{check}", "SlowResponseTime": f"check:{check}:latency",
           "UptimeBelowTarget": f"check:{check}:uptime", "CheckFlapping": f"check:{check}:flapping"}[alert]
    host = f"{check}.example.com"
    return Signal(key=key, severity=Severity(severity), status=status, title=f"{alert}: {check}", source="checks",
                  labels={"check": check, "alertname": alert, "host": host})


def rule_sig(name: str = "HighErrorRate", host: str = "api.example.com", status: str = "firing",
             severity: str = "P1") -> Signal:
    return Signal(key=f"rule:{name}", severity=Severity(severity), status=status, title=name, source="rules",
                  labels={"rule": name, "scrape": f"{host}/metrics"})


def reasons(rt: Runtime, signals: list[Signal], now: float) -> list[Reason]:
    return [d.reason for d in dispatch.handle(rt, signals, now)]


def test_service_down_mutes_its_checks_symptoms_and_its_hosts_rules_only(store: Store) -> None:
    rt = rt_for(store)
    assert reasons(rt, [check_sig("ServiceDown")], T0) == [Reason.OPENED]
    muted = [check_sig("SlowResponseTime"), check_sig("UptimeBelowTarget", severity="P1"),
             check_sig("CheckFlapping", severity="P1"), rule_sig()]
    assert reasons(rt, muted, T0 + 60) == [Reason.INHIBITED] * 4
    others = [check_sig("SlowResponseTime", check="www"), rule_sig("Other", host="db.example.com")]
    assert reasons(rt, others, T0 + 60) == [Reason.OPENED, Reason.OPENED]
    assert {i.key for i in engine.open_incidents(store)} == {"check:api", "check:www:latency", "rule:Other"}


def test_a_source_in_the_same_batch_mutes_whatever_the_order(store: Store) -> None:
    rt = rt_for(store)
    assert reasons(rt, [rule_sig(), check_sig("ServiceDown")], T0) == [Reason.INHIBITED, Reason.OPENED]


def test_targets_still_firing_after_the_hold_page_once(store: Store) -> None:
    rt = rt_for(store)
    reasons(rt, [check_sig("ServiceDown")], T0)
    reasons(rt, [rule_sig(severity="P1")], T0 + 300)
    reasons(rt, [rule_sig(severity="P0")], T0 + 360)  # the upgrade while muted pages nobody either
    reasons(rt, [check_sig("ServiceDown", status="resolved")], T0 + 600)
    assert dispatch.run_escalations(rt, T0 + 600 + 599)["released"] == []  # the 10-minute hold
    out = dispatch.run_escalations(rt, T0 + 1200)
    assert out["released"] == ["OPENED"]
    [inc] = engine.open_incidents(store)
    assert (inc.key, inc.severity) == ("rule:HighErrorRate", Severity.P0)  # the most severe it reached
    assert dispatch.run_escalations(rt, T0 + 1260)["released"] == []
    assert reasons(rt, [rule_sig(severity="P0")], T0 + 1300) == [Reason.DEDUPED]


def test_targets_that_resolve_during_the_hold_never_page(store: Store) -> None:
    rt = rt_for(store)
    reasons(rt, [check_sig("ServiceDown")], T0)
    reasons(rt, [rule_sig()], T0 + 300)
    reasons(rt, [check_sig("ServiceDown", status="resolved")], T0 + 600)
    # The error-rate window still holds the outage: the P0 upgrade after recovery is muted too.
    assert reasons(rt, [rule_sig(severity="P0")], T0 + 660) == [Reason.INHIBITED]
    assert reasons(rt, [rule_sig(status="resolved")], T0 + 900) == [Reason.NOT_OPEN]
    assert dispatch.run_escalations(rt, T0 + 3600)["released"] == []
    assert [i.key for i in engine.recent_incidents(store, 0)] == ["check:api"]


def test_a_target_firing_first_is_not_muted_by_a_later_source_but_its_upgrade_is(store: Store) -> None:
    rt = rt_for(store)
    assert reasons(rt, [rule_sig()], T0) == [Reason.OPENED]
    assert reasons(rt, [check_sig("ServiceDown")], T0 + 60) == [Reason.OPENED]
    assert reasons(rt, [rule_sig(severity="P0")], T0 + 120) == [Reason.INHIBITED]
    assert reasons(rt, [rule_sig()], T0 + 180) == [Reason.DEDUPED]


def test_another_firing_source_keeps_a_target_muted_past_the_first_ones_hold(store: Store) -> None:
    rt = rt_for(store, inhibit=[{"source_matchers": ["alertname = ServiceDown"], "target_matchers": ["source = rules"],
                                 "hold": "1m"}])
    reasons(rt, [check_sig("ServiceDown"), check_sig("ServiceDown", check="www")], T0)
    reasons(rt, [rule_sig()], T0 + 60)
    reasons(rt, [check_sig("ServiceDown", status="resolved")], T0 + 120)
    assert dispatch.run_escalations(rt, T0 + 600)["released"] == []  # www is still down
    reasons(rt, [check_sig("ServiceDown", check="www", status="resolved")], T0 + 660)
    assert dispatch.run_escalations(rt, T0 + 720)["released"] == ["OPENED"]


def test_an_alert_never_inhibits_itself_and_two_sided_alerts_do_not_mute_each_other(store: Store) -> None:
    both = ['alertname =~ "ServiceDown|SlowResponseTime"']
    rt = rt_for(store, inhibit=[{"source_matchers": both, "target_matchers": both, "equal": ["check"]}])
    assert reasons(rt, [check_sig("ServiceDown")], T0) == [Reason.OPENED]
    assert reasons(rt, [check_sig("SlowResponseTime")], T0 + 60) == [Reason.OPENED]


def test_an_empty_inhibit_section_turns_the_defaults_off(store: Store) -> None:
    rt = rt_for(store, inhibit=[])
    reasons(rt, [check_sig("ServiceDown")], T0)
    assert reasons(rt, [rule_sig()], T0 + 60) == [Reason.OPENED]


def test_rules_get_their_scrapes_host_for_matching() -> None:
    assert inhibit.labels_of(rule_sig(host="db.example.com:9187"))["host"] == "db.example.com:9187"


@pytest.mark.parametrize(("rule", "problem"), [
    ({"source_matchers": ["alertname ServiceDown"], "target_matchers": ["source = rules"]},
     "inhibit[0].source_matchers: 'alertname ServiceDown' is not a matcher like 'alertname = ServiceDown'"),
    ({"source_matchers": ["alertname = ServiceDown"], "target_matchers": ['check =~ "("']},
     "inhibit[0].target_matchers: 'check =~ \"(\"': not a valid regular expression"),
    ({"source_matchers": ["alertname = A", "alertname = B"], "target_matchers": ["source = rules"]},
     "inhibit[0].source_matchers: can match nothing: alertname cannot be both 'A' and 'B'"),
    ({"source_matchers": ["check = api"], "target_matchers": ["check = nope"]},
     "inhibit[0].target_matchers: can match nothing: no check is named 'nope'"),
    ({"source_matchers": ["check = api"], "target_matchers": ["check = www"], "equal": ["check"]},
     "inhibit[0].equal: can match nothing: check is 'api' in the source and 'www' in the target"),
    ({"source_matchers": ["host = a", 'host !~ "a|b"'], "target_matchers": ["source = rules"]},
     "inhibit[0].source_matchers: can match nothing: host=\"a\" never satisfies host!~\"a|b\""),
    ({"source_matchers": [], "target_matchers": ["source = rules"]},
     "inhibit[0].source_matchers: List should have at least 1 item"),
], ids=["syntax", "regex", "contradiction", "unknown-check", "equal-never", "negative-regex", "empty"])
def test_an_inhibition_that_cannot_work_is_refused_at_load(rule: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"people": PEOPLE, "checks": CHECKS, "inhibit": [rule]})
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems
