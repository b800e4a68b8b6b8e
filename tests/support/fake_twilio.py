"""A loopback Twilio REST API (2010-04-01 Messages.json and Calls.json) for tests.

    with FakeTwilio() as tw:
        env = Env(twilio_account_sid=tw.account_sid, twilio_auth_token=SecretStr(tw.auth_token),
                  twilio_from="+15550009999", twilio_api_url=tw.url)
        ...
        assert "ack: http" in tw.messages[0]["Body"]

Checks HTTP Basic auth (AccountSid:AuthToken, the sid also in the path), answers 201 with
JSON shaped like ../shared/fixtures/twilio_*_create_response.json, and errors as Twilio
does: `{"code", "message", "more_info", "status"}`.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qs

from tests.support.fake_slack import Answer, LoopbackFake

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/(?P<resource>Messages|Calls)\.json$")
DATE = "Thu, 30 Jul 2015 20:12:31 +0000"  # Twilio dates are RFC 2822 strings


def twilio_error(status: int, code: int | None, message: str) -> dict[str, Any]:
    more = f"https://www.twilio.com/docs/errors/{code}" if code else None
    return {"code": code, "message": message, "more_info": more, "status": status}


class FakeTwilio(LoopbackFake):
    def __init__(self, account_sid: str = "AC" + "0123456789abcdef" * 2,
                 auth_token: str = "twilio-test-auth-token-0123456789", delay: float = 0.0) -> None:
        super().__init__(delay)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.url = self.base_url  # use as TWILIO_API_URL
        self._n = 0

    def parse(self, path: str, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        form = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        m = PATH.match(path)
        return {"path": path, "resource": m["resource"] if m else None, "sid": m["sid"] if m else None,
                "form": form, "headers": headers}

    def default_failure(self, status: int) -> tuple[Any, dict[str, str]]:
        code, message = {401: (20003, "Authenticate"), 404: (20404, "The requested resource was not found"),
                         429: (20429, "Too Many Requests")}.get(status, (None, "Internal Server Error"))
        return twilio_error(status, code, message), {}

    def _authorized(self, record: dict[str, Any]) -> bool:
        auth = {k.lower(): v for k, v in record["headers"].items()}.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid == record["sid"] and password == self.auth_token

    def answer(self, record: dict[str, Any]) -> Answer:
        if record["resource"] is None:
            return 404, twilio_error(404, 20404, f"The requested resource {record['path']} was not found"), {}
        if not self._authorized(record):
            return 401, twilio_error(401, 20003, "Authenticate"), {}
        form = record["form"]
        problem = self._invalid(record["resource"], form)
        if problem:
            return 400, problem, {}
        self._n += 1
        sid = f"{'SM' if record['resource'] == 'Messages' else 'CA'}{self._n:032x}"
        uri = f"/2010-04-01/Accounts/{self.account_sid}/{record['resource']}/{sid}.json"
        body = {"sid": sid, "account_sid": self.account_sid, "api_version": "2010-04-01", "status": "queued",
                "to": form["To"], "from": form["From"], "direction": "outbound-api", "date_created": DATE,
                "date_updated": DATE, "uri": uri}
        if record["resource"] == "Messages":
            segments = 1 + (len(form["Body"]) - 1) // 153 if len(form["Body"]) > 160 else 1
            body |= {"body": form["Body"], "num_segments": str(segments), "error_code": None,
                     "error_message": None, "price": None, "price_unit": "USD"}
        else:
            body |= {"answered_by": None, "duration": None, "start_time": None, "end_time": None}
        return 201, body, {}

    @staticmethod
    def _invalid(resource: str, form: dict[str, str]) -> dict[str, Any] | None:
        to = form.get("To", "")
        if not E164.match(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("From"):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if resource == "Messages":
            if not form.get("Body"):
                return twilio_error(400, 21602, "Message body is required.")
            if len(form["Body"]) > 1600:  # Twilio: Body is at most 1600 characters
                return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
            return None
        if not (form.get("Twiml") or form.get("Url") or form.get("ApplicationSid")):
            return twilio_error(400, None, "Either Url, Twiml or ApplicationSid is required.")
        if len(form.get("Twiml", "")) > 4000:  # Twilio: Twiml is at most 4000 characters
            return twilio_error(400, None, "Twiml is longer than 4000 characters.")
        return None

    def _accepted(self, resource: str) -> list[dict[str, str]]:
        with self._lock:
            return [r["form"] for r in self.requests if r["resource"] == resource and r.get("status") == 201]

    @property
    def messages(self) -> list[dict[str, str]]:
        """SMS forms Twilio accepted (To, From, Body)."""
        return self._accepted("Messages")

    @property
    def calls(self) -> list[dict[str, str]]:
        """Call forms Twilio accepted (To, From, Twiml)."""
        return self._accepted("Calls")
