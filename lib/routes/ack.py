"""`/api/ack`: the signed links in Slack, SMS and e-mail.

GET shows a confirm page and changes nothing (Slack unfurls and mail scanners
prefetch links); POST acts, idempotently. The link's fields come from the
query string or the form. Actions: ack (default), false_positive, postmortem.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from lib import clock, runtime
from lib.clock import iso
from lib.incidents import dispatch, engine
from lib.models import Incident, Reason
from lib.signing import verify_link
from lib.text import plain
from lib.web import Request, Response, html_response

_ACTIONS = {"ack": "Acknowledge", "false_positive": "Mark as false positive", "postmortem": "Attach postmortem"}

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<title>{title}</title><style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}}
.sev{{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#b00020;color:#fff;font-weight:600}}
.P2,.P3{{background:#8a6d00}} button{{font-size:1.1rem;padding:.7rem 1.4rem;border:0;border-radius:.4rem;
background:#1a73e8;color:#fff;cursor:pointer}} input{{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;
margin:.5rem 0 1rem}} .muted{{color:#666}}</style></head><body>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> Response:
    return html_response(_PAGE.format(title=escape(title), body=body), status)


def _refused(why: str) -> Response:
    return _page("Link not valid", f"<h1>This link cannot be used</h1><p>{escape(why)}.</p>"
                 "<p class=muted>Ask for a new alert link, or use the Slack buttons.</p>", 403)


def _describe(inc: Incident) -> str:
    sev = inc.severity.value
    state = inc.status
    if inc.status == "acknowledged":
        state = f"acknowledged by {inc.acked_by} at {iso(inc.acked_at or 0)}"
    elif inc.status == "resolved":
        state = f"resolved at {iso(inc.resolved_at or 0)}"
    return (f"<p><span class='sev {sev}'>{sev}</span> <strong>{escape(inc.title or inc.key)}</strong> "
            f"<span class=muted>{escape(inc.ref)}</span></p><p>{escape(plain(inc.summary))}</p>"
            f"<p class=muted>Opened {iso(inc.opened_at)} · {escape(state)}</p>")


def _confirm(req: Request, inc: Incident, action: str, params: dict[str, str]) -> Response:
    fields = {k: v for k, v in params.items() if k in ("i", "e", "s", "u", "a")}
    target = f"{req.path}?{urlencode(fields)}"
    extra = ""
    if action == "false_positive":
        extra = "<label>Why is it a false positive?<input name=reason maxlength=300></label>"
    elif action == "postmortem":
        extra = "<label>Postmortem link<input name=url type=url required placeholder='https://'></label>"
    button = _ACTIONS[action] + (f" {escape(inc.ref)}" if action == "ack" else "")
    body = (f"<h1>{escape(_ACTIONS[action])}?</h1>{_describe(inc)}"
            f"<form method=post action='{escape(target)}'>{extra}<button type=submit>{button}</button></form>")
    return _page(f"{_ACTIONS[action]} {inc.ref}", body)


def _who(rt: runtime.Runtime, params: dict[str, str]) -> tuple[str, str | None]:
    key = params.get("u", "")
    person = rt.config.people.get(key) if key else None
    if person:
        return (person.name or key), person.email
    return "someone with the link", None


def _act(rt: runtime.Runtime, inc: Incident, action: str, params: dict[str, str], now: float) -> Response:
    who, email = _who(rt, params)
    if action == "ack":
        d = engine.acknowledge(rt.store, inc.id, who, "link", now, email=email)
        head = {Reason.ACKNOWLEDGED: "Acknowledged", Reason.ALREADY_ACKNOWLEDGED: "Already acknowledged",
                Reason.ALREADY_RESOLVED: "Already resolved"}.get(d.reason, d.reason.value)
    elif action == "false_positive":
        reason = params.get("reason", "").strip()[:300] or "marked false positive from a link"
        d = engine.resolve(rt.store, rt.config, inc.id, who, "link", now, false_positive=reason)
        head = "Marked as a false positive"
    else:
        url = params.get("url", "").strip()
        if not url.startswith(("https://", "http://")) or len(url) > 2000:
            return _page("Postmortem link", "<h1>That is not a link</h1><p>Give an http(s) URL.</p>", 400)
        d = engine.attach_postmortem(rt.store, inc.id, url, who, now)
        head = "Postmortem attached"
    dispatch.follow_up(rt, d, now)
    return _page(head, f"<h1>{escape(head)}</h1>{_describe(d.incident or inc)}")


def handle(req: Request) -> Response:
    rt = runtime.get()
    now = clock.now()
    params = req.params()
    ok, why = verify_link(
        rt.env.ack_signing_secret.get_secret_value() if rt.env.ack_signing_secret else None, params, now
    )
    if not ok:
        return _refused(why)
    action = params.get("a", "ack")
    if action not in _ACTIONS:
        return _refused("this link asks for an unknown action")
    inc = engine.get(rt.store, params["i"])
    if inc is None:
        return _page("Unknown incident", "<h1>Unknown incident</h1><p>It may have been resolved long ago.</p>", 404)
    if req.method == "POST":
        return _act(rt, inc, action, params, now)
    return _confirm(req, inc, action, params)
