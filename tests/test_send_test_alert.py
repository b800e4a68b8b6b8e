"""scripts/send_test_alert.py says what happened to each delivery, and for Twilio what
its error code means: the first real SMS page of a trial account fails (21608)."""

from __future__ import annotations

import pytest

import scripts.send_test_alert as send_test_alert
from lib.channels.twilio_errors import explain
from lib.store import Store
from tests.support.fake_twilio import twilio_error
from tests.support.world import world

TRIAL = twilio_error(400, 21608, "The number +15550000001 is unverified. Trial accounts cannot send messages "
                                 "to unverified numbers; verify +15550000001 at twilio.com/user/account/phone-numbers/verified")


def test_a_twilio_trial_refusal_is_reported_with_its_code_and_meaning(
        store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with world(store) as w:
        w.twilio.fail_next(1, status=400, body=TRIAL)
        assert send_test_alert.main(["--severity", "P0", "--resolve", "--here"]) == 1
        out = capsys.readouterr().out
        sms = next(line for line in out.splitlines() if line.strip().startswith("sms"))
        assert "+15550000001" in sms and "FAILED" in sms and "21608" in sms
        assert "Twilio 21608: trial account: SMS reaches verified numbers only" in out
        assert w.twilio.auth_token not in out
        assert any(line.strip().startswith("slack") and line.endswith("sent") for line in out.splitlines())


def test_every_channel_delivering_exits_0_and_says_sent(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    with world(store) as w:
        assert send_test_alert.main(["--severity", "P0", "--resolve", "--here"]) == 0
        out = capsys.readouterr().out
        assert "FAILED" not in out and out.count(" sent") >= 3  # slack, sms, e-mails
        assert "30034" in out  # where a carrier's later refusal shows up
        assert len(w.twilio.messages) == 1


@pytest.mark.parametrize(("detail", "code"), [
    ("HTTP 400: 21608 The number is unverified.", "21608"),
    ("21211 The 'To' number 555 is not a valid phone number.", "21211"),
    ("30034 Message from an Unregistered Number", "30034"),
])
def test_explain_finds_the_code(detail: str, code: str) -> None:
    assert (explain(detail) or "").startswith(f"Twilio {code}: ")


@pytest.mark.parametrize("detail", ["HTTP 500: Internal Server Error", "timeout", "99999 unknown", ""])
def test_explain_says_nothing_about_what_it_does_not_know(detail: str) -> None:
    assert explain(detail) is None
