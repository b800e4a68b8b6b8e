"""`POST /api/slack/actions`: Slack interactivity (the buttons on an incident message).

The signature is checked over the raw body before anything is parsed (Slack's
JSON escapes `/` as `\\/`, so re-encoding would change the bytes). Slack wants
an answer within 3 s; the chat.update that shows who acted is sent within that.
"""

from __future__ import annotations

import logging

from lib import clock, runtime
from lib.incidents import dispatch, engine
from lib.models import Decision
from lib.signing import digits, verify_slack
from lib.web import HTTPError, Request, Response, json_response, parse_json

logger = logging.getLogger("vigil.slack")


def _payload(req: Request) -> dict:
    raw = req.form().get("payload")
    if raw is None:
        raise HTTPError(400, "form field 'payload' missing")
    data = parse_json(raw, "payload")
    if not isinstance(data, dict):
        raise HTTPError(400, "payload must be a JSON object")
    return data


def _who(data: dict) -> str:
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    name = user.get("name") or user.get("username") or user.get("id") or "someone in Slack"
    return f"@{name}" if user.get("id") and not str(name).startswith("@") else str(name)


def _act(rt: runtime.Runtime, action_id: str, incident_id: str, who: str, now: float) -> Decision | None:
    if action_id == "ack":
        return engine.acknowledge(rt.store, incident_id, who, "slack", now)
    if action_id == "resolve":
        return engine.resolve(rt.store, rt.config, incident_id, who, "slack", now)
    if action_id == "false_positive":
        return engine.resolve(rt.store, rt.config, incident_id, who, "slack", now,
                                 false_positive=f"marked false positive in Slack by {who}")
    return None


def handle(req: Request) -> Response:
    rt = runtime.get()
    now = clock.now()
    secret = rt.env.slack_signing_secret.get_secret_value() if rt.env.slack_signing_secret else None
    if not verify_slack(secret, req.header("x-slack-request-timestamp"), req.header("x-slack-signature"), req.body, now):
        raise HTTPError(401, "bad or stale Slack signature")
    data = _payload(req)
    if data.get("type") != "block_actions":
        return json_response({"ignored": f"interaction type {data.get('type')!r}"}, 200)
    actions = data.get("actions") if isinstance(data.get("actions"), list) else []
    results = []
    for action in actions[:5]:
        if not isinstance(action, dict):
            continue
        action_id, value = str(action.get("action_id", "")), str(action.get("value", ""))
        if digits(value, 20) is None:
            results.append({"action": action_id, "ignored": "no incident id"})
            continue
        if action_id == "postmortem":  # a url button: Slack opened the signed page
            results.append({"action": action_id, "ignored": "opens the postmortem page"})
            continue
        decision = _act(rt, action_id, value, _who(data), now)
        if decision is None:
            results.append({"action": action_id, "ignored": "unknown action"})
            continue
        dispatch.follow_up(rt, decision, now)  # after the answer: Slack wants it within 3 s
        logger.info("slack %s on #%s by %s -> %s", action_id, value, _who(data), decision.reason.value)
        results.append({"action": action_id, "incident": value, "result": decision.reason.value})
    # Slack ignores the body of a 200 to block_actions; it is useful in logs and tests.
    return json_response({"ok": True, "results": results})
