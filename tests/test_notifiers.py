"""Outbound channels against loopback vendors: Slack and Twilio fakes, a real SMTP server."""

from __future__ import annotations

import dataclasses
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from lib.channels import NOTIFIERS, Notifier, notifier_for
from lib.channels.base import Message
from lib.channels.console import Console
from lib.channels.console import line as console_line
from lib.channels.email import Email
from lib.channels.slack import Slack
from lib.channels.twilio import MAX_SMS, MAX_TWIML, Call, Sms, sms_body, twiml
from lib.env import Env
from lib.models import Delivery, Severity
from tests.support.fake_slack import FakeSlack
from tests.support.fake_twilio import FakeTwilio
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

GOLDEN = Path(__file__).parent / "fixtures" / "slack"
ACK = "https://vigil.example.com/api/ack?i=1042&e=1700003600&s=abc123"
T0 = 1_700_000_000.0


def message(**kw: Any) -> Message:
    base: dict[str, Any] = dict(
        kind="trigger", incident_id="1042", severity=Severity.P0, title="api is down",
        summary="GET /api/v1/health answered 503 for 2m", address="#alerts", mention="channel",
        links={"runbook": "https://example.com/runbooks/service-down", "dashboard": "https://grafana.example.com/d/api",
               "source": "https://api.example.com/api/v1/health", "deploy": "https://vercel.com/acme/api/dpl_1"},
        ack_url=ACK, false_positive_url="https://vigil.example.com/api/ack?i=1042&fp=1",
        opened_at=T0, now=T0 + 240, occurrences=3, deploy_note="deployed 4 min ago: fix login by alice",
    )
    return Message(**{**base, **kw})


def buttons(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    actions = [b for b in payload["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for block in actions for e in block["elements"]}


# -- Slack payloads -------------------------------------------------------------------------

SLACK = Slack(Env())


@pytest.mark.parametrize(("severity", "mention", "start"), [
    (Severity.P0, "channel", "<!channel> [P0] api is down"),
    (Severity.P1, "here", "<!here> [P1] api is down"),
    (Severity.P2, "", "[P2] api is down"),
], ids=["p0-channel", "p1-here", "p2-no-mention"])
def test_slack_text_starts_with_the_mention_then_severity_and_title(severity: Severity, mention: str, start: str) -> None:
    assert SLACK.payload(message(severity=severity, mention=mention))["text"].startswith(start)


def test_slack_trigger_payload_matches_golden_json() -> None:
    expected = json.loads((GOLDEN / "trigger_p0.json").read_text())
    assert SLACK.payload(message()) == expected


def test_slack_escapes_control_characters_in_title_and_summary() -> None:
    p = SLACK.payload(message(title="a < b & c > d", summary="<script>&"))
    assert p["text"] == "<!channel> [P0] a &lt; b &amp; c &gt; d"
    section = p["blocks"][0]["text"]["text"]
    assert "*[P0] a &lt; b &amp; c &gt; d*" in section and "&lt;script&gt;&amp;" in section


def test_slack_ack_button_carries_incident_id_and_signed_link() -> None:
    b = buttons(SLACK.payload(message()))
    assert b["ack"] == {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"},
                        "action_id": "ack", "value": "1042", "url": ACK, "style": "primary"}
    assert b["resolve"]["value"] == "1042" and b["false_positive"]["value"] == "1042"


def test_slack_no_ack_button_without_link_and_no_url_over_3000_chars() -> None:
    assert "ack" not in buttons(SLACK.payload(message(ack_url=None)))
    long = buttons(SLACK.payload(message(ack_url="https://x/" + "a" * 3000)))["ack"]
    assert "url" not in long and long["value"] == "1042"


def test_slack_context_links_runbook_dashboard_source_and_deploy() -> None:
    context = SLACK.payload(message())["blocks"][1]["elements"][0]["text"]
    assert "<https://example.com/runbooks/service-down|Runbook>" in context
    assert "|Dashboard>" in context and "|Source>" in context
    assert "<https://vercel.com/acme/api/dpl_1|deployed 4 min ago: fix login by alice>" in context


def test_slack_ack_update_shows_who_and_keeps_only_resolve_buttons() -> None:
    p = SLACK.update_payload(message(kind="ack", status="acknowledged", acked_by="alice", acked_at=T0 + 300,
                                     slack_channel="C0ALERTS01", slack_ts="1700000000.000100"))
    assert (p["channel"], p["ts"]) == ("C0ALERTS01", "1700000000.000100")
    assert "Acknowledged by alice at 2023-11-14T22:18:20Z" in p["text"]
    assert "Acknowledged by alice at <!date^1700000300^" in p["blocks"][0]["text"]["text"]
    assert set(buttons(p)) == {"resolve", "false_positive"}


def test_slack_resolve_update_has_no_buttons_and_thread_says_how_long() -> None:
    msg = message(kind="resolve", status="resolved", resolved_at=T0 + 720, slack_channel="C1", slack_ts="1.2")
    assert buttons(SLACK.update_payload(msg)) == {}
    assert SLACK.thread_payload(msg) == {"channel": "C1", "text": "Resolved after 12m", "thread_ts": "1.2"}


# -- Slack sending --------------------------------------------------------------------------


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def slack_env(fake: FakeSlack, token: str | None = None) -> Env:
    return Env(slack_bot_token=SecretStr(token or fake.token), slack_api_url=fake.url)


def test_slack_trigger_posts_json_with_bearer_and_returns_channel_and_ts(fake_slack: FakeSlack) -> None:
    d = Slack(slack_env(fake_slack)).send(message(), timeout=2)
    assert d.ok and d.ref == {"channel": "C0ALERTS01", "ts": "1700000000.000100"}
    req = fake_slack.requests[0]
    assert req["method"] == "chat.postMessage" and req["json"]["channel"] == "#alerts"
    assert req["headers"]["Authorization"] == "Bearer xoxb-test-token"
    assert req["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert "warning" not in req["answer"]


def test_slack_ack_then_resolve_edit_the_announcement_and_reply_in_thread(fake_slack: FakeSlack) -> None:
    slack = Slack(slack_env(fake_slack))
    ref = slack.send(message(), 2).ref
    posted = {"slack_channel": ref["channel"], "slack_ts": ref["ts"]}
    assert slack.send(message(kind="ack", status="acknowledged", acked_by="alice", **posted), 2).ok
    assert slack.send(message(kind="resolve", status="resolved", resolved_at=T0 + 720, **posted), 2).ok
    assert [u["ts"] for u in fake_slack.updates] == [ref["ts"], ref["ts"]]
    assert "Resolved after 12m" in fake_slack.stored[(ref["channel"], ref["ts"])]["text"]
    assert fake_slack.posts[-1] == {"channel": ref["channel"], "text": "Resolved after 12m", "thread_ts": ref["ts"]}


@pytest.mark.parametrize("kind", ["resolve", "ack", "reminder"])
def test_slack_without_an_announcement_posts_a_new_message(fake_slack: FakeSlack, kind: str) -> None:
    assert Slack(slack_env(fake_slack)).send(message(kind=kind, summary="Postmortem due"), 2).ok
    assert len(fake_slack.posts) == 1 and "thread_ts" not in fake_slack.posts[0]


def test_slack_reminder_replies_in_the_thread(fake_slack: FakeSlack) -> None:
    msg = message(kind="reminder", summary="Document it within 2 days.", slack_channel="C0ALERTS01", slack_ts="9.1")
    assert Slack(slack_env(fake_slack)).send(msg, 2).ok
    (post,) = fake_slack.posts
    assert {k: post[k] for k in ("channel", "text", "thread_ts")} == {
        "channel": "C0ALERTS01", "text": "Postmortem due: Document it within 2 days.", "thread_ts": "9.1"}


def test_slack_update_of_a_vanished_message_posts_a_new_one(fake_slack: FakeSlack) -> None:
    msg = message(kind="ack", status="acknowledged", acked_by="bob", slack_channel="C0ALERTS01", slack_ts="1.1")
    d = Slack(slack_env(fake_slack)).send(msg, 2)
    assert d.ok and fake_slack.requests[0]["answer"]["error"] == "message_not_found"
    assert "Acknowledged by bob" in fake_slack.posts[0]["text"]


def test_slack_429_keeps_retry_after_in_the_detail(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(status=429)
    d = Slack(slack_env(fake_slack)).send(message(), 2)
    assert d.retryable and d.status == 429 and "retry after 1s" in d.detail


# -- Email ----------------------------------------------------------------------------------

EMAIL = Email(Env(email_from="Vigil <vigil@example.com>"))


@pytest.mark.parametrize(("kind", "severity", "subject"), [
    ("trigger", Severity.P0, "[P0] api is down (#1042)"),
    ("escalate", Severity.P0, "[P0] ESCALATED: api is down (#1042)"),
    ("resolve", Severity.P0, "[P0] RESOLVED: api is down (#1042)"),
    ("ack", Severity.P0, "[P0] Acknowledged: api is down (#1042)"),
    ("reminder", Severity.P1, "[P1] Postmortem due: api is down (#1042)"),
], ids=["trigger", "escalate", "resolve", "ack", "reminder"])
def test_email_subject_starts_with_severity_and_says_the_kind(kind: str, severity: Severity, subject: str) -> None:
    assert EMAIL.build(message(kind=kind, severity=severity))["Subject"] == subject


def test_email_subject_is_one_line_even_when_the_title_is_not() -> None:
    assert EMAIL.build(message(title="KeyError: 'x'\r\n  in handler"))["Subject"] == (
        "[P0] KeyError: 'x' in handler (#1042)")


def test_email_body_carries_ack_link_summary_links_deploy_and_false_positive() -> None:
    em = EMAIL.build(message(address="oncall@example.com", to_name="On-call engineer"))
    assert em["From"] == "Vigil <vigil@example.com>" and em["To"] == "On-call engineer <oncall@example.com>"
    text = em.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = em.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for needle in (ACK, "answered 503", "deployed 4 min ago: fix login by alice", "fp=1", "Runbook"):
        assert needle in text
    assert f'href="{ACK.replace("&", "&amp;")}"' in html


@pytest.mark.parametrize("options", [{}, {"auth": True}, {"auth": True, "starttls": True},
                                     {"auth": True, "implicit_tls": True}],
                         ids=["plain", "auth", "starttls-auth", "smtps"])
def test_email_is_delivered_to_a_real_smtp_server(options: dict[str, bool]) -> None:
    with SmtpSink(**options) as sink:
        env = Env(smtp_url=SecretStr(sink.url), email_from="Vigil <vigil@example.com>")
        ctx = sink.client_ssl_context() if sink.cert_pem else None
        d = Email(env, ssl_context=ctx).send(message(address="oncall@example.com"), 5)
        assert d.ok, d.detail
        got = sink.received[0]
        assert got.rcpt_tos == ["oncall@example.com"] and got.message["Subject"] == "[P0] api is down (#1042)"
        assert got.login == ("vigil" if options.get("auth") else None)
        assert got.tls == bool(options.get("starttls") or options.get("implicit_tls"))


def test_email_starttls_with_an_untrusted_certificate_fails_without_sending_credentials() -> None:
    with SmtpSink(auth=True, starttls=True) as sink:
        env = Env(smtp_url=SecretStr(sink.url))
        d = Email(env).send(message(address="oncall@example.com"), 5)
        assert not d.ok and d.retryable and sink.password not in d.detail and sink.received == []


# -- Twilio ---------------------------------------------------------------------------------


def test_sms_body_has_the_ack_link_and_cuts_the_title_not_the_link() -> None:
    assert sms_body(message()) == f"[P0] api is down #1042 ack: {ACK}"
    long = sms_body(message(title="x" * 600))
    assert len(long) <= MAX_SMS and long.endswith(f"#1042 ack: {ACK}") and "..." in long
    assert sms_body(message(kind="escalate")).startswith("[P0] ESCALATED: api is down #1042 ack: ")


def test_call_twiml_says_the_incident_twice_escaped_and_short_enough() -> None:
    doc = twiml(message(title="db & cache <down>"))
    says = [e.text for e in ET.fromstring(doc).iter("Say")]
    assert len(says) == 2 and says[0] == says[1] and "db & cache <down>" in (says[0] or "")
    assert '<Pause length="1"/>' in doc
    huge = twiml(message(title="&" * 5000))
    assert len(huge) <= MAX_TWIML and ET.fromstring(huge).tag == "Response"


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


def twilio_env(fake: FakeTwilio, token: str | None = None) -> Env:
    return Env(twilio_account_sid=fake.account_sid, twilio_auth_token=SecretStr(token or fake.auth_token),
               twilio_from="+15550009999", twilio_api_url=fake.url)


def test_sms_and_call_post_forms_with_basic_auth(fake_twilio: FakeTwilio) -> None:
    env = twilio_env(fake_twilio)
    sms = Sms(env).send(message(address="+15550000001"), 2)
    call = Call(env).send(message(address="+15550000001"), 2)
    assert sms.ok and sms.status == 201 and sms.ref["sid"].startswith("SM")
    assert call.ok and call.ref["sid"].startswith("CA")
    assert fake_twilio.messages[0] == {"To": "+15550000001", "From": "+15550009999", "Body": sms_body(message())}
    assert fake_twilio.calls[0]["Twiml"].count("api is down") == 2


def test_twilio_error_detail_names_code_and_message(fake_twilio: FakeTwilio) -> None:
    d = Sms(twilio_env(fake_twilio)).send(message(address="5551234567"), 2)
    assert d.permanent and d.detail == "HTTP 400: 21211 The 'To' number 5551234567 is not a valid phone number."


# -- Console and the registry ---------------------------------------------------------------


def test_console_logs_what_the_person_would_receive_and_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    msg = message(address="+15550000001")
    with caplog.at_level(logging.WARNING, logger="vigil.console"):
        d = Console(Env(), channel="sms").send(msg, 1)
    assert d.ok and d.ref == {"channel": "console", "ack": ACK}
    assert caplog.messages == [f"[console] would send sms to +15550000001: {sms_body(msg)}"]
    assert sms_body(msg) == f"[P0] api is down #1042 ack: {ACK}"


def test_console_slack_line_carries_the_runbook_link_like_the_slack_message() -> None:
    msg = message(address="#alerts", links={"runbook": "https://example.com/runbooks/service-down"})
    assert console_line(msg, "slack").endswith(f"[P0] api is down ack: {ACK} runbook: https://example.com/runbooks/service-down")


def test_unconfigured_channels_fall_back_to_the_console_and_configured_ones_do_not() -> None:
    bare = Env()
    assert all(isinstance(notifier_for(c, bare), Console) for c in ("slack", "email", "sms", "call"))
    full = Env(slack_bot_token=SecretStr("xoxb-1"), smtp_url=SecretStr("smtp://h:25"),
               twilio_account_sid="AC1", twilio_auth_token=SecretStr("t"), twilio_from="+15550009999")
    kinds = {c: type(notifier_for(c, full)) for c in ("slack", "email", "sms", "call")}
    assert kinds == {"slack": Slack, "email": Email, "sms": Sms, "call": Call}
    assert set(NOTIFIERS) == {"slack", "email", "sms", "call", "console"}


# -- One contract over every notifier -------------------------------------------------------


@dataclass
class Rig:
    """One channel wired to its loopback vendor, with a way to make that vendor misbehave."""

    notifier: Notifier
    msg: Message
    secrets: list[str]
    inject: Callable[[str], None]


def _slack_rig(fake: FakeSlack, case: str) -> Rig:
    token = "xoxb-wrong-token" if case == "slack_invalid_auth" else fake.token
    table: dict[str, Callable[[], None]] = {
        "401": lambda: fake.fail_next(status=401), "404": lambda: fake.fail_next(status=404),
        "429": lambda: fake.fail_next(status=429), "500": lambda: fake.fail_next(status=500),
        "slack_channel_not_found": lambda: fake.fail_next(status=200, body={"ok": False, "error": "channel_not_found"}),
        "slack_ratelimited": lambda: fake.fail_next(status=200, body={"ok": False, "error": "ratelimited"}),
        "slack_unknown_error": lambda: fake.fail_next(status=200, body={"ok": False, "error": "something_new"}),
        "echo": lambda: fake.fail_next(status=500, body={"ok": False, "error": f"fatal_error {fake.token}"}),
    }
    return Rig(Slack(slack_env(fake, token)), message(), [fake.token, token],
               lambda c: (setattr(fake, "delay", 1.0) if c == "timeout" else table.get(c, lambda: None)()))


def _twilio_rig(fake: FakeTwilio, case: str, cls: type[Sms] | type[Call]) -> Rig:
    token = "wrong-auth-token-000" if case == "401" else fake.auth_token
    table: dict[str, Callable[[], None]] = {
        "404": lambda: fake.fail_next(status=404), "429": lambda: fake.fail_next(status=429),
        "500": lambda: fake.fail_next(status=500),
        "echo": lambda: fake.fail_next(status=400, body={"code": 20003, "message": f"bad {fake.auth_token}"}),
    }
    return Rig(cls(twilio_env(fake, token)), message(address="+15550000001"), [fake.auth_token, token],
               lambda c: (setattr(fake, "delay", 1.0) if c == "timeout" else table.get(c, lambda: None)()))


def _email_rig(sink: SmtpSink, case: str) -> Rig:
    password = "wrong-password" if case == "401" else sink.password
    url = sink.url.replace(sink.password, password)
    table: dict[str, Callable[[], None]] = {
        "404": lambda: sink.fail_next(code=550, message="5.1.1 mailbox unavailable", stage="rcpt"),
        "429": lambda: sink.fail_next(code=451, message="4.7.1 try again later", stage="rcpt"),
        "500": lambda: sink.fail_next(code=451, message="4.3.0 local error", stage="data"),
        "echo": lambda: sink.fail_next(code=554, message=f"rejected {sink.password}", stage="data"),
    }
    return Rig(Email(Env(smtp_url=SecretStr(url))), message(address="oncall@example.com"), [sink.password, password],
               lambda c: (setattr(sink, "delay", 1.0) if c == "timeout" else table.get(c, lambda: None)()))


OK, PERMANENT, RETRYABLE = "ok", "permanent", "retryable"
COMMON = [("ok", OK), ("401", PERMANENT), ("404", PERMANENT), ("429", RETRYABLE), ("500", RETRYABLE),
          ("timeout", RETRYABLE), ("echo", None)]
SLACK_ONLY = [("slack_channel_not_found", PERMANENT), ("slack_invalid_auth", PERMANENT),
              ("slack_ratelimited", RETRYABLE), ("slack_unknown_error", RETRYABLE)]
ROWS = ([("slack", c, e) for c, e in COMMON + SLACK_ONLY]
        + [(ch, c, e) for ch in ("email", "sms", "call") for c, e in COMMON] + [("console", "ok", OK)])


@pytest.mark.parametrize(("channel", "case", "expected"), ROWS, ids=[f"{ch}-{c}" for ch, c, _ in ROWS])
def test_every_notifier_classifies_failures_and_never_leaks_a_secret(channel: str, case: str,
                                                                     expected: str | None) -> None:
    with _vendor(channel) as vendor:
        rig = _rig(channel, vendor, case)
        rig.inject(case)
        d: Delivery = rig.notifier.send(rig.msg, timeout=0.3 if case == "timeout" else 5)
    outcome = OK if d.ok else PERMANENT if d.permanent else RETRYABLE if d.retryable else "unclassified"
    if expected is not None:
        assert outcome == expected, d
    assert not d.ok or case == "ok"
    assert d.ok or (d.retryable != d.permanent)
    for secret in rig.secrets:
        assert secret not in d.detail and secret not in repr(d) and secret not in repr(rig.notifier)


def _vendor(channel: str) -> Any:
    if channel == "slack":
        return FakeSlack()
    if channel in ("sms", "call"):
        return FakeTwilio()
    if channel == "email":
        return SmtpSink(auth=True)
    return FakeSlack()  # console talks to nobody; any context manager will do


def _rig(channel: str, vendor: Any, case: str) -> Rig:
    if channel == "slack":
        return _slack_rig(vendor, case)
    if channel in ("sms", "call"):
        return _twilio_rig(vendor, case, Sms if channel == "sms" else Call)
    if channel == "email":
        return _email_rig(vendor, case)
    return Rig(Console(Env(), channel="sms"), message(), [], lambda c: None)


def test_golden_slack_fixtures_are_valid_json() -> None:
    for path in GOLDEN.glob("*.json"):
        assert isinstance(json.loads(path.read_text()), dict), path


def test_messages_are_frozen_data() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        message().title = "x"  # type: ignore[misc]


def test_fake_vendors_answer_concurrent_requests_in_parallel(fake_slack: FakeSlack) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from lib import clock

    fake_slack.delay = 0.3
    slack = Slack(slack_env(fake_slack))
    start = clock.monotonic()
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda i: slack.send(message(title=f"t{i}"), 2), range(5)))
    assert all(d.ok for d in results) and clock.monotonic() - start < 1.0
    assert len({d.ref["ts"] for d in results}) == 5
